"""Reviewer decisions on the decision table: class and exception tiers, ``reviewed``, notes.

A reviewer edits a row of ``policy.md``; the decision is stored per class id (a row standing for
several environments stores one decision per class) or per exception row id, so it survives
regeneration and applies to every instance of the class, present and future. Applying decisions
writes them into the table (``tier`` != ``floor`` is an edit; a lowering counts only with
``reviewed``) and re-decides every instance through the one decide function, so the document,
``policy.yaml`` and ``classify --policy`` agree.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from generators.decision.model import ActionClass, DecisionTable, TableException, exception_id
from generators.documents.rowids import expand_class_row, is_exception_group
from generators.review.parse import Parsed, TableRow
from generators.risk.model import DECISION_FOR_TIER, Tier, max_tier, tier_index
from generators.risk.rules import Rules

FLAG_REVIEWER_RAISED = "reviewer-raised"
FLAG_REVIEWER_LOWERED = "reviewer-lowered"
FLAG_LOWER_UNREVIEWED = "lowering-needs-review"  # a lower tier written without Reviewed: yes (not applied)
FLAG_NEW = "new-since-approval"
REQUESTED = "requested-"  # + tier: what a reviewer asked for when it is not in force
_REVIEW_FLAGS = {FLAG_REVIEWER_RAISED, FLAG_REVIEWER_LOWERED, FLAG_LOWER_UNREVIEWED, FLAG_NEW}


class TierDecision(BaseModel):
    """What a reviewer decided for one class or exception; unset fields are the generator's."""

    model_config = ConfigDict(extra="forbid")

    tier: Tier | None = None
    reviewed: bool | None = None
    note: str | None = None

    def empty(self) -> bool:
        return self.tier is None and self.reviewed is None and self.note is None


def _ref_class(row_id: str, classes: Mapping[str, ActionClass]) -> tuple[str, bool, str | None] | None:
    """What the generator wrote for a class row (tier, reviewed, note), from the fresh table."""
    members = [classes[c] for c in expand_class_row(row_id) if c in classes]
    if not members:
        return None
    c = members[0]
    return c.tier, c.reviewed, c.note


def _members(row_id: str, table: DecisionTable) -> list[TableException]:
    """The exceptions an exception row stands for (a group row: the class's exceptions that share
    the group's deciding factors)."""
    class_id, _, rest = row_id.partition("!")
    if not is_exception_group(row_id):
        return [e for e in table.exceptions if e.id == row_id]
    factors = rest[1:].split("~", 1)[0]
    want = set(factors.split("+")) if factors != "target" else set()
    return [e for e in table.exceptions if e.class_id == class_id and set(e.deciding_factors) == want]


def _collect(ours: dict[str, TableRow], base: dict[str, TableRow] | None, stored: dict[str, TierDecision],
             ref, keys) -> dict[str, TierDecision]:
    out = {k: v.model_copy() for k, v in stored.items()}
    for rid, row in ours.items():
        prev = base.get(rid) if base is not None else None
        if prev is not None:
            ref_tier, ref_rev, ref_note = prev.tier, prev.reviewed, prev.note
        else:
            r = ref(rid)
            if r is None:
                continue  # a row the generator never wrote: `check` reports it, the text merge keeps it
            ref_tier, ref_rev, ref_note = r
        changed: dict[str, object] = {}
        if row.tier != ref_tier and row.tier_valid:
            changed["tier"] = row.tier
        if row.reviewed != ref_rev:
            changed["reviewed"] = row.reviewed
        if row.note != ref_note:
            changed["note"] = row.note
        if not changed:
            continue
        for key in keys(rid):
            dec = out.get(key, TierDecision()).model_copy(update=changed)
            if dec.empty():
                out.pop(key, None)
            else:
                out[key] = dec
    return dict(sorted(out.items()))


def collect_classes(ours: Parsed | None, base: Parsed | None, stored: dict[str, TierDecision],
                    fresh: DecisionTable) -> dict[str, TierDecision]:
    """Class decisions after this review round, by class id."""
    if ours is None:
        return dict(stored)
    classes = fresh.class_map()
    return _collect(ours.classes, base.classes if base is not None else None, stored,
                    lambda rid: _ref_class(rid, classes), expand_class_row)


def collect_exceptions(ours: Parsed | None, base: Parsed | None, stored: dict[str, TierDecision],
                       fresh: DecisionTable) -> dict[str, TierDecision]:
    """Exception decisions after this review round, by exception row id (a group row's decision
    applies to whoever is in the group when it is applied)."""
    if ours is None:
        return dict(stored)

    def ref(rid: str) -> tuple[str, bool, str | None] | None:
        members = _members(rid, fresh)
        if not members:
            return None
        return max_tier(*(e.tier for e in members)), all(e.reviewed for e in members), members[0].note

    def keys(rid: str) -> list[str]:
        if is_exception_group(rid):
            return [rid.split("~", 1)[0]]
        return [rid]

    return _collect(ours.exceptions, base.exceptions if base is not None else None, stored, ref, keys)


