"""Claude Code: a ``.claude/settings.json`` fragment (permission rules + the PreToolUse hook).

Rules use the current syntax: ``Bash(cmd)`` matches exactly that command, ``Bash(cmd *)``
matches ``cmd`` followed by anything (``*`` is any sequence; the space keeps the word
boundary, so ``Bash(ls *)`` does not match ``lsof``). Claude Code checks deny, then ask,
then allow, and checks each part of a compound command on its own. T0/T1 -> allow,
T2 -> ask, T3 -> deny. Everything a rule cannot say safely is decided by the hook
(``stackpolicy hook claude-code``), which runs the full classifier on every Bash call.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from generators.exporters.base import ExportContext, ExportResult, Rule, build, left_summary, policy_samples
from generators.decision.edits import policy_table
from generators.hook import STATE_VERSION

HOOK_COMMAND = "stackpolicy hook claude-code --state {state}"
SETTINGS = "claude-code/settings.json"
LEFT = "claude-code/left-to-hook.md"
STATE = "claude-code/hook-state.json"


def pattern(rule: Rule) -> str:
    """The specifier inside ``Bash(...)`` for ``rule``."""
    body = " ".join(rule.tokens)
    return body if rule.exact else f"{body} *"


def rule_text(rule: Rule) -> str:
    return f"Bash({pattern(rule)})"


def matches_pattern(spec: str, command: str) -> bool:
    """Claude Code's matching of one Bash specifier against one (simple) command.

    ``prefix:*`` is the legacy prefix form (``prefix`` alone or followed by a space);
    without ``*`` the command must be equal; otherwise ``*`` matches any sequence of
    characters, and a single trailing `` *`` also matches the bare prefix.
    """
    command = command.strip()
    if spec.endswith(":*"):
        prefix = spec[:-2]
        return command == prefix or command.startswith(prefix + " ")
    if "*" not in spec:
        return command == spec
    if spec.endswith(" *") and spec.count("*") == 1 and command == spec[:-2]:
        return True
    return _compiled(spec).match(command) is not None


@lru_cache(maxsize=16384)
def _compiled(spec: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in spec.split("*")) + "$", re.DOTALL)


def matches(rule: Rule, command: str) -> bool:
    return matches_pattern(pattern(rule), command)


def hook_state(ctx: ExportContext) -> dict[str, Any]:
    """What the hook loads: a verdict table for the policy's own commands (the fast path),
    the reviewed tiers and the inventory (for the full classifier)."""
    table: dict[str, dict[str, str]] = {}
    if ctx.classify is not None and ctx.reasons is not None:
        for s in policy_samples(ctx.policy, ctx.evals):
            if s.command not in table:
                table[s.command] = {"decision": ctx.classify(s.command), "reason": ctx.reasons(s.command)}
    return {
        "version": STATE_VERSION,
        "policy_digest": ctx.policy.meta.inventory_digest,
        "decision_table": policy_table(ctx.policy).model_dump(
            mode="json", exclude={"classes": {"__all__": {"instances", "factors"}}}),
        "environments": ctx.environments or {},
        "rules": ctx.rules_data,
        "inventory": ctx.inventory,
        "table": dict(sorted(table.items())),
    }


def export(ctx: ExportContext) -> ExportResult:
    """Settings fragment with verified allow/ask/deny rules and the hook registration."""
    rules, left = build(ctx.policy, ctx.evals, matches, ctx.classify)
    by: dict[str, list[str]] = {"allow": [], "ask": [], "deny": []}
    for r in rules:
        by[r.decision].append(rule_text(r))
    state_path = f"{ctx.enforce_dir}/{STATE}"
    settings = {
        "permissions": {k: sorted(set(v)) for k, v in by.items()},
        "hooks": {
            "PreToolUse": [{"matcher": "Bash|Read|Write|Edit|MultiEdit|NotebookEdit", "hooks": [
                {"type": "command", "command": HOOK_COMMAND.format(state=state_path), "timeout": 10}]}],
            # Start the warm classifier at session start, so the first Bash call is fast too.
            "SessionStart": [{"hooks": [
                {"type": "command", "command": HOOK_COMMAND.format(state=state_path) + " --warm", "timeout": 10}]}],
        },
    }
    files = {
        SETTINGS: json.dumps(settings, indent=2, ensure_ascii=False) + "\n",
        LEFT: left_summary(left),
        STATE: json.dumps(hook_state(ctx), ensure_ascii=False, separators=(",", ":")) + "\n",
    }
    return ExportResult(files=files, rules=rules, left_to_hook=left)
