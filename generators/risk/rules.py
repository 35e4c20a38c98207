"""Load the risk rules (``rules.yaml``) and merge a team's overrides from ``stackpolicy.yaml``.

Merging is simple and predictable:

* mappings merge key by key, recursively (``rules: {classes: {restart: {prod: T1}}}`` changes
  one field of one class);
* ``tools.<tool>`` lists from the config are tried *before* the built-in rules for that tool,
  so a team's rule wins (first match wins) and the defaults still cover the rest;
* any other list or scalar replaces the default.

``Config.tiers`` overrides the tier names and definitions (``tiers: {T1: {name: operate}}``).
Rules are validated; a bad override is a :class:`RulesError` naming the key that is wrong.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from generators.risk.model import TIERS, Tier

RULES_FILE = "rules.yaml"
# The bundled rules as JSON, written beside rules.yaml at install (``make install``) with the
# SHA-256 of the YAML it was made from. Loading it is ~20x faster than parsing the YAML, and
# it is on the start-up path of every `stackpolicy classify`; it is used only while its
# digest matches rules.yaml, so an edited rules.yaml is never shadowed by a stale copy.
RULES_CACHE = "rules.json"


class RulesError(Exception):
    """Risk rules that cannot be used; the message names the source and the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        # Nested lists come from YAML anchors reused inside a list (`[*system_paths, /data]`).
        return [str(x) for v in value for x in (_as_list(v) if isinstance(v, (list, tuple)) else [v])]
    return [str(value)]


class _Literals:
    """Globs without wildcards: ``match`` is set membership (same answer as the regex, and
    no regex to compile on the start-up path of every ``stackpolicy classify``)."""

    __slots__ = ("words",)

    def __init__(self, words: frozenset[str]) -> None:
        self.words = words

    def match(self, text: str) -> bool:
        return text in self.words


_GLOB_CHARS = frozenset("*?[")


class _Globs:
    """Shell globs matched like :func:`fnmatch.fnmatchcase` (``*`` spans any characters, ``/``
    included), without a regex where a string method says the same: a literal is set
    membership, ``abc*`` a prefix, ``*abc`` a suffix, ``*abc*`` a substring. Only the rest
    (``a*b``, ``?``, ``[...]``) is compiled, so the ~13,000 globs of the bundled rules do not
    cost every `stackpolicy classify` start-up regex compilation (~0.1 s)."""

    __slots__ = ("words", "prefixes", "suffixes", "parts", "rx", "anything")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        words, prefixes, suffixes, parts, rest = set(), [], [], [], []
        for p in patterns:
            if not _GLOB_CHARS.intersection(p):
                words.add(p)
            elif "?" in p or "[" in p:
                rest.append(p)
            elif p == "*":
                prefixes.append("")  # matches everything
            elif p.count("*") == 1 and p.endswith("*"):
                prefixes.append(p[:-1])
            elif p.count("*") == 1 and p.startswith("*"):
                suffixes.append(p[1:])
            elif p.count("*") == 2 and len(p) > 2 and p.startswith("*") and p.endswith("*"):
                parts.append(p[1:-1])
            else:
                rest.append(p)
        self.words = frozenset(words)
        self.prefixes = tuple(prefixes)
        self.suffixes = tuple(suffixes)
        self.parts = tuple(parts)
        self.rx = _compile_globs(tuple(rest)) if rest else None
        self.anything = "" in self.prefixes

    def match(self, text: str) -> bool:
        if self.anything or text in self.words:
            return True
        if self.prefixes and text.startswith(self.prefixes):
            return True
        if self.suffixes and text.endswith(self.suffixes):
            return True
        for part in self.parts:
            if part in text:
                return True
        return self.rx is not None and self.rx.match(text) is not None


def _glob_re(patterns: list[str]) -> _Globs | _Literals | None:
    """A matcher for a list of lower-case shell globs: ``.match(text)`` is truthy when ``text``
    matches one of them (``None`` for an empty list)."""
    if not patterns:
        return None
    low = [p.lower() for p in patterns]
    if not any(_GLOB_CHARS.intersection(p) for p in low):
        return _Literals(frozenset(low))
    return _Globs(tuple(low))


@lru_cache(maxsize=1024)
def _compile_globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


class TierDef(_Model):
    """A tier's name and what an agent may do in it."""

    name: str
    agent_may: str
    definition: str = ""
    examples: list[str] = Field(default_factory=list)


