"""Build the decision table from the inventory: every action becomes an instance of exactly
one class, classified by the same classifier agents meet, so the table shows for each
example command exactly the tier ``stackpolicy classify`` gives it.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from generators.decision.decide import decide
from generators.decision.facts import facts_of, profile_of
from generators.decision.factors import class_factors, describe_class, summarise
from generators.decision.model import (
    ActionClass,
    ClassKey,
    DecisionTable,
    Instance,
    ScriptBody,
    ScriptCommand,
    TableException,
    exception_id,
)
from generators.risk.assess import InventoryIndex, build_index, subject_for_action
from generators.risk.model import Assessment, max_tier
from generators.risk.rules import Rules, load_rules
from inventory.model import Action, Evidence, Inventory
from inventory.secrets import redact_text

# `<delete records or zone>`: words standing in for a command, not a command.
_PSEUDO_RE = re.compile(r"<[A-Za-z][^<>]*>")


def is_real_command(action: Action) -> bool:
    """Whether the action's representative command is a shell line an agent could run."""
    if action.origin == "openapi" or not action.command.strip():
        return False
    if action.origin == "implied" and action.description and action.command == action.description:
        return False
    return not _PSEUDO_RE.search(action.command)


def rules_digest(rules: Rules) -> str:
    """A short digest of the rule set the table was built with."""
    return "sha256:" + hashlib.sha256(rules.model_dump_json().encode()).hexdigest()[:16]


def sorted_evidence(evs: Iterable[Evidence]) -> list[Evidence]:
    """``evs`` without repeats, by path and line. Evidence is exactly (path, line), so a plain
    tuple key dedupes it (hashing the pydantic model costs far more, on every action)."""
    by_key = {(e.path, e.line): e for e in evs}
    return [by_key[k] for k in sorted(by_key)]


class Assessments(dict[str, Assessment]):
    """Assessments by action id, with the decision table they are instances of."""

    def __init__(self, table: DecisionTable, items: Mapping[str, Assessment],
                 verdicts: Mapping[str, Any] | None = None, grouping: Any = None,
                 index: InventoryIndex | None = None) -> None:
        super().__init__(items)
        self.table = table
        self.grouping = grouping  # the systems the table counts (documents.systems.Grouping)
        self.index = index  # the inventory index it resolved targets with
        # The lines the build classified (line -> Classification), decided without any table
        # edit: the eval drafter reuses them while the policy's table is unedited.
        self.verdicts = dict(verdicts or {})


def build_table(
    inv: Inventory,
    rules: Rules | None = None,
    env_patterns: Mapping[str, Iterable[str]] | None = None,
    system_of: Mapping[str, str] | None = None,
    index: InventoryIndex | None = None,
    classifier: Any = None,
) -> tuple[DecisionTable, dict[str, Assessment]]:
    """The decision table of ``inv`` and, per action, its assessment (the instance's tier).

    ``system_of`` maps entity ids to the documents' systems (for counts per class).
    ``classifier``: the :class:`generators.classify.Classifier` (``rules``, ``index``, no table)
    to classify the actions' command lines with, when the caller wants its verdicts afterwards.
    """
    from generators.classify import Classifier

    rules = rules or load_rules()
    index = index or (classifier.index if classifier is not None else None) or build_index(inv, env_patterns)
    system_of = system_of or {}
    classifier = classifier or Classifier(rules, index, match_actions=False)
    by_class: dict[str, list[Instance]] = defaultdict(list)
    tools: dict[str, set[str]] = defaultdict(set)
    keys: dict[str, ClassKey] = {}
    exceptions: dict[tuple[str, str], TableException] = {}
    assessments: dict[str, Assessment] = {}
    for action in sorted(inv.actions, key=lambda a: a.id):
        entity = index.entities.get(action.target) if action.target else None
        real = is_real_command(action)
        if real:
            c = classifier.classify(action.command)
            top = next((r for r in c.commands if r.tier == c.tier), None)
            if top is None:  # unparseable: the unknown class decides
                real = False
        if real:
            target = top.matched_target
            ent = index.entities.get(target) if target else None
            key = ClassKey.parse(top.action_class)
            tier, cmd_tier = c.tier, top.tier
            class_tier = max_tier(*(f.tier for f in class_factors(key, rules)))
            assessments[action.id] = Assessment(
                action_id=action.id, class_id=key.id, tier=tier, verb_class=top.verb_class, factors=top.factors,
                deciding=list(dict.fromkeys(f.name for f in top.factors if f.tier == tier)),
                rationale=" | ".join(c.reasons) or top.rationale, environment=top.environment, target=target)
        else:
            ent = entity
            facts = facts_of(subject_for_action(action, entity), rules, index, entity)
            r = decide(facts, rules)
            key, tier, target, class_tier = facts.key, r.tier, facts.target, r.class_tier
            cmd_tier = tier
            assessments[action.id] = Assessment(
                action_id=action.id, class_id=key.id, tier=tier, verb_class=key.verb_class, factors=r.factors,
                deciding=r.deciding, rationale=r.rationale, environment=key.environment, target=target)
        keys[key.id] = key
        tools[key.id].add(action.tool)
        by_class[key.id].append(Instance(
            action=action.id, target=target, system=system_of.get(target or ""),
            command=action.command, is_command=real, tier=tier, evidence=sorted_evidence(action.evidence)[:3]))
        # The target's own factors moved it off its class's tier: an exception reviewers see.
        if target is not None and cmd_tier != class_tier and (key.id, target) not in exceptions:
            a = assessments[action.id]
            exceptions[(key.id, target)] = TableException(
                id=exception_id(key.id, target), class_id=key.id, target=target, tier=cmd_tier, floor=cmd_tier,
                reason=a.rationale, deciding_factors=list(a.deciding),
                evidence=sorted_evidence(ent.evidence)[:3] if ent is not None else [])
    classes = []
    for cid in sorted(by_class):
        key = keys[cid]
        factors = class_factors(key, rules)
        tier, deciding, rationale = summarise(factors, rules)
        insts = by_class[cid]
        classes.append(ActionClass(
            id=cid, verb_class=key.verb_class, kind=key.kind, environment=key.environment, scope=key.scope,
            sensitive=key.sensitive, tier=tier, floor=tier, rule=describe_class(key, rules), rationale=rationale,
            deciding_factors=deciding, factors=factors, tools=sorted(tools[cid]),
            systems=sorted({i.system for i in insts if i.system}), instances=insts))
    targets = [
        profile_of(e, index).model_copy(update={"system": system_of.get(e.id)})
        for e in sorted(index.entities.values(), key=lambda e: e.id)
    ]
    table = DecisionTable(
        rules_digest=rules_digest(rules), classes=classes,
        exceptions=[exceptions[k] for k in sorted(exceptions)], targets=targets,
        namespaces=dict(sorted(index.namespace_env.items())), scripts=script_bodies(index))
    return table, assessments


def script_bodies(index: InventoryIndex) -> list[ScriptBody]:
    """The scripts a call can run and what each runs, from the inventory (``index.scripts``),
    sorted by path and line. Inventory commands are already redacted; masking again is a
    last line of defence (idempotent)."""
    return [ScriptBody(path=path, commands=[ScriptCommand(line=n, command=redact_text(cmd)[0]) for n, cmd in lines])
            for path, lines in sorted(index.scripts.bodies.items())]
