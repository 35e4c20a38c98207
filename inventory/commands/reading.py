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

import marshal
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter

from inventory.commands.model import CommandLine


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
    # What the actions step works out of this command alone, worked out where it was parsed
    # (see ``actions.command_derivations``); None for a reading made here, or a copy with
    # some fields changed (``dataclasses.replace`` leaves it out): then worked out again.
    derived: tuple | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(slots=True, kw_only=True)
class LineReading:
    """:class:`~inventory.commands.model.CommandLine`'s fields, as slots."""

    raw: str
    commands: list[CommandReading] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    parse_error: str | None = None


# -- the row form: how a parsed line travels from the scan's workers to the actions step --------
#
# A parsed line is sent back as the marshal'd tuple of its fields (``line_row``), every
# command a tuple of its own in the readings' field order, and read here into slotted objects
# without validation (``reading_of_row``): they were a ``CommandLine`` a moment before, in a
# process of the same scan. Twice as fast to read as the line's JSON validated into readings
# (~25,000 lines at 2,000 services, on the scan's serial tail), and a fifth smaller.

# The fields of a command's row, in order (those of ParsedCommand, and of CommandReading but
# ``derived``, which a row holds last).
COMMAND_ROW = ("raw", "argv", "tool", "verb", "object_kind", "target", "namespace", "flags", "sql_kinds", "sql",
               "wrappers", "via", "parse_error")
_command_row = attrgetter(*COMMAND_ROW)


def line_row(line: CommandLine, derive: Callable[[CommandReading], tuple] | None = None) -> bytes:
    """``line`` as the row :func:`reading_of_row` and :func:`line_of_row` read; ``derive``:
    what each command's reading holds as ``derived`` (of plain values: it is marshal'd),
    worked out from the reading (slots: quicker to read than the model's fields)."""
    rows = [(*_command_row(pc), None) for pc in line.commands]
    if derive is not None:
        rows = [(*row[:-1], derive(_command_of_row(row))) for row in rows]
    return marshal.dumps((line.raw, rows, line.operators, line.parse_error))


_new = object.__new__


def _command_of_row(row: tuple) -> CommandReading:
    """The reading of a command's row: its fields in COMMAND_ROW's order, then ``derived``."""
    pc = _new(CommandReading)
    (pc.raw, pc.argv, pc.tool, pc.verb, pc.object_kind, pc.target, pc.namespace, pc.flags, pc.sql_kinds, pc.sql,
     pc.wrappers, pc.via, pc.parse_error, pc.derived) = row
    return pc


def reading_of_row(row: bytes) -> LineReading:
    """The reading of the ``CommandLine`` that :func:`line_row` made ``row`` of."""
    raw, rows, operators, parse_error = marshal.loads(row)
    commands = list(map(_command_of_row, rows))
    line = _new(LineReading)
    line.raw, line.commands, line.operators, line.parse_error = raw, commands, operators, parse_error
    return line


try:  # the same objects made in C where the install built it (_cbuild.c): ~70,000 per 2,000
    # services on the cold scan's serial tail, each a Python call and a descriptor per slot here
    from inventory._cbuild import slotted as _slotted
except ImportError:  # not built, or an older build without it
    _slotted = None

if _slotted is not None:
    def reading_of_row(row: bytes) -> LineReading:  # noqa: F811
        """The reading of the ``CommandLine`` that :func:`line_row` made ``row`` of."""
        raw, rows, operators, parse_error = marshal.loads(row)
        return _slotted(LineReading, (raw, [_slotted(CommandReading, r) for r in rows], operators, parse_error))


def line_of_row(row: bytes) -> CommandLine:
    """The ``CommandLine`` that :func:`line_row` made ``row`` of (validated again)."""
    raw, rows, operators, parse_error = marshal.loads(row)
    return CommandLine.model_validate({"raw": raw, "commands": [dict(zip(COMMAND_ROW, r)) for r in rows],
                                       "operators": operators, "parse_error": parse_error})