class VerbClass(_Model):
    """What a class of verbs implies: a floor anywhere, and a floor in prod."""

    tier: Tier
    prod: Tier | None = None
    mutating: bool = True
    deletes: bool = False
    reversible: bool = True
    description: str = ""


class ToolRule(_Model):
    """One row of a tool's verb table (see the header of rules.yaml for the fields)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    verb: list[str] = Field(default_factory=lambda: ["*"])
    kind: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    values: list[str] = Field(default_factory=list)
    no_flags: list[str] = Field(default_factory=list)
    sql: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    argv: list[str] = Field(default_factory=list)
    source: list[str] = Field(default_factory=list)
    target: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    all_paths: list[str] = Field(default_factory=list)
    via: list[str] = Field(default_factory=list)
    cls: str = Field(alias="class")
    kind_as: str | None = None
    reason: str | None = None

    @field_validator("verb", "kind", "flags", "values", "no_flags", "sql", "args", "argv", "source", "target",
                     "paths", "all_paths", "via", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> list[str]:
        return _as_list(v)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A :class:`ToolRule` with its globs compiled (plain attributes: classify is hot code)."""

    cls: str
    kind_as: str | None
    reason: str | None
    verb_re: _Globs | _Literals | None
    kind_re: _Globs | _Literals | None
    flags: tuple[str, ...]
    values_re: _Globs | _Literals | None
    no_flags: tuple[str, ...]
    sql: frozenset[str]
    args_re: _Globs | _Literals | None
    argv: tuple[str, ...]
    source_re: _Globs | _Literals | None
    target_re: _Globs | _Literals | None
    paths_re: _Globs | _Literals | None
    all_paths_re: _Globs | _Literals | None
    via_re: _Globs | _Literals | None

    @classmethod
    def of(cls, rule: ToolRule) -> CompiledRule:
        return cls(
            cls=rule.cls,
            kind_as=rule.kind_as,
            reason=rule.reason,
            verb_re=_glob_re(rule.verb),
            kind_re=_glob_re(rule.kind),
            flags=tuple(rule.flags),
            values_re=_glob_re(rule.values),
            no_flags=tuple(rule.no_flags),
            sql=frozenset(x.lower() for x in rule.sql),
            args_re=_glob_re(rule.args),
            argv=tuple(a.lower() for a in rule.argv),
            source_re=_glob_re(rule.source),
            target_re=_glob_re(rule.target),
            paths_re=_glob_re(rule.paths),
            all_paths_re=_glob_re(rule.all_paths),
            via_re=_glob_re(rule.via),
        )


_HOME = re.compile(r"^(?:\$HOME|\$\{HOME\}|~[A-Za-z0-9_.-]*)(?=/|$)")


@lru_cache(maxsize=8192)
def norm_path(path: str) -> str:
    """A path as the path rules see it, lower-cased: ``$HOME/.ssh/x`` and ``~/.ssh/x`` are
    ``~/.ssh/x``, ``./build/../out`` is ``out``, ``/etc//passwd`` is ``/etc/passwd``; a
    ``user@host:/path`` copy location is its ``/path``. URLs are left as they are."""
    p = path.strip().strip("'\"")
    if "://" in p:
        return p.lower()
    m = re.match(r"^[\w.-]+@[\w.-]+:(.*)$", p) or re.match(r"^[\w-]+(?:\.[\w-]+)*:(/.*)$", p)
    if m:
        p = m.group(1) or "~"
    p = _HOME.sub("~", p)
    if p.startswith("/root/") or p == "/root":
        p = "~" + p[5:]  # root's home is a home
    elif re.match(r"^/home/[^/]+(/|$)", p):
        p = "~" + p[p.index("/", 6):] if p.count("/") > 2 else "~"
    if p not in ("", "-"):
        trailing = p.endswith("/") and len(p) > 1
        p = posixpath.normpath(p)
        if p.startswith("//"):
            p = "/" + p.lstrip("/")
        if trailing and p != "/":
            p += "/"
    return p.lower()


class KindInfo(_Model):
    """How much a kind of object weighs: deletion floor, shared infrastructure, holds data."""

    delete: Tier | None = None
    shared: bool = False
    stateful: bool = False


class EnvironmentRules(_Model):
    escalate: list[str] = Field(default_factory=lambda: ["prod", "unknown"])
    hint_flags: list[str] = Field(default_factory=list)
    # Entities that exist only in these environments (a compose stack on a laptop) are not
    # shared infrastructure: their kind and blast-radius floors are capped at `local_cap`.
    local: list[str] = Field(default_factory=lambda: ["dev"])
    local_cap: Tier = "T2"


