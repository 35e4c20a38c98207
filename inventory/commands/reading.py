"""Parsed lines as the whole-tree actions step reads them: plain slotted objects.

:class:`~inventory.commands.model.ParsedCommand` and
:class:`~inventory.commands.model.CommandLine` are pydantic models: every attribute read goes
through ``BaseModel.__getattr__``'s hook, several times slower than a slot (~70 against ~10 ns).
The actions step reads the commands of every sighted line about a million times per 2,000
services, serially, in the main process: :class:`LineReading` and :class:`CommandReading` hold
the same fields, with the same defaults, as plain slots, and are read wherever a ``CommandLine``
or ``ParsedCommand`` is (nothing there calls a model method on them). They never leave the
process and are never stored; a copy with some fields changed is ``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from pydantic_core import SchemaValidator


@dataclass(slots=True, kw_only=True)
class CommandReading:
    """:class:`~inventory.commands.model.ParsedCommand`'s fields, as slots."""

    raw: str
    argv: list[str] = field(default_factory=list)
    tool: str
    verb: str = "unknown"
    object_kind: str | None = None
    target: str | None = None
    namespace: str | None = None
    flags: dict[str, str | bool] = field(default_factory=dict)
    sql_kinds: list[str] = field(default_factory=list)
    sql: str | None = None
    wrappers: list[str] = field(default_factory=list)
    via: str | None = None
    parse_error: str | None = None


@dataclass(slots=True, kw_only=True)
class LineReading:
    """:class:`~inventory.commands.model.CommandLine`'s fields, as slots."""

    raw: str
    commands: list[CommandReading] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    parse_error: str | None = None


@lru_cache(maxsize=1)
def _validator() -> SchemaValidator:
    # Built on first use: the scan's workers import the actions module only to parse lines.
    from pydantic import TypeAdapter

    return TypeAdapter(LineReading).validator  # type: ignore[return-value]


def reading_of_json(text: str) -> LineReading:
    """The reading of a ``CommandLine`` dumped as JSON (defaults may be left out: they are filled in)."""
    return _validator().validate_json(text)
