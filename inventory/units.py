"""Deployment units: the same name in unrelated places is not the same thing.

A repository of examples (or of alternative deployments) defines ``Kafka/kafka`` in dozens of
folders, each a cluster of its own. Entities merge by id (``kind:name``), so before merging,
this step tells such definitions apart:

* a **deployment unit** is the directory a manifest is in, joined with every directory a
  Kustomization there builds from (``resources``, ``bases``, ``components``, patches) and with
  its per-environment siblings (``k8s/prod`` and ``k8s/staging``, ``envs/*/app``): what
  deploys together, or is the same thing in another environment;
* an id defined in two or more units that are not joined (or, within one unit, in two
  namespaces) becomes one entity per unit: ``kafka-cluster:kafka.<where>``, where ``<where>``
  is the namespace when that alone tells them apart, else the shortest tail of the unit's
  directory that does (``kafka-cluster:kafka.plain-with-ldap``). The name stays ``kafka``;
  ``attributes.deployment_unit`` says where it is deployed from;
* references by name inside a unit (a topic's ``kafkaClusterRef``) bind to that unit's
  entity, and a Confluent ``KafkaTopic`` with no cluster reference binds to the one Kafka
  cluster of its unit and namespace (how Confluent for Kubernetes resolves it).

The same name, namespace and environment across overlays stays one entity (the overlays are
joined into one unit). Only Kubernetes custom resources are separated (copies of one app's
Deployments in alternative layouts are one service); Terraform, compose and catalog entities
keep their own identity rules.
"""

from __future__ import annotations

import json
import posixpath
from collections import defaultdict

from inventory.config import Config
from inventory.environments import environment_of_path
from inventory.model import Edge, Evidence, slug
from inventory.scanners.base import Fragment

__all__ = ["separate_same_named"]

_SEPARABLE = frozenset({"kubernetes"})
# Built-in Kubernetes kinds: copies of one app's workloads in alternative layouts
# (`kubernetes-manifests/` and `kustomize/base/`) are the same service, so only custom
# resources — a Kafka, a topic, a Flink job, each its own piece of state — are told apart.
_BUILT_IN_KINDS = frozenset({
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Service", "ConfigMap",
    "Secret", "PersistentVolumeClaim", "PersistentVolume", "Namespace", "ServiceAccount", "Role", "RoleBinding",
    "ClusterRole", "ClusterRoleBinding", "Ingress", "NetworkPolicy", "HorizontalPodAutoscaler",
    "PodDisruptionBudget", "StorageClass",
})


def _separable(ent) -> bool:
    k8s_kind = ent.attributes.get("k8s_kind")
    return isinstance(k8s_kind, str) and k8s_kind not in _BUILT_IN_KINDS


