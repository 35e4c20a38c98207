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
# The three slots pydantic keeps beside ``__dict__``, set through their descriptors: a third
# cheaper per object than object.__setattr__ with the name (200,000 objects per warm rescan).
_SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    BaseModel.__dict__[name].__set__ for name in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


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


def _value(v: Any, strings: dict[str, str]) -> Any:
    """A plain field value in its stored form: equal strings shared, containers fresh (marshal
    would share a list or dict referenced twice, and two loaded models must never share one)."""
    t = type(v)
    if t is str:
        return strings.setdefault(v, v)
    if t is list:
        return [_value(x, strings) for x in v]
    if t is dict:
        return {_value(k, strings): _value(x, strings) for k, x in v.items()}
    if v is None or t is int or t is bool or t is float:
        return v
    raise TypeError(f"no stored form for a value of type {t.__name__}")


# A plain field's stored form, inline in the generated encoders: a string, a list or a dict
# of strings (nearly every plain value) is copied without a call per value. Anything else,
# nested containers included, goes through _value, which also refuses what cannot be
# stored (``trusted`` models are not validated, so a value need not be of its declared type).
_ITEM = "(sd({x}, {x}) if {x}.__class__ is str else value({x}, strings))"
_VALUE_EXPR = ("(sd({v}, {v}) if {v}.__class__ is str else None if {v} is None"
               " else [" + _ITEM.format(x="x") + " for x in {v}] if {v}.__class__ is list"
               " else {{" + _ITEM.format(x="k") + ": " + _ITEM.format(x="x") + " for k, x in {v}.items()}}"
               " if {v}.__class__ is dict else value({v}, strings))")


def _encoder(cls: type[BaseModel], strings: dict[str, str], evidence: dict[tuple[str, int], int],
             made: dict[type[BaseModel], Callable[[BaseModel], tuple]] | None = None) -> Callable[[BaseModel], tuple]:
    """A function turning one ``cls`` into its stored tuple (fields in declaration order).

    Generated per class, as :func:`_decoder` is: an inventory has hundreds of thousands of
    objects, and a loop over each one's fields with a dispatch per field was most of the
    dump. Equal strings are shared through ``strings``; each distinct evidence gets an index
    in ``evidence`` (keyed by path and line: what makes two of them equal), in first-seen order.
    """
    made = {} if made is None else made
    if cls in made:
        return made[cls]
    env: dict[str, Any] = {"sd": strings.setdefault, "strings": strings, "value": _value,
                           "evs": evidence, "ev_sd": evidence.setdefault}
    ev_index = "ev_sd(({e}.path, {e}.line), len(evs))"
    items = []
    for i, (name, kind, sub) in enumerate(_plan(cls)):
        var = f"d[{name!r}]" if kind != _VALUE else f"v{i}"
        if kind == _VALUE:
            items.append(_VALUE_EXPR.format(v=var))
            continue
        if kind == _EV:
            items.append(ev_index.format(e=var))
        elif kind == _EVS:
            items.append(f"[{ev_index.format(e='e')} for e in {var}]")
        else:
            env[f"sub{i}"] = _encoder(sub, strings, evidence, made)  # type: ignore[arg-type]
            items.append({_MODEL: f"sub{i}({var})", _OPT_MODEL: f"None if {var} is None else sub{i}({var})",
                          _MODELS: f"[sub{i}(m) for m in {var}]"}[kind])
    values = "".join(f"    v{i} = d[{name!r}]\n" for i, (name, kind, _) in enumerate(_plan(cls)) if kind == _VALUE)
    src = (f"def encode(obj):\n"
           f"    d = obj.__dict__\n"
           f"{values}"
           f"    return ({''.join(f'{item}, ' for item in items)})\n")
    exec(compile(src, f"<stored {cls.__name__}>", "exec"), env)  # noqa: S102 - code built from field names only
    made[cls] = env["encode"]
    return made[cls]


def _payload(inv: Inventory) -> bytes:
    # As many new tuples and lists as the inventory has objects, none of them garbage, made
    # while the whole inventory is alive: the cyclic collector would walk all of it again
    # and again as they accumulate (most of the dump's time at 2,000 services).
    paused = gc.isenabled()
    gc.disable()
    try:
        strings: dict[str, str] = {}
        evidence: dict[tuple[str, int], int] = {}
        encoders: dict[type[BaseModel], Callable[[BaseModel], tuple]] = {}
        body = _encoder(Inventory, strings, evidence, encoders)(inv)
        table = [(strings.setdefault(path, path), line) for path, line in evidence]
        payload = marshal.dumps((table, body), 4)
        # The tuples go before the bytes are copied once more: this runs when the whole
        # inventory is in memory, at the scan's peak. Each encoder's globals refer to the
        # encoder (a cycle) and to both tables: emptied, they all go now, not at whenever
        # the collector next runs.
        for encode in encoders.values():
            encode.__globals__.clear()
        del strings, evidence, body, table, encoders
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
                           "ev_at": evidence.__getitem__, "set_fields_set": _SET_FIELDS_SET, "set_extra": _SET_EXTRA,
                           "set_private": _SET_PRIVATE}
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
            f"set_fields_set(obj, fields_set)\n"
            f"set_extra(obj, None)\n"
            f"set_private(obj, None)\n")
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
