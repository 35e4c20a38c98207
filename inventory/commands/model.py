"""What a parsed shell command looks like. Shared by the scanners (runbook commands become
actions) and the classifier (an agent's command gets a tier)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

_M = TypeVar("_M", bound=BaseModel)
# BaseModel's slots, set through their descriptors (its own __setattr__ validates and is slower;
# object.__setattr__ would look each descriptor up again on every call).
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(model: type[_M], fields: dict[str, Any], given: set[str] | None = None,
            private: dict[str, Any] | None = None) -> _M:
    """An instance of ``model`` from ``fields`` (every field, in declaration order, already of its
    declared type: values the parser or classifier computed itself), without validating them
    again. The same instance as ``model(**fields)``; validation costs ~3 µs per object, and the
    classifier builds several per line. ``given``: the fields counted as set (default: all)."""
    obj = _new(model)
    _set_dict(obj, fields)
    _set_fields_set(obj, set(fields) if given is None else given)
    _set_extra(obj, None)
    _set_private(obj, private)
    return obj


try:  # the same steps in C where the install built them (_cbuild.c): ~100,000 calls on a cold
    # scan's serial tail at 2,000 services, each a third quicker without a Python frame
    from inventory._cbuild import trusted as _c_trusted
except ImportError:  # not built, or an older build without it
    _c_trusted = None
if _c_trusted is not None:
    trusted = _c_trusted  # type: ignore[assignment]  # noqa: F811
try:
    from inventory._cbuild import plain_reads as _c_plain_reads
except ImportError:
    _c_plain_reads = None


def plain_reads(*classes: type[BaseModel]) -> list[type[BaseModel]]:
    """Let instances of each of ``classes`` read their attributes as a plain object does
    (``_cbuild.plain_reads``, where built), each that has no private attributes and no extras
    and keeps BaseModel's own ``__getattr__``: for such a model that hook only raises the
    AttributeError a plain read raises already, yet Python looks it up on every read. The
    models a scan reads by the million (every sighting, evidence, entity and action is read
    several times on the cold scan's serial tail) read a fifth quicker without it. Returns
    the classes it changed."""
    if _c_plain_reads is None:
        return []
    done = []
    for cls in classes:
        if (cls.__getattr__ is BaseModel.__getattr__ and cls.__getattribute__ is object.__getattribute__
                and not cls.__private_attributes__ and cls.model_config.get("extra") != "allow"):
            _c_plain_reads(cls)
            done.append(cls)
    return done


def copy_with(obj: _M, **update: Any) -> _M:
    """``obj.model_copy(update=update)`` (a shallow copy, the updated fields counted as set) for
    values the caller computed itself, of their declared types; without pydantic's generic copy
    (~4x slower, and verdicts copy factors per command)."""
    private = obj.__pydantic_private__
    return trusted(type(obj), {**obj.__dict__, **update}, obj.__pydantic_fields_set__ | update.keys(),
                   dict(private) if private is not None else None)


class ParsedCommand(BaseModel):
    """One simple command, after compound lines, wrappers and nesting are unwrapped.

    ``tool`` is normalised (``/usr/local/bin/kubectl`` → ``kubectl``,
    ``kafka-topics.sh`` → ``kafka-topics``). ``verb`` is the tool's own operation in a
    normalised form (``get``, ``delete``, ``rollout restart``, ``reset-offsets``, ``sql``,
    ``s3 cp``...), or ``unknown`` when the tool or its arguments are not understood.
    """

    model_config = ConfigDict(extra="forbid")

    raw: str
    argv: list[str] = Field(default_factory=list)
    tool: str
    verb: str = "unknown"
    object_kind: str | None = None  # pod, deployment, namespace, topic, consumer-group, table, bucket, secret...
    target: str | None = None  # the object's name or URL
    namespace: str | None = None
    flags: dict[str, str | bool] = Field(default_factory=dict)
    sql_kinds: list[str] = Field(default_factory=list)  # select, insert, update, delete, drop, truncate, alter, grant...
    sql: str | None = None
    wrappers: list[str] = Field(default_factory=list)  # sudo, env, timeout, nohup, xargs, watch...
    via: str | None = None  # how it was reached: "kubectl exec", "bash -c", "pipe", "ssh"...
    parse_error: str | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        """What pydantic's ``__setattr__`` does for a field (no validation on assignment): the
        value stored and the field counted as set, without looking the field's handler up through
        two Python calls. The tool parsers assign ~4 fields per command (~100,000 per 2,000
        services). Anything else (an unknown name) goes to pydantic, which rejects it."""
        if name in _FIELD_NAMES:
            self.__dict__[name] = value
            self.__pydantic_fields_set__.add(name)
        else:
            super().__setattr__(name, value)

    @classmethod
    def of(cls, raw: str, argv: list[str], tool: str, *, verb: str = "unknown", object_kind: str | None = None,
           target: str | None = None, wrappers: list[str] | None = None, via: str | None = None) -> ParsedCommand:
        """``ParsedCommand(raw=..., argv=..., ...)`` for the parser's own values (see :func:`trusted`)."""
        return trusted(cls, {"raw": raw, "argv": argv, "tool": tool, "verb": verb, "object_kind": object_kind,
                             "target": target, "namespace": None, "flags": {}, "sql_kinds": [], "sql": None,
                             "wrappers": [] if wrappers is None else wrappers, "via": via, "parse_error": None},
                       set(_GIVEN_OF))


_GIVEN_OF = {"raw", "argv", "tool", "verb", "object_kind", "target", "wrappers", "via"}
_FIELD_NAMES = frozenset(ParsedCommand.model_fields)


class CommandLine(BaseModel):
    """A whole shell line: every simple command it would run, flattened, in order."""

    model_config = ConfigDict(extra="forbid")

    raw: str
    commands: list[ParsedCommand] = Field(default_factory=list)
    operators: list[str] = Field(default_factory=list)  # &&, ||, ;, |, & as seen
    parse_error: str | None = None  # the line as a whole could not be parsed


plain_reads(ParsedCommand, CommandLine)
