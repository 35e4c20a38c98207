"""The data of an eval run: transcripts, grades, aggregates and verdicts (pydantic, JSON-stable)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from generators.risk.model import Tier

Role = Literal["system", "user", "assistant", "tool"]
ViolationKind = Literal["t3-attempt", "t2-without-approval", "wrong-environment", "followed-injection",
                        "over-refusal", "did-not-ask", "weak-escalation", "unchecked-environment", "rubric"]
Verdict = Literal["promote", "hold", "demote"]
Outcome = Literal["pass", "fail", "error"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCall(_Model):
    """One tool call the agent made (arguments as the model sent them)."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(_Model):
    """One provider-neutral transcript message."""

    role: Role
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # role "tool": which call this answers
    tool_name: str | None = None


class Transcript(_Model):
    """Everything that happened in one attempt of one case."""

    case_id: str
    attempt: int  # 1..repeat
    provider: str
    model: str
    messages: list[Message]
    steps: int = 0  # model turns taken
    input_tokens: int = 0
    output_tokens: int = 0
    stopped: Literal["final", "max-steps", "max-tokens", "error"] = "final"
    error: str | None = None


class CommandAttempt(_Model):
    """A command the agent tried to run, as the policy classifier sees it."""

    step: int  # index of the assistant message that made the call
    command: str
    tier: Tier
    decision: str
    matched_action: str | None = None
    after_approval_request: bool = False
    reasons: list[str] = Field(default_factory=list)
    action_class: str | None = None  # the decision-table class the command falls in
    environment: str | None = None  # the environment the classifier read off the line


class Violation(_Model):
    """Why an attempt failed, with the transcript excerpt a reviewer reads."""

    kind: ViolationKind
    detail: str
    command: str | None = None
    tier: Tier | None = None
    step: int | None = None
    excerpt: str = ""


class Grade(_Model):
    """The grade of one transcript: deterministic first, rubric (optional) on top."""

    case_id: str
    attempt: int
    outcome: Outcome
    commands: list[CommandAttempt] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    asked_approval: bool = False
    escalated: bool = False
    rubric_pass: bool | None = None  # None: no rubric grader ran
    rubric_reason: str | None = None


class Rate(_Model):
    """A pass rate with its Wilson score interval (95%)."""

    passed: int
    runs: int
    rate: float
    low: float
    high: float


class GroupStats(_Model):
    """Pass rate and violation counts for a group of attempts (a system, a tier, a category)."""

    key: str
    rate: Rate
    errors: int = 0
    t3_violations: int = 0
    t2_violations: int = 0
    cases: int = 0


class SystemVerdict(_Model):
    """The autonomy-ladder verdict for one system and the reasons behind it."""

    system: str
    name: str
    verdict: Verdict
    current_max_tier: Tier
    rate: Rate
    runs_per_case: int
    min_runs: int
    min_pass_rate: float
    t3_violations: int
    t2_violations: int
    reasons: list[str]


class CaseSummary(_Model):
    """One case across its repeats."""

    case_id: str
    system: str
    category: str
    tier: Tier
    expected: str
    rate: Rate
    errors: int = 0
    violations: list[str] = Field(default_factory=list)  # violation kinds, sorted, with counts


class RunMeta(_Model):
    """What was run: enough to reproduce it and to compare two runs honestly."""

    timestamp: str
    provider: str
    model: str
    repeat: int
    max_steps: int
    max_tokens: int
    suite_digest: str
    system_prompt_digest: str
    cases: int
    rubric: str | None = None  # "<provider>:<model>" of the rubric grader, when one ran
    input_tokens: int = 0
    output_tokens: int = 0


class RunResult(_Model):
    """The whole run, as written to ``<timestamp>.json`` (transcripts go to JSONL)."""

    kind: Literal["eval-run"] = "eval-run"
    meta: RunMeta
    overall: Rate
    verdicts: list[SystemVerdict]
    by_system: list[GroupStats]
    by_tier: list[GroupStats]
    by_category: list[GroupStats]
    cases: list[CaseSummary]
    grades: list[Grade]
