"""The compact, per-system view of the inventory a prompt receives (never raw files).

A slice holds one system's entities and actions with the risk model's floors; scanned text
(commands, API descriptions) goes into ``quoted`` so the template fences it as untrusted.
Large systems are split into parts of at most :data:`MAX_ACTIONS_PER_PROMPT` actions, which
bounds every prompt whatever the repository size (see docs/llm.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generators.documents.model import EvalCase, Policy, PolicySystem
from inventory.model import Inventory

MAX_ACTIONS_PER_PROMPT = 40
MAX_CASES_PER_PROMPT = 20
MAX_EVAL_ACTIONS = 20  # actions shown with an eval part: the cases' first actions first
MAX_ENTITIES = 25
MAX_EVIDENCE_PER_ITEM = 4
MAX_QUOTE_CHARS = 300
MAX_SIGHTINGS = 2
MAX_LIST = 15  # dependents of a shared cluster can number in the thousands; a sample is enough


@dataclass
class Slice:
    """One prompt's worth of a system. ``key`` is ``<sid>`` or ``<sid>#<part>``."""

    key: str
    system_id: str
    view: dict[str, Any]  # what the template sees as ``s``
    action_ids: list[str]
    floors: dict[str, str]  # action id -> floor tier
    evidence: set[str] = field(default_factory=set)  # every path:line the slice shows
    cases: list[EvalCase] = field(default_factory=list)


