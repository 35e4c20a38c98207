"""The inventory model: what the scanners found, every item with its evidence.

Everything downstream (risk model, prompts, documents, checks, exports) is a function of
an :class:`Inventory`. IDs are stable and readable (``kafka-topic:orders-events``,
``kafka-topic:orders-events/delete``) so reviewer decisions can be keyed on them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# The stable ids live in inventory/ids.py, which is compiled (a scan makes one for every entity
# and action; this module, of pydantic models, is not): imported here, where callers find them.
from inventory.ids import action_id, entity_id, evidence_hash, slug  # noqa: F401
from inventory.commands.model import plain_reads

if TYPE_CHECKING:  # pragma: no cover
    from pydantic_core import SchemaSerializer

# Kinds the risk model knows about. Anything else is `other` with a subtype.
RESOURCE_KINDS: tuple[str, ...] = (
    "kafka-cluster",
    "kafka-topic",
    "kafka-user",
    "postgres",
    "mysql",
    "redis",
    "memcached",
    "clickhouse",
    "search",
    "document-db",
    "object-bucket",
    "warehouse-dataset",
    "queue",
    "k8s-cluster",
    "k8s-namespace",
    "volume",
    "secret",
    "iam",
    "dns",
    "network",
    "kms-key",
    "other",
)
COMPONENT_KINDS: tuple[str, ...] = ("service", "job", "cron-job", "daemon")

# Data classes a name, label or tag can hint at.
DATA_CLASSES: tuple[str, ...] = ("pii", "customer", "payments", "training-data", "credentials")

FactValue = Union[str, int, bool, list[str]]

ActionOrigin = Literal["command", "openapi", "implied"]


class _Model(BaseModel):
    # Validators are built on first use: `stackpolicy classify` (run per agent call) imports
    # these types but, without --inventory or --policy, never builds one.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Evidence(_Model):
    """Where something was seen: a path relative to the scanned root, and a 1-based line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    line: int = Field(ge=1)

    # pydantic's own for a frozen model, compiled (see inventory.ids.evidence_hash).
    __hash__ = evidence_hash

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class Fact(_Model):
    """A signal the risk model needs (environment, replicas, data class...), with its evidence."""

    name: str
    value: FactValue
    evidence: list[Evidence]
    how: str | None = None  # the signal in words ("namespace acme-prod"), where a scanner can say it


class Warning(_Model):  # noqa: A001 - the inventory's own notion of a warning
    """Something the scan could not read or understand. Never fatal unless ``--strict``."""

    path: str
    line: int = 1
    message: str
    scanner: str = ""


class EnvironmentSource(_Model):
    """Why an entity is in one environment: the explicit signal in words, and where it was seen.

    Written by the resolve stage (``inventory/resolve/``), one per (environment, signal).
    """

    environment: str
    how: str  # readable by a reviewer: "Kustomize overlay apps/production includes it"
    resolver: str  # the resolver that read the signal
    evidence: list[Evidence]


class Entity(_Model):
    """Shared shape of components and resources."""

    id: str
    kind: str
    name: str
    subtype: str | None = None  # technology or provider detail: "strimzi", "aws_db_instance", ...
    namespace: str | None = None
    environments: list[str] = Field(default_factory=list)  # empty: unresolved (counts as prod)
    # One entry per environment and signal that put it there; empty with `environments`: unresolved.
    environment_sources: list[EnvironmentSource] = Field(default_factory=list)
    stateful: bool | None = None
    replicas: int | None = None
    deletion_protection: bool | None = None
    data_classes: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, FactValue] = Field(default_factory=dict)
    facts: list[Fact] = Field(default_factory=list)
    evidence: list[Evidence]


class Component(Entity):
    """Something that runs: a service, job, cron job or daemon."""

    kind: Literal["service", "job", "cron-job", "daemon"]
    image: str | None = None


class Resource(Entity):
    """Something components depend on: a datastore, topic, bucket, namespace, IAM binding..."""


class Edge(_Model):
    """``source`` depends on ``target`` (via an env var, a connection string, depends_on...)."""

    source: str
    target: str
    kind: str = "depends-on"  # depends-on | produces | consumes | reads | writes | member-of
    via: str | None = None  # the env var, key or mechanism that revealed it
    evidence: list[Evidence]


class CommandRef(_Model):
    """One occurrence of a concrete command line (already redacted) that maps to an action."""

    command: str
    evidence: Evidence


