"""Three-way merge of a reviewed markdown document with its regeneration.

The front matter is always the regenerated one (reviewer sign-off is re-applied to it as a
decision). The body goes through :func:`generators.review.merge3.merge3`. A conflict made
only of table rows is resolved row by row, keyed by row id: a row the reviewer changed only
in fields that are already re-applied as decisions (tier, reviewed, note; approver on older
per-action rows) takes the regenerated row. Before merging, such rows are put back as they
were generated, since a class whose tier changed moves to another tier's table. Anything else that both sides changed is written between conflict
markers and reported; nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from generators.review.merge3 import merge3
from generators.review.parse import NOTE_MARK, REVIEWED_VALUES, _split_cells, _unwrap_code, split_front_matter
from generators.risk.model import TIERS

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


def _row_kind(rid: str) -> str:
    """``exception`` (``<class>!<target>``), ``class`` (``<verb class>/<kind>@<env>``) or
    ``action`` (an older per-action row: ``<kind>:<name>/<verb>``)."""
    if "!" in rid:
        return "exception"
    return "class" if "@" in rid and "/" in rid and ":" not in rid.split("/", 1)[0] else "action"


# Which cells hold decisions, per row kind: (tier, reviewed or approver, the cell a note is in).
_DECISION_CELLS = {"class": (1, 2, 4), "exception": (1, 2, 5), "action": (1, 6, 4)}


def _without_decisions(line: str) -> list[str]:
    """A row's cells with the decision fields (tier, reviewed / approver, note) blanked, for comparison."""
    cells = [c.strip() for c in _split_cells(line)]
    rid = _unwrap_code(cells[0]) if cells else None
    tier, other, note = _DECISION_CELLS[_row_kind(rid or "")]
    if len(cells) >= 7:
        cells[tier] = ""
        cells[other] = ""
        cells[note] = cells[note].split("<br>" + NOTE_MARK, 1)[0].strip()
        if _row_kind(rid or "") == "class":
            cells[note] = ""  # the Why cell restates an edit ("raised from T2 by a reviewer")
    return cells


def _valid_decision_row(line: str) -> bool:
    """Whether the row's decision cells hold values a decision was collected from."""
    cells = [_plain_cell(c) for c in _split_cells(line)]
    rid = _unwrap_code(_split_cells(line)[0].strip()) or ""
    tier, other, _ = _DECISION_CELLS[_row_kind(rid)]
    if len(cells) < 7 or cells[tier] not in TIERS:
        return False
    return _row_kind(rid) == "action" or cells[other].lower() in REVIEWED_VALUES


def _plain_cell(cell: str) -> str:
    return cell.strip().strip("*_").strip()


def _neutralise(base: list[str], ours: list[str]) -> list[str]:
    """``ours`` with every row the reviewer changed only in its decision cells put back as it was
    generated: those edits are decisions, already re-applied to the regenerated text (where the
    row may have moved, to another tier's table), so the text merge need not see them."""
    base_rows = {}
    for ln in base:
        rid = _row_id(ln)
        if rid is not None:
            base_rows.setdefault(rid, ln)
    out = []
    for ln in ours:
        rid = _row_id(ln)
        b = base_rows.get(rid) if rid is not None else None
        if b is not None and ln != b and _valid_decision_row(ln) and _without_decisions(ln) == _without_decisions(b):
            out.append(b)
        else:
            out.append(ln)
    return out


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
    base_lines = base_body.splitlines()
    ours_lines = _neutralise(base_lines, ours_body.splitlines())
    for chunk in merge3(base_lines, ours_lines, theirs_body.splitlines()):
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
