"""`stackpolicy check`: CI gate on drift, tiers, review status, eval coverage and evidence.

Exit codes: 0 clean; 1 findings (errors, or warnings with --strict); 2 bad usage or input.
"""

from __future__ import annotations

from pathlib import Path

import click

from generators.check import FORMATS, compare, render
from generators.cli.common import EXIT_FINDINGS, UsageError, get_config
from generators.cli.scan_cmd import run_scan
from generators.pipeline import assess, draft_documents
from generators.risk.rules import RulesError


def register(main: click.Group) -> None:
    @main.command("check")
    @click.option("--sources", "sources", multiple=True, type=click.Path(),
                  help="A source tree to rescan (repeatable; default as for `stackpolicy policy`).")
    @click.option("--output", "output", default=None, type=click.Path(file_okay=False),
                  help="Where the committed documents are (default: `output` in stackpolicy.yaml, else ./output).")
    @click.option("--require-review", is_flag=True, help="Fail unless both documents have status: approved.")
    @click.option("--strict", is_flag=True, help="Warnings fail the check too.")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                  help="text for people, json for tools, github for workflow annotations.")
    @click.option("--no-cache", is_flag=True, help="Ignore the per-file scan cache.")
    @click.pass_context
    def check(ctx: click.Context, sources: tuple[str, ...], output: str | None, require_review: bool,
              strict: bool, fmt: str, no_cache: bool) -> None:
        """Rescan the sources and check the committed policy and eval suite against them.

        \b
        Flags drift (added / removed / changed actions), actions without a valid tier, tiers
        below the risk model's floor without a reviewer note, T2/T3 actions with no eval case,
        evidence that no longer exists, malformed edits and conflict markers (file:line), and
        with --require-review, documents that are not approved.
        """
        cfg = get_config(ctx)
        inv, _stats = run_scan(ctx, sources, use_cache=not no_cache)
        try:
            policy, _evals = draft_documents(inv, assess(inv, cfg), cfg)
        except RulesError as exc:
            raise UsageError(str(exc)) from exc
        out_dir = Path(output or cfg.output)
        result = compare(policy, out_dir, require_review=require_review, strict=strict)
        click.echo(render(result, fmt))
        if result.failed:
            ctx.exit(EXIT_FINDINGS)