class BlastRadius(_Model):
    high_fan_in: int = Field(default=3, ge=1)
    tier: Tier = "T2"
    delete_tier: Tier = "T3"


class Statefulness(_Model):
    tier: Tier = "T2"
    classes: list[str] = Field(default_factory=list)


class Reversibility(_Model):
    irreversible: Tier = "T2"


class DeletionProtection(_Model):
    tier: Tier = "T3"


class DataClassRules(_Model):
    sensitive: list[str] = Field(default_factory=list)
    escalations: dict[str, Tier] = Field(default_factory=dict)
    hints: dict[str, list[str]] = Field(default_factory=dict)


class ScopeRules(_Model):
    flags: dict[str, list[str]] = Field(default_factory=dict)
    exempt: list[str] = Field(default_factory=list)
    escalations: dict[str, dict[str, Tier]] = Field(default_factory=dict)


_T = TypeVar("_T")


def per_rules(store: dict[int, tuple[Rules, Any]], rules: Rules, make: Callable[[Rules], _T]) -> _T:
    """``make(rules)``, made once per Rules object and kept in ``store``.

    Keyed by ``id`` and holding the object, so the id stays valid and a later object that
    reuses a freed id is told apart by the identity check: pydantic private attributes are
    too slow to read on the classify hot path. A store past 64 rule sets (tests load many)
    starts again rather than grow.
    """
    entry = store.get(id(rules))
    if entry is None or entry[0] is not rules:
        if len(store) > 64:
            store.clear()
        entry = store[id(rules)] = (rules, make(rules))
    return entry[1]


# Compiled tables per Rules object (see per_rules).
_COMPILED: dict[int, tuple[Rules, dict[str, list[CompiledRule]]]] = {}
_HINTS: dict[int, tuple[Rules, dict[str, frozenset[str]]]] = {}


class Rules(_Model):
    """The whole, validated rule set. Build it with :func:`load_rules`."""

    tiers: dict[Tier, TierDef]
    classes: dict[str, VerbClass]
    reversibility: Reversibility = Field(default_factory=Reversibility)
    environments: EnvironmentRules = Field(default_factory=EnvironmentRules)
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)
    statefulness: Statefulness = Field(default_factory=Statefulness)
    deletion_protection: DeletionProtection = Field(default_factory=DeletionProtection)
    data_classes: DataClassRules = Field(default_factory=DataClassRules)
    scope: ScopeRules = Field(default_factory=ScopeRules)
    target_flags: list[str] = Field(default_factory=list)
    kind_aliases: dict[str, str] = Field(default_factory=dict)
    kinds: dict[str, KindInfo] = Field(default_factory=dict)
    global_rules: list[ToolRule] = Field(default_factory=list, alias="global")
    verbs: dict[str, str] = Field(default_factory=dict)
    tool_aliases: dict[str, str] = Field(default_factory=dict)
    tools_first: list[str] = Field(default_factory=list)
    tools: dict[str, list[ToolRule]] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check_references(self) -> Rules:
        missing_tiers = [t for t in TIERS if t not in self.tiers]
        if missing_tiers:
            raise ValueError(f"tiers: missing {', '.join(missing_tiers)}")
        if "unknown" not in self.classes:
            raise ValueError("classes: the `unknown` class is required (unparseable commands go there)")
        known = set(self.classes)
        for where, names in (
            ("verbs", list(self.verbs.values())),
            ("statefulness.classes", self.statefulness.classes),
            ("data_classes.escalations", list(self.data_classes.escalations)),
        ):
            bad = sorted(set(names) - known)
            if bad:
                raise ValueError(f"{where}: unknown verb class {', '.join(bad)}")
        for tool, rows in [("global", self.global_rules), *self.tools.items()]:
            for i, row in enumerate(rows):
                if row.cls not in known:
                    raise ValueError(f"tools.{tool}[{i}]: unknown verb class {row.cls!r}")
        return self

    def rows(self, tool: str) -> list[CompiledRule]:
        """The compiled rule rows of ``tool`` (``"global"`` for the global rules), cached."""
        table: dict[str, list[CompiledRule]] = per_rules(_COMPILED, self, lambda _: {})
        rows = table.get(tool)
        if rows is None:
            source = self.global_rules if tool == "global" else self.tools.get(tool, [])
            rows = table[tool] = [CompiledRule.of(r) for r in source]
        return rows

    def hint_tokens(self) -> dict[str, frozenset[str]]:
        """Data-class hint words, lower-cased, per data class (cached)."""
        return per_rules(_HINTS, self, lambda r: {c: frozenset(h.lower() for h in hs)
                                                  for c, hs in r.data_classes.hints.items()})

    def kind(self, name: str | None) -> str | None:
        """The canonical kind for an object kind as written (``po`` → ``pod``)."""
        if not name:
            return None
        low = name.lower().split(".", 1)[0]  # deployment.apps → deployment
        return self.kind_aliases.get(low, low)

    def tier_label(self, tier: str) -> str:
        """``T2 change``: the tier with its (possibly renamed) name."""
        return f"{tier} {self.tiers[tier].name}"  # type: ignore[index]


