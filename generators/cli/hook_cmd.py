"""`stackpolicy hook claude-code`: the PreToolUse hook (see :mod:`generators.hook`).

The console script answers `stackpolicy hook ...` before the other commands are imported
(see :mod:`generators.cli`); this click command is the same hook for `--help` and tests.
"""

from __future__ import annotations

import sys

import click

from generators.hook import DEFAULT_STATE, run


def register(main: click.Group) -> None:
    @main.command("hook")
    @click.argument("agent", type=click.Choice(["claude-code"]))
    @click.option("--state", "state", default=DEFAULT_STATE, show_default=True,
                  help="The hook state written by `stackpolicy export claude-code` (relative to the project).")
    def hook(agent: str, state: str) -> None:
        """Decide one agent tool call: hook JSON on stdin, the decision on stdout.

        \b
        Register it in .claude/settings.json (the export writes that fragment):
          {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks":
            [{"type": "command", "command": "stackpolicy hook claude-code"}]}]}}
        Errors answer "ask" (fail closed). Exit code is always 0.
        """
        run(sys.stdin, sys.stdout, state)
