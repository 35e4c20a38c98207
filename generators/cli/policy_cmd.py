"""`stackpolicy policy` and `stackpolicy evals`: scan, assess, draft, render, write.

`policy` writes the inventory, the policy and the eval suite (the eval suite is graded by
the policy, so they are regenerated together); `evals` writes the inventory and the eval
suite only. Both say which provider drafted the documents.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from generators.cli.common import EXIT_FINDINGS, UsageError, console, get_config
from generators.cli.review_report import print_review
from generators.cli.llm_opts import llm_note, llm_options, llm_provider
from generators.cli.scan_cmd import run_scan
from generators.pipeline import assess, draft_documents, long_lived_gc, write_documents
from generators.review.roundtrip import ReviewError
from generators.risk.rules import RulesError, rules_from_config
from inventory.config import Config


def _provider_note(cfg: Config) -> str:
    """How the documents were drafted, for the console."""
    name = cfg.provider.name
    if name in ("auto", "offline"):
        return "offline (no LLM provider configured): deterministic drafter, tiers are the risk model's floors"
    return f"offline (provider '{name}' is configured but this command drafts with the deterministic drafter)"


def _run(ctx: click.Context, sources: tuple[str, ...], output: str | None, no_cache: bool, which: tuple[str, ...],
         force: bool = False) -> None:
    cfg = get_config(ctx)
    inv, stats = run_scan(ctx, sources, use_cache=not no_cache)
    with long_lived_gc():  # the estate and the table live until the documents are written
        try:
            assessments = assess(inv, cfg)
            policy, evals = draft_documents(inv, assessments, cfg, provider=llm_provider(ctx, cfg, inv, assessments))
        except RulesError as exc:
            raise UsageError(str(exc)) from exc
        out_dir = Path(output or cfg.output)
        try:
            written = write_documents(policy, evals, out_dir, inv=inv, which=which, force=force,
                                      rules=rules_from_config(cfg))
        except OSError as exc:
            raise UsageError(f"{out_dir}: cannot write: {exc.strerror or exc}") from exc
        except ReviewError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_FINDINGS)
    con = console()
    tiers = Counter(c.tier for c in policy.table.classes)
    con.print(f"[bold]scanned[/bold] {stats.files_scanned} files: {len(inv.components)} components, "
              f"{len(inv.resources)} resources, {len(inv.actions)} actions"
              + (f", [yellow]{len(inv.warnings)} warnings[/yellow]" if inv.warnings else ""))
    if "policy" in which:
        con.print(f"policy: {len(policy.systems)} systems, {len(policy.table.classes)} action classes ("
                  + ", ".join(f"{tiers.get(t, 0)} {t}" for t in ("T0", "T1", "T2", "T3"))
                  + f"), {len(policy.table.exceptions)} exceptions, {len(policy.questions)} open questions")
    if "evals" in which:
        cats = Counter(c.category for c in evals.cases)
        con.print(f"evals: {len(evals.cases)} cases (" + ", ".join(f"{n} {k}" for k, n in sorted(cats.items()))
                  + f"), ladder for {len(evals.ladder)} systems")
    con.print(f"drafted {llm_note(ctx) or _provider_note(cfg)}")
    for p in written.paths:
        con.print(f"  wrote {p}")
    if written.review is not None and not print_review(con, written.review):
        ctx.exit(EXIT_FINDINGS)


def _budget(ctx: click.Context, budget: int | None) -> None:
    """``--eval-budget`` overrides ``evals.budget`` of stackpolicy.yaml for this run."""
    if budget is not None:
        cfg = get_config(ctx)
        cfg.evals = cfg.evals.model_copy(update={"budget": budget})


def register(main: click.Group) -> None:
    sources_opt = click.option("--sources", "sources", multiple=True, type=click.Path(),
                               help="A source tree to scan (repeatable; default: `sources` in stackpolicy.yaml, "
                                    "else examples/acme-platform).")
    output_opt = click.option("--output", "output", default=None, type=click.Path(file_okay=False),
                              help="Output directory (default: `output` in stackpolicy.yaml, else ./output).")
    cache_opt = click.option("--no-cache", is_flag=True, help="Ignore and do not update the per-file scan cache.")
    budget_opt = click.option("--eval-budget", "eval_budget", type=click.IntRange(12, 5000), default=None,
                              help="Cases in the eval suite (default: evals.budget in stackpolicy.yaml, else 150).")
    force_opt = click.option("--force", is_flag=True,
                             help="Regenerate from scratch, dropping reviewer edits (a backup is kept in "
                                  "<output>/.stackpolicy/backup/).")

    @main.command("policy")
    @sources_opt
    @output_opt
    @cache_opt
    @llm_options
    @force_opt
    @budget_opt
    @click.pass_context
    def policy(ctx: click.Context, sources: tuple[str, ...], output: str | None, no_cache: bool, force: bool,
               eval_budget: int | None) -> None:
        """Scan, then write the policy and the eval suite.

        Writes inventory.yaml, policy.md, policy.yaml, evals.md and evals.yaml to the output
        directory. With no LLM provider configured the built-in offline drafter runs.
        """
        _budget(ctx, eval_budget)
        _run(ctx, sources, output, no_cache, ("policy", "evals"), force)

    @main.command("evals")
    @sources_opt
    @output_opt
    @cache_opt
    @llm_options
    @force_opt
    @budget_opt
    @click.pass_context
    def evals(ctx: click.Context, sources: tuple[str, ...], output: str | None, no_cache: bool, force: bool,
              eval_budget: int | None) -> None:
        """Scan, then write the eval suite only (inventory.yaml, evals.md, evals.yaml)."""
        _budget(ctx, eval_budget)
        _run(ctx, sources, output, no_cache, ("evals",), force)
