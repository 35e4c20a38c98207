"""Fold entities that name the same thing under different IDs into one.

Scanners see one file at a time, so the same Kafka cluster can arrive as a Backstage
``Resource`` called ``events-kafka`` and as the Strimzi ``Kafka`` CR called ``events``; the same
batch job as a Backstage ``job``, a Kubernetes ``CronJob`` and a docker compose service. Left
apart they become separate systems with separate (and contradictory) policy rows.

This pass runs after every scanner's ``finalize`` and before name references become edges.
It only merges *weak* sightings into *strong* ones:

* weak: an entity seen only by the Backstage catalog (a description of the thing), or a
  component seen only by docker compose (compose calls every container a "service");
* strong: an entity some other scanner (Kubernetes, Strimzi, Helm, Terraform, OpenAPI) saw.

A weak entity merges when exactly one strong entity of a compatible kind matches it:

* a Backstage ``API`` whose ``definition`` is the OpenAPI file that produced an API entity;
* otherwise by name, after dropping a technology suffix (``-kafka``, ``-db``, ``-cluster``...)
  and the organisation prefix (the first word of the Backstage system and namespace names,
  e.g. ``acme-`` for ``acme-commerce`` / ``acme-prod``).

Compose *datastores* (a local postgres or kafka container) are never merged: they are
separate, disposable dev instances, not the production cluster they imitate.

The strong entity keeps its ID and name (stable, and named after the real object); it gains
the weak one's evidence, owners, environments, data classes, labels and facts, and records the
weak ID under ``attributes["aliases"]`` so name lookups (``events-kafka`` in a runbook or a
``dependsOn``) still find it. Edges, actions and references that pointed at the weak ID are
re-pointed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inventory.model import COMPONENT_KINDS, Entity, slug

if TYPE_CHECKING:
    from inventory.builder import InventoryBuilder

ALIASES_ATTR = "aliases"
# Technology suffixes a catalog adds to a name the cluster/database itself does not carry.
NAME_SUFFIXES: tuple[str, ...] = ("-kafka", "-db", "-database", "-cluster", "-rds", "-postgres", "-redis")
# Scanners whose sightings are descriptions of a thing, not the thing's own definition.
CATALOG_SCANNERS: frozenset[str] = frozenset({"backstage"})
COMPOSE_SCANNERS: frozenset[str] = frozenset({"compose"})
# Scanners that only add owners/environments to entities others defined: they do not make a
# sighting strong or weak.
NEUTRAL_SCANNERS: frozenset[str] = frozenset({"codeowners", "kustomize", "envfiles"})


def org_prefixes(builder: InventoryBuilder) -> set[str]:
    """Organisation prefixes: the first word of Backstage system names and namespace names.

    ``acme-commerce`` and ``acme-prod`` give ``acme``. Single-word names give nothing, so a
    namespace called ``kafka`` never turns ``kafka-ui`` into ``ui``.
    """
    out: set[str] = set()
    for ent in [*builder.components.values(), *builder.resources.values()]:
        names = []
        system = ent.attributes.get("backstage_system")
        if isinstance(system, str):
            names.append(system)
        if ent.kind == "k8s-namespace":
            names.append(ent.name)
        for name in names:
            head, sep, _ = slug(name).partition("-")
            if sep and len(head) >= 3:
                out.add(head)
    return out


def name_key(name: str, prefixes: set[str]) -> str:
    """The comparable core of a name: slugged, organisation prefix and technology suffix dropped."""
    key = slug(name)
    for prefix in sorted(prefixes):
        if key.startswith(prefix + "-") and len(key) > len(prefix) + 1:
            key = key[len(prefix) + 1:]
            break
    for suffix in NAME_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key


def kinds_compatible(weak: Entity, strong: Entity) -> bool:
    """Whether a weak sighting's kind can describe the strong entity's kind.

    Component kinds are interchangeable (a catalog "job" is a Kubernetes CronJob; compose
    calls everything a service); a resource kind must match, except a catalog ``other``.
    """
    if weak.kind in COMPONENT_KINDS or strong.kind in COMPONENT_KINDS:
        return weak.kind in COMPONENT_KINDS and strong.kind in COMPONENT_KINDS
    return weak.kind == strong.kind or weak.kind == "other"


def _dev_only(ent: Entity) -> bool:
    return bool(ent.environments) and set(ent.environments) <= {"dev", "local"}


def _weak_kind(ent: Entity, seen_by: set[str]) -> str | None:
    """``catalog`` / ``compose`` when the entity is only a weak sighting, else None."""
    defining = seen_by - NEUTRAL_SCANNERS
    if not defining:
        return None
    if defining <= CATALOG_SCANNERS:
        return "catalog"
    if defining <= COMPOSE_SCANNERS and ent.kind in COMPONENT_KINDS:
        return "compose"
    return None


def _strong(ent: Entity, seen_by: set[str]) -> bool:
    return bool(seen_by - NEUTRAL_SCANNERS - CATALOG_SCANNERS - COMPOSE_SCANNERS)


def find_alias_target(weak: Entity, candidates: list[Entity], prefixes: set[str]) -> Entity | None:
    """The one strong entity ``weak`` names, or None when there is none or several."""
    definition = weak.attributes.get("definition")
    if weak.subtype == "api" and isinstance(definition, str):
        by_file = [c for c in candidates if c.kind == "other" and c.subtype == "openapi"
                   and any(ev.path == definition for ev in c.evidence)]
        if len(by_file) == 1:
            return by_file[0]
    key = name_key(weak.name, prefixes)
    matches = [c for c in candidates
               if c.id != weak.id and kinds_compatible(weak, c) and not _dev_only(c)
               and (slug(c.name) == slug(weak.name) or name_key(c.name, prefixes) == key)]
    return matches[0] if len(matches) == 1 else None


def apply_aliases(builder: InventoryBuilder) -> dict[str, str]:
    """Merge weak sightings into the strong entity they name. Returns ``{alias id: kept id}``."""
    prefixes = org_prefixes(builder)
    seen_by = builder.seen_by
    entities = {**builder.components, **builder.resources}
    strong = sorted((e for e in entities.values() if _strong(e, seen_by.get(e.id, set()))), key=lambda e: e.id)
    # Catalog entries first: they may point a compose twin at the right component.
    weak = sorted(
        ((w, e) for e in entities.values() if (w := _weak_kind(e, seen_by.get(e.id, set())))),
        key=lambda pair: (pair[0] != "catalog", pair[1].id),
    )
    mapping: dict[str, str] = {}
    for _, ent in weak:
        target = find_alias_target(ent, strong, prefixes)
        if target is None:
            continue
        builder.merge_alias(ent.id, target.id)
        mapping[ent.id] = target.id
    return mapping