def _clip(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _capped(ids: list[str]) -> list[str]:
    return ids if len(ids) <= MAX_LIST else [*ids[:MAX_LIST], f"... and {len(ids) - MAX_LIST} more"]


def _ev(items: list[Any]) -> list[str]:
    # By (path, line) tuples: hashing the frozen models themselves costs more than the rest of a slice.
    return [f"{p}:{n}" for p, n in sorted({(e.path, e.line) for e in items})[:MAX_EVIDENCE_PER_ITEM]]


@dataclass(frozen=True)
class PlannedSlice:
    """A slice not built yet: its key, its size (actions or cases: the prompt's and the
    answer's length grow with it), and how to build it. A run builds slices just ahead of
    the calls that need them, so the first call does not wait for every slice."""

    key: str
    system_id: str
    size: int
    build: Callable[[], Slice]


def system_slices(policy: Policy, inv: Inventory) -> list[Slice]:
    """A slice per system (split into parts when it has many actions), in policy order."""
    return [p.build() for p in system_slice_plan(policy, inv)]


def system_slice_plan(policy: Policy, inv: Inventory) -> list[PlannedSlice]:
    """:func:`system_slices`, unbuilt (same keys, same order)."""
    entities = inv.entities()
    actions = {a.id: a for a in inv.actions}
    dependents: dict[str, list[str]] = {}
    for s in policy.systems:
        for d in s.depends_on:
            dependents.setdefault(d, []).append(s.id)
    out: list[PlannedSlice] = []
    seen: dict[str, tuple[dict[str, Any], list[str]]] = {}  # entity views, shared by a system's parts
    for s in policy.systems:
        if not s.actions:
            continue
        chunks = [s.actions[i:i + MAX_ACTIONS_PER_PROMPT] for i in range(0, len(s.actions), MAX_ACTIONS_PER_PROMPT)]
        for n, chunk in enumerate(chunks, start=1):
            key = s.id if len(chunks) == 1 else f"{s.id}#{n}"

            def build(key: str = key, s: PolicySystem = s, chunk: list[Any] = chunk) -> Slice:
                return _slice(key, s, chunk, entities, actions, sorted(dependents.get(s.id, [])), seen)

            out.append(PlannedSlice(key, s.id, len(chunk), build))
    return out


def _entity_view(e: Any) -> tuple[dict[str, Any], list[str]]:
    ev = _ev(e.evidence)
    return {"id": e.id, "kind": e.kind, "subtype": e.subtype, "environments": e.environments,
            "replicas": e.replicas, "stateful": e.stateful, "deletion_protection": e.deletion_protection,
            "data_classes": e.data_classes, "evidence": ev}, ev


def _slice(key: str, s: PolicySystem, rows: list[Any], entities: dict[str, Any], actions: dict[str, Any],
           dependents: list[str], seen: dict[str, tuple[dict[str, Any], list[str]]] | None = None) -> Slice:
    # ``seen``: entity views already built for this plan. Every part of a split system shows the
    # same entities, and an entity's evidence can run to hundreds of items (read-only: shared).
    evidence: set[str] = set()
    ents = []
    for eid in [s.id, *s.resources][:MAX_ENTITIES]:
        e = entities.get(eid)
        if e is None:
            continue
        if seen is None:
            view, ev = _entity_view(e)
        elif (cached := seen.get(eid)) is not None:
            view, ev = cached
        else:
            view, ev = seen[eid] = _entity_view(e)
        evidence.update(ev)
        ents.append(view)
    acts, quoted = [], []
    for row in rows:
        ev = _ev(row.evidence)
        evidence.update(ev)
        acts.append({"id": row.id, "title": row.title, "origin": row.origin, "tool": row.tool,
                     "environment": row.environment, "floor": row.floor, "rationale": row.rationale, "evidence": ev})
        inv_action = actions.get(row.id)
        lines = [f"command: {row.command}"]
        if inv_action is not None:
            seen = {row.command}
            for c in inv_action.commands:
                if c.command not in seen and len(seen) <= MAX_SIGHTINGS:
                    seen.add(c.command)
                    lines.append(f"also seen at {c.evidence}: {c.command}")
                    evidence.add(str(c.evidence))
            if inv_action.description:
                lines.append(f"description: {inv_action.description}")
        quoted.append({"action_id": row.id, "label": f"for `{row.id}`", "text": _clip("\n".join(lines), MAX_QUOTE_CHARS * 2)})
    view = {"id": s.id, "name": s.name, "kind": s.kind, "summary": _clip(s.summary, MAX_QUOTE_CHARS * 2),
            "environments": s.environments, "owners": s.owners[:MAX_LIST],
            "depends_on": _capped(s.depends_on), "dependents": _capped(dependents), "entities": ents,
            "actions": acts, "quoted": quoted}
    return Slice(key=key, system_id=s.id, view=view, action_ids=[r.id for r in rows],
                 floors={r.id: r.floor for r in rows}, evidence=evidence)


def eval_slices(policy: Policy, inv: Inventory, cases: list[EvalCase]) -> list[Slice]:
    """Slices for the eval prompts: each system's facts, the actions its cases use, and the cases
    (split into parts of at most :data:`MAX_CASES_PER_PROMPT`)."""
    return [p.build() for p in eval_slice_plan(policy, inv, cases)]


def eval_slice_plan(policy: Policy, inv: Inventory, cases: list[EvalCase]) -> list[PlannedSlice]:
    """:func:`eval_slices`, unbuilt (same keys, same order)."""
    entities = inv.entities()
    actions = {a.id: a for a in inv.actions}
    systems = {s.id: s for s in policy.systems}
    by_system: dict[str, list[EvalCase]] = {}
    for c in cases:
        by_system.setdefault(c.system, []).append(c)
    out: list[PlannedSlice] = []
    seen: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for sid, cs in by_system.items():
        s = systems.get(sid)
        if s is None:
            continue
        chunks = [cs[i:i + MAX_CASES_PER_PROMPT] for i in range(0, len(cs), MAX_CASES_PER_PROMPT)]
        for n, chunk in enumerate(chunks, start=1):
            key = sid if len(chunks) == 1 else f"{sid}#{n}"

            def build(key: str = key, s: PolicySystem = s, chunk: list[EvalCase] = chunk) -> Slice:
                return _eval_slice(key, s, chunk, entities, actions, seen)

            out.append(PlannedSlice(key, sid, len(chunk), build))
    return out


def _eval_slice(key: str, s: PolicySystem, chunk: list[EvalCase], entities: dict[str, Any],
                actions: dict[str, Any], seen: dict[str, tuple[dict[str, Any], list[str]]] | None = None) -> Slice:
    first = {c.action_ids[0] for c in chunk if c.action_ids}
    wanted = {a for c in chunk for a in c.action_ids}
    rows = sorted((a for a in s.actions if a.id in wanted), key=lambda a: (a.id not in first, a.id))
    # Back in the system's own order (a position map: `list.index` compares whole models).
    kept = {id(a) for a in rows[:MAX_EVAL_ACTIONS]}
    rows = [a for a in s.actions if id(a) in kept]
    sl = _slice(key, s, rows, entities, actions, [], seen)
    sl.evidence |= {str(e) for c in chunk for e in c.evidence}
    sl.cases = chunk
    return sl
