"""The tier definitions printed in the policy, taken from the risk rules.

The risk model owns the tiers (``generators/risk/rules.yaml`` ``tiers:``, renamed and
retuned by ``stackpolicy.yaml``); this module only turns them into the document's
:class:`TierDefinition` rows, so the policy never disagrees with the classifier.
"""

from __future__ import annotations

from typing import Any

from generators.documents.model import TierDefinition
from generators.risk.model import TIERS
from generators.risk.rules import Rules, rules_from_config


def tier_definitions(rules: Rules) -> list[TierDefinition]:
    """T0..T3 as document rows, in tier order."""
    return [
        TierDefinition(id=t, name=rules.tiers[t].name, agent_may=rules.tiers[t].agent_may,
                       definition=rules.tiers[t].definition, examples=list(rules.tiers[t].examples))
        for t in TIERS
    ]


def tier_definitions_for(cfg: Any | None = None) -> list[TierDefinition]:
    """Tier rows for a config (``None``: the built-in defaults)."""
    return tier_definitions(rules_from_config(cfg))
