"""Scripted agents for eval-run tests: they answer the local LLM server like a real model would.

An agent is a policy over (case, turn): each turn it either makes tool calls or gives a final
text. The server responder identifies the case from the request itself (system prompt holds
the situation, the first user turn the request), so concurrent attempts never mix up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.classify import Classifier
from generators.documents.model import EvalCase, EvalSuite, Policy
from generators.evalrun.grader import Grader
from generators.evalrun.scripted import plan
from generators.pipeline import assess, draft_documents
from generators.risk.assess import build_index
from inventory.config import Config
from tests.factories import make_inventory
from tests.llm_server import LLMServer, Recorded, Reply

Call = tuple[str, dict[str, Any]]
Step = list[Call] | str  # tool calls, or the final answer
Agent = Callable[[EvalCase, int], Step]


@dataclass
class World:
    """The factory platform: inventory, policy, suite and a grader bound to them."""

    policy: Policy
    suite: EvalSuite
    grader: Grader

    def case(self, case_id: str) -> EvalCase:
        return next(c for c in self.suite.cases if c.id == case_id)


def make_world() -> World:
    inv = make_inventory()
    policy, suite = draft_documents(inv, assess(inv, Config()), Config())
    # The drafted policy stands for the team's reviewed one: its table decides.
    return World(policy, suite, Grader(Classifier(index=build_index(inv), table=policy.table)))


def write_sources(root: Path, suite: EvalSuite) -> Path:
    """A source tree holding every runbook the suite lets the agent read."""
    for c in suite.cases:
        for f in c.files:
            p = root / f
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"# {f}\n\n1. Check the dashboards.\n2. `{c.shortcut}`\n", encoding="utf-8")
    return root


def scripted(behaviour: str) -> Agent:
    """An agent that plays :mod:`generators.evalrun.scripted`'s ``behaviour`` through the wire."""

    def agent(case: EvalCase, turn: int) -> Step:
        steps = plan(case, behaviour)
        step = steps[min(turn, len(steps) - 1)]
        return [(step.tool, dict(step.arguments))] if step.tool else step.text

    return agent


def good_agent(world: World) -> Agent:
    """Investigates read-only, acts on T0/T1, asks for T2, refuses T3, escalates a blocker."""
    return scripted("safe")


def _at(steps: list[Step], turn: int) -> Step:
    return steps[turn] if turn < len(steps) else "Done."


def override(base: Agent, when: Callable[[EvalCase], bool], steps: Callable[[EvalCase], list[Step]]) -> Agent:
    """``base`` except on cases where ``when`` holds, which follow ``steps``."""
    return lambda case, turn: _at(steps(case), turn) if when(case) else base(case, turn)


def first_case(world: World, category: str, shortcut_has: str = "") -> EvalCase:
    """The first case of ``category`` whose shortcut contains ``shortcut_has``."""
    return next(c for c in world.suite.cases if c.category == category and shortcut_has in (c.shortcut or ""))


def deleter(world: World) -> Agent:
    """Behaves, except it deletes the Kafka topic when asked to."""
    target = first_case(world, "must-refuse", "kafka-topics --delete").id
    return override(good_agent(world), lambda c: c.id == target,
                    lambda c: [[("run_command", {"command": c.shortcut})], "Deleted the topic."])


def prod_changer(world: World) -> Agent:
    """Behaves, except it restarts orders-api in prod without asking."""
    target = first_case(world, "must-ask", "rollout restart deploy/orders-api -n acme-prod").id
    return override(good_agent(world), lambda c: c.id == target,
                    lambda c: [[("run_command", {"command": c.shortcut})], "Restarted it."])


def injection_follower(world: World) -> Agent:
    """Behaves, except in prompt-injection cases it does what the injected text says."""
    return scripted("injection-following")


def over_refuser(world: World) -> Agent:
    """Refuses and escalates everything."""
    return lambda case, turn: ([("escalate", {"summary": "Not comfortable doing this myself."})] if turn == 0
                               else "I escalated this to a human instead of acting.")


# ---- wire format ------------------------------------------------------------------------
def _find_case(suite: EvalSuite, system: str, first_user: str) -> EvalCase:
    for c in suite.cases:
        if c.request == first_user and c.situation in system:
            return c
    raise AssertionError(f"no case for request {first_user!r}")


def _openai_reply(suite: EvalSuite, agent: Agent, rec: Recorded) -> Reply:
    msgs = rec.body["messages"]
    case = _find_case(suite, msgs[0]["content"], msgs[1]["content"])
    turn = sum(1 for m in msgs if m["role"] == "assistant")
    step = agent(case, turn)
    if isinstance(step, str):
        return LLMServer.openai_chat(step)
    return LLMServer.openai_chat(None, tool_calls=[{"id": f"call_{turn}_{i}", "name": n, "arguments": a}
                                                   for i, (n, a) in enumerate(step)])


def _anthropic_reply(suite: EvalSuite, agent: Agent, rec: Recorded) -> Reply:
    msgs = rec.body["messages"]
    case = _find_case(suite, rec.body["system"], msgs[0]["content"])
    turn = sum(1 for m in msgs if m["role"] == "assistant")
    step = agent(case, turn)
    if isinstance(step, str):
        return LLMServer.anthropic_message(step)
    return LLMServer.anthropic_message([{"type": "tool_use", "id": f"toolu_{turn}_{i}", "name": n, "input": a}
                                        for i, (n, a) in enumerate(step)])


def serve(server: LLMServer, suite: EvalSuite, agent: Agent) -> None:
    """Answer both chat routes of ``server`` with ``agent``."""
    server.respond("chat", lambda rec: _openai_reply(suite, agent, rec))
    server.respond("messages", lambda rec: _anthropic_reply(suite, agent, rec))
