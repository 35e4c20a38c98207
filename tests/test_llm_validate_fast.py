"""Answers are parsed in one pass by pydantic's JSON parser; anything it rejects goes through
``json.loads`` and ``model_validate`` as before, so every answer gets the same result and a
bad one the same errors to quote back (differential over valid, fenced and broken answers)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from generators.llm import validate
from generators.llm.schema import PolicyAnswer
from generators.llm.slices import Slice

SLICE = Slice(key="service:a", system_id="service:a", view={}, action_ids=["service:a/restart"],
              floors={"service:a/restart": "T1"}, evidence={"k8s/a.yaml:3"})


def _answer(**change: object) -> dict:
    ans = {"system_id": "service:a", "summary": "s", "questions": [], "actions": [
        {"id": "service:a/restart", "tier": "T1", "rationale": "r", "agent_may": "m", "evidence": ["k8s/a.yaml:3"],
         "proposed_lower_tier": None, "lower_reason": None}]}
    ans.update(change)
    return ans


def _slow(text: str, sl: Slice) -> tuple[object, list[str]]:
    """validate_policy as it was: json.loads, then model_validate."""
    data, errors = validate._json(text)
    if errors:
        return None, errors
    try:
        ans = PolicyAnswer.model_validate(data)
    except ValidationError as exc:
        return None, validate._schema_errors(exc)
    return ans, []


TEXTS = [
    json.dumps(_answer()),
    "```json\n" + json.dumps(_answer()) + "\n```",
    json.dumps(_answer(system_id="service:b")),
    json.dumps(_answer(extra="x")),
    json.dumps(_answer(actions="none")),
    json.dumps(_answer(summary="a\udc00b")),  # a lone surrogate: only json.loads reads it
    json.dumps(_answer())[:-5],  # truncated
    json.dumps(_answer()) + " trailing",
    '{"system_id": "service:a", "system_id": "service:a", ' + json.dumps(_answer())[1:],  # a repeated key
    "[]",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_one_pass_parse_gives_what_the_two_step_parse_gives(text: str) -> None:
    fast_ans, fast_errors = validate._parse(text, PolicyAnswer, SLICE)
    slow_ans, slow_errors = _slow(text, SLICE)
    assert fast_ans == slow_ans
    if slow_ans is None:
        assert fast_errors == slow_errors and fast_errors
    full, errors = validate.validate_policy(text, SLICE)
    assert (full is None) == bool(errors)