def _edit(tier: Tier, floor: Tier, reviewed: bool, flags: list[str]) -> tuple[Tier, list[str]]:
    """The tier a row gets from a reviewer's tier: raising always applies; lowering only when
    reviewed (otherwise the row keeps its floor and is flagged for ``check``)."""
    flags = [f for f in flags if f not in _REVIEW_FLAGS and not f.startswith(REQUESTED)]
    if tier_index(tier) > tier_index(floor):
        return tier, flags + [FLAG_REVIEWER_RAISED]
    if tier_index(tier) < tier_index(floor):
        if reviewed:
            return tier, flags + [FLAG_REVIEWER_LOWERED]
        return floor, flags + [FLAG_LOWER_UNREVIEWED, REQUESTED + tier]
    return tier, flags


def apply_decisions(table: DecisionTable, classes: Mapping[str, TierDecision],
                    exceptions: Mapping[str, TierDecision], new_classes: set[str] | None = None) -> DecisionTable:
    """``table`` with reviewer decisions written into its rows (instances are not re-decided
    here: see :func:`redecide`)."""
    new_classes = new_classes or set()
    out_classes = []
    for c in table.classes:
        d = classes.get(c.id)
        flags = [f for f in c.flags if f != FLAG_NEW]
        if d is None:
            if c.id in new_classes and not c.reviewed:
                flags.append(FLAG_NEW)
            out_classes.append(c if flags == c.flags else c.model_copy(update={"flags": sorted(flags)}))
            continue
        reviewed = c.reviewed if d.reviewed is None else d.reviewed
        # A reviewer's tier is measured against the model's floor, not against an earlier edit.
        tier, flags = _edit(d.tier or c.tier, c.floor, reviewed, flags)
        if c.id in new_classes and not reviewed:
            flags.append(FLAG_NEW)
        out_classes.append(c.model_copy(update={
            "tier": tier, "reviewed": reviewed, "note": d.note if d.note is not None else c.note,
            "flags": sorted(set(flags))}))
    by_id = {e.id: e for e in table.exceptions}
    for rid, d in exceptions.items():
        members = _members(rid, table)
        if not members and not is_exception_group(rid) and d.tier is not None:
            members = [_new_exception(rid, table)] if _new_exception(rid, table) is not None else []
        for e in members:
            e = by_id.get(e.id, e)
            reviewed = e.reviewed if d.reviewed is None else d.reviewed
            tier, flags = _edit(d.tier or e.tier, e.floor, reviewed, list(e.flags))
            by_id[e.id] = e.model_copy(update={
                "tier": tier, "reviewed": reviewed, "note": d.note if d.note is not None else e.note,
                "flags": sorted(set(flags))})
    return table.model_copy(update={"classes": out_classes, "exceptions": [by_id[k] for k in sorted(by_id)]})


def _new_exception(rid: str, table: DecisionTable) -> TableException | None:
    """An exception a decision names that the table does not have yet (a reviewer or an older
    per-action decision singled out one target of a class): its floor is the class's tier."""
    class_id, _, target = rid.partition("!")
    cls = table.class_map().get(class_id)
    if cls is None or not target:
        return None
    inst = next((i for i in cls.instances if i.target == target), None)
    if inst is None:
        return None
    return TableException(id=exception_id(class_id, target), class_id=class_id, target=target, tier=inst.tier,
                          floor=inst.tier, reason="singled out by a reviewer", deciding_factors=["reviewer"],
                          evidence=list(inst.evidence[:1]))


def is_edited(table: DecisionTable) -> bool:
    """Whether any class or exception is off the model's tier (an edit decide() must apply)."""
    return any(c.tier != c.floor for c in table.classes) or any(e.tier != e.floor for e in table.exceptions)


def redecide(table: DecisionTable, rules: Rules) -> DecisionTable:
    """Every instance's tier decided again over the (edited) table: commands by the classifier
    exactly as ``classify --policy policy.yaml`` runs it, actions in words by :func:`decide` on
    their class and target. Class rows keep their own tiers; an instance's tier is what an agent
    meets."""
    from generators.classify import Classifier, index_from_table
    from generators.decision.decide import Table, decide
    from generators.decision.facts import Facts

    indexed = Table(table)
    classifier = Classifier(rules, index_from_table(table), indexed)
    profiles = {t.id: t for t in table.targets}
    classes = []
    for c in table.classes:
        insts = []
        for i in c.instances:
            if i.is_command:
                tier = classifier.classify(i.command).tier
            else:
                facts = Facts(c.key, "", "", "", (), i.target, profiles.get(i.target or ""))
                tier = decide(facts, rules, indexed).tier
            insts.append(i if tier == i.tier else i.model_copy(update={"tier": tier}))
        classes.append(c.model_copy(update={"instances": insts}))
    return table.model_copy(update={"classes": classes})


def instance_tiers(table: DecisionTable) -> dict[str, Tier]:
    """Each inventory action's tier, by action id (from its instance)."""
    return {i.action: i.tier for c in table.classes for i in c.instances}


def decision_for(tier: Tier) -> str:
    """allow / ask / deny for a tier."""
    return DECISION_FOR_TIER[tier]
