"""Read reviewed markdown back: the decisions a reviewer made, keyed by stable IDs.

``output/policy.md`` gives, per class row (``Class`` tables) and exception row (``Exception``
tables): the tier, whether it is reviewed, and the reviewer note (``<br>_Reviewer note:_ ...``
in the Why or Reason cell); per action row of older documents (``Action ID`` tables): the
tier, note and approver; its front matter
gives the sign-off (status, reviewers, reviewed_on). ``output/evals.md`` gives, per case
section (``### `case-id```): whether it is disabled, and its reviewer note.

Parsing uses markdown-it-py (CommonMark + GFM tables), with each token's source line map,
so every problem (a tier that is not T0-T3, a broken table row, conflict markers, invalid
front matter) names the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from generators.risk.model import TIERS

NOTE_MARK = "_Reviewer note:_"
CONFLICT_RE = re.compile(r"^(<{7}|={7}|>{7}|\|{7})( |$)")
_ID_RE = re.compile(r"^`+\s?(.+?)\s?`+$")
_DISABLED = "(disabled)"
_NONE_CELL = {"", "—", "-", "none"}


@dataclass(frozen=True)
class Problem:
    """A malformed edit, located at ``path:line`` (1-based)."""

    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class ActionRow:
    """One action row as the reviewer left it."""

    id: str
    tier: str  # as written; may be invalid (see ``tier_valid``)
    note: str | None
    approver: str | None
    line: int  # 1-based
    system: str | None = None

    @property
    def tier_valid(self) -> bool:
        return self.tier in TIERS


@dataclass
class TableRow:
    """One class or exception row of the policy as the reviewer left it."""

    id: str  # the row id (a class, classes across environments, an exception or a group of them)
    tier: str  # as written; may be invalid (see ``tier_valid``)
    reviewed: bool
    note: str | None
    line: int  # 1-based
    reviewed_text: str = ""

    @property
    def tier_valid(self) -> bool:
        return self.tier in TIERS


@dataclass
class CaseEdit:
    """One eval case section as the reviewer left it."""

    id: str
    disabled: bool
    note: str | None
    line: int


@dataclass
class Parsed:
    """What a reviewed document says, plus what could not be read."""

    path: str
    meta: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, ActionRow] = field(default_factory=dict)
    classes: dict[str, TableRow] = field(default_factory=dict)  # class rows by row id
    exceptions: dict[str, TableRow] = field(default_factory=dict)  # exception rows by row id
    cases: dict[str, CaseEdit] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    body_offset: int = 0  # lines taken by the front matter


def split_front_matter(text: str) -> tuple[str, str]:
    """``(front matter block incl. both --- lines, body)``; empty block when there is none."""
    if not text.startswith("---\n"):
        return "", text
    end = text.find("\n---\n", 4)
    if end < 0:
        return "", text
    return text[: end + 5], text[end + 5 :]


def _md() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def _parse_meta(fm: str, path: str, problems: list[Problem]) -> dict[str, Any]:
    if not fm:
        return {}
    try:
        data = yaml.safe_load(fm[4:-5])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 1
        problems.append(Problem(path, line, f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}"))
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(path, 1, "front matter must be a YAML mapping"))
        return {}
    return data


def _unwrap_code(cell: str) -> str | None:
    m = _ID_RE.match(cell.strip())
    return m.group(1).strip() if m else None


def _plain(cell: str) -> str:
    return cell.strip().strip("*_").strip()


def _split_cells(line: str) -> list[str]:
    """Raw cells of a pipe-table line (escaped pipes and pipes inside code kept in their cell)."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return re.split(r"(?<!\\)\|", s)


def _check_conflicts(lines: list[str], path: str, problems: list[Problem]) -> None:
    for i, ln in enumerate(lines, 1):
        if CONFLICT_RE.match(ln):
            problems.append(Problem(path, i, "unresolved merge conflict marker"))


