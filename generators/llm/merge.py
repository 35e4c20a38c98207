"""Merge validated answers into the offline drafts, enforcing the safety floor.

A model may raise a tier; it may not lower one below the risk model's floor. A lower tier
(``tier`` below the floor, or ``proposed_lower_tier``) keeps the floor and becomes a
flagged :class:`Question` for reviewers carrying the model's reasoning. A system whose
answer failed validation keeps its offline draft and says so in the document.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from generators.documents.model import EvalCase, EvalSuite, Policy, PolicyAction, PolicySystem, Question
from generators.decision.model import TableException, exception_id
from generators.documents.compact import agent_may as _agent_may
from generators.documents.policy import draft_summary, order_questions
from generators.review.decisions import sync_rows
from generators.review.tables import redecide
from generators.risk.rules import Rules, load_rules
from generators.llm.schema import ActionAnswer, EvalAnswer, PolicyAnswer
from generators.risk.model import DECISION_FOR_TIER, max_tier, tier_index
from inventory.model import Evidence

FLAG_PROPOSED_LOWER = "llm-proposed-lower"
FLAG_RAISED = "llm-raised"


@dataclass
class Fallback:
    """A system the model could not answer validly: the reason is shown in the document."""

    system_id: str
    reason: str


def _evidence(items: list[str], base: list[Evidence]) -> list[Evidence]:
    # Keyed by (path, line), the models' own equality: most cited items are already in ``base``,
    # and building or hashing a model per item is most of a merge's time on a large estate.
    out = {(e.path, e.line): e for e in base}
    for s in items:
        path, _, line = s.rpartition(":")
        if path and line.isdigit() and int(line) >= 1 and (path, int(line)) not in out:
            out[(path, int(line))] = Evidence(path=path, line=int(line))
    return [out[k] for k in sorted(out)]


def _lower_question(row: PolicyAction, proposed: str, reason: str, sid: str, label: str) -> Question:
    return Question(
        id=f"{FLAG_PROPOSED_LOWER}:{row.id}", system=sid, action_id=row.id,
        question=f"{label} proposes {proposed} for `{row.id}` (risk model floor {row.floor}). Lower it?",
        reason=f"kept at {row.floor} until a reviewer decides; the model's reasoning: {reason.strip() or 'none given'}",
        evidence=row.evidence[:3])


def apply_action(row: PolicyAction, ans: ActionAnswer, sid: str, label: str) -> tuple[PolicyAction, Question | None]:
    """One row with the model's answer applied under the floor; plus a reviewer question if it tried to lower."""
    floor = row.floor
    wanted = ans.tier
    question = None
    flags = list(row.flags)
    proposal = ans.proposed_lower_tier if ans.proposed_lower_tier and tier_index(ans.proposed_lower_tier) < tier_index(floor) else None
    if tier_index(wanted) < tier_index(floor):
        proposal = wanted  # a lowering in the tier itself is a proposal, never applied
    tier = max_tier(wanted, floor)
    if proposal is not None:
        question = _lower_question(row, proposal, ans.lower_reason or ans.rationale, sid, label)
        flags.append(FLAG_PROPOSED_LOWER)
    raised = tier_index(tier) > tier_index(floor)
    if raised:
        flags.append(FLAG_RAISED)
    kept_text = tier == wanted  # the model's prose describes the tier it asked for
    return row.model_copy(update={
        "tier": tier,
        "decision": DECISION_FOR_TIER[tier],
        "rationale": ans.rationale if kept_text else row.rationale,
        "agent_may": ans.agent_may if kept_text else _agent_may(tier, row.approver),
        "approver": row.approver if tier in ("T2", "T3") else None,
        "deciding_factors": row.deciding_factors + (["llm"] if raised else []),
        "evidence": _evidence(ans.evidence, row.evidence),
        "flags": sorted(set(flags)),
    }), question


# Rows already applied while the calls ran (action id -> the answer, the draft row, and what
# apply_action made of them); merge_policy reuses an entry only for that same answer and row.
Applied = dict[str, tuple[ActionAnswer, PolicyAction, PolicyAction, Question | None]]


