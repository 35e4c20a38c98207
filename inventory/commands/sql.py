"""What SQL text does: the kind of every statement, and the first object it touches."""

from __future__ import annotations

import re
from functools import lru_cache

# Statement kinds the classifier reasons about; anything else keeps its first keyword.
_DML_IN_CTE = re.compile(r"\b(insert|update|delete|merge)\b", re.I)
_ADMIN_FUNCS = re.compile(
    r"\b(pg_terminate_backend|pg_cancel_backend|pg_drop_replication_slot|pg_promote|pg_reload_conf|"
    r"set_config|lo_unlink|pg_wal_replay_pause|pg_create_restore_point)\s*\(",
    re.I,
)
_WORD = re.compile(r"[A-Za-z_\\]+")
_OBJ_PATTERNS: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(r"^\s*(?:drop|create|alter|truncate)\s+(?:or\s+replace\s+)?(?:unlogged\s+|temporary\s+|temp\s+)?"
                r"(table|database|schema|index|view|materialized\s+view|role|user|sequence|function|extension|"
                r"publication|subscription|tablespace|type|trigger)?\s*(?:if\s+(?:not\s+)?exists\s+)?"
                r"(?:only\s+)?([\w.\"`]+)", re.I), None),
    (re.compile(r"^\s*delete\s+from\s+(?:only\s+)?([\w.\"`]+)", re.I), "table"),
    (re.compile(r"^\s*update\s+(?:only\s+)?([\w.\"`]+)", re.I), "table"),
    (re.compile(r"^\s*insert\s+into\s+([\w.\"`]+)", re.I), "table"),
    (re.compile(r"^\s*(?:grant|revoke)\b.*?\bon\s+(?:table\s+|database\s+|schema\s+|all\s+tables\s+in\s+schema\s+)?([\w.\"`]+)", re.I | re.S), "grant-target"),
    (re.compile(r"\bfrom\s+([\w.\"`]+)", re.I), "table"),
]


_NEEDS_SCAN = re.compile(r"['\"`\\]|--|/\*")


def split_statements(sql: str) -> list[str]:
    """Statements of ``sql`` split on ``;`` outside quotes and comments."""
    return list(_split_cached(sql))


@lru_cache(maxsize=4096)
def _split_cached(sql: str) -> tuple[str, ...]:
    if not _NEEDS_SCAN.search(sql):
        # No quotes, comments or meta-commands: a plain split is exact (and much faster).
        return tuple(p.strip() for p in sql.split(";") if p.strip())
    return tuple(_split_scan(sql))


def _split_scan(sql: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(sql)
    quote: str | None = None
    while i < n:
        ch = sql[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            buf.append(ch)
        elif sql.startswith("--", i):
            eol = sql.find("\n", i)
            i = n if eol < 0 else eol
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif ch == ";":
            out.append("".join(buf).strip())
            buf = []
        elif ch == "\n" and "".join(buf).strip().startswith("\\"):
            out.append("".join(buf).strip())  # psql meta-commands end at the newline
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf).strip())
    return [s for s in out if s]


def statement_kind(stmt: str) -> str:
    """The kind of one statement: ``select``, ``drop``, ``meta`` (psql ``\\dt``)..."""
    s = stmt.lstrip("( \t\n")
    if s.startswith("\\"):
        return "copy" if s.lower().startswith("\\copy") else "meta"
    m = _WORD.match(s)
    if not m:
        return "unknown"
    kw = m.group().lower()
    if kw == "with":
        found = _DML_IN_CTE.search(s)
        return found.group(1).lower() if found else "select"
    if kw == "explain":
        # EXPLAIN ANALYZE really runs the statement.
        rest = re.sub(r"^explain\s*(\([^)]*\)\s*)?", "", s, flags=re.I)
        if re.match(r"analy[sz]e\b", rest, re.I) or re.search(r"\banaly[sz]e\b", s[:40], re.I):
            inner = re.sub(r"^(analy[sz]e\s+)?(verbose\s+)?", "", rest, flags=re.I)
            return statement_kind(inner)
        return "explain"
    if kw in ("desc", "describe"):
        return "describe"
    if kw in ("begin", "commit", "rollback", "start", "end", "savepoint", "release"):
        return "transaction"
    return kw


def sql_kinds(sql: str) -> list[str]:
    """Distinct statement kinds of ``sql`` in order of appearance (transactions left out)."""
    out: list[str] = []
    for stmt in split_statements(sql):
        kind = statement_kind(stmt)
        if kind == "transaction":
            continue
        if kind not in out:
            out.append(kind)
        if kind == "select" and _ADMIN_FUNCS.search(stmt) and "admin" not in out:
            out.append("admin")
    return out


_RISK_ORDER = ("drop", "truncate", "delete", "alter", "grant", "revoke", "update", "insert", "create", "copy", "select")


def primary_object(sql: str) -> tuple[str | None, str | None]:
    """``(object_kind, name)`` of the riskiest statement's object, e.g. ``("table", "orders")``."""
    def rank(stmt: str) -> int:
        kind = statement_kind(stmt)
        return _RISK_ORDER.index(kind) if kind in _RISK_ORDER else len(_RISK_ORDER)

    ranked = sorted(split_statements(sql), key=rank)
    for stmt in ranked:
        for pat, kind in _OBJ_PATTERNS:
            m = pat.search(stmt)
            if not m:
                continue
            if kind is None:
                obj = (m.group(1) or "table").lower().replace(" ", "-")
                name = m.group(2)
            else:
                obj, name = ("table" if kind == "grant-target" else kind), m.group(1)
            name = name.strip('"`')
            if name.lower() in ("select", "where", "set", "values", "if"):
                continue
            return obj, name
    return None, None
