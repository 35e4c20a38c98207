"""Tier edits made on a document's action rows (by a reviewer or an LLM), carried into the
decision table so that classify, the hook and the exports decide with them.

A row is an instance of one class; its edit becomes an exception for that class and target
(or, for a row with no target, a raise of the whole class: the only safe reading). Lowering
counts only with a reviewer's note, as ``check`` requires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generators.decision.model import DecisionTable, TableException, exception_id
from generators.risk.model import tier_index

if TYPE_CHECKING:
    from generators.documents.model import Policy


def policy_table(policy: Policy) -> DecisionTable:
    """``policy.table`` with the edits of its action rows applied."""
    table = policy.table
    instance_of = {i.action: (c.id, i) for c in table.classes for i in c.instances}
    classes = {c.id: c for c in table.classes}
    exceptions = {(e.class_id, e.target): e for e in table.exceptions}
    changed = False
    for row in policy.actions().values():
        if row.tier == row.floor or row.id not in instance_of:
            continue
        class_id, inst = instance_of[row.id]
        lowered = tier_index(row.tier) < tier_index(inst.tier)
        reviewed = bool(lowered and row.note)
        if lowered and not reviewed:
            continue  # an unexplained lowering is ignored: the floor stands
        changed = True
        if inst.target is None:
            cls = classes[class_id]
            if tier_index(row.tier) > tier_index(cls.tier):
                classes[class_id] = cls.model_copy(update={"tier": row.tier, "flags": sorted({*cls.flags, "row-edit"})})
            continue
        prev = exceptions.get((class_id, inst.target))
        floor = prev.floor if prev is not None else inst.tier
        if prev is not None and prev.tier != prev.floor and tier_index(prev.tier) >= tier_index(row.tier) and not reviewed:
            continue  # an earlier row already raised it further
        exceptions[(class_id, inst.target)] = TableException(
            id=exception_id(class_id, inst.target), class_id=class_id, target=inst.target, tier=row.tier,
            floor=floor, reviewed=reviewed, reason=row.note or f"the policy row {row.id} sets {row.tier}",
            deciding_factors=["reviewer" if row.note else "policy-row"], evidence=list(row.evidence[:3]),
            note=row.note)
    if not changed:
        return table
    return table.model_copy(update={
        "classes": [classes[c.id] for c in table.classes],
        "exceptions": [exceptions[k] for k in sorted(exceptions)],
    })
