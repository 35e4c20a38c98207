"""A compact stored form of pydantic models, quick to load: the built inventory, and each file's fragments.

The scan cache keeps the last built inventory so an unchanged tree is answered without
rebuilding it (``inventory/scan.py``). Parsing and validating it as JSON took most of a warm
rescan (seconds at 2,000 services), so it is stored instead as nested tuples, one per model
in field order (``marshal``), with every distinct string and every distinct
:class:`~inventory.model.Evidence` stored once. Loading builds the model objects directly,
without validation: the data was written by this same code from a validated inventory (the
cache key covers the ``inventory/`` code), and a checksum over the payload, the Python and
pydantic versions and the models' field layout guard it. Anything unexpected raises
:class:`StoreError`, so the caller rebuilds: a bad entry costs speed, never a wrong inventory.

A :class:`Codec` is that form for one model class. The inventory's keeps whatever values the
built inventory holds; the one for a file's fragments (``scan.py``: a scan worker's answer to
the main process, and the file's cache entry) is *exact*: it only writes values that
validating the fragments' JSON would give back unchanged (anything else raises TypeError,
and the writer validates them through JSON first), and carries free-form fields as their
JSON, so what it loads is what that validation gave, without the validation.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import mmap
import sys
import types
import typing
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from itertools import islice
from operator import itemgetter
from typing import Any

import pydantic
from pydantic import BaseModel, TypeAdapter
from pydantic_core import from_json

from inventory.model import Evidence, Inventory

try:  # optional: built by the install where a C compiler is at hand (see _cbuild.c)
    from inventory import _cbuild
except ImportError:
    _cbuild = None
# The C encoder, None without it: also from a build of an older _cbuild.c that has only the
# builders (a checkout's copy of another's build), which must not break dumping.
_cencode = getattr(_cbuild, "encode", None)
# The same, one model's longest list of models also written on a second thread, AHEAD_MODELS
# at a time (see _cbuild.c): None in a build without it.
_cencode_ahead = getattr(_cbuild, "encode_ahead", None)
AHEAD_MODELS = 512
# Its exact plans (a fragment's stored form), from a build that has them.
_cexact = _cencode is not None and hasattr(_cbuild, "X_UNION")
# The C reader of an inventory's payload straight into models, None without it (or in an
# older build): marshal and the builders read it then.
_cload = getattr(_cbuild, "load", None)

MAGIC = b"stackpolicy-inventory\x003\x00"  # the format's version after the name
_DIGEST_BYTES = 16
_set = object.__setattr__
# The three slots pydantic keeps beside ``__dict__``, set through their descriptors: a third
# cheaper per object than object.__setattr__ with the name (200,000 objects per warm rescan).
_SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    BaseModel.__dict__[name].__set__ for name in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


class StoreError(Exception):
    """A stored entry that cannot be loaded by this code (damaged, or from another version)."""


# A field's kind: a plain value (str, int, bool, None, lists and dicts of those), one
# Evidence, a list of them, a model, an optional model, a list of models, or (exact codecs
# only) a free-form value carried as its JSON.
_VALUE, _EV, _EVS, _MODEL, _OPT_MODEL, _MODELS, _JSON = range(7)

Plan = tuple[tuple[str, int, type[BaseModel] | None], ...]


def _kind(annotation: Any, exact: bool = False) -> tuple[int, type[BaseModel] | None]:
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
    if exact and _exact_expr(annotation, "v", {}) is None:
        return _JSON, None
    return _VALUE, None


def _is_dict(annotation: Any) -> bool:
    """Whether a field of ``annotation`` holds a plain dict (its JSON ``{}`` validates to a new empty dict)."""
    return annotation is dict or typing.get_origin(annotation) is dict


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(a) for a in typing.get_args(annotation))


@lru_cache(maxsize=None)
def _plan(cls: type[BaseModel], exact: bool = False) -> Plan:
    """(field name, kind, model class) of every field of ``cls``, in declaration order.

    Raises TypeError for a class the stored form cannot build without validation as
    validation would: extra or private attributes, validators or serializers of its own, or
    (exact) a constrained field.
    """
    if cls.model_config.get("extra") == "allow" or cls.__private_attributes__:
        raise TypeError(f"no stored form for {cls.__name__}: it keeps extra or private attributes")
    hooks = cls.__pydantic_decorators__
    if hooks.validators or hooks.field_validators or hooks.root_validators or hooks.model_validators \
            or hooks.field_serializers or hooks.model_serializers or hooks.computed_fields:
        raise TypeError(f"no stored form for {cls.__name__}: validation or serialisation of its own")
    if exact and cls is not Evidence and any(f.metadata for f in cls.model_fields.values()):
        raise TypeError(f"no exact stored form for {cls.__name__}: a constrained field")
    return tuple((name, *_kind(f.annotation, exact)) for name, f in cls.model_fields.items())


# Evidence is stored in a table of (path, line) rows, which the exact writer checks itself.
_EVIDENCE_FIELDS = "[('path', <class 'str'>, []), ('line', <class 'int'>, [Ge(ge=1)])]"


@lru_cache(maxsize=None)
def _layout(root: type[BaseModel] = Inventory, exact: bool = False, many: bool = False) -> bytes:
    """A fingerprint of the field layout of ``root`` and every model it holds, of how they are
    stored (``exact``, one ``root`` or a list of them), and of the Python and pydantic that wrote it."""
    evidence = repr([(n, f.annotation, f.metadata) for n, f in Evidence.model_fields.items()])
    if evidence != _EVIDENCE_FIELDS:
        raise TypeError(f"no stored form for Evidence fields {evidence}")
    seen: dict[type[BaseModel], None] = {}

    def visit(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen[cls] = None
        for _, _, sub in _plan(cls, exact):
            if sub is not None:
                visit(sub)

    visit(root)
    text = repr([(f"{c.__module__}.{c.__qualname__}", [(n, k, repr(c.model_fields[n].annotation)) for n, k, _ in _plan(c, exact)])
                 for c in seen])
    return hashlib.sha256(f"{sys.version_info[:2]}|{marshal.version}|{pydantic.VERSION}|{exact}|{many}|{evidence}|{text}"
                          .encode()).digest()[:_DIGEST_BYTES]


# -- writing ------------------------------------------------------------------------


def _value(v: Any, sd: Callable[[str, str], str]) -> Any:
    """A plain field value in its stored form: equal strings shared (through the string
    table's ``sd``, its setdefault), containers fresh (marshal would share a list or dict
    referenced twice, and two loaded models must never share one)."""
    t = type(v)
    if t is str:
        return sd(v, v)
    if t is list:
        return [_value(x, sd) for x in v]
    if t is dict:
        return {_value(k, sd): _value(x, sd) for k, x in v.items()}
    if v is None or t is int or t is bool or t is float:
        return v
    raise TypeError(f"no stored form for a value of type {t.__name__}")


def _inexact(v: Any) -> Any:
    """Raise: an exact codec met a value its JSON would not give back unchanged."""
    raise TypeError(f"not as its JSON would validate: a {type(v).__name__}")


# A plain field's stored form, inline in the generated encoders: a string, a list or a dict
# of strings (nearly every plain value) is copied without a call per value. Anything else,
# nested containers included, goes through _value, which also refuses what cannot be
# stored (``trusted`` models are not validated, so a value need not be of its declared type).
# An empty dict is a new {} without running the comprehension (a call in this Python): three
# in four actions have no flags.
_ITEM = "(sd({x}, {x}) if {x}.__class__ is str else value({x}, sd))"
_VALUE_EXPR = ("(sd({v}, {v}) if {v}.__class__ is str else None if {v} is None"
               " else [" + _ITEM.format(x="x") + " for x in {v}] if {v}.__class__ is list"
               " else ({{" + _ITEM.format(x="k") + ": " + _ITEM.format(x="x") + " for k, x in {v}.items()}} if {v} else {{}})"
               " if {v}.__class__ is dict else value({v}, sd))")
# The same, for a seeing encoder (see Sight): what is not a string, None, a number or an
# empty dict is also shown to ``see`` (which returns None) under the field's name.
_SEEN_ITEM = "(sd({x}, {x}) if {x}.__class__ is str else see({x}, {key}) or value({x}, sd))"
_SEEN_VALUE_EXPR = ("(sd({v}, {v}) if {v}.__class__ is str else None if {v} is None"
                    " else [" + _SEEN_ITEM.format(x="x", key="{key}") + " for x in {v}] if {v}.__class__ is list"
                    " else (see({v}, {key}) or {{" + _ITEM.format(x="k") + ": " + _ITEM.format(x="x") + " for k, x in {v}.items()}}"
                    " if {v} else {{}}) if {v}.__class__ is dict"
                    " else value({v}, sd) if {v}.__class__ in NUMBERS else see({v}, {key}) or value({v}, sd))")
# Scalars that validating their JSON gives back as they are, exactly when of that very class.
_SCALARS = {str: "str", int: "int", bool: "bool"}


def _exact_expr(annotation: Any, v: str, env: dict[str, Any], depth: int = 0) -> str | None:
    """An expression (source) giving the value ``v`` in its stored form if validating its JSON
    as ``annotation`` gives it back unchanged, else raising TypeError; None for an annotation
    that is not checked this way (its field is then carried as JSON).

    Validation from JSON keeps a value of exactly the declared scalar class, and of a union's
    scalar member (its strict, exact match wins); a literal only if it is one of the choices.
    """
    if annotation is str:
        return f"(sd({v}, {v}) if {v}.__class__ is str else bad({v}))"
    if annotation in _SCALARS:
        return f"({v} if {v}.__class__ is {_SCALARS[annotation]} else bad({v}))"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    x = f"x{depth}"
    if origin is typing.Literal and all(type(a) is str for a in args):
        name = f"choices{len(env)}"
        env[name] = frozenset(args)
        return f"(sd({v}, {v}) if {v}.__class__ is str and {v} in {name} else bad({v}))"
    if origin is list and len(args) == 1:
        item = _exact_expr(args[0], x, env, depth + 1)
        return None if item is None else f"([{item} for {x} in {v}] if {v}.__class__ is list else bad({v}))"
    if origin is dict and len(args) == 2 and args[0] is str:
        item = _exact_expr(args[1], x, env, depth + 1)
        k = f"k{depth}"
        return None if item is None else \
            f"({{(sd({k}, {k}) if {k}.__class__ is str else bad({k})): {item} for {k}, {x} in {v}.items()}} if {v}.__class__ is dict else bad({v}))"
    if origin in (typing.Union, types.UnionType):
        scalars = tuple(a for a in args if a in _SCALARS)
        others = [a for a in args if a not in _SCALARS and a is not type(None)]
        if len(others) > 1:
            return None
        tail = f"bad({v})"
        if others:
            tail = _exact_expr(others[0], v, env, depth)  # type: ignore[assignment]
            if tail is None:
                return None
        if scalars:
            name = f"scalars{len(env)}"
            env[name] = frozenset(scalars)
            tail = f"{v} if {v}.__class__ in {name} else {tail}"
            if str in scalars:
                tail = f"sd({v}, {v}) if {v}.__class__ is str else {tail}"
        return f"(None if {v} is None else {tail})" if type(None) in args else f"({tail})"
    return None


def _each(item: str, var: str, exact: bool) -> str:
    """The list of ``item`` (an expression of ``{x}``) for each ``x`` of the list ``var``;
    exact, ``var`` must be a list.

    An empty or one-item list is made without running the comprehension (a call in this
    Python): most of a fragment's lists are empty, most of an inventory's evidence lists
    hold one item.
    """
    comprehension = f"[{item.format(x='x')} for x in {var}]"
    one = f"[{item.format(x=f'{var}[0]')}] if len({var}) == 1 else {comprehension} if {var} else []"
    if exact:
        return f"(({one}) if {var}.__class__ is list else bad({var}))"
    return f"(({one}) if {var}.__class__ is list else {comprehension})"


# Tables of one stored payload, passed to every generated encoder: the string table's
# setdefault, and the evidence table (index by (path, line)).
Encoder = Callable[[BaseModel, Callable[[str, str], str], dict[tuple[str, int], int]], tuple]


@dataclass(frozen=True)
class Sight:
    """What a *seeing* dump shows its caller besides the string table (see :func:`dump_parts`).

    Its ``see(value, key)`` is called with every plain field value that is not a string or
    None (lists are shown by their items that are not strings), with its field's name as key;
    with the whole value of a field that ``keyed(name)`` picks; with the ``value`` of a model
    whose class ``pairs(cls)`` picks, under its ``name`` when that is a string (else
    ``"value"``); and with every model of another class than its field's (key None), before
    its fields are encoded. Every string of a model's dump that is not a field name is then
    in its string table, or in what ``see`` was shown.
    """

    keyed: Callable[[str], bool]
    pairs: Callable[[type[BaseModel]], bool]


# A seeing dump's (sight, see, met): see dump_parts.
Seeing = tuple[Sight, Callable[[Any, str | None], None], Callable[[list[str]], None]]

# Models encoded between two calls of a seeing dump's ``step`` (see _in_steps).
STEP = 2048

# What a seeing encoder shows ``see`` of a plain field: nothing (not seeing); the value unless
# it is a string, None, a number or an empty dict (a list: its items that are not strings);
# the whole value, under the field's name (``Sight.keyed``); the whole value, under the
# model's ``name`` (``Sight.pairs``).
_PLAIN, _SEEN, _KEYED, _PAIR = range(4)


def _shown(cls: type[BaseModel], name: str, sight: Sight | None) -> int:
    """How a seeing encoder with ``sight`` shows the plain field ``name`` of ``cls`` (_PLAIN ... _PAIR)."""
    if sight is None:
        return _PLAIN
    if name == "value" and "name" in cls.model_fields and sight.pairs(cls):
        return _PAIR
    return _KEYED if sight.keyed(name) else _SEEN


def _in_steps(encode: Callable[..., tuple], models: list[BaseModel], sd: Callable[[str, str], str],
              evs: dict[tuple[str, int], int], see: Callable[[Any, str | None], None], step: Callable[[], None]) -> list:
    """``[encode(m, sd, evs, see) for m in models]``, calling ``step`` after every STEP models."""
    out: list = []
    for start in range(0, len(models), STEP):
        out += [encode(m, sd, evs, see) for m in models[start : start + STEP]]
        step()
    return out


_PATH = itemgetter(0)  # of an evidence table's key


def _stepper(strings: dict[str, Any] | list[str], evidence: dict[tuple[str, int], int],
             met: Callable[[list[str]], None]) -> Callable[[], None]:
    """The ``step`` of a seeing dump: shows ``met`` the strings of the table and the paths of
    the evidence table first met since its last call (read from the tables' ends)."""
    done = [0, 0]

    def step() -> None:
        fresh, fresh_evidence = len(strings) - done[0], len(evidence) - done[1]
        if fresh or fresh_evidence:
            done[0], done[1] = len(strings), len(evidence)
            met([*islice(reversed(strings), fresh), *dict.fromkeys(map(_PATH, islice(reversed(evidence), fresh_evidence)))])

    return step


@lru_cache(maxsize=None)
def _encoder(cls: type[BaseModel], exact: bool = False, sight: Sight | None = None, stepped: bool = False) -> Encoder:
    """A function turning one ``cls`` into its stored tuple (fields in declaration order).

    Generated per class, as :func:`_decoder` is: an inventory has hundreds of thousands of
    objects, and a loop over each one's fields with a dispatch per field was most of the
    dump. It is called with the payload's tables: equal strings are shared through the
    string table's setdefault ``sd``, in every codec: marshal writes a string once per
    object, so without it the stored bytes would depend on which equal strings the caller's
    objects happened to share (a memo warmed by an earlier scan), not on their values; each
    distinct evidence gets an index in ``evs`` (keyed by path and line: what makes two of
    them equal), in first-seen order. An exact encoder raises TypeError for a value or model
    that validating its JSON would not give back unchanged (see :func:`_exact_expr`).

    With a ``sight`` it also takes a ``see`` function, shown what :class:`Sight` says, and,
    ``stepped``, a ``step`` function that its lists of models call as they are encoded
    (see :func:`_in_steps`). The stored tuple is the same.
    """
    env: dict[str, Any] = {"value": _value, "bad": _inexact, "cls": cls, "EV": Evidence, "in_steps": _in_steps,
                           "NUMBERS": frozenset((int, bool, float))}
    ev_index = "evs.setdefault(({e}.path, {e}.line), len(evs))"
    if exact:
        ev_index = f"({ev_index} if {{e}}.__class__ is EV else bad({{e}}))"
    tables = "sd, evs, see" if sight else "sd, evs"
    plan = _plan(cls, exact)
    names = [name for name, _, _ in plan]
    items, seen = [], []
    for i, (name, kind, sub) in enumerate(plan):
        var = f"v{i}"
        if kind == _VALUE:
            expr = _exact_expr(cls.model_fields[name].annotation, var, env) if exact else None
            shown = _PLAIN if exact else _shown(cls, name, sight)
            if shown == _PAIR:
                key = f"v{names.index('name')}"
                seen.append(f"    see({var}, {key} if {key}.__class__ is str else 'value')\n")
            elif shown == _KEYED:
                seen.append(f"    see({var}, {name!r})\n")
            elif shown == _SEEN:
                expr = _SEEN_VALUE_EXPR.format(v=var, key=repr(name))
            items.append(expr or _VALUE_EXPR.format(v=var))
        elif kind == _JSON:
            env[f"json{i}"] = TypeAdapter(cls.model_fields[name].annotation).serializer.to_json
            # Most fragments' ``extra`` is empty: its JSON without a call (see _decoder).
            empty = f"b'{{}}' if {var}.__class__ is dict and not {var} else " if _is_dict(cls.model_fields[name].annotation) else ""
            items.append(f"({empty}json{i}({var}))")
        elif kind == _EV:
            items.append(ev_index.format(e=var))
        elif kind == _EVS:
            items.append(_each(ev_index.format(e="{x}"), var, exact))
        else:
            env[f"sub{i}"] = _encoder(sub, exact, sight)  # type: ignore[arg-type]
            many = _each(f"sub{i}({{x}}, {tables})", var, exact)
            if stepped and kind == _MODELS:
                many = f"(in_steps(sub{i}, {var}, sd, evs, see, step) if {var}.__class__ is list else {many})"
            items.append({_MODEL: f"sub{i}({var}, {tables})", _OPT_MODEL: f"None if {var} is None else sub{i}({var}, {tables})",
                          _MODELS: many}[kind])
    values = "".join(f"    v{i} = d[{name!r}]\n" for i, (name, _, _) in enumerate(plan))
    src = (f"def encode(obj, {tables}{', step' if stepped else ''}):\n"
           + ("    if obj.__class__ is not cls:\n        bad(obj)\n" if exact else "")
           # A model of another class than its field's may hold more than this encodes: shown whole.
           + ("    if obj.__class__ is not cls:\n        see(obj, None)\n" if sight else "")
           + f"    d = obj.__dict__\n"
           f"{values}"
           f"{''.join(seen)}"
           f"    return ({''.join(f'{item}, ' for item in items)})\n")
    exec(compile(src, f"<stored {cls.__name__}>", "exec"), env)  # noqa: S102 - code built from field names only
    return env["encode"]  # type: ignore[no-any-return]


@lru_cache(maxsize=None)
def _cencplan(cls: type[BaseModel], sight: Sight | None = None) -> tuple:
    """The plan ``_cbuild.encode`` encodes ``cls`` by as :func:`_encoder` (not exact) does,
    seeing with ``sight`` (its layout is in _cbuild.c)."""
    plan = _plan(cls)
    names = [name for name, _, _ in plan]
    return (
        cls,
        tuple(names),
        bytes(kind for _, kind, _ in plan),
        tuple(None if sub is None else _cencplan(sub, sight) for _, _, sub in plan),
        bytes(_shown(cls, name, sight) if kind == _VALUE else _PLAIN for name, kind, _ in plan),
        names.index("name") if "name" in names else -1,
    )


def _cexact_spec(annotation: Any) -> tuple | None:
    """:func:`_exact_expr`'s check of ``annotation`` as ``_cbuild.encode`` reads it (see
    _cbuild.c, exact plans); None where that has none (the field is carried as JSON)."""
    if annotation is str:
        return (_cbuild.X_STR,)  # type: ignore[union-attr]
    if annotation in _SCALARS:
        return (_cbuild.X_SCALAR, annotation)  # type: ignore[union-attr]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal and all(type(a) is str for a in args):
        return (_cbuild.X_LITERAL, frozenset(args))  # type: ignore[union-attr]
    if origin is list and len(args) == 1:
        item = _cexact_spec(args[0])
        return None if item is None else (_cbuild.X_LIST, item)  # type: ignore[union-attr]
    if origin is dict and len(args) == 2 and args[0] is str:
        item = _cexact_spec(args[1])
        return None if item is None else (_cbuild.X_DICT, item)  # type: ignore[union-attr]
    if origin in (typing.Union, types.UnionType):
        scalars = tuple(a for a in args if a in _SCALARS)
        others = [a for a in args if a not in _SCALARS and a is not type(None)]
        if len(others) > 1:
            return None
        other = _cexact_spec(others[0]) if others else None
        if others and other is None:
            return None
        return (_cbuild.X_UNION, type(None) in args, scalars, other)  # type: ignore[union-attr]
    return None


@lru_cache(maxsize=None)
def _cexactplan(cls: type[BaseModel]) -> tuple:
    """The plan ``_cbuild.encode`` encodes ``cls`` by as :func:`_encoder` (exact) does: the
    checks of :func:`_exact_expr` as specs, a field carried as JSON by its serializer (see
    _cbuild.c, exact plans). Raises TypeError as :func:`_plan` does."""
    plan = _plan(cls, True)
    specs: list[Any] = []
    for name, kind, _ in plan:
        annotation = cls.model_fields[name].annotation
        if kind == _VALUE:
            spec = _cexact_spec(annotation)
            if spec is None:  # _kind made it a value: _exact_expr has a check for it
                raise TypeError(f"no exact check for a field of type {annotation!r}")
            specs.append(spec)
        elif kind == _JSON:
            specs.append((TypeAdapter(annotation).serializer.to_json, _is_dict(annotation)))
        elif kind in (_EV, _EVS):
            specs.append(Evidence)
        else:
            specs.append(None)
    return (
        cls,
        tuple(name for name, _, _ in plan),
        bytes(kind for _, kind, _ in plan),
        tuple(None if sub is None else _cexactplan(sub) for _, _, sub in plan),
        bytes(_PLAIN for _ in plan),
        -1,
        tuple(specs),
    )


# -- reading ------------------------------------------------------------------------


Decoder = tuple[Callable[[tuple, list[Evidence]], BaseModel], Callable[[list, list[Evidence]], list]]


def _decoder(cls: type[BaseModel], exact: bool = False) -> Decoder:
    """Functions building one ``cls`` from its stored tuple, and a list of them, without validation.

    The object gets what validation of the model's JSON would have given it: its field
    values, every field marked as set, no extra or private attributes. The functions are
    called with the payload's evidence table, and raise (ValueError, TypeError, IndexError,
    pydantic's ValidationError) on a tuple of the wrong shape. They are the C extension's
    where it is built (the same steps, about five times faster: most of a warm rescan),
    else :func:`_py_decoder`'s.
    """
    return _c_decoder(cls, exact) if _cbuild is not None else _py_decoder(cls, exact)


@lru_cache(maxsize=None)
def _c_decoder(cls: type[BaseModel], exact: bool = False) -> Decoder:
    """:func:`_decoder` by the C extension ``_cbuild`` (raises AttributeError without it)."""
    plan = _cplan(cls, exact)
    return partial(_cbuild.build, plan), partial(_cbuild.build_many, plan)  # type: ignore[union-attr]


@lru_cache(maxsize=None)
def _consuming_decoder(cls: type[BaseModel], exact: bool = False) -> Decoder:
    """:func:`_decoder` for tuples loaded for the build alone: the C extension lets each row go
    once its model is made, so the models reuse the rows' memory (see ``build_list`` in
    _cbuild.c); the Python functions keep them (the same models either way)."""
    if _cbuild is None:
        return _py_decoder(cls, exact)
    plan, build, build_many = _cplan(cls, exact), _cbuild.build, _cbuild.build_many

    def one(row: tuple, ev: list[Evidence]) -> BaseModel:
        return build(plan, row, ev, True)  # type: ignore[no-any-return]

    def many(rows: list, ev: list[Evidence]) -> list:
        return build_many(plan, rows, ev, True)  # type: ignore[no-any-return]

    return one, many


@lru_cache(maxsize=None)
def _cplan(cls: type[BaseModel], exact: bool) -> tuple:
    """The plan ``_cbuild`` builds ``cls`` by (its layout is in _cbuild.c)."""
    plan = _plan(cls, exact)
    fields = cls.model_fields
    return (
        cls,
        tuple(name for name, _, _ in plan),
        bytes(kind for _, kind, _ in plan),
        tuple(None if sub is None else _cplan(sub, exact) for _, _, sub in plan),
        set(name for name, _, _ in plan),  # shared by every object of the class, as in _py_decoder
        tuple(_json_loader(fields[name].annotation) if kind == _JSON else None for name, kind, _ in plan),
        bytes(kind == _JSON and _is_dict(fields[name].annotation) for name, kind, _ in plan),
    )


def _json_loader(annotation: Any) -> Callable[[bytes], Any]:
    """What a field of ``annotation`` stored as its JSON (an exact codec's free-form field) is loaded by.

    A plain ``dict`` holds whatever its JSON does: validating the JSON as one gives what
    parsing it gives, and parsing alone skips the schema's walk over every value (a third of
    the cost; the fragments of 2,000 services carry 6.5 MB of it, loaded by the cold scan's
    main process). Anything else is validated.
    """
    return from_json if annotation is dict else TypeAdapter(annotation).validator.validate_json


@lru_cache(maxsize=None)
def _py_decoder(cls: type[BaseModel], exact: bool = False) -> Decoder:
    """:func:`_decoder` in Python: functions generated per class (as ``dataclasses`` does), so
    that loading 200,000 objects does no per-field dispatch, and a list is built in one loop
    rather than one call per item."""
    plan = _plan(cls, exact)
    names = tuple(name for name, _, _ in plan)
    # One set of field names shared by every object of the class: pydantic only ever adds a
    # field's name to it (on assignment), which all of them already hold, and a set per
    # object would be a sixth of a loaded inventory's memory.
    env: dict[str, Any] = {"new": cls.__new__, "cls": cls, "setattr": _set, "fields_set": set(names),
                           "set_fields_set": _SET_FIELDS_SET, "set_extra": _SET_EXTRA, "set_private": _SET_PRIVATE}
    items = []
    for i, (name, kind, sub) in enumerate(plan):
        var = f"v{i}"
        if kind == _VALUE:
            expr = var
        elif kind == _JSON:
            env[f"json{i}"] = _json_loader(cls.model_fields[name].annotation)
            # What validating ``{}`` as a dict gives, without the call.
            empty = f"{{}} if {var} == b'{{}}' else " if _is_dict(cls.model_fields[name].annotation) else ""
            expr = f"{empty}json{i}({var})"
        elif kind == _EV:
            expr = f"ev[{var}]"
        elif kind == _EVS:
            expr = f"list(map(ev.__getitem__, {var})) if {var} else []"
        else:
            env[f"sub{i}"], env[f"subs{i}"] = _py_decoder(sub, exact)  # type: ignore[arg-type]
            expr = {_MODEL: f"sub{i}({var}, ev)", _OPT_MODEL: f"None if {var} is None else sub{i}({var}, ev)",
                    _MODELS: f"subs{i}({var}, ev) if {var} else []"}[kind]
        items.append(f"{name!r}: {expr}")
    unpack = "".join(f"v{i}, " for i in range(len(plan)))
    body = (f"obj = new(cls)\n"
            f"setattr(obj, '__dict__', {{{', '.join(items)}}})\n"
            f"set_fields_set(obj, fields_set)\n"
            f"set_extra(obj, None)\n"
            f"set_private(obj, None)\n")
    one = "".join(f"    {line}\n" for line in body.splitlines())
    many = "".join(f"        {line}\n" for line in body.splitlines())
    src = (f"def build(t, ev):\n"
           f"    {unpack}= t\n"
           f"{one}"
           f"    return obj\n"
           f"def build_many(ts, ev):\n"
           f"    out = []\n"
           f"    add = out.append\n"
           f"    for {unpack}in ts:\n"
           f"{many}"
           f"        add(obj)\n"
           f"    return out\n")
    exec(compile(src, f"<stored {cls.__name__}>", "exec"), env)  # noqa: S102 - code built from field names only
    return env["build"], env["build_many"]


# -- one codec per stored model -------------------------------------------------------


class Codec:
    """The stored form of a ``root`` model, or of a list of them, behind ``magic`` (its name
    and format version). ``exact``: only values that validating the models' JSON gives back
    unchanged are written, free-form fields as their JSON (see the module docstring)."""

    def __init__(self, root: type[BaseModel], magic: bytes, *, exact: bool) -> None:
        self.root, self.magic, self.exact = root, magic, exact

    # Made on first use, then looked up once per entry: a scan's cold pass writes and loads
    # one entry per file (tens of thousands), most of them a few small models. Apart, as a
    # warm rescan only loads (generating the encoders took it ~0.03 s).
    @cached_property
    def _encode(self) -> Encoder:
        """The generated encoder of the root model."""
        return _encoder(self.root, self.exact)

    @cached_property
    def _made(self) -> tuple[Callable[[tuple, list[Evidence]], BaseModel], Callable[[list, list[Evidence]], list],
                             Callable[[list, list[Evidence]], list]]:
        """The builders of one model and of a list, and the evidence table's builder."""
        # Their rows are marshal'd from a payload for this load alone (see _read).
        return (*_consuming_decoder(self.root, self.exact), _consuming_decoder(Evidence, self.exact)[1])

    @cached_property
    def _prefixes(self) -> tuple[bytes, bytes]:
        """The header up to the checksum: of one root model, and of a list of them."""
        return self.magic + _layout(self.root, self.exact, False), self.magic + _layout(self.root, self.exact, True)

    def _header(self, many: bool, payload: bytes) -> bytes:
        return self._prefixes[many] + zlib.crc32(payload).to_bytes(4, "big")

    def _payload(self, objs: list[BaseModel], many: bool, seeing: Seeing | None = None) -> bytes:
        """``objs`` (one root model, unless ``many``) as marshal'd (body, evidence table),
        ``seeing`` (one root model, not exact) as :func:`dump_parts` says."""
        # Each distinct string in the order first met (a seeing dump's step reads the new ones
        # off its end): the Python encoders' ``sd`` maps it to itself; the C encoder lists it
        # (its list index is its marshal ref; it finds strings by its own table).
        if _cencode is not None and (not self.exact or (_cexact and seeing is None)):
            return self._c_payload(objs, many, seeing)
        strings: dict[str, Any] = {}
        evidence: dict[tuple[str, int], int] = {}
        sd = strings.setdefault
        if seeing is not None:
            # Only the seeing encoders are made: a cold scan needs neither the plain ones nor
            # the loaders of _made.
            sight, see, met = seeing
            step = _stepper(strings, evidence, met)
            body = _encoder(self.root, self.exact, sight, True)(objs[0], sd, evidence, see, step)
            step()
        elif many:
            encode = self._encode
            body = [encode(obj, sd, evidence) for obj in objs]
        else:
            body = self._encode(objs[0], sd, evidence)
        if self.exact:
            for path, line in evidence:
                if path.__class__ is not str or line.__class__ is not int or line < 1:
                    _inexact((path, line))
        table = [(sd(path, path), line) for path, line in evidence]
        # The body first: the C encoder writes it as it goes, then the table's paths as refs.
        payload = marshal.dumps((body, table), 4)
        del strings, evidence, body, table  # before the bytes are copied again (see dump_parts)
        return payload

    def _c_payload(self, objs: list[BaseModel], many: bool, seeing: Seeing | None) -> bytes:
        """:meth:`_payload` by the C encoder: the bytes marshal would write for the tuples the
        generated encoders make, without making them (a third of the time: the inventory's dump
        is on the cold scan's serial tail). Exact (each scanned file's fragments, written by the
        scan's workers): the same checks as the generated exact encoder. Not exact, one model's
        longest list of models is written on a second thread as well (the same bytes: see
        encode_ahead in _cbuild.c), unless a ``see`` could change what it is shown."""
        strings: list[str] = []
        evidence: dict[tuple[str, int], int] = {}
        if self.exact:
            return _cencode(_cexactplan(self.root), objs if many else objs[0], many, strings, evidence)  # type: ignore[no-any-return, misc]
        if seeing is None:
            if not many and _cencode_ahead is not None:
                return _cencode_ahead(AHEAD_MODELS, _cencplan(self.root), objs[0], strings, evidence)  # type: ignore[no-any-return]
            return _cencode(_cencplan(self.root), objs if many else objs[0], many, strings, evidence)  # type: ignore[no-any-return, misc]
        sight, see, met = seeing
        plan, known = _cencplan(self.root, sight), getattr(see, "judged_keys", None)
        if _cencode_ahead is not None and getattr(see, "reads_only", False):
            out = _cencode_ahead(AHEAD_MODELS, plan, objs[0], strings, evidence, see, _stepper(strings, evidence, met),
                                 STEP, known)
            if out is not None:
                return out  # type: ignore[no-any-return]
            # ``see`` answered a value the thread wrote: encoded again without it (the strings
            # met twice are only judged twice).
            strings.clear()
            evidence.clear()
        return _cencode(plan, objs[0], False, strings, evidence, see, _stepper(strings, evidence, met), STEP, known)  # type: ignore[no-any-return, misc]

    def dump_parts(self, obj: BaseModel, seeing: Seeing | None = None) -> tuple[bytes, bytes]:
        """``obj`` in its stored form as (header, payload): a writer that writes them one after
        the other holds no copy of the whole. Raises TypeError for a value it cannot hold.
        ``seeing``: see :func:`dump_parts` (not for an exact codec)."""
        payload = self._payload([obj], False, seeing)
        # Not compressed: inflating took longer than reading the bytes does.
        return self._header(False, payload), payload

    def dump_many(self, objs: list[BaseModel]) -> bytes:
        """``objs`` (a list of the root model) in their stored form. Raises TypeError for a
        value it cannot hold (or, exact, that validation would not give back unchanged)."""
        payload = self._payload(objs, True)
        return b"".join((self._header(True, payload), payload))

    @cached_property
    def _loading(self) -> tuple[tuple, tuple] | None:
        """The plans ``_cbuild.load`` reads a payload by (the root's and Evidence's), None
        without the C reader."""
        if _cload is None:
            return None
        return _cplan(self.root, self.exact), _cplan(Evidence, self.exact)

    def _read(self, blob: bytes | mmap.mmap | memoryview, many: bool) -> tuple[list[Evidence] | None, Any]:
        """(evidence table, body) of a stored entry; (None, the model or list of models) when
        the C reader took it (see :attr:`_loading`)."""
        # ``blob``: the bytes, or a read-only map of a file holding them, or a view of either (read in place).
        prefix = self._prefixes[many]
        head = len(prefix) + 4
        if not isinstance(blob, (bytes, mmap.mmap, memoryview)) or blob[: len(prefix)] != prefix:
            if isinstance(blob, (bytes, mmap.mmap, memoryview)) and blob[: len(self.magic)] == self.magic:
                raise StoreError("stored by another version")
            raise StoreError("not a stored entry of this kind")
        with memoryview(blob) as whole, whole[head:] as payload:  # let go before a map is closed
            if zlib.crc32(payload).to_bytes(4, "big") != blob[head - 4 : head]:
                raise StoreError("damaged: checksum mismatch")
            if self._loading is not None:
                # Read straight into the models: no tuple or list of marshal's made only to be
                # let go (a third of a warm rescan's load). None: a payload it leaves to marshal.
                obj = _cload(*self._loading, payload, many)  # type: ignore[misc]
                if obj is not None:
                    return None, obj
            body, table = marshal.loads(payload)
        return self._made[2](table, []), body

    def load(self, blob: bytes | mmap.mmap | memoryview) -> BaseModel:
        """The model stored by :meth:`dump_parts` (its bytes, or a map of a file holding them);
        raises :class:`StoreError` for anything else."""
        try:
            evidence, body = self._read(blob, False)
            obj = body if evidence is None else self._made[0](body, evidence)
        except StoreError:
            raise
        except Exception as exc:  # a payload with a good checksum that this code cannot read
            raise StoreError(f"unreadable: {type(exc).__name__}: {exc}") from None
        return obj

    def load_many(self, blob: bytes) -> list[BaseModel]:
        """The models stored by :meth:`dump_many`; raises :class:`StoreError` for anything else."""
        try:
            evidence, body = self._read(blob, True)
            return body if evidence is None else self._made[1](body, evidence)  # type: ignore[no-any-return]
        except StoreError:
            raise
        except Exception as exc:  # a payload with a good checksum that this code cannot read
            raise StoreError(f"unreadable: {type(exc).__name__}: {exc}") from None


_INVENTORY = Codec(Inventory, MAGIC, exact=False)


def dump_parts(inv: Inventory, seeing: Seeing | None = None) -> tuple[bytes, bytes]:
    """:func:`dump`'s bytes as (header, payload), which it concatenates: a writer that writes
    them one after the other holds no copy of the whole (this runs at the scan's peak).

    ``seeing`` (sight, see, met): every string of ``inv``'s dump is shown as it is encoded,
    for the scrub (``scrubjudge.PendingScrub``) to judge without a walk of its own: ``met``
    gets, every STEP items of the inventory's lists and at the end, the strings put in the
    string table and the paths of the evidence first met since; ``see`` is shown the rest,
    as the :class:`Sight` says. The bytes are the same. A ``see`` with ``judged_keys`` (key ->
    whether it judges a string under that key by the key, as ``secrets._judging_beside_table``
    keeps them) is not shown what those answers say it ignores: a string or list of strings
    under a key it judged as no secret's, a number, None, or a dict of only such items (not a
    ``{name, value}`` pair); the C encoder skips those calls.
    """
    # As many new tuples and lists as the inventory has objects, none of them garbage, made
    # while the whole inventory is alive: the cyclic collector would walk all of it again
    # and again as they accumulate (most of the dump's time at 2,000 services).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _INVENTORY.dump_parts(inv, seeing)
    finally:
        if paused:
            gc.enable()


def dump(inv: Inventory) -> bytes:
    """``inv`` in its stored form (see the module docstring)."""
    return b"".join(dump_parts(inv))


def load(blob: bytes | mmap.mmap | memoryview) -> Inventory:
    """The inventory stored by :func:`dump` (its bytes, or a read-only map of a file holding
    them); raises :class:`StoreError` for anything else."""
    # Hundreds of thousands of new objects, none of them garbage: the cyclic collector would
    # only walk them again and again as they accumulate (a third of the load).
    paused = gc.isenabled()
    gc.disable()
    inv = None
    try:
        inv = _INVENTORY.load(blob)
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
