"""Tool parsers: a plug-in table ``tool name → parser``.

A parser fills a :class:`~inventory.commands.model.ParsedCommand` in place from the
arguments after the tool name, and may return extra commands it reaches (the command
inside ``kubectl exec``, each command piped into ``redis-cli``...). Adding a tool means
adding an entry to one module's ``PARSERS`` dict; :data:`PARSERS` merges them all.
"""

from __future__ import annotations

import posixpath
from functools import lru_cache
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from inventory.commands.model import ParsedCommand


@dataclass
class ToolContext:
    """What a tool parser may need beyond its arguments.

    ``stdin``: text fed to the command (heredoc, here-string, ``echo ... |``), if known.
    ``resolve(argv, via, stdin=None)``: fully parse a nested argv (wrappers, tools) reached
    via ``via``; ``stdin`` is what flows into it (``kubectl exec -i ... psql <<EOF``).
    ``parse_script(text, via)``: parse a nested shell text (``bash -c``, ``ssh host '...'``).
    """

    stdin: str | None = None
    redirects: list[tuple[str, str]] = field(default_factory=list)
    resolve: Callable[..., list[ParsedCommand]] = lambda argv, via, stdin=None: []
    parse_script: Callable[[str, str], list[ParsedCommand]] = lambda text, via: []

    def stdin_file(self) -> str | None:
        """The file redirected into stdin (``< dump.sql``), if any."""
        for op, target in self.redirects:
            if op == "<":
                return target
        return None


ToolParser = Callable[[ParsedCommand, list[str], ToolContext], "list[ParsedCommand] | None"]

# Spellings of the same tool. Kafka's scripts are normalised without `.sh` (see model).
TOOL_ALIASES: dict[str, str] = {
    "k": "kubectl",
    "kubectl.exe": "kubectl",
    "python3": "python",
    "tofu": "terraform",
    "pgcli": "psql",
    "mariadb": "mysql",
    "gitlab-psql": "psql",
    "gitlab-geo-psql": "psql",
    "gitlab-redis-cli": "redis-cli",
}


_VAR_TOOL = re.compile(r"^\$[({]?([A-Za-z_][A-Za-z0-9_]*)[)}]?$")


@lru_cache(maxsize=8192)
def normalize_tool(word: str) -> str:
    """``/usr/local/bin/kubectl`` → ``kubectl``; ``./bin/kafka-topics.sh`` → ``kafka-topics``.

    A variable named after a known tool (``$(KUBECTL)`` in a Makefile, ``${HELM}``) is that tool.
    """
    m = _VAR_TOOL.match(word)
    if m:
        name = m.group(1).lower().replace("_", "-")
        name = TOOL_ALIASES.get(name, name)
        if name in PARSERS or name in ("make",):
            return name
    base = posixpath.basename(word.rstrip("/")) or word
    if base.endswith(".sh") and base[:-3] in PARSERS:
        base = base[:-3]
    return TOOL_ALIASES.get(base, base)


def _load() -> dict[str, ToolParser]:
    from inventory.commands.tools import cloud, data, kafka, kubernetes, ops, system

    merged: dict[str, ToolParser] = {}
    for mod in (kubernetes, kafka, data, cloud, system, ops):
        merged.update(mod.PARSERS)
    return merged


PARSERS: dict[str, ToolParser] = {}
PARSERS.update(_load())
