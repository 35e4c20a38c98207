"""A compact stored form of a built :class:`~inventory.model.Inventory`, quick to load.

The scan cache keeps the last built inventory so an unchanged tree is answered without
rebuilding it (``inventory/scan.py``). Parsing and validating it as JSON took most of a warm
rescan (seconds at 2,000 services), so it is stored instead as nested tuples, one per model
in field order (``marshal``), with every distinct string and every distinct
:class:`~inventory.model.Evidence` stored once. Loading builds the model objects directly,
without validation: the data was written by this same code from a validated inventory (the
cache key covers the ``inventory/`` code), and a checksum over the payload, the Python
version and the models' field layout guard it. Anything unexpected raises
:class:`StoreError`, so the caller rebuilds: a bad entry costs speed, never a wrong inventory.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import sys
import types
import typing
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from inventory.model import Evidence, Inventory

MAGIC = b"stackpolicy-inventory\x002\x00"  # the format's version after the name
_DIGEST_BYTES = 16
_set = object.__setattr__


class StoreError(Exception):
    """A stored inventory that cannot be loaded by this code (damaged, or from another version)."""


# A field's kind: a plain value (str, int, bool, None, lists and dicts of those), one
# Evidence, a list of them, a model, an optional model, or a list of models.
_VALUE, _EV, _EVS, _MODEL, _OPT_MODEL, _MODELS = range(6)


def _kind(annotation: Any) -> tuple[int, type[BaseModel] | None]:
    """How a field with ``annotation`` is stored; raises TypeError for a shape not handled here."""
    if annotation is Evidence:
        return _EV, None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _MODEL, annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and len(args) == 1:
        if args[0] is Evidence:
            return _EVS, None
        if isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return _MODELS, args[0]
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1 and len(args) == 2 and type(None) in args and models[0] is not Evidence:
            return _OPT_MODEL, models[0]
    if _holds_model(annotation):
        raise TypeError(f"no stored form for a field of type {annotation!r}")
    return _VALUE, None


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(a) for a in typing.get_args(annotation))


@lru_cache(maxsize=None)
def _plan(cls: type[BaseModel]) -> tuple[tuple[str, int, type[BaseModel] | None], ...]:
    """(field name, kind, model class) of every field of ``cls``, in declaration order."""
    return tuple((name, *_kind(f.annotation)) for name, f in cls.model_fields.items())


@lru_cache(maxsize=1)
def _layout() -> bytes:
    """A fingerprint of every stored model's field layout, and of the Python that wrote it."""
    seen: dict[type[BaseModel], None] = {}

    def visit(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen[cls] = None
        for _, _, sub in _plan(cls):
            if sub is not None:
                visit(sub)

    visit(Inventory)
    text = repr([(f"{c.__module__}.{c.__qualname__}", [(n, k, repr(c.model_fields[n].annotation)) for n, k, _ in _plan(c)])
                 for c in seen])
    return hashlib.sha256(f"{sys.version_info[:2]}|{marshal.version}|{text}".encode()).digest()[:_DIGEST_BYTES]


# -- writing ------------------------------------------------------------------------


class _Encoder:
    """Turns an inventory into nested tuples, sharing equal strings and evidence."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.evidence: dict[Evidence, int] = {}

    def s(self, text: str) -> str:
        return self.strings.setdefault(text, text)

    def ev(self, ev: Evidence) -> int:
        i = self.evidence.get(ev)
        if i is None:
            i = self.evidence[ev] = len(self.evidence)
        return i

    def value(self, v: Any) -> Any:
        # Fresh containers: marshal would share a list or dict referenced twice, and two
        # loaded models must never share one.
        t = type(v)
        if t is str:
            return self.s(v)
        if t is list:
            return [self.value(x) for x in v]
        if t is dict:
            return {self.value(k): self.value(x) for k, x in v.items()}
        if v is None or t is int or t is bool or t is float:
            return v
        raise TypeError(f"no stored form for a value of type {t.__name__}")

    def model(self, obj: BaseModel) -> tuple:
        d = obj.__dict__
        out = []
        for name, kind, _ in _plan(type(obj)):
            v = d[name]
            if kind == _VALUE:
                out.append(self.value(v))
            elif kind == _EVS:
                out.append([self.ev(e) for e in v])
            elif kind == _MODELS:
                out.append([self.model(m) for m in v])
            elif kind == _EV:
                out.append(self.ev(v))
            else:  # a model, or an optional one
                out.append(None if v is None else self.model(v))
        return tuple(out)


def _payload(inv: Inventory) -> bytes:
    # As many new tuples and lists as the inventory has objects, none of them garbage, made
    # while the whole inventory is alive: the cyclic collector would walk all of it again
    # and again as they accumulate (most of the dump's time at 2,000 services).
    paused = gc.isenabled()
    gc.disable()
    try:
        enc = _Encoder()
        body = enc.model(inv)
        table = [(enc.s(ev.path), ev.line) for ev in enc.evidence]
        payload = marshal.dumps((table, body), 4)
        # The tuples go before the bytes are copied once more: this runs when the whole
        # inventory is in memory, at the scan's peak.
        del enc, body, table
    finally:
        if paused:
            gc.enable()
    return payload


def dump_parts(inv: Inventory) -> tuple[bytes, bytes]:
    """:func:`dump`'s bytes as (header, payload), which it concatenates: a writer that writes
    them one after the other holds no copy of the whole (this runs at the scan's peak)."""
    payload = _payload(inv)
    # Not compressed: inflating took longer than reading the bytes does.
    return MAGIC + _layout() + zlib.crc32(payload).to_bytes(4, "big"), payload


def dump(inv: Inventory) -> bytes:
    """``inv`` in its stored form (see the module docstring)."""
    return b"".join(dump_parts(inv))


# -- reading ------------------------------------------------------------------------


def _decoder(cls: type[BaseModel], evidence: list[Evidence],
             made: dict[type[BaseModel], tuple[Callable[[tuple], BaseModel], Callable[[list], list]]] | None = None,
             ) -> tuple[Callable[[tuple], BaseModel], Callable[[list], list]]:
    """Functions building one ``cls`` from its stored tuple, and a list of them, without validation.

    The object gets what validation of the model's JSON would have given it: its field
    values, every field marked as set, no extra or private attributes. The functions are
    generated per class (as ``dataclasses`` does) so that loading 200,000 objects does no
    per-field dispatch, and a list is built in one loop rather than one call per item; they
    raise (ValueError, TypeError, IndexError) on a tuple of the wrong shape. ``made``: the
    functions already generated for this load, by class.
    """
    made = {} if made is None else made
    if cls in made:
        return made[cls]
    plan = _plan(cls)
    names = tuple(name for name, _, _ in plan)
    # One set of field names shared by every object of the class: pydantic only ever adds a
    # field's name to it (on assignment), which all of them already hold, and a set per
    # object would be a sixth of a loaded inventory's memory.
    env: dict[str, Any] = {"new": cls.__new__, "cls": cls, "setattr": _set, "fields_set": set(names), "ev": evidence,
                           "ev_at": evidence.__getitem__}
    items = []
    for i, (name, kind, sub) in enumerate(plan):
        var = f"v{i}"
        if kind == _VALUE:
            expr = var
        elif kind == _EV:
            expr = f"ev[{var}]"
        elif kind == _EVS:
            expr = f"list(map(ev_at, {var}))"
        else:
            env[f"sub{i}"], env[f"subs{i}"] = _decoder(sub, evidence, made)  # type: ignore[arg-type]
            expr = {_MODEL: f"sub{i}({var})", _OPT_MODEL: f"None if {var} is None else sub{i}({var})",
                    _MODELS: f"subs{i}({var})"}[kind]
        items.append(f"{name!r}: {expr}")
    unpack = "".join(f"v{i}, " for i in range(len(plan)))
    body = (f"obj = new(cls)\n"
            f"setattr(obj, '__dict__', {{{', '.join(items)}}})\n"
            f"setattr(obj, '__pydantic_fields_set__', fields_set)\n"
            f"setattr(obj, '__pydantic_extra__', None)\n"
            f"setattr(obj, '__pydantic_private__', None)\n")
    one = "".join(f"    {line}\n" for line in body.splitlines())
    many = "".join(f"        {line}\n" for line in body.splitlines())
    src = (f"def build(t):\n"
           f"    {unpack}= t\n"
           f"{one}"
           f"    return obj\n"
           f"def build_many(ts):\n"
           f"    out = []\n"
           f"    add = out.append\n"
           f"    for {unpack}in ts:\n"
           f"{many}"
           f"        add(obj)\n"
           f"    return out\n")
    exec(compile(src, f"<stored {cls.__name__}>", "exec"), env)  # noqa: S102 - code built from field names only
    made[cls] = env["build"], env["build_many"]
    return made[cls]


def load(blob: bytes) -> Inventory:
    """The inventory stored by :func:`dump`; raises :class:`StoreError` for anything else."""
    head = len(MAGIC) + _DIGEST_BYTES + 4
    if not isinstance(blob, bytes) or blob[: len(MAGIC)] != MAGIC:
        raise StoreError("not a stored inventory")
    if blob[len(MAGIC) : len(MAGIC) + _DIGEST_BYTES] != _layout():
        raise StoreError("stored by another version")
    payload = memoryview(blob)[head:]
    if zlib.crc32(payload).to_bytes(4, "big") != blob[head - 4 : head]:
        raise StoreError("damaged: checksum mismatch")
    # Hundreds of thousands of new objects, none of them garbage: the cyclic collector would
    # only walk them again and again as they accumulate (a third of the load).
    paused = gc.isenabled()
    gc.disable()
    inv = None
    try:
        table, body = marshal.loads(payload)
        evidence: list[Evidence] = []
        made: dict = {}
        evidence.extend(_decoder(Evidence, evidence, made)[1](table))
        inv = _decoder(Inventory, evidence, made)[0](body)
    except Exception as exc:  # a payload with a good checksum that this code cannot read
        raise StoreError(f"unreadable: {type(exc).__name__}: {exc}") from None
    finally:
        if inv is not None:
            # Nor later: an inventory makes no reference cycles and is kept for the rest of
            # the run, yet each generation the collector moved these objects through would
            # walk them all again (~0.3 s of a 2,000-service run's later work). Frozen objects
            # are still freed when no longer referenced; only a cycle through one would stay.
            gc.freeze()
        if paused:
            gc.enable()
    if type(inv) is not Inventory:
        raise StoreError("not an inventory")
    return inv  # type: ignore[return-value]
