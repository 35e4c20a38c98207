"""Merge per-file fragments into one inventory, then link names into edges.

The same thing is often seen by several files (a Kafka topic as a Strimzi CR, in an env var,
in a runbook). Entities merge by id: evidence, environments, owners and data classes are
unioned; scalar facts keep the first value seen (fragments are merged in path order, so the
result is deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from operator import attrgetter

from inventory.commands.model import copy_with, trusted

try:  # optional: built by the install where a C compiler is at hand (see _cbuild.c)
    from inventory._cbuild import by_sorted_key as _c_by_sorted_key
except ImportError:  # not built, or an older build without it
    _c_by_sorted_key = None
try:
    from inventory._cbuild import sort_ahead as _c_sort_ahead
    from inventory._cbuild import sorted_ahead as _c_sorted_ahead
except ImportError:
    _c_sort_ahead = _c_sorted_ahead = None
try:
    from inventory._cbuild import norm_entity as _c_norm_entity
except ImportError:
    _c_norm_entity = None
try:
    from inventory._cbuild import evidence_sorted as _c_evidence_sorted
except ImportError:
    _c_evidence_sorted = None
from inventory.model import (
    Action,
    CommandRef,
    Component,
    Edge,
    Entity,
    Evidence,
    Fact,
    Inventory,
    Owner,
    Resource,
    Warning,
    slug,
)
from inventory.scanners.base import CommandSighting, Fragment, Reference

_LIST_FIELDS = ("environments", "data_classes", "owners")
# Kinds that grant access to data but hold none: `acme-training-data-export` names what a role
# may touch, not what reading the role reveals. Their data classes move to `grants_access_to`.
NO_DATA_KINDS: frozenset[str] = frozenset({"iam"})
_SCALAR_FIELDS = ("subtype", "namespace", "stateful", "replicas", "deletion_protection")


def _union_evidence(a: list[Evidence], b: Iterable[Evidence]) -> list[Evidence]:
    seen = set(a)
    out = list(a)
    for ev in b:
        if ev not in seen:
            seen.add(ev)
            out.append(ev)
    return out


def _extend_evidence(evidence: list[Evidence], more: Iterable[Evidence]) -> None:
    """Append to ``evidence``, in place, the items of ``more`` it lacks (``_union_evidence``'s list)."""
    seen = set(evidence)
    for ev in more:
        if ev not in seen:
            seen.add(ev)
            evidence.append(ev)


def merge_entity(into: Entity, other: Entity) -> None:
    """Fold ``other`` (same id) into ``into`` in place.

    ``into``'s lists are grown where they are (the builder's entities own theirs): a new
    list per field, set through pydantic's ``__setattr__``, was most of a merge's cost.
    """
    _extend_evidence(into.evidence, other.evidence)
    for name in _LIST_FIELDS:
        merged = getattr(into, name)
        for v in getattr(other, name):
            if v not in merged:
                merged.append(v)
    for name in _SCALAR_FIELDS:
        if getattr(into, name) is None and getattr(other, name) is not None:
            setattr(into, name, getattr(other, name))
    # Deletion protection anywhere protects: a `prevent_destroy` beats a silent default.
    if other.deletion_protection:
        into.deletion_protection = True
    known_src = {(src.environment, src.how) for src in into.environment_sources}
    for src in other.environment_sources:
        if (src.environment, src.how) not in known_src:
            into.environment_sources.append(src.model_copy())
            known_src.add((src.environment, src.how))
    for k, v in other.labels.items():
        into.labels.setdefault(k, v)
    for k, v in other.attributes.items():
        into.attributes.setdefault(k, v)
    known = {(f.name, str(f.value)) for f in into.facts}
    for f in other.facts:
        if (f.name, str(f.value)) not in known:
            into.facts.append(f)
            known.add((f.name, str(f.value)))
    if isinstance(into, Component) and isinstance(other, Component) and not into.image:
        into.image = other.image


# Evidence sorts by (path, line); attrgetter builds that key in C (build() sorts ~10k lists).
_EVIDENCE_ORDER = attrgetter("path", "line")
# An action's commands sort by where each was seen, then its text.
_COMMAND_ORDER = attrgetter("evidence.path", "evidence.line", "command")
# The fields counted as set on a command reference made here or by the actions step: one
# shared set of them all (see actions._ACTION_FIELDS_SET).
_COMMAND_REF_FIELDS_SET = set(CommandRef.model_fields)
_EDGE_FIELDS_SET = set(Edge.model_fields)  # of the edges references make (the same)


def _own_entity(ent: Entity) -> Entity:
    """A copy of ``ent`` the builder may edit in place without touching the fragment it came from.

    Every container the merge, finalize and resolve steps edit in place is copied (lists,
    dicts, list values of attributes, environment sources and facts, whose evidence lists a
    resolver may replace); strings, numbers and frozen ``Evidence`` are shared. Several times
    cheaper than ``model_copy(deep=True)``, which copies every string and evidence too.
    """
    # ``copy_with``: ``model_copy(update=...)`` without pydantic's generic copy (the
    # builder copies every entity, edge and owner of every fragment).
    return copy_with(
        ent,
        environments=list(ent.environments),
        environment_sources=[copy_with(s, evidence=list(s.evidence)) for s in ent.environment_sources],
        data_classes=list(ent.data_classes),
        owners=list(ent.owners),
        labels=dict(ent.labels),
        attributes={k: (list(v) if isinstance(v, list) else v) for k, v in ent.attributes.items()},
        facts=[copy_with(f, evidence=list(f.evidence), value=list(f.value) if isinstance(f.value, list) else f.value)
               for f in ent.facts],
        evidence=list(ent.evidence),
    )


def _own_action(action: Action) -> Action:
    """A copy of ``action`` with its own lists and flags (commands and evidence are immutable)."""
    return copy_with(action, evidence=list(action.evidence), commands=list(action.commands), flags=dict(action.flags))


# The fields of an inventory build() states (the others are left to their defaults).
_BUILT_FIELDS = frozenset(Inventory.model_fields) - {"version", "generator", "unresolved"}


def _py_by_sorted_key(table: dict, fields: tuple[str, ...]) -> tuple[list, list[int]]:
    """``[table[k] for k in sorted(table)]``, and the positions of the values (models) whose
    ``__dict__`` holds one of ``fields`` with two or more items: those ``build`` normalises.
    (Read from the dict: a call and an attribute read through pydantic's hook for each of
    ~56,000 actions were a tenth of the build.) The C extension's ``by_sorted_key`` where built."""
    values = list(map(table.__getitem__, sorted(table)))
    return values, [i for i, v in enumerate(values) if any(len(v.__dict__[f]) >= 2 for f in fields)]


by_sorted_key = _c_by_sorted_key or _py_by_sorted_key


class InventoryBuilder:
    """Accumulates fragments; :meth:`build` returns a sorted, deterministic inventory."""

    def __init__(self, sources: list[str] | None = None) -> None:
        self.sources = list(sources or [])
        self.components: dict[str, Component] = {}
        self.resources: dict[str, Resource] = {}
        self.edges: dict[tuple[str, str, str], Edge] = {}
        self.actions: dict[str, Action] = {}
        self.owners: dict[str, Owner] = {}
        self.environments: dict[str, list[Evidence]] = {}
        self.commands: list[CommandSighting] = []
        self.references: list[Reference] = []
        self.secrets: list[Evidence] = []
        self.warnings: list[Warning] = []
        # entity id -> names of the scanners that reported it (for the alias pass).
        self.seen_by: dict[str, set[str]] = {}
        # slugged name / alias name -> entities, for :meth:`find` (built lazily; see _name_index).
        self._index: dict[str, list[Entity]] | None = None
        self._index_size = -1
        self._slugs: dict[str, str] = {}
        # A caller's answers derived from find() (see find_memo), and the index they were read from.
        self._find_memo: dict = {}
        self._find_memo_of: dict[str, list[Entity]] | None = None
        # Edge bookkeeping for merge_alias: insertion rank of each edge key (the order a rebuild
        # of the edge table would visit them in) and the keys touching each entity id. Kept
        # from the first merge_alias on: until an edge is moved, the table's own order is that
        # rank, and most builds move none (none at 2,000 services, of 15,700 edges).
        self._edges_tracked = False
        self._edge_seq: dict[tuple[str, str, str], int] = {}
        self._edges_by_ent: dict[str, set[tuple[str, str, str]]] = {}
        self._next_seq = 0
        self._edges_table = self.edges
        # action id -> (its commands list, how many were indexed, their (command, evidence) keys)
        self._command_keys: dict[str, tuple[list, int, set]] = {}
        # reference source id -> positions in self.references (for merge_alias).
        self._refs_by_source: dict[str, list[int]] = {}
        self._refs_indexed = 0
        # (table, key) -> (an evidence list the builder grows, its length, its items as a set):
        # an action sighted in every runbook, or an environment every entity is in, gains one
        # evidence at a time; a set rebuilt on each union made those quadratic.
        self._evidence_sets: dict[tuple[str, str], tuple[list[Evidence], int, set[Evidence]]] = {}

    # -- adding -----------------------------------------------------------------------
    def add_fragment(self, frag: Fragment, *, adopt: bool = False) -> None:
        """Merge everything one file contributed.

        ``adopt``: the fragment was made for this builder alone (loaded from its stored form,
        whose models share no list or dict): the builder keeps its entities, edges, actions
        and owners as they are instead of copying them. Through the fragment, its caller then
        sees the builder's edits: the finalize steps and resolvers read ids there (and a
        Terraform resource's first evidence, which merging never changes).
        """
        for c in frag.components:
            self.add_entity(c, fresh=adopt)
            self.seen_by.setdefault(c.id, set()).add(frag.scanner)
        for r in frag.resources:
            self.add_entity(r, fresh=adopt)
            self.seen_by.setdefault(r.id, set()).add(frag.scanner)
        for e in frag.edges:
            self.add_edge(e, fresh=adopt)
        for a in frag.actions:
            self.add_action(a, fresh=adopt)
        for o in frag.owners:
            self.add_owner(o, fresh=adopt)
        self.commands.extend(frag.commands)
        self.references.extend(frag.references)
        self.secrets.extend(frag.secrets)
        self.warnings.extend(frag.warnings)

    def add_entity(self, ent: Entity, *, fresh: bool = False) -> Entity:
        """Add or merge a component/resource; returns the stored one.

        ``fresh``: the caller keeps no other hold on ``ent``'s containers, so a new entity is
        stored as it is instead of copied.
        """
        table: dict = self.components if isinstance(ent, Component) else self.resources
        existing = table.get(ent.id)
        if existing is None:
            table[ent.id] = ent if fresh else _own_entity(ent)
            self._index = None  # a new name to look up
            return table[ent.id]
        if "aliases" in ent.attributes and "aliases" not in existing.attributes:
            self._index = None  # merge_entity copies the alias names over
        merge_entity(existing, ent)
        return existing

    def add_edge(self, edge: Edge, *, fresh: bool = False) -> None:
        """Add an edge; duplicates merge their evidence.

        ``fresh``: the caller made ``edge`` for this call and keeps no reference to it or its
        evidence list, so it is stored as it is instead of copied.
        """
        if edge.source == edge.target:
            return
        key = (edge.source, edge.target, edge.kind)
        existing = self.edges.get(key)
        if existing is None:
            self.edges[key] = edge if fresh else copy_with(edge, evidence=list(edge.evidence))
            if self._edges_tracked:
                self._track_edge(key, self._next_seq)
                self._next_seq += 1
        else:
            # Grown in place (the builder owns the list), and ``via`` set only when it may
            # change: pydantic's ``__setattr__`` twice per duplicate was most of its merge.
            _extend_evidence(existing.evidence, edge.evidence)
            if not existing.via:
                existing.via = edge.via

    def _track_edge(self, key: tuple[str, str, str], seq: int) -> None:
        self._edge_seq[key] = seq
        self._edges_by_ent.setdefault(key[0], set()).add(key)
        self._edges_by_ent.setdefault(key[1], set()).add(key)

    def _untrack_edge(self, key: tuple[str, str, str]) -> int:
        for ent_id in (key[0], key[1]):
            keys = self._edges_by_ent.get(ent_id)
            if keys is not None:
                keys.discard(key)
        return self._edge_seq.pop(key)

    def _sync_edge_index(self) -> None:
        """Build the edge bookkeeping from the table if not kept yet, or if the table was
        replaced or edited directly."""
        if self._edges_tracked and len(self._edge_seq) == len(self.edges) and self._edges_table is self.edges:
            return
        self._edges_tracked = True
        self._edges_table = self.edges
        self._edge_seq, self._edges_by_ent = {}, {}
        for seq, key in enumerate(self.edges):
            self._track_edge(key, seq)
        self._next_seq = len(self.edges)

    def _refs_from(self, source: str) -> list[int]:
        """Positions of the references whose source is ``source`` (index kept up to date lazily)."""
        if self._refs_indexed > len(self.references):
            self._refs_by_source, self._refs_indexed = {}, 0  # the list was replaced
        for i in range(self._refs_indexed, len(self.references)):
            self._refs_by_source.setdefault(self.references[i].source, []).append(i)
        self._refs_indexed = len(self.references)
        return self._refs_by_source.get(source, [])

    def add_action(self, action: Action, *, fresh: bool = False) -> None:
        """Add an action class; a second sighting adds its commands and evidence.

        ``fresh``: the caller made ``action`` for this call and keeps no reference to it or
        its lists, so it is stored as it is instead of copied.
        """
        existing = self.actions.get(action.id)
        if existing is None:
            self.actions[action.id] = action if fresh else _own_action(action)
            return
        self.add_sighting(existing, action.commands, action.evidence, action.origin, action.command, action.tool)

    def add_sighting(self, existing: Action, commands: list[CommandRef], evidence: list[Evidence], origin: str,
                     command: str, tool: str) -> None:
        """What :meth:`add_action` does with an action of ``existing``'s id and these fields: for a
        caller that knows the action exists, without making the whole action only to merge it."""
        seen = self._merging(existing, evidence)
        # Checked against the commands stored before this call only (as one set built up front).
        fresh = [c for c in commands if (c.command, c.evidence) not in seen]
        existing.commands.extend(fresh)
        seen.update((c.command, c.evidence) for c in fresh)
        self._merged(existing, seen, origin, command, tool)

    def add_command_sighting(self, existing: Action, command: str, evidence: list[Evidence], origin: str,
                             tool: str) -> None:
        """:meth:`add_sighting` of the one command ``command`` seen at ``evidence[0]`` (``evidence``:
        that place and any more the sighting has), its ``CommandRef`` made only when it is new."""
        seen = self._merging(existing, evidence)
        size = len(seen)
        seen.add((command, evidence[0]))  # new if the set grew (one hash of the key, see _grow_evidence)
        if len(seen) > size:
            # Not validated again: a validated sighting's command and evidence.
            existing.commands.append(trusted(CommandRef, {"command": command, "evidence": evidence[0]},
                                             _COMMAND_REF_FIELDS_SET))
        self._merged(existing, seen, origin, command, tool)

    def _merging(self, existing: Action, evidence: list[Evidence]) -> set:
        """The start of a sighting's merge into ``existing``: its evidence grown, the keys of its
        commands so far (the caller adds the new ones to both)."""
        grown = self._grow_evidence(("action", existing.id), existing.evidence, evidence)
        if grown is not existing.evidence:  # after its first merge, the action's own list grew in place
            existing.evidence = grown
        return self._seen_commands(existing)

    def _merged(self, existing: Action, seen: set, origin: str, command: str, tool: str) -> None:
        """The end of a sighting's merge into ``existing``: its command keys kept for the next one."""
        self._command_keys[existing.id] = (existing.commands, len(existing.commands), seen)
        # A concrete sighting beats an implied one: the action really happens here.
        if existing.origin == "implied" and origin != "implied":
            existing.origin = origin
            existing.command = command
            existing.tool = tool

    def _seen_commands(self, act: Action) -> set:
        """The (command, evidence) keys of ``act``'s commands, kept between calls.

        An action sighted thousands of times (``kubectl get pods`` in every runbook) would
        otherwise rebuild this set on every sighting. Rebuilt if the list was replaced or
        changed outside :meth:`add_action`.
        """
        entry = self._command_keys.get(act.id)
        if entry is not None and entry[0] is act.commands and entry[1] == len(act.commands):
            return entry[2]
        return {(c.command, c.evidence) for c in act.commands}

    def add_owner(self, owner: Owner, *, fresh: bool = False) -> None:
        """Add an owner; a second sighting adds its evidence (``fresh``: as :meth:`add_edge`)."""
        existing = self.owners.get(owner.name)
        if existing is None:
            self.owners[owner.name] = owner if fresh else copy_with(owner, evidence=list(owner.evidence))
        else:
            # A team owns thousands of files: one union per file rebuilt its evidence set each time.
            existing.evidence = self._grow_evidence(("owner", owner.name), existing.evidence, owner.evidence)

    def add_environment(self, name: str, evidence: Iterable[Evidence]) -> None:
        """Record that environment ``name`` exists, seen at ``evidence`` (merged with what is known)."""
        self.environments[name] = self._grow_evidence(("environment", name), self.environments.get(name, []), evidence)

    def _grow_evidence(self, key: tuple[str, str], current: list[Evidence], more: Iterable[Evidence]) -> list[Evidence]:
        """``current`` with the items of ``more`` it lacks appended (what ``_union_evidence`` gives).

        The first union copies ``current`` into a list the builder owns; later ones append to
        it in place, checked against a set kept for it. The set is rebuilt if that list was
        replaced or changed outside this method (its identity or length differ).
        """
        entry = self._evidence_sets.get(key)
        if entry is None or entry[0] is not current or entry[1] != len(current):
            out = list(current)
            seen = set(out)
        else:
            out, _, seen = entry
        for ev in more:
            # Added, and kept if the set grew: one hash of ``ev`` (pydantic's __hash__ is a Python
            # call), not one for the test and another for the add.
            size = len(seen)
            seen.add(ev)
            if len(seen) > size:
                out.append(ev)
        self._evidence_sets[key] = (out, len(out), seen)
        return out

    def warn(self, path: str, message: str, line: int = 1, scanner: str = "") -> None:
        self.warnings.append(Warning(path=path, line=line, message=message, scanner=scanner))

    # -- lookups ----------------------------------------------------------------------
    def entity(self, ent_id: str) -> Entity | None:
        return self.components.get(ent_id) or self.resources.get(ent_id)

    def _slug(self, text: str) -> str:
        """``slug`` memoised per builder: the same few thousand names are looked up many times."""
        out = self._slugs.get(text)
        if out is None:
            out = self._slugs[text] = slug(text)
        return out

    def invalidate_index(self) -> None:
        """Forget the name index; call after renaming an entity or editing its ``aliases``."""
        self._index = None

    def _name_index(self) -> dict[str, list[Entity]]:
        """Slugged name and alias names -> entities, components first, each table in order.

        Rebuilt when an entity was added or aliased through the builder, or when the tables
        changed size behind its back (a scanner popping an entry), so lookups stay O(1).
        """
        size = len(self.components) + len(self.resources)
        if self._index is None or size != self._index_size:
            index: dict[str, list[Entity]] = {}
            for table in (self.components, self.resources):
                for ent in table.values():
                    keys = {self._slug(ent.name)}
                    aliases = ent.attributes.get("aliases")
                    if isinstance(aliases, list):
                        keys.update(self._slug(a.partition(":")[2]) for a in aliases)
                    per_env = ent.attributes.get("names_by_environment")
                    if isinstance(per_env, list):  # "prod: acme-prod-orders": the real names
                        keys.update(self._slug(n.partition(": ")[2]) for n in per_env if ": " in n)
                    for key in keys:
                        index.setdefault(key, []).append(ent)
            self._index, self._index_size = index, size
        return self._index

    def find_memo(self) -> dict:
        """A dict for a caller to remember what it worked out from :meth:`find` answers: emptied
        whenever those answers may change (the name index is rebuilt), so it is only valid until
        the builder's entities next change; ask for it again before each use."""
        index = self._index
        if index is None or self._index_size != len(self.components) + len(self.resources):
            index = self._name_index()
        if self._find_memo_of is not index:
            self._find_memo, self._find_memo_of = {}, index
        return self._find_memo

    def find(self, name: str, kind: str | None = None) -> list[Entity]:
        """Entities whose name (or slug) is ``name``, optionally of one kind."""
        # The index and slug lookups inlined (with the methods as fallback): find() runs ~60,000
        # times per 2,000 services, and the two method calls were a third of its cost.
        index = self._index
        if index is None or self._index_size != len(self.components) + len(self.resources):
            index = self._name_index()
        key = self._slugs.get(name)
        hits = index.get(key if key is not None else self._slug(name), ())
        if len(hits) <= 1:  # most names: no entity, or exactly one
            return [e for e in hits if not kind or e.kind == kind]
        # The index lists components before resources, so a stable sort by id keeps the
        # order a scan of both tables would give.
        return sorted((e for e in hits if not kind or e.kind == kind), key=lambda e: e.id)

    def merge_alias(self, alias_id: str, kept_id: str) -> None:
        """Fold entity ``alias_id`` into ``kept_id``: the same thing seen under another id.

        The kept entity gains the alias's evidence, owners, environments, data classes and
        facts, and records the alias id under ``attributes["aliases"]``; edges, actions and
        references that used the alias id are re-pointed (duplicates merge, self-edges drop).
        """
        alias = self.entity(alias_id)
        kept = self.entity(kept_id)
        if alias is None or kept is None or alias_id == kept_id:
            return
        merge_entity(kept, alias)
        if isinstance(kept, Component) and isinstance(alias, Component) and kept.image is None:
            kept.image = alias.image
        known = kept.attributes.get("aliases")
        names = sorted({*(known if isinstance(known, list) else []), alias_id})
        kept.attributes["aliases"] = names
        (self.components if isinstance(alias, Component) else self.resources).pop(alias_id, None)
        self.seen_by.setdefault(kept_id, set()).update(self.seen_by.pop(alias_id, set()))
        self._index = None
        self._repoint_edges(alias_id, kept_id)
        # Only the actions aimed at the alias move (few: linking runs later), in id order.
        for aid in sorted(aid for aid, act in self.actions.items() if act.target == alias_id):
            act = self.actions[aid]
            act.target = kept_id
            if aid.startswith(alias_id + "/"):
                del self.actions[aid]
                self.add_action(act.model_copy(update={"id": kept_id + aid[len(alias_id):]}))
        moved = self._refs_from(alias_id)
        for i in moved:
            self.references[i] = self.references[i].model_copy(update={"source": kept_id})
        if moved:
            self._refs_by_source[kept_id] = sorted([*self._refs_by_source.get(kept_id, []), *moved])
            del self._refs_by_source[alias_id]

    def _repoint_edges(self, alias_id: str, kept_id: str) -> None:
        """Re-point the edges touching ``alias_id`` at ``kept_id``; self-edges drop, duplicates merge.

        Gives what re-adding every edge in insertion order would: a merged edge keeps the
        ``via`` of the earliest of its parts and takes the earliest rank, so later merges fold
        in the same order. Only the edges touching the alias are visited.
        """
        self._sync_edge_index()
        groups: dict[tuple[str, str, str], list[tuple[int, Edge]]] = {}
        for key in sorted(self._edges_by_ent.pop(alias_id, set()), key=self._edge_seq.__getitem__):
            edge = self.edges.pop(key)
            seq = self._untrack_edge(key)
            src = kept_id if edge.source == alias_id else edge.source
            tgt = kept_id if edge.target == alias_id else edge.target
            if src == tgt:
                continue
            edge.source, edge.target = src, tgt
            groups.setdefault((src, tgt, edge.kind), []).append((seq, edge))
        for key, parts in groups.items():
            if key in self.edges:
                parts.append((self._untrack_edge(key), self.edges[key]))
                parts.sort(key=lambda p: p[0])
            seq, stored = parts[0]
            for _, other in parts[1:]:
                stored.evidence = _union_evidence(stored.evidence, other.evidence)
                stored.via = stored.via or other.via
            self.edges[key] = stored
            self._track_edge(key, seq)

    # -- linking ----------------------------------------------------------------------
    def resolve_references(self) -> None:
        """Turn name references into edges where exactly one target matches."""
        # The target's id (None: no single target) by (name, kind), worked out once: the
        # references repeat names (22,000 of them name 5,800 at 2,000 services), and no
        # entity changes here.
        targets: dict[tuple[str, str | None], str | None] = {}
        components, resources, edges = self.components, self.resources, self.edges
        for ref in self.references:
            source = ref.source
            if source not in components and source not in resources:  # self.entity(source) is None
                continue
            key = (ref.target_name, ref.target_kind)
            if key in targets:
                target = targets[key]
            else:
                target = targets[key] = self._reference_target(*key)
            if target is None or target == source:
                continue
            existing = edges.get((source, target, ref.edge_kind))
            if existing is not None:
                # add_edge's merge of a duplicate, without making the edge first (a fifth of
                # the references at 2,000 services repeat an edge).
                _extend_evidence(existing.evidence, (ref.evidence,))
                if not existing.via:
                    existing.via = ref.via
                continue
            # Not validated again: the fields of a validated reference and an entity's id.
            self.add_edge(trusted(Edge, {
                "source": source,
                "target": target,
                "kind": ref.edge_kind,
                "via": ref.via,
                "evidence": [ref.evidence],
            }, _EDGE_FIELDS_SET), fresh=True)

    def _reference_target(self, name: str, kind: str | None) -> str | None:
        """The id of the one entity a reference to ``name`` (of ``kind``, if given) means, if one."""
        matches = self.find(name, kind)
        if kind is None and len(matches) > 1:
            # Ambiguous across kinds: prefer resources (datastores) over components.
            res = [m for m in matches if isinstance(m, Resource)]
            matches = res if len(res) == 1 else matches
        return matches[0].id if len(matches) == 1 else None

    def record_environments(self) -> None:
        """Collect the environments entities live in, with evidence."""
        for table in (self.components, self.resources):
            for ent in table.values():
                for env in ent.environments:
                    srcs = [s for s in ent.environment_sources if s.environment == env]
                    if srcs:
                        self.add_environment(env, srcs[0].evidence[:1])
                        continue
                    evs = [f for f in ent.facts if f.name == "environment" and f.value == env]
                    self.add_environment(env, evs[0].evidence if evs else ent.evidence[:1])

    def set_fact(self, ent: Entity, name: str, value, evidence: list[Evidence], how: str | None = None) -> None:
        """Record a fact on ``ent`` unless the same (name, value) is already there."""
        if not any(f.name == name and f.value == value for f in ent.facts):
            ent.facts.append(Fact(name=name, value=value, evidence=list(evidence), how=how))

    # -- output -----------------------------------------------------------------------
    def build(self, *, consume: bool = False) -> Inventory:
        """A deterministic inventory: every list sorted, every item's evidence sorted.

        ``consume``: the builder is not used after this call, so its own items are sorted in
        place and handed over rather than copied (on a large estate the inventory would
        otherwise be held twice while it is built); its tables are emptied.
        """

        def updated(obj, fields: dict):  # type: ignore[no-untyped-def]
            if consume:
                obj.__dict__.update(fields)  # the fields norm() sets are all plain values
                return obj
            return obj.model_copy(update=fields)

        def ev_sorted(evs: list[Evidence]) -> list[Evidence]:
            if len(evs) < 2:  # most lists: nothing to dedupe or order (hashing Evidence is not free)
                return list(evs)
            return sorted(set(evs), key=_EVIDENCE_ORDER)

        if _c_evidence_sorted is not None:
            # The same, in C, for a list of Evidence (the rest as above): no Python hash per
            # item (pydantic's is a Python function) and no call per list.
            ev_sorted = partial(_c_evidence_sorted, Evidence, ev_sorted)  # noqa: F811

        # Copies made with one ``model_copy(update=...)`` each: every field norm() changes is
        # a new list/dict, and the facts it edits are copied, so the builder's own objects stay
        # as they were. (Assigning fields one by one on a copy went through pydantic's
        # ``__setattr__`` ten times per entity.)
        def norm(ent: Entity) -> Entity:
            attributes = ent.attributes
            data_classes = sorted(set(ent.data_classes))
            facts = ent.facts
            if ent.kind in NO_DATA_KINDS and data_classes:
                attributes = {**attributes, "grants_access_to": list(data_classes)}
                data_classes = []
                facts = [f for f in facts if f.name != "data_class"]
            facts = sorted((updated(f, {"evidence": ev_sorted(f.evidence)}) for f in facts),
                           key=lambda f: (f.name, str(f.value)))
            return updated(ent, {
                "evidence": ev_sorted(ent.evidence),
                "environments": sorted(set(ent.environments)),
                "environment_sources": sorted(
                    (updated(s, {"evidence": ev_sorted(s.evidence)}) for s in ent.environment_sources),
                    key=lambda s: (s.environment, s.resolver, s.how)),
                "data_classes": data_classes,
                "owners": sorted(set(ent.owners)),
                "labels": dict(sorted(ent.labels.items())),
                "attributes": dict(sorted(attributes.items())),
                "facts": facts,
            })

        if consume and _c_norm_entity is not None:
            # The same, in C, on the entity itself (ev_sorted: for an evidence list of anything
            # but Evidence): ~7,000 entities at 2,000 services, 0.074 s of Python, 0.041 s in C.
            def norm(ent: Entity) -> Entity:  # noqa: F811
                return _c_norm_entity(ent, Evidence, NO_DATA_KINDS, ev_sorted)  # type: ignore[no-any-return]

        # An action or edge that sorting would leave as it is (at most one evidence, command
        # and flag: most of the ~50k actions of a 2,000-service tree) goes into the inventory
        # as it is instead of as a copy (see below); the others are copied sorted. Each is held
        # once, by this builder only, which is not built on after build().
        def norm_action(a: Action) -> Action:
            return updated(a, {
                "evidence": ev_sorted(a.evidence),
                "commands": sorted(a.commands, key=_COMMAND_ORDER),
                "flags": dict(sorted(a.flags.items())),
            })

        # The actions and edges in the order of their keys in the builder's tables, which are
        # what they sort by (an action's id, an edge's (source, target, kind)): the keys are
        # sorted as they are, not read from each model again (half the time of sorting the models
        # by key on 56,000 actions). Which of them sorting would change is told from their
        # dicts, in C (by_sorted_key): on another thread, while the entities are normalised here
        # (sort_ahead: reading ~72,000 models from memory the CPU has not seen took ~45 ms at
        # 2,000 services). Nothing below changes an action or an edge until their turn.
        tables = ((self.actions, ("evidence", "commands", "flags")), (self.edges, ("evidence",)))
        ahead = _c_sort_ahead(tables) if _c_sort_ahead is not None and by_sorted_key is _c_by_sorted_key else None
        owners = [updated(o, {"evidence": ev_sorted(o.evidence)})
                  for o in sorted(self.owners.values(), key=lambda o: o.name)]
        warnings = sorted(
            {(w.path, w.line, w.message, w.scanner): w for w in self.warnings}.values(),
            key=lambda w: (w.path, w.line, w.message),
        )
        from inventory.model import Environment

        components = [norm(c) for _, c in sorted(self.components.items())]
        resources = [norm(r) for _, r in sorted(self.resources.items())]
        environments = [trusted(Environment, {"name": n, "evidence": ev_sorted(evs)})
                        for n, evs in sorted(self.environments.items())]
        secrets = ev_sorted(self.secrets)
        actions, marked = _c_sorted_ahead(ahead, 0) if ahead is not None else by_sorted_key(*tables[0])
        for i in marked:
            actions[i] = norm_action(actions[i])
        edges, marked = _c_sorted_ahead(ahead, 1) if ahead is not None else by_sorted_key(*tables[1])
        for i in marked:
            edges[i] = updated(edges[i], {"evidence": ev_sorted(edges[i].evidence)})
        del ahead

        # Not validated again: every item is a model of its list's type already, made or
        # validated on its way into the builder (the validation only copied each list, ~75,000
        # items at 2,000 services; and the first Inventory of a process built its validator).
        inv = trusted(Inventory, {
            "version": 1,
            "generator": "stackpolicy",
            "sources": list(self.sources),
            "components": components,
            "resources": resources,
            "edges": edges,
            "actions": actions,
            "owners": owners,
            "environments": environments,
            "unresolved": None,
            "secrets": secrets,
            "warnings": warnings,
        }, set(_BUILT_FIELDS))
        if consume:
            # Start empty again: an edit through the builder must not reach `inv`.
            self.__init__(sources=self.sources)  # type: ignore[misc]
        return inv
