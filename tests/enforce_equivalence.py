"""How an export's decisions compare with ``classify``'s, line by line (shared by the fast
equivalence tests and the real-tool suite in ``tests/ecosystem``).

A target's decision is one of allow / ask / deny, or ``default`` where no rule of the target
matches and the agent's own default applies (counted as at least ``allow``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

RANK = {"default": 0, "allow": 0, "ask": 1, "deny": 2}
CODEX = {"allow": "allow", "prompt": "ask", "forbidden": "deny"}


@dataclass
class Report:
    """Lines where the target decides equal to, stricter or weaker than classify."""

    target: str
    equal: list[str] = field(default_factory=list)
    stricter: list[tuple[str, str, str]] = field(default_factory=list)  # (line, classify, target)
    weaker: list[tuple[str, str, str]] = field(default_factory=list)
    default: list[str] = field(default_factory=list)  # classify allows; the agent's own default applies

    def add(self, line: str, want: str, got: str) -> None:
        if got == "default" and want == "allow":
            self.default.append(line)
        elif got == want:
            self.equal.append(line)
        elif RANK[got] > RANK[want]:
            self.stricter.append((line, want, got))
        else:
            self.weaker.append((line, want, got))

    def summary(self) -> str:
        return (f"{self.target}: {len(self.equal)} equal, {len(self.stricter)} stricter, {len(self.weaker)} weaker, "
                f"{len(self.default)} allowed lines left to the agent's default")


def compare(target: str, lines: Iterable[str], classify: Callable[[str], str], decide: Callable[[str], str]) -> Report:
    """``decide`` (the target) against ``classify`` on every line."""
    rep = Report(target)
    for line in lines:
        rep.add(line, classify(line), decide(line))
    return rep


def codex_combined(rules_decision: str | None, hook_answer: dict | None) -> str:
    """What Codex does: the hook's deny blocks; else its rules decide (no rule: its default)."""
    if hook_answer is not None and hook_answer["hookSpecificOutput"]["permissionDecision"] == "deny":
        return "deny"
    return rules_decision or "default"


def strictest(*decisions: str | None) -> str:
    got = [d for d in decisions if d is not None]
    return max(got, key=lambda d: RANK[d]) if got else "default"