def merge_policy(draft: Policy, answers: dict[str, list[PolicyAnswer]], fallbacks: dict[str, Fallback],
                 label: str, rules: Rules | None = None, applied: Applied | None = None) -> Policy:
    """The policy with every answered system refined and every failed one visibly offline.

    ``answers`` holds, per system id, the answers of all its parts; a system appears in
    either ``answers`` or ``fallbacks`` (or neither: no prompt, e.g. no actions).
    """
    systems: list[PolicySystem] = []
    questions = list(draft.questions)
    extra: list[Question] = []
    for s in draft.systems:
        if s.id in fallbacks:
            reason = fallbacks[s.id].reason
            systems.append(s.model_copy(update={
                "drafted_by": f"offline (fallback: {reason})",
                "summary": s.summary + f" **Drafted offline: {label} could not produce a valid answer ({reason}); "
                                       "tiers are the risk model's floors.**"}))
            continue
        parts = answers.get(s.id)
        if not parts:
            systems.append(s)
            continue
        by_id = {a.id: a for p in parts for a in p.actions}
        rows = []
        for row in s.actions:
            ans = by_id.get(row.id)
            if ans is None:
                rows.append(row)
                continue
            pre = applied.get(row.id) if applied else None
            if pre is not None and pre[0] is ans and pre[1] is row:
                new, q = pre[2], pre[3]
            else:
                new, q = apply_action(row, ans, s.id, label)
            rows.append(new)
            if q is not None:
                extra.append(q)
        rows.sort(key=lambda a: (tier_index(a.tier), a.id))
        for n, q in enumerate((q for p in parts for q in p.questions), start=1):
            extra.append(Question(id=f"llm:{s.id}:{n}", system=s.id, action_id=q.action_id, question=q.question,
                                  reason=q.reason, evidence=[]))
        summary = " ".join(p.summary.strip() for p in parts if p.summary.strip()) or s.summary
        systems.append(s.model_copy(update={
            "actions": rows, "summary": summary, "drafted_by": label,
            "highest_tier": max_tier(*(a.tier for a in rows)) if rows else s.highest_tier}))
    policy = fold_into_table(draft.model_copy(update={"systems": systems}), label, rules)
    all_q = order_questions(questions + group_lower_proposals(extra, policy, label))
    summary = draft_summary(policy.systems, all_q, draft.tiers, draft.meta, policy.table)
    if fallbacks:
        summary.append(f"{len(fallbacks)} system{'s' if len(fallbacks) != 1 else ''} fell back to the offline "
                       "drafter after failed validation: " + ", ".join(sorted(fallbacks)) + ".")
    return policy.model_copy(update={"questions": all_q, "summary": summary})


def fold_into_table(policy: Policy, label: str, rules: Rules | None = None) -> Policy:
    """The model's raised actions written into the decision table, so classify, the hook and the
    exports enforce them: a raised action with a target becomes an exception for its class and
    target (the tier only rises: the highest raise wins); one without a target raises its whole
    class. Every instance is then re-decided, and the per-system actions follow."""
    table = policy.table
    where = {i.action: (c.id, i) for c in table.classes for i in c.instances}
    classes = table.class_map()
    exceptions = {e.id: e for e in table.exceptions}
    changed = False
    for row in (a for s in policy.systems for a in s.actions):
        if FLAG_RAISED not in row.flags or row.id not in where:
            continue
        class_id, inst = where[row.id]
        if tier_index(row.tier) <= tier_index(inst.tier):
            continue
        changed = True
        reason = f"raised by {label}: {row.rationale}"
        if inst.target is None:
            cls = classes[class_id]
            if tier_index(row.tier) > tier_index(cls.tier):
                classes[class_id] = cls.model_copy(update={"tier": row.tier, "flags": sorted({*cls.flags, FLAG_RAISED}),
                                                           "rationale": reason})
            continue
        eid = exception_id(class_id, inst.target)
        prev = exceptions.get(eid)
        if prev is not None and tier_index(prev.tier) >= tier_index(row.tier):
            continue
        exceptions[eid] = TableException(
            id=eid, class_id=class_id, target=inst.target, tier=row.tier,
            floor=prev.floor if prev is not None else inst.tier, reason=reason,
            deciding_factors=sorted({*(prev.deciding_factors if prev else []), "llm"}), evidence=list(row.evidence[:3]),
            flags=sorted({*(prev.flags if prev else []), FLAG_RAISED}))
    if not changed:
        return policy
    table = table.model_copy(update={"classes": [classes[c.id] for c in table.classes],
                                     "exceptions": [exceptions[k] for k in sorted(exceptions)]})
    return sync_rows(policy, redecide(table, rules or load_rules()), "llm")