@lru_cache(maxsize=1)
def default_rules_data() -> dict[str, Any]:
    """The built-in rules as plain data (a fresh deep copy is made before any merge)."""
    raw = resources.files("generators.risk").joinpath(RULES_FILE).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    cached = _read_rules_cache(digest)
    if cached is not None:
        return cached
    return _parse_rules_yaml(raw.decode("utf-8"))


def _parse_rules_yaml(text: str) -> dict[str, Any]:
    import yaml  # only when the JSON copy is missing or stale: yaml costs start-up time

    # The C loader when available: the bundled file is ~44 kB (pure-Python safe_load is ~6x slower).
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(data, dict):
        raise RulesError(f"generators/risk/{RULES_FILE}: expected a mapping")
    return data


def _rules_cache_path() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), RULES_CACHE)


def _read_rules_cache(digest: str) -> dict[str, Any] | None:
    """The JSON copy of the bundled rules when it was made from the YAML whose SHA-256 is ``digest``."""
    try:
        with open(_rules_cache_path(), encoding="utf-8") as fh:
            cached = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or cached.get("sha256") != digest or not isinstance(cached.get("data"), dict):
        return None
    return cached["data"]


def write_rules_cache() -> bool:
    """Write the JSON copy of the bundled rules beside rules.yaml (atomically). ``False`` when
    the YAML holds something JSON cannot carry exactly (then the YAML is always parsed)."""
    raw = resources.files("generators.risk").joinpath(RULES_FILE).read_bytes()
    data = _parse_rules_yaml(raw.decode("utf-8"))
    text = json.dumps({"sha256": hashlib.sha256(raw).hexdigest(), "data": data}, ensure_ascii=False)
    if json.loads(text)["data"] != data:  # non-string keys, dates...: JSON would change them
        return False
    path = _rules_cache_path()
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    os.replace(tmp, path)
    return True


def merge_rules(base: dict[str, Any], override: dict[str, Any], *, _path: str = "") -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base`` (see the module docstring for the policy)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{_path}.{key}" if _path else str(key)
        if _path == "tools" and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = copy.deepcopy(value) + out[key]  # team rules first: first match wins
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_rules(out[key], value, _path=path)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _error_location(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def build_rules(data: dict[str, Any], *, source: str = f"generators/risk/{RULES_FILE}") -> Rules:
    """Validate rule data; errors name ``source`` and the offending key."""
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"{source}: {_error_location(exc)}") from exc


@lru_cache(maxsize=1)
def _default_rules() -> Rules:
    return build_rules(default_rules_data())


def load_rules(
    rules_override: dict[str, Any] | None = None,
    tiers_override: dict[str, Any] | None = None,
    *,
    source: str = "stackpolicy.yaml",
) -> Rules:
    """The rules: built-in defaults, with ``rules:`` and ``tiers:`` overrides from the config.

    Without overrides the validated defaults are cached and shared (they are never mutated).
    """
    if not rules_override and not tiers_override:
        return _default_rules()
    data = merge_rules(default_rules_data(), dict(rules_override or {}))
    if tiers_override:
        data["tiers"] = merge_rules(data.get("tiers", {}), dict(tiers_override))
    return build_rules(data, source=f"{source} (rules/tiers override)")


def rules_from_config(cfg: Any | None) -> Rules:
    """The rules for an :class:`inventory.config.Config` (``None``: the defaults)."""
    if cfg is None:
        return load_rules()
    source = f"{cfg.base_dir}/stackpolicy.yaml" if getattr(cfg, "base_dir", ".") != "." else "stackpolicy.yaml"
    return load_rules(cfg.rules, cfg.tiers, source=source)



if __name__ == "__main__":  # `python -m generators.risk.rules`: what `make install` runs
    print(f"{_rules_cache_path()}: {'written' if write_rules_cache() else 'not written (the YAML is not plain JSON data)'}")
