"""What SQL text does: the kind of every statement, and the first object it touches."""

from __future__ import annotations

import re
from functools import lru_cache

# Statement kinds the classifier reasons about; anything else keeps its first keyword.
_DML_IN_CTE = re.compile(r"\b(insert|update|delete|merge)\b", re.I)
_ADMIN_FUNCS = re.compile(
    r"\b(pg_terminate_backend|pg_cancel_backend|pg_drop_replication_slot|pg_promote|pg_reload_conf|"
    r"set_config|lo_unlink|pg_wal_replay_pause|pg_wal_replay_resume|pg_create_restore_point|pg_switch_wal|"
    r"pg_rotate_logfile|pg_reload_conf|pg_create_physical_replication_slot|pg_create_logical_replication_slot|"
    r"pg_replication_origin_drop|pg_advisory_lock|pg_logical_emit_message)\s*\(",
    re.I,
)
_FILE_FUNCS = re.compile(
    r"\b(lo_import|lo_export|pg_read_file|pg_read_binary_file|pg_ls_dir|pg_stat_file|pg_file_write|"
    r"load_file|sys_exec|sys_eval)\s*\(|\binto\s+(?:outfile|dumpfile)\b|\bload\s+data\s+(?:local\s+)?infile\b|"
    r"\bfrom\s+(?:url|file|s3|s3cluster|hdfs|gcs|azureblobstorage|remote|remotesecure|jdbc|odbc)\s*\(|"
    r"\b(?:into\s+function|table\s+function)\s+(?:url|file|s3|hdfs|remote)\s*\(",
    re.I,
)
_REMOTE_FUNCS = re.compile(r"\b(dblink_exec|dblink|dblink_send_query|xp_cmdshell)\s*\(", re.I)
_PROGRAM = re.compile(r"\b(?:to|from)\s+program\b|\bxp_cmdshell\b", re.I)
_WHERE = re.compile(r"\bwhere\b(?!\s+(?:true|1\s*=\s*1|'1'\s*=\s*'1'|1)\s*(?:;|$|returning\b))", re.I)
_PRIVILEGE_OBJECTS = re.compile(r"^\s*(create|alter|drop|rename)\s+(user|role|login)\b", re.I)
# Statements that administer the server or its connection pooler (MySQL, PgBouncer's console).
_ADMIN_STATEMENTS = frozenset({"kill", "shutdown", "flush", "pause", "resume", "suspend", "reload", "reconnect",
                               "disable", "enable", "wait_close", "system", "purge", "reset", "install",
                               "uninstall", "checkpoint", "stop", "start", "change"})
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


def _meta_kind(s: str) -> str:
    """psql meta-commands: most describe (``\\dt``); some run programs, files or write files."""
    m = re.match(r"\\([a-zA-Z!?+]*)", s)
    cmd = m.group(1) if m else ""
    if cmd == "copy":
        return "copy"
    if cmd == "!" or re.search(r"\\(g|o|gx)\s*\|", s):
        return "program"  # \! cmd, \o |cmd, \g |cmd: a shell command
    if cmd in ("i", "ir", "include", "include_relative", "gexec"):
        return "unknown"  # statements from a file, or from query results: not visible here
    if cmd in ("o", "out", "w", "write", "g", "gx", "s", "lo_export", "lo_import") and len(s.split()) > 1:
        return "file-access"
    return "meta"


def statement_kind(stmt: str) -> str:
    """The kind of one statement: ``select``, ``drop``, ``meta`` (psql ``\\dt``)..."""
    s = stmt.lstrip("( \t\n")
    if s.startswith("\\"):
        return _meta_kind(s)
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


def statement_effects(stmt: str, kind: str) -> list[str]:
    """What a statement does beyond its first keyword, as extra kinds.

    ``delete-all``/``update-all``: DELETE/UPDATE without a (real) WHERE; ``admin``: ends
    sessions or changes server settings (``pg_terminate_backend``, ``SET GLOBAL``, ``ALTER
    SYSTEM``, ``KILL``, PgBouncer's ``PAUSE``); ``file-access``: reads or writes files on the
    server (``lo_import``, ``INTO OUTFILE``, ``LOAD DATA INFILE``, ``url()``); ``program``:
    runs a shell command on the server (``COPY ... TO PROGRAM``); ``remote-sql``: runs SQL
    elsewhere (``dblink_exec``); ``copy-out``/``copy-in``: which way a COPY goes; privilege
    statements (``create user``, ``alter role``...) as their own kind.
    """
    out: list[str] = []
    low = stmt.lower()
    if kind in ("delete", "update") and not _WHERE.search(stmt):
        out.append(f"{kind}-all")
    if kind == "copy":
        if _PROGRAM.search(stmt):
            out.append("program")
        elif re.search(r"\bto\s+stdout\b", low):
            out.append("select")
        elif re.search(r"\)\s*to\b|^\\?copy\s+[\w.\"]+(?:\s*\([^)]*\))?\s+to\b", low):
            out.append("copy-out")
        else:
            out.append("copy-in")
    if kind == "set" and re.match(r"^\s*set\s+(?:@@)?(global|persist|persist_only)\b", low):
        out.append("admin")
    if kind == "alter" and re.match(r"^\s*alter\s+system\b", low):
        out.append("admin")
    m = _PRIVILEGE_OBJECTS.match(stmt)
    if m:
        out.append(f"{m.group(1).lower()} {m.group(2).lower()}")
    if kind in _ADMIN_STATEMENTS:
        out.append("admin")
    if _ADMIN_FUNCS.search(stmt):
        out.append("admin")
    if _FILE_FUNCS.search(stmt):
        out.append("file-access")
    if _REMOTE_FUNCS.search(stmt):
        out.append("program" if "xp_cmdshell" in low else "remote-sql")
    if _PROGRAM.search(stmt) and "program" not in out:
        out.append("program")
    return out


def sql_kinds(sql: str) -> list[str]:
    """Distinct statement kinds of ``sql`` in order of appearance (transactions left out),
    each followed by what the statement does beyond its keyword (:func:`statement_effects`)."""
    out: list[str] = []
    for stmt in split_statements(sql):
        kind = statement_kind(stmt)
        if kind == "transaction":
            continue
        for k in (kind, *statement_effects(stmt, kind)):
            if k not in out:
                out.append(k)
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
