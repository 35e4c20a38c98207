"""Interactive sessions in runbooks: statements typed into ``psql``, ``mysql``, ``redis-cli`` or
a Rails console become commands of that session's client.

A runbook opens a session with a shell command (``sudo gitlab-psql``, ``kubectl exec -it db-0
-- psql -U app``, ``redis-cli -h cache``, ``gitlab-rails console``) and then shows what to
type: either prompt lines in the same block (``gitlabhq_production=# DELETE ...;``,
``cache:6379> FLUSHALL``, ``irb(main):001:0> User.find(1).destroy``) or a ``sql``/``ruby``
block that follows. Each statement becomes the command that would run it non-interactively
(``sudo gitlab-psql -c 'DELETE ...'``, ``redis-cli -h cache FLUSHALL``,
``gitlab-rails runner '...'``), so the parser and the risk model judge what it does, on the
system the session was opened against.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from inventory.commands.model import CommandLine
from inventory.commands.shell import parse_line
from inventory.commands.sql import split_statements

SQL_LANGS = frozenset({"sql", "psql", "postgresql", "postgres", "pgsql", "plpgsql", "mysql", "tsql", "sqlite"})
RUBY_LANGS = frozenset({"ruby", "rb", "irb", "rails"})
REDIS_LANGS = frozenset({"redis", "redis-cli"})

_PROMPTS = {
    "sql": re.compile(r"^\s*(?:[\w.-]+(?:=|-|\(|\[)[^#>]*?[#>]|mysql>|mariadb[^>]*>|MariaDB \[[^\]]*\]>|->|postgres[=-][#>])\s?(.*)$"),
    "redis": re.compile(r"^\s*(?:[\w.-]+:\d+(?:\[\d+\])?|redis(?:-cli)?|\d+\.\d+\.\d+\.\d+:\d+)>\s?(.*)$"),
    "ruby": re.compile(r"^\s*(?:irb\([^)]*\):\d+(?::\d+)?[>*]|\[\d+\]\s*pry\([^)]*\)>|[\w.-]+\([\w.-]+\)(?::\d+)?>|>>)\s?(.*)$"),
}
_QUIT = re.compile(r"^\s*(\\q|quit|exit|\\quit)\s*;?\s*$", re.I)


@dataclass
class Session:
    """An open interactive session: what kind, and the shell command that opened it."""

    kind: str  # sql | redis | ruby
    opener: str
    client: str  # psql | mysql | redis-cli | rails


# Every name (and alias) of a client that opens a session contains one of these words (one
# search for any of them: a runbook's every command is asked).
_SESSION_TOOL_WORDS = re.compile("psql|pgcli|mysql|mariadb|clickhouse|redis|valkey|keydb|rails")


def _may_open_session(command: str) -> bool:
    """False only when no session client can be in ``command``: then it need not be parsed.

    Most runbook commands (kubectl, aws, kafka tools...) never name one. Quotes are dropped
    before looking (``"ps"ql`` is psql); a backslash or ANSI-C quoting could spell a name any
    way, so such a line is parsed.
    """
    low = command.lower()
    if "\\" in low or "$'" in low:
        return True
    low = low.replace('"', "").replace("'", "")
    return _SESSION_TOOL_WORDS.search(low) is not None


def session_of(command: str, parse: Callable[[str], CommandLine] = parse_line) -> Session | None:
    """The session ``command`` opens, if it opens one (no statement of its own on the line).

    ``parse``: :func:`~inventory.commands.shell.parse_line`, or a scanner's memo of it."""
    if not _may_open_session(command):
        return None
    for pc in parse(command).commands:
        if pc.tool in ("psql", "mysql", "clickhouse-client") and pc.verb == "connect":
            return Session("sql", command, pc.tool)
        if pc.tool in ("redis-cli", "valkey-cli", "keydb-cli") and pc.verb == "connect":
            return Session("redis", command, "redis-cli")
        if pc.tool in ("gitlab-rails", "rails") and pc.verb == "console":
            return Session("ruby", command, pc.tool)
    return None


def statement_command(session: Session, statement: str) -> str:
    """The non-interactive command that runs ``statement`` in ``session``."""
    if session.kind == "sql":
        flag = "-c" if session.client == "psql" else ("-e" if session.client == "mysql" else "--query")
        return f"{session.opener} {flag} {shlex.quote(statement)}"
    if session.kind == "redis":
        return f"{session.opener} {statement}"
    tool = "gitlab-rails" if "gitlab-rails" in session.opener else "rails"
    return f"{tool} runner {shlex.quote(statement)}"


def prompt_statements(session: Session, lines: list[str], first_line: int) -> list[tuple[int, str]]:
    """``(line, statement)`` for each statement typed at the session's prompt in ``lines``."""
    rx = _PROMPTS[session.kind]
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for i, raw in enumerate(lines):
        m = rx.match(raw)
        if not m:
            continue
        text = m.group(1).strip()
        if not text or _QUIT.match(text):
            continue
        if not buf:
            start = first_line + i
        buf.append(text)
        joined = " ".join(buf)
        if session.kind != "sql" or joined.endswith(";") or joined.startswith("\\"):
            out.append((start, joined))
            buf = []
    if buf:
        out.append((start, " ".join(buf)))
    return out


def block_statements(session: Session, lines: list[str], first_line: int) -> list[tuple[int, str]]:
    """``(line, statement)`` for each statement of a ``sql``/``ruby``/``redis`` block typed into ``session``."""
    if session.kind == "sql":
        out: list[tuple[int, str]] = []
        offset = 0
        text = "\n".join(lines)
        for stmt in split_statements(text):
            if _QUIT.match(stmt):
                continue
            pos = text.find(stmt.split("\n", 1)[0], offset)
            line = first_line + (text.count("\n", 0, pos) if pos >= 0 else 0)
            offset = max(pos, offset)
            out.append((line, stmt))
        return out
    rows = []
    for i, raw in enumerate(lines):
        s = raw.strip()
        m = _PROMPTS[session.kind].match(raw)
        if m:
            s = m.group(1).strip()
        if s and not s.startswith("#") and not _QUIT.match(s):
            rows.append((first_line + i, s))
    return rows
