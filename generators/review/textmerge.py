"""Three-way merge of a reviewed markdown document with its regeneration.

The front matter is always the regenerated one (reviewer sign-off is re-applied to it as a
decision). The body goes through :func:`generators.review.merge3.merge3`. A conflict made
only of action-table rows is resolved row by row, keyed by action id: a row the reviewer
changed only in fields that are already re-applied as decisions (tier, note, approver) takes
the regenerated row. Anything else that both sides changed is written between conflict
markers and reported; nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from generators.review.merge3 import merge3
from generators.review.parse import NOTE_MARK, _split_cells, _unwrap_code, split_front_matter

MARK_OURS = "<<<<<<< reviewed"
MARK_BASE = "||||||| last generated"
MARK_SEP = "======="
MARK_THEIRS = ">>>>>>> regenerated"
_ROW_RE = re.compile(r"^\|\s*`")


@dataclass
class Conflict:
    """A region both the reviewer and the regeneration changed (line in the written file)."""

    line: int
    ours: list[str]
    theirs: list[str]

    def summary(self) -> str:
        first = next((ln for ln in self.ours + self.theirs if ln.strip()), "")
        return first[:100]


@dataclass
class MergeResult:
    text: str
    conflicts: list[Conflict] = field(default_factory=list)


def _row_id(line: str) -> str | None:
    if not _ROW_RE.match(line):
        return None
    return _unwrap_code(_split_cells(line)[0])


def _without_decisions(line: str) -> list[str]:
    """A row's cells with the decision fields (tier, approver, note) blanked, for comparison."""
    cells = [c.strip() for c in _split_cells(line)]
    if len(cells) >= 7:
        cells[1] = ""
        cells[6] = ""
        cells[4] = cells[4].split("<br>" + NOTE_MARK, 1)[0].strip()
    return cells


def _rows(lines: tuple[str, ...]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for ln in lines:
        rid = _row_id(ln)
        if rid is None or rid in out:
            return None
        out[rid] = ln
    return out


def _resolve_rows(base: tuple[str, ...], ours: tuple[str, ...], theirs: tuple[str, ...]) -> list[str] | None:
    """Merge a conflict made only of action rows row by row; ``None`` when a row truly conflicts."""
    b, o, t = _rows(base), _rows(ours), _rows(theirs)
    if b is None or o is None or t is None:
        return None
    out: list[str] = []
    for rid, tline in t.items():
        oline, bline = o.get(rid), b.get(rid)
        if oline is None:
            if bline is None:
                out.append(tline)  # a new action
                continue
            return None  # the reviewer deleted a row the regeneration still has: ask
        if oline == tline or oline == bline:
            out.append(tline)
        elif bline is not None and tline == bline:
            out.append(oline)
        elif bline is not None and _without_decisions(oline) == _without_decisions(bline):
            out.append(tline)  # only decision fields changed: they are already re-applied
        elif bline is None and _without_decisions(oline) == _without_decisions(tline):
            out.append(tline)
        else:
            return None
    for rid, oline in o.items():
        if rid in t:
            continue
        if rid in b and _without_decisions(oline) != _without_decisions(b[rid]):
            return None  # the reviewer edited an action that is gone
        if rid not in b:
            out.append(oline)  # a row the reviewer added: keep it, `check` reports it
    return out


def merge_text(base: str, ours: str, theirs: str) -> MergeResult:
    """Merge the reviewed ``ours`` and the regenerated ``theirs`` against ``base``."""
    _, base_body = split_front_matter(base)
    _, ours_body = split_front_matter(ours)
    theirs_fm, theirs_body = split_front_matter(theirs)
    out: list[str] = theirs_fm.splitlines()
    conflicts: list[Conflict] = []
    for chunk in merge3(base_body.splitlines(), ours_body.splitlines(), theirs_body.splitlines()):
        if chunk.kind == "ok":
            out.extend(chunk.lines)
            continue
        rows = _resolve_rows(chunk.base, chunk.ours, chunk.theirs)
        if rows is not None:
            out.extend(rows)
            continue
        conflicts.append(Conflict(line=len(out) + 1, ours=list(chunk.ours), theirs=list(chunk.theirs)))
        out.append(MARK_OURS)
        out.extend(chunk.ours)
        out.append(MARK_BASE)
        out.extend(chunk.base)
        out.append(MARK_SEP)
        out.extend(chunk.theirs)
        out.append(MARK_THEIRS)
    return MergeResult(text="\n".join(out) + "\n", conflicts=conflicts)
