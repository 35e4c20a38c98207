"""Group the inventory into systems: the unit a policy table and an autonomy rung are about.

A *system* is either a component together with the resources only it uses (its cache
volume, its own config), or a piece of shared infrastructure on its own: a Kafka cluster
with its topics and users, each database, each bucket, each namespace, each IAM binding.
Shared infrastructure stays separate even when one component uses it, because its blast
radius is not that component's: a reviewer signs off on the database, not on its client.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from inventory.model import Entity, Inventory

# Kinds that are always a system of their own (never folded into a component).
SHARED_KINDS: frozenset[str] = frozenset({
    "kafka-cluster", "postgres", "mysql", "redis", "memcached", "clickhouse", "search",
    "document-db", "object-bucket", "warehouse-dataset", "queue", "k8s-cluster",
    "k8s-namespace", "iam", "dns", "network", "kms-key",
})
# Kinds that belong to their Kafka cluster's system.
KAFKA_MEMBER_KINDS: frozenset[str] = frozenset({"kafka-topic", "kafka-user"})
# Labels Strimzi (and friends) use to name a topic's or user's cluster.
CLUSTER_LABELS: tuple[str, ...] = ("strimzi.io/cluster", "kafka-cluster", "cluster")

# The pseudo-system for actions whose target could not be resolved to an entity.
UNRESOLVED_SYSTEM_ID = "unresolved-commands"


@dataclass
class SystemGroup:
    """One system before drafting: its anchor entity, its members, its dependencies."""

    id: str  # the anchor entity id
    anchor: Entity
    members: list[str] = field(default_factory=list)  # entity ids, anchor first
    depends_on: list[str] = field(default_factory=list)  # other system ids
    member_of: list[str] = field(default_factory=list)  # namespace systems its members run in


@dataclass
class Grouping:
    """Every system, plus where each entity landed."""

    systems: list[SystemGroup]
    system_of: dict[str, str]  # entity id -> system id

    def by_id(self) -> dict[str, SystemGroup]:
        """Systems keyed by id."""
        return {s.id: s for s in self.systems}


def _cluster_of(ent: Entity, inv: Inventory, clusters: dict[str, Entity]) -> str | None:
    """The Kafka cluster a topic/user belongs to: edge, label, or the only cluster there is."""
    for e in inv.edges:
        if e.source == ent.id and e.target in clusters:
            return e.target
    for label in CLUSTER_LABELS:
        name = ent.labels.get(label)
        if name:
            for cid, c in clusters.items():
                if c.name == name:
                    return cid
    if len(clusters) == 1:
        return next(iter(clusters))
    return None


def group_systems(inv: Inventory) -> Grouping:
    """Partition the inventory's entities into systems (deterministic: sorted by id)."""
    entities = inv.entities()
    components = {c.id for c in inv.components}
    clusters = {r.id: r for r in inv.resources if r.kind == "kafka-cluster"}
    users: dict[str, set[str]] = defaultdict(set)  # resource id -> component ids using it
    for e in inv.edges:
        if e.source in components and e.target in entities and e.target not in components:
            users[e.target].add(e.source)

    system_of: dict[str, str] = {}
    for cid in sorted(components):
        system_of[cid] = cid
    for r in sorted(inv.resources, key=lambda r: r.id):
        if r.kind in SHARED_KINDS:
            system_of[r.id] = r.id
        elif r.kind in KAFKA_MEMBER_KINDS:
            system_of[r.id] = _cluster_of(r, inv, clusters) or r.id
        elif len(users[r.id]) == 1:
            system_of[r.id] = next(iter(users[r.id]))
        else:
            # Used by several components, or by none we know of: its own system.
            system_of[r.id] = r.id

    groups: dict[str, SystemGroup] = {}
    for ent_id in sorted(system_of):
        sid = system_of[ent_id]
        if sid not in groups:
            groups[sid] = SystemGroup(id=sid, anchor=entities[sid])
    for ent_id in sorted(system_of):
        grp = groups[system_of[ent_id]]
        if ent_id == grp.id:
            grp.members.insert(0, ent_id)
        else:
            grp.members.append(ent_id)

    deps: dict[str, set[str]] = defaultdict(set)
    for e in inv.edges:
        a, b = system_of.get(e.source), system_of.get(e.target)
        if a and b and a != b:
            deps[a].add(b)
    namespaces = {r.name: r.id for r in inv.resources if r.kind == "k8s-namespace"}
    member_of: dict[str, set[str]] = defaultdict(set)
    for ent_id, sid in system_of.items():
        ns = entities[ent_id].namespace
        if ns and ns in namespaces and namespaces[ns] != sid:
            member_of[sid].add(namespaces[ns])
    for sid, grp in groups.items():
        grp.depends_on = sorted(deps[sid])
        grp.member_of = sorted(member_of[sid] - deps[sid])
    return Grouping(systems=[groups[k] for k in sorted(groups)], system_of=system_of)
