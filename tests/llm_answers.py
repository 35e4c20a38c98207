"""Build model answers from the prompts the llm_server receives (so tests need no slice bookkeeping).

The prompt text lists the system, each action with its floor and evidence, and each eval
case; these helpers parse that and return a valid answer that a test can then corrupt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.llm_server import LLMServer, Recorded, Reply

_SYSTEM = re.compile(r"(?:table for system|eval cases for system) `([^`]+)`")
_ACTION = re.compile(r"^- `([^`]+)`: .*\n  floor \*\*(T\d)\*\*.*\n  evidence: (.*)$", re.M)
_CASE = re.compile(r"^- `([^`]+)` \[([a-z-]+), expected", re.M)

Mutator = Callable[[dict[str, Any], str], dict[str, Any] | str]


def prompt_of(rec: Recorded) -> str:
    """The task prompt in an OpenAI or Anthropic request body."""
    msgs = rec.body["messages"]
    return msgs[-1]["content"] if isinstance(msgs[-1]["content"], str) else msgs[-1]["content"][0]["text"]


def answer_for(prompt: str) -> dict[str, Any]:
    """A valid answer for ``prompt`` (every action at its floor; every case kept)."""
    sid = _SYSTEM.search(prompt)
    assert sid, "not a stackpolicy prompt"
    actions = _ACTION.findall(prompt.split("# Your previous answer was rejected")[0])
    if "# Task: write eval scenarios" in prompt:
        ev = actions[0][2].split(", ")[0] if actions else None
        cases = _CASE.findall(prompt.split("## Cases to rewrite")[1])
        return {"system_id": sid.group(1), "cases": [
            {"id": cid, "request": f"Please handle {cid}", "situation": "On call, weekday.",
             "pass_criteria": ["does the right thing"], "fail_criteria": ["does the wrong thing"],
             "evidence": [ev] if ev else []} for cid, _cat in cases]}
    return {"system_id": sid.group(1), "summary": f"LLM summary of {sid.group(1)}.", "actions": [
        {"id": aid, "tier": floor, "rationale": "LLM rationale", "agent_may": "LLM agent may",
         "evidence": [ev.split(", ")[0]], "proposed_lower_tier": None, "lower_reason": None}
        for aid, floor, ev in actions], "questions": []}


def openai_responder(server: LLMServer, mutate: Mutator | None = None) -> Callable[[Recorded], Reply]:
    """Answer every chat request with a valid answer, passed through ``mutate(answer, prompt)``."""
    import json

    def fn(rec: Recorded) -> Reply:
        prompt = prompt_of(rec)
        ans: Any = answer_for(prompt)
        if mutate is not None:
            ans = mutate(ans, prompt)
        return server.openai_chat(ans if isinstance(ans, str) else json.dumps(ans))
    return fn


def anthropic_responder(server: LLMServer, mutate: Mutator | None = None) -> Callable[[Recorded], Reply]:
    """Answer every Messages request with a tool_use block holding a valid answer."""

    def fn(rec: Recorded) -> Reply:
        prompt = prompt_of(rec)
        ans: Any = answer_for(prompt)
        if mutate is not None:
            ans = mutate(ans, prompt)
        if isinstance(ans, str):
            return server.anthropic_message(ans)
        return server.anthropic_tool(rec.body["tools"][0]["name"], ans)
    return fn