class _Units:
    """Union-find over directories."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, d: str) -> str:
        p = self.parent.setdefault(d, d)
        if p != d:
            p = self.parent[d] = self.find(p)
        return p

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller directory names the unit, so a unit's id does not depend on order.
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def _dir(path: str) -> str:
    return posixpath.dirname(path) or "."


class _LazyUnits:
    """:func:`_units` of the fragments, built when a unit is first asked for: most trees
    define each custom resource once and run no Confluent Kafka, and then none is (the
    union-find is one pass over every fragment and every directory)."""

    def __init__(self, fragments: list[Fragment], cfg: Config) -> None:
        self._fragments, self._cfg = fragments, cfg
        self._units: _Units | None = None

    @property
    def built(self) -> bool:
        """Whether a unit was asked for (the directories of every fragment were read)."""
        return self._units is not None

    def find(self, d: str) -> str:
        if self._units is None:
            self._units = _units(self._fragments, self._cfg)
        return self._units.find(d)


def _units(fragments: list[Fragment], cfg: Config) -> _Units:
    units = _Units()
    dirs = {_dir(f.path) for f in fragments}
    for f in fragments:
        k = f.extra.get("kustomization") if isinstance(f.extra, dict) else None
        if not isinstance(k, dict):
            continue
        here = str(k.get("dir") or _dir(f.path))
        for r in k.get("refs") or []:
            ref = str(r.get("ref") or "")
            target = posixpath.normpath(posixpath.join(here, ref)) if here != "." else posixpath.normpath(ref)
            if target.startswith(".."):
                continue
            units.join(here, target if target in dirs or not posixpath.splitext(target)[1] else _dir(target))
    # Per-environment siblings: the same thing in another environment.
    by_shape: dict[str, str] = {}
    for d in sorted(dirs):
        hit = environment_of_path(d + "/x", cfg.environments)
        if hit is None:
            continue
        env_dir = hit[1]
        shape = posixpath.dirname(env_dir) + "/*" + d[len(env_dir):]
        if shape in by_shape:
            units.join(by_shape[shape], d)
        else:
            by_shape[shape] = d
    return units


def _qualifiers(groups: dict[tuple[str, str | None], list[str]]) -> dict[tuple[str, str | None], str]:
    """A short, distinct, readable qualifier per (unit, namespace) group."""
    namespaces = [ns for _, ns in groups]
    if all(namespaces) and len(set(namespaces)) == len(namespaces):
        return {g: str(g[1]) for g in groups}
    reps = {g: min(dirs) for g, dirs in groups.items()}
    out: dict[tuple[str, str | None], str] = {}
    for g, rep in reps.items():
        parts = [] if rep == "." else rep.split("/")
        others = [([] if r == "." else r.split("/")) for h, r in reps.items() if h != g]
        for n in range(1, len(parts) + 1):
            tail = parts[-n:]
            if not any(o[-n:] == tail for o in others):
                break
        else:
            tail = parts
        where = "-".join(tail) or "root"
        if sum(1 for r in reps.values() if r == rep) > 1 and g[1]:
            where = f"{where}-{g[1]}"
        out[g] = where
    # Still equal (the same directory and no namespace): the unit's full path.
    seen: dict[str, int] = defaultdict(int)
    for q in out.values():
        seen[q] += 1
    return {g: (q if seen[q] == 1 else f"{'-'.join(reps[g].split('/'))}-{g[1] or 'default'}") for g, q in out.items()}


def separate_same_named(fragments: list[Fragment], cfg: Config) -> list[Fragment]:
    """``fragments`` with same-id entities of unrelated deployment units given their own ids."""
    return _separated(fragments, cfg)[0]


def separate_same_named_alone(fragments: list[Fragment], cfg: Config) -> list[Fragment] | None:
    """:func:`separate_same_named` of some of a tree's fragments, when the rest define no entity
    (the scan merges the files that cannot define one last, see ``scan._EarlyMerge``); ``None``
    when the answer read the deployment units, which the directories of the rest take part in."""
    out, units = _separated(fragments, cfg)
    return None if units is not None and units.built else out


def _separated(fragments: list[Fragment], cfg: Config) -> tuple[list[Fragment], _LazyUnits | None]:
    """:func:`separate_same_named`, and the deployment units it had at hand (None: none)."""
    idx = [i for i, f in enumerate(fragments) if f.scanner in _SEPARABLE]
    if not idx:
        return fragments, None
    defs: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for i in idx:
        for e in (*fragments[i].components, *fragments[i].resources):
            if _separable(e):
                defs[e.id].append((i, e.namespace))
    # An id defined once is in one place (most ids): not looked at further.
    multi = {eid: ds for eid, ds in defs.items() if len(ds) > 1 and (len({_dir(fragments[i].path) for i, _ in ds}) > 1
             or len({ns for _, ns in ds if ns}) > 1)}
    # One file defining the same custom resource in two namespaces (`Kafka/kafka` in team-a and
    # in team-b): each document is its own entity, told apart by its namespace.
    split: dict[str, set[int]] = defaultdict(set)  # id -> files that define it per namespace
    for eid, ds in multi.items():
        per_file: dict[int, list[str | None]] = defaultdict(list)
        for i, ns in ds:
            per_file[i].append(ns)
        for i, nss in per_file.items():
            if len(set(nss)) > 1 and all(nss):
                split[eid].add(i)
    units = _LazyUnits(fragments, cfg)
    renames: dict[int, dict[str, str]] = defaultdict(dict)  # fragment index -> old id -> new id
    by_ns: dict[int, dict[str, dict[str, str]]] = defaultdict(dict)  # split file -> old id -> ns -> new id
    where: dict[str, str] = {}  # new id -> unit directory
    for eid, ds in sorted(multi.items()):
        by_unit: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
        for i, ns in ds:
            by_unit[units.find(_dir(fragments[i].path))].append((i, ns))
        groups: dict[tuple[str, str | None], list[int]] = {}
        for unit, items in by_unit.items():
            named = {ns for _, ns in items if ns}
            split_ns = len(named) > 1 and all(ns for _, ns in items)
            for i, ns in items:
                groups.setdefault((unit, ns if split_ns else (next(iter(named)) if len(named) == 1 else None)),
                                  []).append(i)
        groups = _merge_sharing_files(groups, split.get(eid, set()))
        if len(groups) < 2:
            continue
        quals = _qualifiers({g: sorted({_dir(fragments[i].path) for i in members}) for g, members in groups.items()})
        ns_split_units = {u for u, _ in groups if sum(1 for v, _ in groups if v == u) > 1}
        for g, members in groups.items():
            new = f"{eid}.{slug(quals[g])}"
            where[new] = min(_dir(fragments[i].path) for i in members)
            for i in members:
                if i in split.get(eid, ()) and g[1]:
                    by_ns[i].setdefault(eid, {})[g[1]] = new
                else:
                    renames[i][eid] = new
            if g[0] in ns_split_units:
                continue  # which namespace a file without the entity means is not known
            for j in idx:  # files of the same unit that only refer to it
                if j not in groups[g] and eid not in renames[j] and units.find(_dir(fragments[j].path)) == g[0]:
                    renames[j][eid] = new
    if not renames and not by_ns:
        return _bind_confluent_topics(fragments, idx, units), units
    out = list(fragments)
    for i in sorted({*renames, *by_ns}):
        frag = _split_by_namespace(fragments[i], by_ns[i], where) if i in by_ns else fragments[i]
        out[i] = _rewrite(frag, renames[i], where) if renames.get(i) else frag
    return _bind_confluent_topics(out, idx, units), units


def _merge_sharing_files(groups: dict[tuple[str, str | None], list[int]],
                         split_files: set[int] | frozenset[int] = frozenset()) -> dict[tuple[str, str | None], list[int]]:
    """Groups that share a file stay one: a file's references cannot say which one they mean
    (except a file that defines the entity once per namespace: each namespace's references
    mean that namespace's entity, as in Kubernetes)."""
    merged: list[tuple[tuple[str, str | None], set[int]]] = []
    for g in sorted(groups, key=lambda k: (k[0], k[1] or "")):
        members = set(groups[g])
        hits = [m for m in merged if (m[1] & members) - set(split_files)]
        for h in hits:
            merged.remove(h)
            members |= h[1]
        key = min([g, *(h[0] for h in hits)], key=lambda k: (k[0], k[1] or ""))
        if hits and any(h[0][1] != g[1] for h in hits):
            key = (key[0], None)
        merged.append((key, members))
    return {k: sorted(v) for k, v in merged}


def _rewrite(frag: Fragment, mapping: dict[str, str], where: dict[str, str]) -> Fragment:
    """``frag`` with every use of an old id (entities, edges, actions, extra) under its new id,
    and its name references to them made edges to the new ids."""
    text = frag.model_dump_json()
    for old, new in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(json.dumps(old), json.dumps(new)).replace(json.dumps(old)[:-1] + "/", json.dumps(new)[:-1] + "/")
    new_frag = Fragment.model_validate_json(text)
    for ent in (*new_frag.components, *new_frag.resources):
        if ent.id in where:
            ent.attributes["deployment_unit"] = where[ent.id]
    by_name: dict[tuple[str, str], str] = {}
    for old, new in mapping.items():
        kind, _, name = old.partition(":")
        by_name[(kind, name)] = new
    kept = []
    for ref in new_frag.references:
        target = None
        if ref.target_kind:
            target = by_name.get((ref.target_kind, slug(ref.target_name)))
        else:
            hits = [v for (k, n), v in by_name.items() if n == slug(ref.target_name)]
            target = hits[0] if len(hits) == 1 else None
        if target is None:
            kept.append(ref)
            continue
        new_frag.edges.append(Edge(source=ref.source, target=target, kind=ref.edge_kind, via=ref.via,
                                   evidence=[ref.evidence]))
    new_frag.references = kept
    return new_frag


def _split_by_namespace(frag: Fragment, mapping: dict[str, dict[str, str]], where: dict[str, str]) -> Fragment:
    """``frag`` with each definition of an id it defines in several namespaces under the id of
    its namespace (``mapping``: old id → namespace → new id). What refers to it from the file
    binds within its own namespace, as Kubernetes resolves names; an edge from it belongs to the
    definition it follows in the file."""
    new_frag = frag.model_copy(deep=True)
    ents = [*new_frag.components, *new_frag.resources]
    ns_of = {e.id: e.namespace for e in ents if e.id not in mapping}
    starts: dict[str, list[tuple[int, str]]] = defaultdict(list)  # old id -> (line, new id), in file order
    for ent in ents:
        new = mapping.get(ent.id, {}).get(ent.namespace or "")
        if new is None:
            continue
        line = min((ev.line for ev in ent.evidence if ev.path == frag.path), default=0)
        starts[ent.id].append((line, new))
        ent.id = new
        ent.attributes["deployment_unit"] = where.get(new, _dir(frag.path))
    for lst in starts.values():
        lst.sort()

    def pick(old: str, source: str | None, line: int) -> str | None:
        by = mapping[old]
        if source is not None and ns_of.get(source) in by:
            return by[ns_of[source]]  # type: ignore[index]
        before = [new for start, new in starts.get(old, []) if start <= line]
        return before[-1] if before else None

    edges = []
    for e in new_frag.edges:
        line = e.evidence[0].line if e.evidence else 0
        if e.source in mapping:
            e = e.model_copy(update={"source": pick(e.source, None, line) or e.source})
        if e.target in mapping:
            e = e.model_copy(update={"target": pick(e.target, e.source, line) or e.target})
        edges.append(e)
    new_frag.edges = edges
    names = {(old.partition(":")[0], old.partition(":")[2]): old for old in mapping}
    kept = []
    for ref in new_frag.references:
        old = names.get((ref.target_kind or "", slug(ref.target_name)))
        target = pick(old, ref.source, ref.evidence.line) if old and ns_of.get(ref.source) in mapping[old] else None
        if target is None:
            kept.append(ref)
            continue
        new_frag.edges.append(Edge(source=ref.source, target=target, kind=ref.edge_kind, via=ref.via,
                                   evidence=[ref.evidence]))
    new_frag.references = kept
    return new_frag


def _bind_confluent_topics(fragments: list[Fragment], idx: list[int], units: _LazyUnits) -> list[Fragment]:
    """A Confluent ``KafkaTopic`` without ``kafkaClusterRef`` belongs to the one Kafka cluster
    of its unit and namespace (Confluent for Kubernetes' own rule); with several, to none."""
    clusters: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    for i in idx:
        for r in fragments[i].resources:
            if r.kind == "kafka-cluster" and r.subtype == "confluent":
                clusters[(units.find(_dir(fragments[i].path)), r.namespace)].add(r.id)
    if not clusters:
        return fragments
    out = list(fragments)
    for i in idx:
        f = fragments[i]
        loose = [r for r in f.resources if r.kind == "kafka-topic" and r.subtype == "confluent"
                 and "cluster" not in r.attributes]
        if not loose:
            continue
        unit = units.find(_dir(f.path))
        edges = []
        for topic in loose:
            found = clusters.get((unit, topic.namespace), set())
            if len(found) == 1:
                ev = topic.evidence[0] if topic.evidence else Evidence(path=f.path, line=1)
                edges.append(Edge(source=topic.id, target=next(iter(found)), kind="member-of",
                                  via="the only Kafka of its namespace in this deployment", evidence=[ev]))
        if edges:
            out[i] = f.model_copy(update={"edges": [*f.edges, *edges]})
    return out