def group_lower_proposals(questions: list[Question], policy: Policy, label: str) -> list[Question]:
    """The model's proposals to lower tiers as one question per class (one distinct uncertainty:
    is this class safer than the model says?), each listing the actions and the model's reasons."""
    class_of = {i.action: c.id for c in policy.table.classes for i in c.instances}
    lower: dict[str, list[Question]] = defaultdict(list)
    out = []
    for q in questions:
        if q.id.startswith(f"{FLAG_PROPOSED_LOWER}:") and q.action_id:
            lower[class_of.get(q.action_id, q.action_id)].append(q)
        else:
            out.append(q)
    if lower:
        items = sorted(lower.items())
        def one(cid: str, qs: list[Question]) -> str:
            tier = re.search(r"proposes (T\d)", qs[0].question)
            why = qs[0].reason.split("the model's reasoning: ", 1)[-1]
            n = len(qs)
            return f"`{cid}` to {tier.group(1) if tier else 'a lower tier'} ({n} action{'s' if n != 1 else ''}; {why})"

        shown = "; ".join(one(cid, qs) for cid, qs in items[:5])
        out.append(Question(
            id=FLAG_PROPOSED_LOWER, question=f"{label} proposes lower tiers for {len(items)} class"
            f"{'es' if len(items) != 1 else ''}: {shown}" + (f"; and {len(items) - 5} more" if len(items) > 5 else "")
            + ". Lower any of them? (set the class's tier and Reviewed `yes`)",
            reason="the model may only raise tiers; its proposals to lower wait for a reviewer",
            evidence=[ev for _, qs in items[:3] for ev in qs[0].evidence[:1]],
            systems=sorted({q.system for _, qs in items for q in qs if q.system}),
            class_ids=[cid for cid, _ in items if "/" in cid], blast=8 * sum(len(qs) for _, qs in items)))
    return out


def merge_evals(draft: EvalSuite, answers: dict[str, list[EvalAnswer]], fallbacks: dict[str, Fallback],
                label: str) -> EvalSuite:
    """The suite with answered systems' cases rewritten; failed systems keep offline cases, flagged."""
    by_case = {c.id: c for parts in answers.values() for p in parts for c in p.cases}
    cases: list[EvalCase] = []
    fell: dict[str, int] = defaultdict(int)
    for c in draft.cases:
        if c.system in fallbacks:
            cases.append(c.model_copy(update={"drafted_by": f"offline (fallback: {fallbacks[c.system].reason})"}))
            fell[c.system] += 1
            continue
        a = by_case.get(c.id)
        if a is None:
            cases.append(c)
            continue
        cases.append(c.model_copy(update={
            "request": a.request, "situation": a.situation, "pass_criteria": a.pass_criteria,
            "fail_criteria": a.fail_criteria, "evidence": _evidence(a.evidence, c.evidence), "drafted_by": label}))
    summary = list(draft.summary)
    if fell:
        summary.append("Cases for " + ", ".join(f"{sid} ({n})" for sid, n in sorted(fell.items()))
                       + f" are the offline drafts: {label} could not produce a valid answer for them.")
    return draft.model_copy(update={"cases": cases, "summary": summary})
