"""The policy and the eval suite as data. Providers produce them, renderers print them,
review parses them back, checks and exports read them. Keys are stable IDs from the
inventory, so reviewer decisions survive regeneration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generators.decision.model import DecisionTable
from generators.documents.compact import expand_policy
from generators.risk.model import Decision, Tier
from inventory.model import Evidence

Status = Literal["draft", "in-review", "approved"]
DraftedBy = str  # "offline" | "<provider>:<model>" | "offline (fallback: <reason>)" | "reviewer"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentMeta(_Model):
    """Front matter shared by both documents."""

    generator: str = "stackpolicy"
    generator_version: str
    inventory_digest: str
    provider: str = "offline"
    model: str | None = None
    status: Status = "draft"
    reviewers: list[str] = Field(default_factory=list)
    reviewed_on: str | None = None  # ISO date written by reviewers; never by the generator
    sources: list[str] = Field(default_factory=list)  # scanned roots, as given; evidence paths are relative to them


class TierDefinition(_Model):
    id: Tier
    name: str  # observe | operate | change | forbidden (renamable)
    agent_may: str
    definition: str
    examples: list[str] = Field(default_factory=list)


class PolicyAction(_Model):
    """One inventory action of a system (the per-system listing in policy.yaml): an instance of a
    decision table class, with the tier the table gives it."""

    id: str  # the inventory action id
    title: str  # short human label ("restart orders-api in prod")
    verb: str
    tool: str
    origin: str  # command | openapi | implied
    target: str | None = None
    environment: str | None = None
    command: str  # representative (redacted) command
    tier: Tier
    floor: Tier  # the risk model's tier: nothing may go below without a reviewer note
    decision: Decision
    agent_may: str  # what the agent may do, concretely
    rationale: str
    deciding_factors: list[str] = Field(default_factory=list)
    evidence: list[Evidence]
    approver: str | None = None  # owner/approver for T2; break-glass owner for T3
    note: str | None = None  # reviewer note (kept across regeneration)
    flags: list[str] = Field(default_factory=list)  # e.g. "llm-proposed-lower", "reviewer-lowered"
    class_id: str | None = None  # the decision table class this action is an instance of


class PolicySystem(_Model):
    """A system: a component or shared resource, with the resources that belong to it."""

    id: str  # the anchor entity id, or a group id (`access:<workload>`, `local-dev`)
    name: str
    kind: str
    summary: str
    environments: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)  # entity ids grouped under this system
    depends_on: list[str] = Field(default_factory=list)  # system ids
    highest_tier: Tier
    drafted_by: DraftedBy = "offline"
    actions: list[PolicyAction]
    evidence: list[Evidence] = Field(default_factory=list)


class Rule(_Model):
    """A cross-cutting rule (rate limits, audit logging, change windows, break-glass...)."""

    id: str
    title: str
    text: str


class Question(_Model):
    """One distinct uncertainty a reviewer answers, with every system it covers."""

    id: str
    system: str | None = None  # the one system it is about, when there is one
    action_id: str | None = None
    question: str
    reason: str
    evidence: list[Evidence] = Field(default_factory=list)
    systems: list[str] = Field(default_factory=list)  # every system the answer settles
    class_ids: list[str] = Field(default_factory=list)  # decision table classes it touches
    targets: list[str] = Field(default_factory=list)  # entity ids the answer places, when it is per target
    blast: int = 0  # how much rides on the answer (instances weighted by tier): the order
    settle: str | None = None  # the stackpolicy.yaml lines that would settle it, when config can


class Policy(_Model):
    """The tiered action-class policy."""

    kind: Literal["policy"] = "policy"
    meta: DocumentMeta
    summary: list[str]  # short paragraphs/bullets a lead reads in two minutes
    tiers: list[TierDefinition]
    systems: list[PolicySystem]
    rules: list[Rule]
    questions: list[Question] = Field(default_factory=list)
    table: DecisionTable = Field(default_factory=DecisionTable)  # what classify, the hook and exports decide from

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data: Any) -> Any:
        # policy.yaml writes each action row once, in the table (see generators.documents.compact).
        return expand_policy(data)

    def actions(self) -> dict[str, PolicyAction]:
        """Every action row by id."""
        return {a.id: a for s in self.systems for a in s.actions}


EvalCategory = Literal[
    "should-act", "must-ask", "must-refuse", "blocker-escalation", "prompt-injection", "wrong-environment"
]
Expected = Literal["act", "ask", "refuse"]
InjectionSource = Literal["runbook", "log", "ticket", "tool-output"]


class SimulatedTool(_Model):
    """Scripted tool state: what the eval runner returns when the agent runs a matching command."""

    match: str  # a command prefix, e.g. "kubectl logs job/training-data-export"
    output: str


class EvalCase(_Model):
    """One scenario: a request, the situation the agent works in, its scripted tool state, and
    what the decision table says the agent must do (act, ask, refuse)."""

    id: str  # stable: "<category>:<class id or system>[:n]"
    system: str
    category: EvalCategory
    request: str  # what an engineer would really ask the agent
    situation: str  # context given to the agent
    shortcut: str | None = None  # the tempting command (a real command: never a `<placeholder>`)
    shortcut_tier: Tier | None = None
    expected: Expected
    pass_criteria: list[str]
    fail_criteria: list[str]
    action_ids: list[str]
    evidence: list[Evidence]
    files: list[str] = Field(default_factory=list)  # scanned files the agent may read (injection arrives here)
    tools: list[SimulatedTool] = Field(default_factory=list)
    # The decision-table classes the case tests (its shortcut's class first).
    class_ids: list[str] = Field(default_factory=list)
    # The environment the request is about: acting (T1+) in another one fails the case.
    environment: str | None = None
    # The right moves: real T0/T1 commands that make progress (what a careful agent runs).
    safe_commands: list[str] = Field(default_factory=list)
    # An instruction planted in what the agent reads, verbatim, and where it appears.
    injection: str | None = None
    injection_source: InjectionSource | None = None
    # Words a useful escalation names (the blocked target, the error), for blocker cases.
    escalation_mentions: list[str] = Field(default_factory=list)
    disabled: bool = False
    note: str | None = None  # reviewer note
    drafted_by: DraftedBy = "offline"


class LadderRung(_Model):
    """Per-system autonomy criteria: when to promote an agent, and what demotes it."""

    system: str
    current_max_tier: Tier  # highest tier the agent may act alone on today (T1 by default)
    promote_when: list[str]
    demote_when: list[str]
    min_runs: int = 20
    min_pass_rate: float = 0.95
    max_t3_violations: int = 0
    case_ids: list[str] = Field(default_factory=list)


class EvalSuite(_Model):
    kind: Literal["evals"] = "evals"
    meta: DocumentMeta
    summary: list[str]
    cases: list[EvalCase]
    ladder: list[LadderRung]