class Action(_Model):
    """An action class: something an agent could do to a component or resource.

    ``origin`` says where it came from: a command seen in a runbook/script/workflow, an
    OpenAPI operation, or an *implied* standard operation for the target's kind.
    """

    id: str
    verb: str
    tool: str
    target: str | None = None  # an entity id when resolved
    target_name: str | None = None  # what the command named, resolved or not
    object_kind: str | None = None  # kubectl resource type, SQL object, API path...
    environment: str | None = None
    flags: dict[str, Union[str, bool]] = Field(default_factory=dict)
    sql_kind: str | None = None
    command: str  # a representative command (redacted), or a description for implied actions
    commands: list[CommandRef] = Field(default_factory=list)
    origin: ActionOrigin
    description: str | None = None
    evidence: list[Evidence]


class Owner(_Model):
    """A team or person that owns something, and where that was stated."""

    name: str
    kind: str = "team"  # team | user | group
    evidence: list[Evidence]


class Environment(_Model):
    """An environment seen in the sources (prod, staging, dev...)."""

    name: str
    evidence: list[Evidence]


class UnresolvedEnvironments(_Model):
    """The estate's one environment question: what nobody stated, and how to settle it.

    Entities listed here have no explicit environment signal; the risk model treats them as
    production. ``settle`` holds `stackpolicy.yaml` lines that would answer the question.
    """

    entities: list[str]  # entity ids with no environment
    environments_found: list[str]  # environments resolved elsewhere in the estate
    signals_seen: list[str]  # "kustomize-overlay: 4 entities", one per resolver that fired
    settle: list[str]  # stackpolicy.yaml lines (YAML text) that would settle it
    question: str


class Inventory(_Model):
    """The whole scan: the single input to everything downstream."""

    version: int = 1
    generator: str = "stackpolicy"
    sources: list[str] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    owners: list[Owner] = Field(default_factory=list)
    environments: list[Environment] = Field(default_factory=list)
    unresolved: UnresolvedEnvironments | None = None  # None: every entity has an environment
    secrets: list[Evidence] = Field(default_factory=list)  # where secret values were redacted
    warnings: list[Warning] = Field(default_factory=list)

    def entities(self) -> dict[str, Entity]:
        """All components and resources by id."""
        out: dict[str, Entity] = {c.id: c for c in self.components}
        out.update({r.id: r for r in self.resources})
        return out

    def digest(self) -> str:
        """A short content digest; documents record it so `check` can see drift.

        The hash of ``model_dump_json(exclude={"warnings"})``'s bytes, fed to the hash a
        piece at a time: whole, a large estate's JSON is tens of megabytes, the largest
        allocation of a run that only wants its hash. A list of models goes a slice at a
        time, serialised as a list of the declared item type (as the whole model's
        serialiser does); any other field is the whole serialiser's output for it alone.
        """
        h = hashlib.sha256()
        serialiser = self.__pydantic_serializer__
        opening = b"{"
        for name, as_list in _digest_plan():
            value = self.__dict__[name]
            h.update(opening)
            opening = b","
            if as_list is None or type(value) is not list or not value:
                h.update(serialiser.to_json(self, include={name})[1:-1])  # `"name":value`
                continue
            h.update(b'"' + name.encode() + b'":[')
            for start in range(0, len(value), _DIGEST_SLICE):
                if start:
                    h.update(b",")
                h.update(as_list.to_json(value[start : start + _DIGEST_SLICE])[1:-1])
            h.update(b"]")
        h.update(b"}")
        return "sha256:" + h.hexdigest()[:16]


# Items serialised per call by Inventory.digest: few calls, a few megabytes at most at a time.
_DIGEST_SLICE = 2048


@lru_cache(maxsize=1)
def _digest_plan() -> tuple[tuple[str, "SchemaSerializer | None"], ...]:
    """(field, a serialiser of ``list[item type]`` for a list of models, else None) of each
    field :meth:`Inventory.digest` covers, in declaration order (``warnings`` is left out)."""
    plan = []
    for name, field in Inventory.model_fields.items():
        if name == "warnings":
            continue
        args = get_args(field.annotation)
        item = args[0] if get_origin(field.annotation) is list and len(args) == 1 else None
        is_model = isinstance(item, type) and issubclass(item, BaseModel)
        plan.append((name, TypeAdapter(list[item]).serializer if is_model else None))  # type: ignore[valid-type]
    return tuple(plan)


# Read by the million on a scan: as plain objects read (see commands.model.plain_reads).
plain_reads(Evidence, Fact, Warning, EnvironmentSource, Entity, Component, Resource, Edge, CommandRef, Action, Owner,
            Environment, UnresolvedEnvironments, Inventory)
