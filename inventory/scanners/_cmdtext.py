"""Shared by the runbook and shell scanners: logical command lines and redacted sightings."""

from __future__ import annotations

import re
from collections.abc import Callable

from inventory import secrets
from inventory.commands.lexer import lex
from inventory.commands.model import trusted
from inventory.scanners.base import CommandSighting, Fragment, SourceFile

_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][\w-]*)\1")
MAX_JOINED_LINES = 200
MAX_QUOTED_LINES = 30


def _unbalanced(text: str) -> bool:
    # The characters every unbalanced-quote error of the lexer starts at (quotes, `$(`, `$'`,
    # backticks, `<(`): a text with none of them is balanced, and most command lines are.
    # Looked for one by one (a regex character set is tried a character at a time: 3x slower).
    if not ("'" in text or '"' in text or "$" in text or "`" in text or "(" in text):
        return False
    err = lex(text).error
    return bool(err) and ("quote" in err or "unbalanced" in err)


def logical_commands(lines: list[str], first_line: int, *, keep: Callable[[str], str | None] | None = None) -> list[tuple[int, str]]:
    """Join physical ``lines`` into commands: ``\\`` continuations, trailing ``|``/``&&``,
    open quotes and heredoc bodies. Returns ``(line number of the first line, text)``.

    ``keep(line) -> str | None`` selects and rewrites a starting line (strips a prompt,
    drops comments and output); ``None`` skips the line.
    """
    out: list[tuple[int, str]] = []
    i = 0
    n = len(lines)
    while i < n:
        start = lines[i]
        text = keep(start) if keep else start
        if text is None or not text.strip():
            i += 1
            continue
        line_no = first_line + i
        joined = text
        i += 1
        # Continuations and open quotes.
        for _ in range(MAX_JOINED_LINES):
            if i >= n:
                break
            stripped = joined.rstrip()
            if stripped.endswith("\\"):
                nxt = lines[i]
                # A continued line in a console block may repeat the "> " prompt.
                nxt = nxt[2:] if nxt.startswith("> ") else nxt
                joined = stripped[:-1].rstrip() + " " + nxt.strip()
                i += 1
            elif stripped.endswith(("|", "&&")):  # a pipe, `||` or `&&` ends the line: it goes on
                joined = joined + "\n" + lines[i]
                i += 1
            elif _unbalanced(joined):
                # An open quote spans lines only if it closes soon; a stray apostrophe
                # must not swallow the rest of the block.
                for k in range(1, min(MAX_QUOTED_LINES, n - i) + 1):
                    candidate = joined + "\n" + "\n".join(lines[i : i + k])
                    if not _unbalanced(candidate):
                        joined, i = candidate, i + k
                        break
                else:
                    break
            else:
                break
        # Heredoc bodies belong to their command (`<<` first: most commands have none).
        for m in _HEREDOC.finditer(joined) if "<<" in joined else ():
            delim = m.group(2)
            body: list[str] = []
            while i < n:
                body.append(lines[i])
                i += 1
                if lines[i - 1].strip() == delim:
                    break
            joined = joined + "\n" + "\n".join(body)
        out.append((line_no, joined))
    return out


def emit(frag: Fragment, src: SourceFile, line: int, command: str, environment: str | None,
         source_kind: str, section: int | None = None) -> None:
    """Record a command sighting, redacted first; note where a secret was masked."""
    redacted, masked = secrets.redact_text(command.strip())
    ev = src.evidence(line)
    if masked:
        frag.secrets.append(ev)
    if type(source_kind) is str and (environment is None or type(environment) is str) \
            and (section is None or type(section) is int):
        # Built without validating again (~15,000 per 2,000 services): every value is of its
        # declared type, checked just above (the text and evidence are made here).
        sighting = trusted(CommandSighting, {"command": redacted, "evidence": ev, "environment": environment,
                                             "source_kind": source_kind, "section": section})
    else:
        sighting = CommandSighting(command=redacted, evidence=ev, environment=environment, source_kind=source_kind,
                                   section=section)
    frag.commands.append(sighting)
