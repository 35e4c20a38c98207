"""Reviewer decisions: collected from reviewed markdown, kept across runs, re-applied by ID.

Policy decisions are on the decision table: a class's or an exception's tier, ``reviewed`` and
note (:mod:`generators.review.tables`). Decisions stored by older versions per action are
carried over as exceptions (the action's class and target) or, without a target, as its class.

A field counts as a reviewer's decision when the reviewed file differs from the last
generated version (the merge base) in it, or when an earlier run already recorded it as a
decision and the reviewer has not changed it since. Decisions are stored in
``output/.stackpolicy/decisions.yaml`` so that a tier chosen once stays chosen even when the
risk model's floor for that action later moves.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from generators.documents.model import EvalSuite, Policy
from generators.documents.compact import agent_may as _agent_may
from generators.documents.policy import draft_summary  # the drafter's wording
from generators.documents.rowids import expand_class_row
from generators.review.parse import Parsed
from generators.review.tables import (
    TierDecision,
    apply_decisions,
    collect_classes,
    collect_exceptions,
    instance_tiers,
    is_edited,
    redecide,
)
from generators.risk.model import DECISION_FOR_TIER, Tier, max_tier, tier_index
from generators.risk.rules import Rules, load_rules

SIGNOFF_FIELDS = ("status", "reviewers", "reviewed_on")
_STATUSES = ("draft", "in-review", "approved")


class ActionDecision(BaseModel):
    """What a reviewer decided for one action; unset fields are the generator's."""

    model_config = ConfigDict(extra="forbid")

    tier: Tier | None = None
    note: str | None = None
    approver: str | None = None


class CaseDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: bool | None = None
    note: str | None = None


class Decisions(BaseModel):
    """Every reviewer decision, by class, exception and case id, plus each document's sign-off."""

    model_config = ConfigDict(extra="forbid")

    classes: dict[str, TierDecision] = Field(default_factory=dict)
    exceptions: dict[str, TierDecision] = Field(default_factory=dict)
    new_classes: list[str] = Field(default_factory=list)  # appeared after approval; not yet reviewed
    actions: dict[str, ActionDecision] = Field(default_factory=dict)  # older, per-action decisions
    cases: dict[str, CaseDecision] = Field(default_factory=dict)
    policy_signoff: dict[str, object] = Field(default_factory=dict)
    evals_signoff: dict[str, object] = Field(default_factory=dict)


def _signoff(ours: Parsed | None) -> dict[str, object]:
    if ours is None:
        return {}
    out: dict[str, object] = {}
    status = ours.meta.get("status")
    if status in _STATUSES:
        out["status"] = status
    reviewers = ours.meta.get("reviewers")
    if isinstance(reviewers, list) and all(isinstance(r, str) for r in reviewers):
        out["reviewers"] = list(reviewers)
    date = ours.meta.get("reviewed_on")
    if date is not None:
        out["reviewed_on"] = str(date)
    return out


def collect_cases(ours: Parsed | None, base: Parsed | None, stored: dict[str, CaseDecision],
                  fresh: EvalSuite | None) -> dict[str, CaseDecision]:
    """Case decisions (disabled, note) after this review round."""
    out = {k: v.model_copy() for k, v in stored.items()}
    if ours is None:
        return out
    generated = {c.id: c for c in fresh.cases} if fresh is not None else {}
    for cid, case in ours.cases.items():
        prev = base.cases.get(cid) if base is not None else None
        if prev is not None:
            ref_disabled, ref_note = prev.disabled, prev.note
        elif cid in generated:
            ref_disabled, ref_note = generated[cid].disabled, generated[cid].note
        else:
            continue
        dec = out.get(cid, CaseDecision())
        if case.disabled != ref_disabled:
            dec.disabled = case.disabled
        if case.note != ref_note:
            dec.note = case.note
        if dec.disabled is not None or dec.note is not None:
            out[cid] = dec
    return dict(sorted(out.items()))


def _new_classes(ours: Parsed | None, base: Parsed | None, stored: list[str], classes: dict[str, TierDecision],
                 policy: Policy, signoff: dict[str, object]) -> list[str]:
    """Classes that appeared after the policy was approved and no reviewer has marked reviewed."""
    current = {c.id for c in policy.table.classes}
    out = {c for c in stored if c in current}
    before = base or ours
    if signoff.get("status") == "approved" and before is not None and before.classes:
        known = {cid for rid in before.classes for cid in expand_class_row(rid)}
        out |= current - known
    return sorted(c for c in out if not (classes.get(c) and classes[c].reviewed))


