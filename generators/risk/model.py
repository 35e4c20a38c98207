"""Types the risk model produces. Everything downstream keys on these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from inventory.model import Evidence

Tier = Literal["T0", "T1", "T2", "T3"]
Decision = Literal["allow", "ask", "deny"]
TIERS: tuple[Tier, ...] = ("T0", "T1", "T2", "T3")
DECISION_FOR_TIER: dict[str, Decision] = {"T0": "allow", "T1": "allow", "T2": "ask", "T3": "deny"}


# Tier → index as a dict: looked up several times per classified command.
_INDEX: dict[str, int] = {t: i for i, t in enumerate(TIERS)}


def tier_index(tier: str) -> int:
    """0..3 for T0..T3 (raises ValueError for anything else)."""
    i = _INDEX.get(tier) if isinstance(tier, str) else None
    return TIERS.index(tier) if i is None else i  # type: ignore[arg-type]


def max_tier(*tiers: str) -> Tier:
    """The highest of ``tiers`` (T0 when none)."""
    return TIERS[max(map(tier_index, tiers), default=0)]


class Factor(BaseModel):
    """One explainable input to a tier: what it is, its value, the tier it implies, and why."""

    model_config = ConfigDict(extra="forbid")

    name: str  # verb_class | reversibility | blast_radius | environment | stateful | deletion_protection | data_class | scope | unknown
    value: str
    tier: Tier  # the minimum tier this factor alone implies
    reason: str
    evidence: list[Evidence] = Field(default_factory=list)


class Assessment(BaseModel):
    """The risk model's verdict on one action class (the *floor* for any later edit)."""

    model_config = ConfigDict(extra="forbid")

    action_id: str
    class_id: str = ""  # the decision table class the action is an instance of
    tier: Tier
    verb_class: str
    factors: list[Factor] = Field(default_factory=list)
    deciding: list[str] = Field(default_factory=list)  # names of the factors that set the tier
    rationale: str  # one line naming the deciding factors
    environment: str | None = None  # the environment the tier was computed for ("unknown" counts as prod)
    target: str | None = None  # the entity id the action resolved to, when known

    @property
    def decision(self) -> Decision:
        return DECISION_FOR_TIER[self.tier]
