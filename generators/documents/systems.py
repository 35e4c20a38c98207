"""Group the inventory into systems: the unit a policy table and an autonomy rung are about.

A *system* is either a component together with the resources only it uses (its cache
volume, its own config), or a piece of shared infrastructure on its own: a Kafka cluster
with its topics and users, each database, each bucket, each namespace. Shared
infrastructure stays separate even when one component uses it, because its blast radius is
not that component's: a reviewer signs off on the database, not on its client.

Three groupings keep the list to what a reviewer signs off on:

* **access**: IAM roles, policies, attachments, Kubernetes Roles, RoleBindings and
  ServiceAccounts that are linked to each other form one access system per workload they
  serve (``access:training-data-export``), reviewed by whoever owns access, not six systems;
* **DNS records** join the system of the one resource they point at (``redis`` CNAME → the
  ElastiCache cluster): deleting the record takes that resource off the network;
* **local development**: entities that exist only in dev (docker compose containers and
  their datastores) form one ``local-dev`` system, listed last, so a laptop's postgres never
  reads like the production database.
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
# The one system holding everything that exists only on developers' machines.
LOCAL_DEV_SYSTEM_ID = "local-dev"
LOCAL_DEV_ENVIRONMENTS: frozenset[str] = frozenset({"dev", "local"})
ACCESS_KIND = "access"
LOCAL_DEV_KIND = "local-dev"


@dataclass
class SystemGroup:
    """One system before drafting: its anchor entity, its members, its dependencies."""

    id: str  # the anchor entity id, or a group id (``access:<workload>``, ``local-dev``)
    anchor: Entity
    members: list[str] = field(default_factory=list)  # entity ids, anchor first
    depends_on: list[str] = field(default_factory=list)  # other system ids
    member_of: list[str] = field(default_factory=list)  # namespace systems its members run in
    name: str = ""  # display name; the anchor's name when empty
    kind: str = ""  # display kind; the anchor's kind when empty

    @property
    def title(self) -> str:
        """The name to show."""
        return self.name or self.anchor.name

    @property
    def display_kind(self) -> str:
        """The kind to show."""
        return self.kind or self.anchor.kind


@dataclass
class Grouping:
    """Every system, plus where each entity landed."""

    systems: list[SystemGroup]
    system_of: dict[str, str]  # entity id -> system id

    def by_id(self) -> dict[str, SystemGroup]:
        """Systems keyed by id."""
        return {s.id: s for s in self.systems}


def _edge_targets(inv: Inventory) -> dict[str, list[str]]:
    """Edge targets by source, in edge order (a lookup per entity instead of a scan of every edge)."""
    out: dict[str, list[str]] = defaultdict(list)
    for e in inv.edges:
        out[e.source].append(e.target)
    return out


def _cluster_of(ent: Entity, edge_targets: dict[str, list[str]], clusters: dict[str, Entity]) -> str | None:
    """The Kafka cluster a topic/user belongs to: edge, label, or the only cluster there is."""
    for target in edge_targets.get(ent.id, ()):
        if target in clusters:
            return target
    for label in CLUSTER_LABELS:
        name = ent.labels.get(label)
        if name:
            for cid, c in clusters.items():
                if c.name == name:
                    return cid
    if len(clusters) == 1:
        return next(iter(clusters))
    return None


def is_local_dev(ent: Entity) -> bool:
    """Whether ``ent`` exists only in local development (every environment it is in is dev)."""
    return bool(ent.environments) and set(ent.environments) <= LOCAL_DEV_ENVIRONMENTS


def _access_groups(inv: Inventory, entities: dict[str, Entity], components: set[str]) -> dict[str, str]:
    """IAM entity id -> access system id: IAM entities linked by edges or by the workload they serve.

    The workload is a component with an edge to one of the IAM entities (a CronJob → its
    ServiceAccount), or, failing that, a component whose name appears in an IAM entity's name
    (``acme-training-data-export-prod`` serves ``training-data-export``).
    """
    iam = sorted(e for e, ent in entities.items() if ent.kind == "iam" and not is_local_dev(ent))
    parent = {i: i for i in iam}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    served: dict[str, set[str]] = defaultdict(set)  # iam id -> component names
    for e in inv.edges:
        if e.source in parent and e.target in parent:
            union(e.source, e.target)
        elif e.source in components and e.target in parent:
            served[e.target].add(entities[e.source].name)
    comp_names = sorted({entities[c].name for c in components}, key=lambda n: (-len(n), n))
    for i in iam:
        if not served[i]:
            key = entities[i].name.lower().replace("_", "-")
            hit = next((n for n in comp_names if len(n) >= 4 and n.lower() in key), None)
            if hit:
                served[i].add(hit)
    # Two IAM clusters serving the same workload are one access system.
    by_workload: dict[str, str] = {}
    for i in iam:
        for name in sorted(served[i]):
            if name in by_workload:
                union(i, by_workload[name])
            else:
                by_workload[name] = i
    out: dict[str, str] = {}
    clusters: dict[str, list[str]] = defaultdict(list)
    for i in iam:
        clusters[root(i)].append(i)
    for members in clusters.values():
        workloads = sorted({n for m in members for n in served[m]})
        label = workloads[0] if len(workloads) == 1 else entities[members[0]].name
        for m in members:
            out[m] = f"{ACCESS_KIND}:{label}"
    return out


def _dns_target(ent: Entity, edge_targets: dict[str, list[str]], entities: dict[str, Entity]) -> str | None:
    """The one non-DNS resource a DNS record points at, if exactly one."""
    targets = {t for t in edge_targets.get(ent.id, ()) if t in entities and entities[t].kind != "dns"}
    return next(iter(targets)) if len(targets) == 1 else None


def group_systems(inv: Inventory) -> Grouping:
    """Partition the inventory's entities into systems (deterministic: sorted by id)."""
    entities = inv.entities()
    components = {c.id for c in inv.components}
    # A local dev broker never owns production topics (it would also defeat "the only cluster").
    clusters = {r.id: r for r in inv.resources if r.kind == "kafka-cluster" and not is_local_dev(r)}
    users: dict[str, set[str]] = defaultdict(set)  # resource id -> component ids using it
    for e in inv.edges:
        if e.source in components and e.target in entities and e.target not in components:
            users[e.target].add(e.source)

    access = _access_groups(inv, entities, components)
    edge_targets = _edge_targets(inv)
    system_of: dict[str, str] = {}
    for cid in sorted(components):
        system_of[cid] = LOCAL_DEV_SYSTEM_ID if is_local_dev(entities[cid]) else cid
    for r in sorted(inv.resources, key=lambda r: r.id):
        if is_local_dev(r):
            system_of[r.id] = LOCAL_DEV_SYSTEM_ID
        elif r.id in access:
            system_of[r.id] = access[r.id]
        elif r.kind in SHARED_KINDS:
            system_of[r.id] = r.id
        elif r.kind in KAFKA_MEMBER_KINDS:
            system_of[r.id] = _cluster_of(r, edge_targets, clusters) or r.id
        elif r.kind == "other" and any(r.labels.get(label) for label in CLUSTER_LABELS[:1]) and clusters:
            # A Strimzi node pool, Connect or MirrorMaker labelled with its cluster is part of it.
            system_of[r.id] = _cluster_of(r, edge_targets, clusters) or r.id
        elif len(users[r.id]) == 1:
            system_of[r.id] = next(iter(users[r.id]))
        else:
            # Used by several components, or by none we know of: its own system.
            system_of[r.id] = r.id

    # DNS records join the system of what they point at (resolved once every resource has a system).
    for r in sorted(inv.resources, key=lambda r: r.id):
        if r.kind == "dns" and system_of.get(r.id) == r.id:
            target = _dns_target(r, edge_targets, entities)
            if target and system_of.get(target) not in (None, LOCAL_DEV_SYSTEM_ID):
                system_of[r.id] = system_of[target]

    groups: dict[str, SystemGroup] = {}
    for ent_id in sorted(system_of):
        sid = system_of[ent_id]
        if sid not in groups:
            anchor = entities.get(sid) or entities[ent_id]
            groups[sid] = SystemGroup(id=sid, anchor=anchor)
            if sid == LOCAL_DEV_SYSTEM_ID:
                groups[sid].name, groups[sid].kind = "Local development (dev only)", LOCAL_DEV_KIND
            elif sid.startswith(ACCESS_KIND + ":") and sid not in entities:
                groups[sid].name = f"{sid.partition(':')[2]} access (IAM/RBAC)"
                groups[sid].kind = ACCESS_KIND
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
    # Sorted by id, except local development, which is listed last.
    order = sorted(groups, key=lambda k: (k == LOCAL_DEV_SYSTEM_ID, k))
    return Grouping(systems=[groups[k] for k in order], system_of=system_of)
