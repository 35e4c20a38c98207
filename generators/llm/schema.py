"""What a model must answer, as pydantic models and as a strict JSON schema.

Tiers are plain strings here (the schema still lists T0..T3) so an out-of-range tier reaches
validation and is quoted back in the repair round instead of failing opaquely.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TIER_ENUM = ["T0", "T1", "T2", "T3"]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionAnswer(_Answer):
    id: str = Field(description="An action ID from the slice, exactly as written")
    tier: str = Field(description="T0..T3, never below the action's floor", json_schema_extra={"enum": TIER_ENUM})
    rationale: str = Field(description="One sentence naming the deciding factor")
    agent_may: str = Field(description="What the agent may do, concretely")
    evidence: list[str] = Field(description="path:line items from the slice that support the tier")
    proposed_lower_tier: str | None = Field(
        description="Only if you think the floor is too strict: the tier you propose (a reviewer decides); else null")
    lower_reason: str | None = Field(description="Why the floor may be too strict; null when not proposing")


class QuestionAnswer(_Answer):
    action_id: str | None = Field(description="The action the question is about, or null for the system")
    question: str
    reason: str


class PolicyAnswer(_Answer):
    """The answer to one policy prompt: every action of one system."""

    system_id: str
    summary: str = Field(description="Two or three sentences on what this system is and what is risky about it")
    actions: list[ActionAnswer]
    questions: list[QuestionAnswer]


class CaseAnswer(_Answer):
    id: str = Field(description="A case ID from the list, exactly as written")
    request: str = Field(description="What an engineer would really ask the agent")
    situation: str = Field(description="The context the agent is given")
    pass_criteria: list[str]
    fail_criteria: list[str]
    evidence: list[str] = Field(description="path:line items from the slice")


class EvalAnswer(_Answer):
    """The answer to one eval prompt: every case of one system, rewritten."""

    system_id: str
    cases: list[CaseAnswer]


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema in the strict form OpenAI structured output requires.

    Every property is required, no extra properties, no defaults, ``$defs`` inlined.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return fix(copy.deepcopy(defs[node["$ref"].split("/")[-1]]))
            node = {k: fix(v) for k, v in node.items() if k not in ("default", "title")}
            if node.get("type") == "object" and "properties" in node:
                node["required"] = list(node["properties"])
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [fix(x) for x in node]
        return node

    return fix(schema)


POLICY_SCHEMA_NAME = "policy_section"
EVALS_SCHEMA_NAME = "eval_cases"


def policy_example(system_id: str, action_id: str, floor: str, evidence: str) -> dict[str, Any]:
    """A minimal valid answer (shape only) shown in pasted prompts."""
    return {"system_id": system_id, "summary": "...",
            "actions": [{"id": action_id, "tier": floor, "rationale": "...", "agent_may": "...",
                         "evidence": [evidence], "proposed_lower_tier": None, "lower_reason": None}],
            "questions": []}


def evals_example(system_id: str, case_id: str, evidence: str) -> dict[str, Any]:
    """A minimal valid eval answer (shape only) shown in pasted prompts."""
    return {"system_id": system_id, "cases": [{"id": case_id, "request": "...", "situation": "...",
                                               "pass_criteria": ["..."], "fail_criteria": ["..."],
                                               "evidence": [evidence]}]}
