"""`stackpolicy hook claude-code|codex`: the PreToolUse hooks (see :mod:`generators.hook`).

The console script answers `stackpolicy hook ...` before the other commands are imported
(see :mod:`generators.cli`); this click command is the same hook for `--help` and tests.
"""

from __future__ import annotations

import sys

import click

from generators.hook import DEFAULT_CODEX_STATE, DEFAULT_STATE, run, warm


def register(main: click.Group) -> None:
    @main.command("hook")
    @click.argument("agent", type=click.Choice(["claude-code", "codex"]))
    @click.option("--state", "state", default=None,
                  help=f"The hook state written by `stackpolicy export` (relative to the project; default "
                       f"{DEFAULT_STATE}, for codex {DEFAULT_CODEX_STATE}).")
    @click.option("--warm", "warm_only", is_flag=True, default=False,
                  help="Only start the warm classifier for the state (a SessionStart hook); print nothing.")
    def hook(agent: str, state: str | None, warm_only: bool) -> None:
        """Decide one agent tool call: hook JSON on stdin, the decision on stdout.

        \b
        Register it in .claude/settings.json (the export writes that fragment):
          {"hooks": {"PreToolUse": [{"matcher": "Bash|Read|Write|Edit|MultiEdit|NotebookEdit", "hooks":
            [{"type": "command", "command": "stackpolicy hook claude-code"}]}]}}
        Optionally, start the warm classifier when a session starts, so that even the
        first command outside the exported table is answered fast:
          {"hooks": {"SessionStart": [{"hooks":
            [{"type": "command", "command": "stackpolicy hook claude-code --warm"}]}]}}
        Commands outside the table go to a warm classifier process (one per hook state,
        private UNIX socket, exits after 15 idle minutes); without one the hook classifies
        in-process and starts it. STACKPOLICY_HOOK_SERVER=off turns the server off.
        Errors answer "ask" (fail closed). Exit code is always 0.

        \b
        codex: the Codex PreToolUse hook (.codex/hooks.json, written by `stackpolicy export
        codex`). Codex enforces only "deny": T3 is denied, T2 is denied unless a prompt or
        forbidden rule of the exported .rules already stops it for a human; T0/T1 print
        nothing and Codex's rules decide. Errors deny.
        """
        state = state or (DEFAULT_CODEX_STATE if agent == "codex" else DEFAULT_STATE)
        if warm_only:
            warm(sys.stdin, state)
        else:
            run(sys.stdin, sys.stdout, state, agent)
