"""A fast, deterministic block-style YAML writer for plain data (dicts, lists, strings, numbers,
booleans, None), for the compiled documents (``policy.yaml``, ``evals.yaml``).

PyYAML's representer walks every node in Python and resolves every scalar against its implicit
types; on a 2,000-service estate that is most of the generation time. This writer emits the
same shape (block mappings, indentless sequences, keys in the order given), quotes a string with
JSON's escaping whenever a plain scalar could be misread, and is checked against PyYAML's loader
in the tests: ``yaml.safe_load(dump(x)) == x``. With ``literal=True`` (``inventory.yaml``) a
multi-line string is written as a literal block (``|`` / ``|-``) when that reads back exactly,
so diffs of it stay line by line.

:func:`dump_to` writes the same text in pieces: a :class:`Lazy` sequence (``policy.yaml``'s
systems, ``inventory.yaml``'s lists) is made item by item while it is written, so neither the
whole data nor the whole text of a large document is ever held in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

import yaml

# A plain scalar that cannot be misread: no leading indicator, no ": " or " #", no edge spaces.
_PLAIN = re.compile(r"[A-Za-z0-9_./$(][^\n\r\t\"'`]*")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# The resolver tries implicit types (int, bool, null...) by a plain scalar's first character:
# a string starting with none of those characters is a string without asking it.
_IMPLICIT_FIRST = frozenset(k for k in _RESOLVER.yaml_implicit_resolvers if k)
_ASK_ALWAYS = None in _RESOLVER.yaml_implicit_resolvers or bool(_RESOLVER.yaml_path_resolvers)


@lru_cache(maxsize=65536)
def scalar(s: str) -> str:
    """``s`` as a YAML scalar: plain when unambiguous, else double-quoted (JSON escapes)."""
    if (s and _PLAIN.fullmatch(s) and s == s.strip() and not s.endswith(":")
            and ": " not in s and " #" not in s and "\\" not in s and s.isprintable()
            and (not (_ASK_ALWAYS or s[0] in _IMPLICIT_FIRST)
                 or _RESOLVER.resolve(yaml.ScalarNode, s, (True, False)) == _STR_TAG)):
        return s
    return json.dumps(s, ensure_ascii=False)


def _literal(s: str, indent: str) -> str | None:
    """``s`` as a literal block scalar (header and content lines at ``indent`` + 2), or None
    when a literal block could not carry it exactly (then it is double-quoted)."""
    body, chomp = (s[:-1], "") if s.endswith("\n") else (s, "-")
    lines = body.split("\n")
    # The block's indentation is read from its first line, and whitespace-only or
    # non-printable lines, and trailing blank lines, would not read back the same.
    if body.endswith("\n") or not lines[0] or lines[0][0] == " " or "\r" in body:
        return None
    if any((ln and not ln.strip()) or not ln.isprintable() for ln in lines):
        return None
    pad = indent + "  "
    return "|" + chomp + "".join(f"\n{pad}{ln}" if ln else "\n" for ln in lines)


class Lazy:
    """A sequence whose items are made while it is written (once: it is not kept).

    ``empty`` says up front whether it has items (``[]`` is written on the key's own line)."""

    __slots__ = ("_items", "empty")

    def __init__(self, items: Iterable[Any], empty: bool) -> None:
        self._items = items
        self.empty = empty

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)


class _Sink(list):
    """Lines on their way to ``write``: spilled between the items of a :class:`Lazy` sequence."""

    def __init__(self, write: Callable[[str], Any], size: int = 4096) -> None:
        super().__init__()
        self._write = write
        self._size = size

    def spill(self, force: bool = False) -> None:
        if self and (force or len(self) >= self._size):
            self._write("\n".join(self) + "\n")
            self.clear()


def _atom(v: Any) -> str | None:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return json.dumps(v)
    if isinstance(v, str):
        return scalar(v)
    if isinstance(v, dict) and not v:
        return "{}"
    if isinstance(v, list | tuple) and not v:
        return "[]"
    if type(v) is Lazy and v.empty:
        return "[]"
    return None


def _map(v: dict, indent: str, out: list[str], literal: bool, lead: str) -> None:
    """Append a non-empty mapping's lines at ``indent``; its first line starts with ``lead``
    (``indent`` itself, or the dash of the sequence item it is: ``- key: value``)."""
    # The common types are tested inline (no call per item): a large policy.yaml has millions.
    pre = lead
    append = out.append
    inner = indent + "  "
    for k, item in v.items():
        key = scalar(k if type(k) is str else str(k))
        t = type(item)
        if t is str:
            atom = (_literal(item, indent) or scalar(item)) if literal and "\n" in item else scalar(item)
        elif t is int:  # evidence line numbers: next most common
            atom = str(item)
        elif t is dict and item:
            append(f"{pre}{key}:")
            _map(item, inner, out, literal, inner)
            pre = indent
            continue
        elif t is list and item:
            append(f"{pre}{key}:")  # a sequence under a key: indentless, as PyYAML writes it
            _seq(item, indent, out, literal, indent)
            pre = indent
            continue
        else:
            atom = _atom(item)
            if atom is None:
                if isinstance(item, dict):
                    append(f"{pre}{key}:")
                    _map(item, inner, out, literal, inner)
                else:
                    append(f"{pre}{key}:")
                    _seq(item, indent, out, literal, indent)
                pre = indent
                continue
        append(f"{pre}{key}: {atom}")
        pre = indent


def _seq(v: list | tuple, indent: str, out: list[str], literal: bool, lead: str) -> None:
    """Append a non-empty sequence's lines at ``indent``; its first line starts with ``lead``."""
    pre = lead
    append = out.append
    inner = indent + "  "
    # A lazy sequence's items are written as they are made: the lines so far go out between them.
    spill = getattr(out, "spill", None) if type(v) is Lazy else None
    for item in v:
        t = type(item)
        if t is str:
            atom = (_literal(item, indent) or scalar(item)) if literal and "\n" in item else scalar(item)
        elif t is dict and item:
            _map(item, inner, out, literal, pre + "- ")
            pre = indent
            if spill is not None:
                spill()
            continue
        else:
            atom = _atom(item)
            if atom is None:
                if isinstance(item, dict):
                    _map(item, inner, out, literal, pre + "- ")
                else:
                    _seq(item, inner, out, literal, pre + "- ")
                pre = indent
                if spill is not None:
                    spill()
                continue
        append(f"{pre}- {atom}")
        pre = indent


def _emit(v: Any, indent: str, out: list[str], literal: bool = False) -> None:
    """Append the block lines of a non-empty mapping or sequence ``v`` at ``indent``."""
    if isinstance(v, dict):
        _map(v, indent, out, literal, indent)
    else:
        _seq(v, indent, out, literal, indent)


def dump(data: Any, *, literal: bool = False) -> str:
    """``data`` as a YAML document (block style, ends with a newline); ``literal``: multi-line
    strings as literal blocks where they read back exactly."""
    atom = _atom(data)
    if atom is not None:
        return atom + "\n"
    out: list[str] = []
    _emit(data, "", out, literal)
    return "\n".join(out) + "\n"


def dump_to(write: Callable[[str], Any], data: Any, *, literal: bool = False) -> None:
    """Write :func:`dump`'s text of ``data`` with ``write``, in pieces (the same bytes); the
    items of each :class:`Lazy` sequence in ``data`` are made, written and dropped one by one."""
    atom = _atom(data)
    if atom is not None:
        write(atom + "\n")
        return
    out = _Sink(write)
    _emit(data, "", out, literal)
    out.spill(force=True)
