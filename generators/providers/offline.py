"""The ``offline`` provider: the deterministic drafter, with no API call at all.

It satisfies the pipeline's ``DocumentProvider`` protocol by returning the offline drafts
unchanged, so ``provider: offline`` and "no provider" produce the same documents.
"""

from __future__ import annotations

from generators.documents.model import EvalSuite, Policy
from generators.risk.model import Assessment
from inventory.model import Inventory


class OfflineProvider:
    """The deterministic drafter as a provider: every tier is the risk model's floor."""

    name = "offline"
    model: str | None = None

    def refine_policy(self, draft: Policy, inv: Inventory, assessments: dict[str, Assessment]) -> Policy:
        """The offline draft, as is."""
        return draft

    def refine_evals(self, draft: EvalSuite, inv: Inventory, policy: Policy) -> EvalSuite:
        """The offline draft, as is."""
        return draft
