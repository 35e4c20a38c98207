"""The decision table as data: action classes and their tiers, exceptions, and the estate
they are resolved against.

An *action class* is what the verb does × the kind of system × the environment (× scope and
data sensitivity, the two line-level factors that move a tier). Every inventory action and
every command an agent runs falls in exactly one class (per simple command). An *exception*
is one target whose tier differs from its class (high fan-in, stateful, deletion-protected,
local-only, or a reviewer's decision). :func:`generators.decision.decide.decide` is the one
function that turns facts about a command into a tier over this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from generators.risk.model import Factor, Tier
from inventory.model import Evidence

ANY_KIND = "any"  # a class whose object kind nobody could tell
UNRESOLVED_ENV = "unknown"  # an environment nobody stated: tiered as production


@dataclass(frozen=True, order=True)
class ClassKey:
    """What puts a command or an action in a class."""

    verb_class: str
    kind: str = ANY_KIND
    environment: str = UNRESOLVED_ENV
    scope: str = "one"
    sensitive: bool = False

    @cached_property  # a key is read for its id several times per classified command
    def id(self) -> str:
        """``delete/kafka-topic@prod``, ``export/postgres@prod+sensitive``, ``delete/pod@dev+all``."""
        out = f"{self.verb_class}/{self.kind}@{self.environment}"
        if self.scope != "one":
            out += f"+{self.scope}"
        if self.sensitive:
            out += "+sensitive"
        return out

    @classmethod
    def parse(cls, class_id: str) -> ClassKey:
        """The key of ``class_id`` (the inverse of :attr:`id`); ValueError when malformed."""
        head, at, tail = class_id.partition("@")
        verb_class, slash, kind = head.partition("/")
        if not (at and slash and verb_class and kind and tail):
            raise ValueError(f"not a class id: {class_id!r} (expected <verb class>/<kind>@<environment>)")
        env, *mods = tail.split("+")
        scope = next((m for m in mods if m != "sensitive"), "one")
        return cls(verb_class, kind, env, scope, "sensitive" in mods)


class _Model(BaseModel):
    # Built on first use: classify without --policy only ever needs an empty table.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class TargetProfile(_Model):
    """What the table needs to know about one inventory entity to decide on it without the
    inventory: how commands name it, where it runs, and the target-level risk factors."""

    id: str
    name: str
    kind: str
    namespace: str | None = None
    environments: list[str] = Field(default_factory=list)
    data_classes: list[str] = Field(default_factory=list)
    stateful: bool | None = None
    deletion_protection: bool | None = None
    fan_in: int = 0
    system: str | None = None  # the system (documents' grouping) it belongs to


class Instance(_Model):
    """One inventory action that is an instance of a class."""

    action: str  # inventory action id
    target: str | None = None  # entity id
    system: str | None = None
    command: str  # a command that classifies into this class, or a description in words
    is_command: bool = True  # False: ``command`` is words (no honest command exists)
    tier: Tier  # what decide() gives this instance (class tier or its exception's)
    evidence: list[Evidence] = Field(default_factory=list)


class ActionClass(_Model):
    """A row of the decision table."""

    id: str
    verb_class: str
    kind: str
    environment: str
    scope: str = "one"
    sensitive: bool = False
    tier: Tier  # the decided tier (the model's floor, raised or - reviewed - lowered)
    floor: Tier  # the risk model's tier for the class
    reviewed: bool = False  # a reviewer signed this tier off (needed to go below the floor)
    rule: str  # the class in words
    rationale: str
    deciding_factors: list[str] = Field(default_factory=list)
    factors: list[Factor] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    systems: list[str] = Field(default_factory=list)
    instances: list[Instance] = Field(default_factory=list)
    note: str | None = None
    flags: list[str] = Field(default_factory=list)  # "llm-proposed-lower", "reviewer-raised"...

    @property
    def key(self) -> ClassKey:
        return ClassKey(self.verb_class, self.kind, self.environment, self.scope, self.sensitive)


class TableException(_Model):
    """One target whose tier in a class differs from the class's tier."""

    id: str  # "<class id>!<target entity id>"
    class_id: str
    target: str  # entity id
    tier: Tier
    floor: Tier  # what the model gives the target in this class
    reviewed: bool = False
    reason: str
    deciding_factors: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    note: str | None = None
    flags: list[str] = Field(default_factory=list)


def exception_id(class_id: str, target: str) -> str:
    """The stable id of an exception: the class and the target."""
    return f"{class_id}!{target}"


class ScriptCommand(_Model):
    """One command line of a repository script (secrets masked, as in the inventory)."""

    line: int
    command: str


class ScriptBody(_Model):
    """A script of the repositories and the command lines it runs that became actions: a call
    of it (``./scripts/ops.sh rotate``) is judged by these, with or without the inventory."""

    path: str  # as the inventory's evidence writes it (``scripts/ops.sh``)
    commands: list[ScriptCommand] = Field(default_factory=list)


class DecisionTable(_Model):
    """Classes, exceptions and the estate: everything a tier is decided from."""

    rules_digest: str = ""
    classes: list[ActionClass] = Field(default_factory=list)
    exceptions: list[TableException] = Field(default_factory=list)
    targets: list[TargetProfile] = Field(default_factory=list)
    namespaces: dict[str, str] = Field(default_factory=dict)  # namespace → environment
    # What the repositories' scripts run, so `classify --policy` and the hook judge a call of
    # one by its body exactly as `classify --inventory` does.
    scripts: list[ScriptBody] = Field(default_factory=list)

    def class_map(self) -> dict[str, ActionClass]:
        return {c.id: c for c in self.classes}

    def exception_map(self) -> dict[tuple[str, str], TableException]:
        return {(e.class_id, e.target): e for e in self.exceptions}
