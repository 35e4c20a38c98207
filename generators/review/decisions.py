"""Reviewer decisions: collected from reviewed markdown, kept across runs, re-applied by ID.

A field counts as a reviewer's decision when the reviewed file differs from the last
generated version (the merge base) in it, or when an earlier run already recorded it as a
decision and the reviewer has not changed it since. Decisions are stored in
``output/.stackpolicy/decisions.yaml`` so that a tier chosen once stays chosen even when the
risk model's floor for that action later moves.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from generators.documents.model import EvalSuite, Policy, PolicyAction
from generators.documents.policy import _agent_may  # the drafter's wording for a tier
from generators.review.parse import Parsed
from generators.risk.model import DECISION_FOR_TIER, Tier, max_tier, tier_index

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
    """Every reviewer decision, by action and case id, plus each document's sign-off."""

    model_config = ConfigDict(extra="forbid")

    actions: dict[str, ActionDecision] = Field(default_factory=dict)
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


def collect_actions(ours: Parsed | None, base: Parsed | None, stored: dict[str, ActionDecision],
                    fresh: Policy) -> dict[str, ActionDecision]:
    """Action decisions after this review round.

    ``ours`` is the reviewed file, ``base`` the last generated one (``None`` on the first
    merge), ``fresh`` the new draft (used as the reference when there is no base).
    """
    out = {k: v.model_copy() for k, v in stored.items()}
    if ours is None:
        return out
    generated = fresh.actions()
    for aid, row in ours.rows.items():
        prev = base.rows.get(aid) if base is not None else None
        dec = out.get(aid, ActionDecision())
        if prev is not None:
            ref_tier, ref_note, ref_approver = prev.tier, prev.note, prev.approver
        elif aid in generated:
            g = generated[aid]
            ref_tier, ref_note, ref_approver = g.tier, g.note, g.approver
        else:
            continue  # a row the generator never wrote: reported by `check`, kept by the text merge
        if row.tier != ref_tier and row.tier_valid:
            dec.tier = row.tier  # type: ignore[assignment]
        if row.note != ref_note:
            dec.note = row.note
        if row.approver != ref_approver:
            dec.approver = row.approver
        if dec.tier is not None or dec.note is not None or dec.approver is not None:
            out[aid] = dec
        else:
            out.pop(aid, None)
    return dict(sorted(out.items()))


def collect_cases(ours: Parsed | None, base: Parsed | None, stored: dict[str, CaseDecision],
                  fresh: EvalSuite | None) -> dict[str, CaseDecision]:
    """Case decisions (disabled, note) after this review round, like :func:`collect_actions`."""
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


def collect(ours_policy: Parsed | None, base_policy: Parsed | None, ours_evals: Parsed | None,
            base_evals: Parsed | None, stored: Decisions, policy: Policy, evals: EvalSuite | None) -> Decisions:
    """All decisions after this review round (see the module docstring)."""
    return Decisions(
        actions=collect_actions(ours_policy, base_policy, stored.actions, policy),
        cases=collect_cases(ours_evals, base_evals, stored.cases, evals),
        policy_signoff=_signoff(ours_policy) or dict(stored.policy_signoff),
        evals_signoff=_signoff(ours_evals) or dict(stored.evals_signoff),
    )


def _apply_action(a: PolicyAction, d: ActionDecision) -> PolicyAction:
    upd: dict[str, object] = {}
    flags = [f for f in a.flags if f not in ("reviewer-lowered", "reviewer-raised")]
    if d.approver is not None:
        upd["approver"] = d.approver
    if d.note is not None:
        upd["note"] = d.note
    tier = d.tier or a.tier
    if d.tier is not None and d.tier != a.tier:
        upd["tier"] = tier
        upd["decision"] = DECISION_FOR_TIER[tier]
        # The floor is the model's: a reviewer below it is flagged (``check`` wants a note).
        flags.append("reviewer-lowered" if tier_index(tier) < tier_index(a.floor) else "reviewer-raised")
    upd["agent_may"] = _agent_may(tier, d.approver or a.approver)  # type: ignore[arg-type]
    upd["flags"] = sorted(set(flags))
    return a.model_copy(update=upd)


def apply_to_policy(policy: Policy, decisions: Decisions) -> Policy:
    """``policy`` with every decision re-applied by action id, and the reviewers' sign-off."""
    systems = []
    for s in policy.systems:
        acts = [_apply_action(a, decisions.actions[a.id]) if a.id in decisions.actions else a for a in s.actions]
        top = max_tier(*(a.tier for a in acts)) if acts else s.highest_tier
        systems.append(s.model_copy(update={"actions": acts, "highest_tier": top}))
    meta = policy.meta.model_copy(update={k: v for k, v in decisions.policy_signoff.items() if k in SIGNOFF_FIELDS})
    return policy.model_copy(update={"systems": systems, "meta": meta})


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