def _migrate_actions(stored: Decisions, policy: Policy) -> tuple[dict[str, TierDecision], dict[str, TierDecision]]:
    """Per-action decisions of older versions as class and exception decisions: an action's tier
    is its target's exception in its class (its class, when it has no target)."""
    classes, exceptions = dict(stored.classes), dict(stored.exceptions)
    where = {i.action: (c.id, i.target) for c in policy.table.classes for i in c.instances}
    for aid, d in stored.actions.items():
        if aid not in where or (d.tier is None and d.note is None):
            continue
        cid, target = where[aid]
        key, into = (f"{cid}!{target}", exceptions) if target else (cid, classes)
        if key in into:
            continue  # a decision on the table itself wins
        into[key] = TierDecision(tier=d.tier, reviewed=True if d.note and d.tier else None, note=d.note)
    return classes, exceptions


def collect(ours_policy: Parsed | None, base_policy: Parsed | None, ours_evals: Parsed | None,
            base_evals: Parsed | None, stored: Decisions, policy: Policy, evals: EvalSuite | None) -> Decisions:
    """All decisions after this review round (see the module docstring)."""
    signoff = _signoff(ours_policy) or dict(stored.policy_signoff)
    migrated = _migrate_actions(stored, policy)
    classes = collect_classes(ours_policy, base_policy, migrated[0], policy.table)
    return Decisions(
        classes=classes,
        exceptions=collect_exceptions(ours_policy, base_policy, migrated[1], policy.table),
        new_classes=_new_classes(ours_policy, base_policy, stored.new_classes, classes, policy, signoff),
        # Per-action rows are gone from the document; their decisions now live on the table.
        actions={},
        cases=collect_cases(ours_evals, base_evals, stored.cases, evals),
        policy_signoff=signoff,
        evals_signoff=_signoff(ours_evals) or dict(stored.evals_signoff),
    )


def apply_table(policy: Policy, decisions: Decisions, rules: Rules | None = None) -> Policy:
    """``policy`` with the reviewers' class and exception decisions in its table, every instance
    re-decided when any tier moved, and the per-system listing following the instances."""
    table = apply_decisions(policy.table, decisions.classes, decisions.exceptions, set(decisions.new_classes))
    if table == policy.table:
        return policy
    if is_edited(table) or is_edited(policy.table):
        table = redecide(table, rules or load_rules())
    return sync_rows(policy, table, "reviewer")


def sync_rows(policy: Policy, table, who: str) -> Policy:
    """``policy`` carrying ``table``; each per-system action whose instance's tier moved (from
    ``policy.table`` to ``table``) takes the new tier, flagged ``<who>-raised`` / ``<who>-lowered``
    where it is off the model's floor."""
    before = instance_tiers(policy.table)
    tiers = {k: v for k, v in instance_tiers(table).items() if before.get(k) != v}
    systems = []
    for s in policy.systems:
        acts = []
        for a in s.actions:
            t = tiers.get(a.id)
            if t is None or t == a.tier:
                acts.append(a)
                continue
            flags = [f for f in a.flags if f not in (f"{who}-lowered", f"{who}-raised")]
            if t != a.floor:
                flags.append(f"{who}-lowered" if tier_index(t) < tier_index(a.floor) else f"{who}-raised")
            acts.append(a.model_copy(update={"tier": t, "decision": DECISION_FOR_TIER[t],
                                             "agent_may": _agent_may(t, a.approver), "flags": sorted(set(flags))}))
        top = max_tier(*(a.tier for a in acts)) if acts else s.highest_tier
        systems.append(s.model_copy(update={"actions": acts, "highest_tier": top}))
    return policy.model_copy(update={"table": table, "systems": systems})


def apply_to_policy(policy: Policy, decisions: Decisions, rules: Rules | None = None) -> Policy:
    """``policy`` with every decision re-applied (table rows by class and exception id), and the
    reviewers' sign-off."""
    edited = apply_table(policy, decisions, rules)
    meta = policy.meta.model_copy(update={k: v for k, v in decisions.policy_signoff.items() if k in SIGNOFF_FIELDS})
    upd: dict[str, object] = {"meta": meta}
    if edited.table != policy.table:  # class counts moved: the summary says what the table says
        upd["summary"] = draft_summary(edited.systems, edited.questions, edited.tiers, meta, edited.table)
    return edited.model_copy(update=upd)


def apply_to_evals(suite: EvalSuite, decisions: Decisions) -> EvalSuite:
    """``suite`` with case decisions (disabled, note) re-applied by id, and the sign-off."""
    cases = []
    for c in suite.cases:
        d = decisions.cases.get(c.id)
        if d is None:
            cases.append(c)
            continue
        upd: dict[str, object] = {}
        if d.disabled is not None:
            upd["disabled"] = d.disabled
        if d.note is not None:
            upd["note"] = d.note
        cases.append(c.model_copy(update=upd))
    meta = suite.meta.model_copy(update={k: v for k, v in decisions.evals_signoff.items() if k in SIGNOFF_FIELDS})
    return suite.model_copy(update={"cases": cases, "meta": meta})

