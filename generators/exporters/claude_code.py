"""Claude Code: a ``.claude/settings.json`` fragment — the PreToolUse hook that decides every
Bash call with stackpolicy's classifier, and ``permissions.deny`` rules compiled from the
decision table as a backstop.

The hook is the enforcement: ``stackpolicy hook claude-code`` answers ``allow`` (T0/T1),
``ask`` (T2) or ``deny`` (T3) for every Bash call, compound lines, wrappers and absolute
paths included. It is registered by the *absolute path* of the installed CLI behind a
guard: when the CLI is missing or the hook fails, the command exits 2, which Claude Code
treats as "block this tool call" (any other non-zero exit would let the call run).

``permissions.deny`` holds ``Bash(<prefix> *)`` for every class prefix that is T3 on its own
(see :mod:`generators.exporters.prefixes`). Claude Code checks each part of a compound
command against them. They keep denying if hooks are switched off (``disableAllHooks``);
they are the only place a static rule is stricter than the hook (a T3 prefix used on a
dev-only target). No allow or ask rules are exported: a hook ``allow`` does not override an
``ask`` rule, so they could only make the agent stricter than the policy.

Workspace trust: in a workspace whose trust dialog was not accepted, Claude Code ignores
``permissions.allow`` from the project's settings; ``deny`` rules and hooks still apply.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import lru_cache
from typing import Any

from generators.exporters.base import ExportContext, ExportResult, hook_guard, hook_runner
from generators import hook_client
from generators.hook import STATE_VERSION

SETTINGS = "claude-code/settings.json"
STATE = "claude-code/hook-state.json"


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


def hook_state(ctx: ExportContext) -> dict[str, Any]:
    """What the hook loads: a verdict table for the policy's own commands (the fast path),
    the decision table, the rules and the inventory (for the full classifier)."""
    table: dict[str, dict[str, str]] = {}
    if ctx.classifier is not None:
        cmds = {a.command for a in ctx.policy.actions().values()}
        cmds |= {i.command for c in ctx.table().classes for i in c.instances if i.is_command}
        for cmd in sorted(cmds):
            c = ctx.classifier.classify(cmd)
            table[cmd] = {"decision": c.decision, "reason": " | ".join(c.reasons)}
    return {
        "version": STATE_VERSION,
        "policy_digest": ctx.policy.meta.inventory_digest,
        "decision_table": ctx.table().model_dump(mode="json", exclude={"classes": {"__all__": {"instances", "factors"}}}),
        "environments": ctx.environments or {},
        "rules": ctx.rules_data,
        "inventory": ctx.inventory,
        "table": table,
    }


def state_files(name: str, state: dict[str, Any]) -> dict[str, str]:
    """The hook's state file and, beside it, its verdict table (see :func:`generators.hook_client.table_get`),
    which names the state's SHA-256 so it is only ever read with these exact bytes."""
    text = json.dumps(state, ensure_ascii=False, separators=(",", ":")) + "\n"
    digest = hook_client.state_hash(text.encode("utf-8"))
    return {name: text, hook_client.table_path(name): hook_client.table_text(digest, state.get("table") or {})}


def deny_rules(ctx: ExportContext) -> list[str]:
    """``Bash(prefix *)`` for every compiled prefix that is T3 on its own (names and aliases)."""
    out: set[str] = set()
    for r in ctx.prefix_rules():
        if r.decision != "deny":
            continue
        for prog in r.programs:
            if "/" not in prog:  # absolute paths: the hook resolves them; the list stays readable
                out.add(f"Bash({' '.join((prog, *r.tokens))} *)")
    return sorted(out)


def hook_command(ctx: ExportContext, *extra: str) -> str:
    """The hook's shell command: the installed CLI by absolute path, blocking when it is missing."""
    return hook_guard(ctx.cli_path(), ["claude-code", "--state", f"{ctx.enforce_dir}/{STATE}", *extra])


def export(ctx: ExportContext) -> ExportResult:
    """Settings fragment (hook + deny backstop) and the hook's state."""
    cli = ctx.cli_path()
    present = f"[ -x {shlex.quote(cli)} ]" if "/" in cli else f"command -v {shlex.quote(cli)} >/dev/null 2>&1"
    runner = hook_runner(cli) or [cli, "hook"]
    warm = f"{present} && {shlex.join([*runner, 'claude-code', '--state', f'{ctx.enforce_dir}/{STATE}', '--warm'])} || true"
    settings = {
        "permissions": {"deny": deny_rules(ctx)},
        "hooks": {
            "PreToolUse": [{"matcher": "Bash|Read|Write|Edit|MultiEdit|NotebookEdit", "hooks": [
                {"type": "command", "command": hook_command(ctx), "timeout": 30}]}],
            # Start the warm classifier at session start, so the first Bash call is fast too
            # (best effort: a missing CLI must not stop a session from starting).
            "SessionStart": [{"hooks": [
                {"type": "command", "command": warm, "timeout": 10}]}],
        },
    }
    files = {SETTINGS: json.dumps(settings, indent=2, ensure_ascii=False) + "\n"}
    files.update(state_files(STATE, hook_state(ctx)))
    return ExportResult(files=files, rules=list(settings["permissions"]["deny"]))
