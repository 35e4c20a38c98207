"""The `stackpolicy` command line. One module per command group; registered here.

Exit codes: 0 success; 1 the command ran and found problems (strict warnings, check
failures, merge conflicts); 2 bad usage or input (missing path, invalid config).
"""

from __future__ import annotations

import os
import sys

# `stackpolicy hook` runs on every agent tool call and must answer fast: the console script
# hands it to the stdlib-only hook before click and the other commands are imported.
# `--help` goes on to click, which documents the command.
if (os.path.basename(sys.argv[0]) == "stackpolicy" and sys.argv[1:2] == ["hook"]
        and not {"-h", "--help"} & set(sys.argv[2:])):  # pragma: no cover
    from generators.hook import main as _hook_main

    sys.exit(_hook_main(sys.argv[2:]))

import importlib  # noqa: E402

import click  # noqa: E402

from generators import __version__  # noqa: E402

# Command modules, each defining `register(main)`. Adding a command = adding a module here.
_COMMAND_MODULES = (
    "generators.cli.scan_cmd",
    "generators.cli.policy_cmd",
    "generators.cli.classify_cmd",
    "generators.cli.prompts_cmd",
    "generators.cli.batch_cmd",
    "generators.cli.check_cmd",
    "generators.cli.export_cmd",
    "generators.cli.hook_cmd",
    "generators.cli.evals_run_cmd",  # after policy_cmd: wraps `evals` into a group
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="stackpolicy")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Path to stackpolicy.yaml (default: ./stackpolicy.yaml if present).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """stackpolicy: tiered action-class policies and eval suites for AI agents,
    built from your own infrastructure repositories.

    \b
    Pipeline:  scan -> classify -> policy / evals -> review -> check -> export
    Start with `stackpolicy policy` (or `make policy`) on the bundled example.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


# Commands whose module stands alone: `stackpolicy classify ...` (run per agent call and fed
# batches on stdin) registers only its own module, so start-up does not import the scanners,
# the LLM stack and the review code it never uses. Any other invocation (and importing
# `main` from Python) registers every command.
_STANDALONE = {"classify": "generators.cli.classify_cmd"}


def _console_subcommand(argv: list[str]) -> str | None:
    """The subcommand of a console-script invocation (after the global ``--config``), if any."""
    if os.path.basename(argv[0]) != "stackpolicy":
        return None
    rest = argv[1:]
    while rest[:1] == ["--config"] or (rest and rest[0].startswith("--config=")):
        rest = rest[2:] if rest[0] == "--config" else rest[1:]
    return rest[0] if rest else None


_only = _STANDALONE.get(_console_subcommand(sys.argv) or "")
for _name in (_only,) if _only else _COMMAND_MODULES:
    importlib.import_module(_name).register(main)