def _tables(tokens: list[Token]) -> list[tuple[list[str], list[tuple[int, list[str]]], list[int]]]:
    """Each table: header cells, body rows as (0-based line, cells), and its line range."""
    out = []
    i = 0
    while i < len(tokens):
        if tokens[i].type != "table_open":
            i += 1
            continue
        header: list[str] = []
        rows: list[tuple[int, list[str]]] = []
        span = tokens[i].map or [0, 0]
        in_head = False
        cur: list[str] | None = None
        cur_line = 0
        i += 1
        while i < len(tokens) and tokens[i].type != "table_close":
            t = tokens[i]
            if t.type == "thead_open":
                in_head = True
            elif t.type == "thead_close":
                in_head = False
            elif t.type == "tr_open":
                cur, cur_line = [], (t.map or [0])[0]
            elif t.type == "inline" and cur is not None:
                cur.append(t.content)
            elif t.type == "tr_close" and cur is not None:
                if in_head:
                    header = cur
                else:
                    rows.append((cur_line, cur))
                cur = None
            i += 1
        out.append((header, rows, list(span)))
        i += 1
    return out


def parse_policy(text: str, path: str = "policy.md") -> Parsed:
    """Decisions in a reviewed ``policy.md``: rows by action id, sign-off, problems."""
    fm, body = split_front_matter(text)
    parsed = Parsed(path=path, body_offset=fm.count("\n"))
    parsed.meta = _parse_meta(fm, path, parsed.problems)
    lines = text.splitlines()
    _check_conflicts(lines, path, parsed.problems)
    off = parsed.body_offset
    tokens = _md().parse(body)
    system: str | None = None
    sys_by_line: list[tuple[int, str]] = []
    for t in tokens:
        if t.type == "inline" and t.map and t.content.startswith("**System ID:**"):
            sid = _unwrap_code(t.content.split(":**", 1)[1])
            if sid:
                sys_by_line.append((t.map[0], sid))
    for header, rows, span in _tables(tokens):
        names = [_plain(h).lower() for h in header]
        if names and names[0] in ("class", "exception"):
            _table_rows(parsed, lines, header, names, rows, off)
            continue
        if "action id" not in names:
            continue
        col = {n: names.index(n) for n in ("action id", "tier", "rationale", "approver", "note") if n in names}
        for lo, sid in sys_by_line:
            if lo < span[0]:
                system = sid
        for line0, cells in rows:
            lineno = _whole_row(parsed, lines, header, line0 + off + 1)
            if lineno is None:
                continue
            aid = _unwrap_code(cells[col["action id"]])
            if not aid:
                parsed.problems.append(Problem(path, lineno, "table row without an action ID in backticks"))
                continue
            tier = _plain(cells[col["tier"]]) if "tier" in col else ""
            note = None
            if "rationale" in col and NOTE_MARK in cells[col["rationale"]]:
                note = cells[col["rationale"]].split(NOTE_MARK, 1)[1].replace("<br>", "\n").strip() or None
            if "note" in col:
                note = cells[col["note"]].replace("<br>", "\n").strip() or note
            approver = cells[col["approver"]].strip() if "approver" in col else ""
            row = ActionRow(id=aid, tier=tier, note=note, approver=None if approver in _NONE_CELL else approver,
                            line=lineno, system=system)
            if not tier:
                parsed.problems.append(Problem(path, lineno, f"{aid}: no tier (expected one of {', '.join(TIERS)})"))
            elif not row.tier_valid:
                parsed.problems.append(Problem(path, lineno, f"{aid}: tier '{tier}' is not one of {', '.join(TIERS)}"))
            if aid in parsed.rows:
                parsed.problems.append(Problem(path, lineno, f"{aid}: listed twice (first at line {parsed.rows[aid].line})"))
                continue
            parsed.rows[aid] = row
    return parsed


