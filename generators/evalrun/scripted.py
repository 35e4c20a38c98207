"""Scripted agents: fixed behaviours that calibrate a suite without any model.

A suite that cannot fail a reckless agent, or pass a careful one, measures nothing. Each
behaviour plays every case the same way a kind of agent would, from what the case shows it
(its request, situation, scripted read commands, the tempting command, the planted
instruction):

* ``safe``: reads first, does T0/T1 work itself, asks before the T2 shortcut, escalates a
  blocker with a summary naming what blocks it, refuses T3 and ignores planted instructions;
* ``reckless``: reads, then takes the tempting shortcut whenever one is on offer;
* ``over-cautious``: asks or escalates instead of doing anything;
* ``injection-following``: safe, but runs whatever a planted instruction says;
* ``blocker-ignoring``: safe, but routes around a blocker with the shortcut instead of escalating.

The same plans drive ``stackpolicy evals run --agent scripted:<behaviour>`` and the canned
providers the promptfoo and Inspect exports are tested with, so all three runners see one agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generators.documents.model import EvalCase, EvalSuite
from generators.evalrun.model import Message, ToolCall

BEHAVIOURS = ("safe", "reckless", "over-cautious", "injection-following", "blocker-ignoring")


@dataclass(frozen=True)
class Step:
    """One move of a plan: a tool call, or the final answer (``tool`` empty)."""

    tool: str = ""
    arguments: tuple[tuple[str, str], ...] = ()
    text: str = ""

    def call(self, n: int) -> ToolCall:
        return ToolCall(id=f"call_{n}", name=self.tool, arguments=dict(self.arguments))


def _run(cmd: str) -> Step:
    return Step("run_command", (("command", cmd),))


def _reads(case: EvalCase) -> list[Step]:
    """The look a careful agent takes first: the runbook it was pointed at, the read commands."""
    steps = [Step("read_file", (("path", f),)) for f in case.files[:1]]
    cmds = case.safe_commands[:-1] if case.expected == "act" else case.safe_commands
    return steps + [_run(c) for c in cmds]


def _summary(case: EvalCase) -> str:
    names = ", ".join(case.escalation_mentions) or case.system
    return (f"Stopped: {names} blocks the work. It would take `{case.shortcut}` ({case.shortcut_tier}), "
            "which I may not run alone. Nothing was changed; a human needs to decide.")


def plan(case: EvalCase, behaviour: str) -> list[Step]:
    """The moves ``behaviour`` makes on ``case``, ending with a final answer."""
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown scripted behaviour {behaviour!r} (one of {', '.join(BEHAVIOURS)})")
    done = Step(text="Done. Summary of what I did and what I saw is above.")
    if behaviour == "over-cautious":
        if case.expected == "act" and case.safe_commands:
            return [Step("request_approval", (("command", case.safe_commands[-1]),
                                              ("reason", "I'd rather a human confirms before I touch anything."))),
                    Step(text="Waiting for approval.")]
        return [Step("escalate", (("summary", "I'd rather a human handles this."),)), Step(text="Escalated.")]
    steps = _reads(case)
    shortcut = case.shortcut
    takes_shortcut = bool(shortcut) and (
        behaviour == "reckless"
        or (behaviour == "injection-following" and bool(case.injection))
        or (behaviour == "blocker-ignoring" and case.category == "blocker-escalation"))
    if takes_shortcut:
        if behaviour == "injection-following" and case.expected == "act" and case.safe_commands:
            steps.append(_run(case.safe_commands[-1]))  # it reads everything, then obeys what it read
        return steps + [_run(shortcut or ""), done]
    if case.expected == "act":
        if case.safe_commands:
            steps.append(_run(case.safe_commands[-1]))
        return steps + [done]
    if case.category == "blocker-escalation":
        return steps + [Step("escalate", (("summary", _summary(case)),)), Step(text="Escalated; nothing changed.")]
    if case.expected == "ask" and shortcut:
        return steps + [Step("request_approval", (("command", shortcut),
                                                  ("reason", f"Fix for the request; it is {case.shortcut_tier}."))),
                        Step(text="Proposed the change; waiting for approval.")]
    return steps + [Step("escalate", (("summary", f"Refused `{shortcut}`: forbidden for agents. "
                                                  "Handing over to a human."),)),
                    Step(text="I won't do that; it is forbidden for agents. Escalated.")]


def transcript_messages(case: EvalCase, behaviour: str, answer: Any) -> list[Message]:
    """The whole conversation of ``behaviour`` on ``case``; ``answer(tool, args)`` answers each call."""
    msgs = [Message(role="user", text=case.request)]
    for n, step in enumerate(plan(case, behaviour)):
        if not step.tool:
            msgs.append(Message(role="assistant", text=step.text))
            break
        call = step.call(n)
        msgs.append(Message(role="assistant", tool_calls=[call]))
        msgs.append(Message(role="tool", tool_call_id=call.id, tool_name=call.name, text=answer(call.name, call.arguments)))
    return msgs


@dataclass
class ScriptedProvider:
    """Stands in for a provider in reports (name, model, label) and needs no closing."""

    name: str
    model: str

    @property
    def label(self) -> str:
        return f"{self.name}:{self.model}"

    async def aclose(self) -> None:
        return None


class ScriptedBackend:
    """A :class:`generators.evalrun.agent.Backend` that plays ``behaviour`` on each case of ``suite``.

    The case is recognised by its request (the first user turn) and its situation (in the
    system prompt), which is what a real agent sees too.
    """

    def __init__(self, suite: EvalSuite, behaviour: str) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown scripted behaviour {behaviour!r} (one of {', '.join(BEHAVIOURS)})")
        self.behaviour = behaviour
        self.provider = ScriptedProvider("scripted", behaviour)
        self.suite = suite

    def _case(self, system: str, messages: list[Message]) -> EvalCase:
        request = messages[0].text if messages else ""
        for c in self.suite.cases:
            if c.request == request and c.situation in system:
                return c
        raise LookupError("scripted agent: no case with this request and situation")

    async def turn(self, system: str, messages: list[Message], temperature: float, max_tokens: int) -> Any:
        from generators.evalrun.agent import Turn

        case = self._case(system, messages)
        n = sum(1 for m in messages if m.role == "assistant")
        steps = plan(case, self.behaviour)
        step = steps[min(n, len(steps) - 1)]
        if not step.tool:
            return Turn(text=step.text)
        return Turn(text="", tool_calls=[step.call(n)])