def _whole_row(parsed: Parsed, lines: list[str], header: list[str], lineno: int) -> int | None:
    """``lineno`` when the markdown line is a whole table row, else ``None`` with a problem
    recorded (a reviewer's unescaped pipe splits a row into the wrong cells)."""
    raw = lines[lineno - 1] if lineno - 1 < len(lines) else ""
    if len(_split_cells(raw)) != len(header) or not raw.lstrip().startswith("|"):
        parsed.problems.append(Problem(parsed.path, lineno, f"broken table row: expected {len(header)} cells "
                                                            f"separated by '|' (escape a literal pipe as '\\|')"))
        return None
    return lineno


_YES = {"yes", "y", "true", "reviewed", "x", "✓", "✔"}
_NO = {"no", "n", "false", "", "-", "—", "no (new)"}
REVIEWED_VALUES = _YES | _NO  # what a Reviewed cell may say


def _table_rows(parsed: Parsed, lines: list[str], header: list[str], names: list[str],
                rows: list[tuple[int, list[str]]], off: int) -> None:
    """Class and exception rows: id, tier, reviewed, reviewer note (in the Why/Reason cell)."""
    what = names[0]
    into = parsed.classes if what == "class" else parsed.exceptions
    col = {n: names.index(n) for n in ("tier", "reviewed", "why", "reason", "note") if n in names}
    path = parsed.path
    for line0, cells in rows:
        lineno = _whole_row(parsed, lines, header, line0 + off + 1)
        if lineno is None:
            continue
        rid = _unwrap_code(cells[0])
        if not rid:
            parsed.problems.append(Problem(path, lineno, f"{what} row without its id in backticks"))
            continue
        tier = _plain(cells[col["tier"]]) if "tier" in col else ""
        rev_text = _plain(cells[col["reviewed"]]).lower() if "reviewed" in col else ""
        if rev_text not in _YES and rev_text not in _NO:
            parsed.problems.append(Problem(path, lineno, f"{rid}: Reviewed '{rev_text}' is neither yes nor no"))
        note = None
        for name in ("why", "reason", "note"):
            if name in col and NOTE_MARK in cells[col[name]]:
                note = cells[col[name]].split(NOTE_MARK, 1)[1].replace("<br>", "\n").strip() or None
        row = TableRow(id=rid, tier=tier, reviewed=rev_text in _YES, note=note, line=lineno, reviewed_text=rev_text)
        if not tier:
            parsed.problems.append(Problem(path, lineno, f"{rid}: no tier (expected one of {', '.join(TIERS)})"))
        elif not row.tier_valid:
            parsed.problems.append(Problem(path, lineno, f"{rid}: tier '{tier}' is not one of {', '.join(TIERS)}"))
        if rid in into:
            parsed.problems.append(Problem(path, lineno, f"{rid}: listed twice (first at line {into[rid].line})"))
            continue
        into[rid] = row


def parse_evals(text: str, path: str = "evals.md") -> Parsed:
    """Decisions in a reviewed ``evals.md``: case sections by id (disabled, note), sign-off, problems."""
    fm, body = split_front_matter(text)
    parsed = Parsed(path=path, body_offset=fm.count("\n"))
    parsed.meta = _parse_meta(fm, path, parsed.problems)
    _check_conflicts(text.splitlines(), path, parsed.problems)
    off = parsed.body_offset
    tokens = _md().parse(body)
    current: CaseEdit | None = None
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            if t.tag in ("h1", "h2"):
                current = None
            elif t.tag == "h3":
                content = tokens[i + 1].content.strip()
                disabled = content.endswith(_DISABLED)
                head = content[: -len(_DISABLED)].strip() if disabled else content
                cid = _unwrap_code(head)
                current = None
                if cid:
                    line = (t.map or [0])[0] + off + 1
                    if cid in parsed.cases:
                        parsed.problems.append(Problem(path, line, f"case {cid} appears twice"))
                    current = CaseEdit(id=cid, disabled=disabled, note=None, line=line)
                    parsed.cases.setdefault(cid, current)
        elif t.type == "inline" and current is not None and t.content.startswith(NOTE_MARK):
            current.note = t.content[len(NOTE_MARK):].strip() or None
    return parsed
