"""`stackpolicy evals run` and `stackpolicy evals diff A B`.

`stackpolicy evals` (no subcommand) keeps generating the eval suite, as before: this module
turns the existing command into a group whose default invocation is that command, so
`make evals` and every existing invocation behave exactly as they did.

Exit codes for `run`: 0 no system is demoted; 1 at least one system is demoted (the run
found problems); 2 bad usage or input.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from generators.cli.common import EXIT_FINDINGS, UsageError, console, get_config
from generators.evalrun.agent import DEFAULT_SYSTEM_PROMPT, LoopLimits, backend_for
from generators.evalrun.diff import DiffError, diff_runs, load_result, render_diff_md
from generators.evalrun.grader import Grader
from generators.evalrun.report import write_run
from generators.evalrun.rubric import RubricGrader
from generators.evalrun.scripted import BEHAVIOURS, ScriptedBackend
from generators.evalrun.runner import RunSettings, TranscriptCache, estimate, run_suite, utc_now
from generators.evalrun.setup import SetupError, load_inputs
from generators.providers.base import RetryPolicy
from generators.providers.cache import ResponseCache
from generators.providers.anthropic_provider import DEFAULT_MODEL as ANTHROPIC_MODEL
from generators.providers.openai_compatible import DEFAULT_MODEL as COMPATIBLE_MODEL
from generators.providers.openai_provider import DEFAULT_MODEL as OPENAI_MODEL
from generators.providers.select import ProviderConfigError, build_provider, resolve_name
from generators.risk.rules import RulesError, rules_from_config

RUN_PROVIDERS = ("openai", "anthropic", "openai-compatible", "auto")
DEFAULT_MODELS = {"openai": OPENAI_MODEL, "anthropic": ANTHROPIC_MODEL, "openai-compatible": COMPATIBLE_MODEL}


def _clock(ctx: click.Context) -> Callable[[], datetime]:
    """The run's clock: injected by tests (``obj["clock"]``), else ``SOURCE_DATE_EPOCH``, else now."""
    obj = ctx.find_root().obj or {}
    if callable(obj.get("clock")):
        return obj["clock"]  # type: ignore[no-any-return]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        fixed = datetime.fromtimestamp(int(epoch), timezone.utc)
        return lambda: fixed
    return utc_now


def _build(ctx: click.Context, provider: str | None, model: str | None, base_url: str | None) -> Any:
    cfg = get_config(ctx)
    pc = cfg.provider.model_copy(update={k: v for k, v in
                                         {"name": provider, "model": model, "base_url": base_url}.items() if v})
    try:
        sel = build_provider(pc, retry=RetryPolicy(max_retries=pc.max_retries, base_delay=pc.retry_base_delay))
    except ProviderConfigError as exc:
        raise UsageError(str(exc)) from exc
    if sel.provider is None:
        raise UsageError(f"evals run needs an LLM to test ({sel.reason}): pass --provider openai|anthropic|"
                         "openai-compatible and set its API key")
    return sel.provider


def _dry_run_target(ctx: click.Context, provider: str | None, model: str | None) -> tuple[str, str]:
    """Provider name and model a run would use, without building a client."""
    cfg = get_config(ctx)
    try:
        name, reason = resolve_name(provider or cfg.provider.name, os.environ)
    except ProviderConfigError as exc:
        raise UsageError(str(exc)) from exc
    if name == "offline":
        raise UsageError(f"evals run needs an LLM to test ({reason}): pass --provider")
    return name, model or cfg.provider.model or DEFAULT_MODELS[name]


def _run(ctx: click.Context, o: dict[str, Any]) -> None:
    cfg = get_config(ctx)
    con = console()
    suite_path = Path(o["suite"] or Path(cfg.output) / "evals.yaml")
    try:
        rules = rules_from_config(cfg)
        inputs = load_inputs(suite_path, policy_path=o["policy"], inventory_path=o["inventory"],
                             sources=list(o["sources"]), rules=rules, env_patterns=cfg.environments)
    except (SetupError, RulesError) as exc:
        raise UsageError(str(exc)) from exc
    system_prompt = DEFAULT_SYSTEM_PROMPT
    if o["system_prompt"]:
        try:
            system_prompt = Path(o["system_prompt"]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{o['system_prompt']}: cannot read the system prompt: {exc.strerror or exc}") from exc
    limits = LoopLimits(max_steps=o["max_steps"], max_tokens=o["max_tokens"],
                        temperature=o["temperature"] if o["temperature"] is not None else LoopLimits.temperature)
    settings = RunSettings(repeat=o["repeat"], concurrency=o["concurrency"] or cfg.provider.concurrency,
                           limits=limits, system_prompt=system_prompt, cases=tuple(o["case"]))
    cache = TranscriptCache(enabled=not o["no_cache"])
    for w in inputs.warnings:
        con.print(f"warning: {w}", markup=False)
    if o["dry_run"]:
        # No provider instance (and so no API key) is needed to estimate.
        name, model = _dry_run_target(ctx, o["provider"], o["model"])
        est = estimate(inputs.suite, name, model, settings, cache)
        click.echo(f"{est.attempts} attempts ({est.cached} cached), ~{est.calls_expected} calls expected "
                   f"(at most {est.calls_max}); ~{est.input_tokens} input and ~{est.output_tokens} output tokens; "
                   f"estimated ${est.cost_usd:.2f} (at most ${est.cost_max_usd:.2f}) at {name}:{model}")
        return
    if o["agent"]:
        # A scripted agent (no model): calibrates the suite and the grader offline.
        behaviour = o["agent"].split(":", 1)[1]
        try:
            backend: Any = ScriptedBackend(inputs.suite, behaviour)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        provider = backend.provider
    else:
        provider = _build(ctx, o["provider"], o["model"], o["base_url"])
        backend = backend_for(provider)
    rubric = None
    if o["rubric_model"]:
        rubric_provider = _build(ctx, o["provider"], o["rubric_model"], o["base_url"])
        rubric = RubricGrader(rubric_provider, ResponseCache(enabled=not o["no_cache"]))

    async def go() -> Any:
        try:
            return await run_suite(inputs.suite, backend, Grader(inputs.classifier),
                                   sources=inputs.sources, settings=settings, cache=cache, rubric=rubric,
                                   action_tiers=inputs.action_tiers, system_names=inputs.system_names,
                                   clock=_clock(ctx))
        finally:
            await provider.aclose()
            if rubric is not None:
                await rubric.provider.aclose()

    out = asyncio.run(go())
    errored = [t for t in out.transcripts if t.stopped == "error"]
    if out.transcripts and len(errored) == len(out.transcripts):
        # Nothing was graded: a key, model or URL problem, not an agent verdict.
        raise UsageError(f"every attempt failed at the provider; first error: {errored[0].error}")
    results_dir = Path(o["results_dir"] or Path(cfg.output) / "eval-results")
    try:
        written = write_run(out.result, out.transcripts, results_dir)
    except OSError as exc:
        raise UsageError(f"{results_dir}: cannot write: {exc.strerror or exc}") from exc
    r = out.result
    con.print(f"[bold]ran[/bold] {r.meta.cases} cases × {r.meta.repeat} on {provider.label} "
              f"({out.cache_hits} attempts from cache): pass rate {r.overall.rate:.0%} "
              f"(95% CI {r.overall.low:.0%}–{r.overall.high:.0%})")
    for v in r.verdicts:
        con.print(f"  {v.verdict:<8} {v.name}: {v.reasons[0]}", markup=False)
    errors = sum(1 for g in r.grades if g.outcome == "error")
    if errors:
        con.print(f"[yellow]{errors} attempts failed at the provider[/yellow] (not graded; re-run to resume)")
    for p in (written.md, written.json, written.transcripts):
        con.print(f"  wrote {p}")
    if any(v.verdict == "demote" for v in r.verdicts):
        ctx.exit(EXIT_FINDINGS)


def _as_group(existing: click.Command | None) -> click.Group:
    """A group named ``evals`` whose bare invocation runs ``existing`` (the suite generator)."""

    @click.pass_context
    def callback(ctx: click.Context, **kwargs: Any) -> None:
        if ctx.invoked_subcommand is None and existing is not None and existing.callback is not None:
            ctx.invoke(existing.callback, **kwargs)

    help_text = (existing.help or "") if existing else "Eval suite commands."
    help_text += ("\n\nSubcommands: `run` runs the suite against an agent and grades it with the policy; "
                  "`diff A B` compares two runs. Without a subcommand, generates the suite.")
    return click.Group(name="evals", params=list(existing.params) if existing else [], callback=callback,
                       help=help_text, invoke_without_command=True,
                       short_help=existing.short_help if existing else None)


def register(main: click.Group) -> None:
    group = _as_group(main.commands.get("evals"))
    main.add_command(group, "evals")

    @group.command("run")
    @click.option("--suite", type=click.Path(dir_okay=False), default=None,
                  help="The eval suite (default: <output>/evals.yaml).")
    @click.option("--policy", type=click.Path(dir_okay=False), default=None,
                  help="The compiled policy whose tiers grade commands (default: policy.yaml beside the suite).")
    @click.option("--inventory", type=click.Path(dir_okay=False), default=None,
                  help="The inventory, to resolve targets (default: inventory.yaml beside the suite).")
    @click.option("--sources", multiple=True, type=click.Path(),
                  help="Where read_file finds runbooks (repeatable; default: the suite's scanned sources).")
    @click.option("--provider", type=click.Choice(RUN_PROVIDERS), default=None,
                  help="The API of the agent under test (default: `provider` in stackpolicy.yaml).")
    @click.option("--model", default=None, help="The model under test.")
    @click.option("--agent", type=click.Choice([f"scripted:{b}" for b in BEHAVIOURS]), default=None,
                  help="Run a scripted agent instead of a model (no API key): shows whether the suite "
                       "fails a reckless agent and passes a careful one.")
    @click.option("--base-url", default=None, help="API base URL (OpenAI-compatible servers, proxies).")
    @click.option("--repeat", type=click.IntRange(1, 1000), default=1, show_default=True,
                  help="Attempts per case (the ladder wants its rung's min_runs).")
    @click.option("--concurrency", type=click.IntRange(1, 64), default=None,
                  help="Attempts in flight at once (default: provider.concurrency).")
    @click.option("--max-steps", type=click.IntRange(1, 50), default=8, show_default=True,
                  help="Model turns per attempt.")
    @click.option("--max-tokens", type=click.IntRange(1000), default=40_000, show_default=True,
                  help="Total tokens per attempt.")
    @click.option("--temperature", type=click.FloatRange(0, 2), default=None,
                  help="Sampling temperature of the agent (default 0.7: repeats are samples).")
    @click.option("--system-prompt", type=click.Path(dir_okay=False), default=None,
                  help="A file with the agent's system prompt (default: a neutral operator prompt).")
    @click.option("--case", multiple=True, help="Only cases whose id or system matches this glob (repeatable).")
    @click.option("--rubric-model", default=None,
                  help="Also grade passing attempts with this model's judgement of the pass criteria.")
    @click.option("--results-dir", type=click.Path(file_okay=False), default=None,
                  help="Where reports go (default: <output>/eval-results).")
    @click.option("--no-cache", is_flag=True, help="Neither reuse nor store transcripts (no resume).")
    @click.option("--dry-run", is_flag=True, help="Estimate calls and cost; call nothing.")
    @click.pass_context
    def run(ctx: click.Context, **o: Any) -> None:
        """Run every case against an agent loop and grade it with the policy.

        Writes <timestamp>.md (verdicts per system: promote / hold / demote, and why),
        <timestamp>.json and <timestamp>.transcripts.jsonl. Completed attempts are cached,
        so an interrupted run resumes. Exit 1 when a system is demoted.
        """
        _run(ctx, o)

    @group.command("diff")
    @click.argument("before", type=click.Path(dir_okay=False))
    @click.argument("after", type=click.Path(dir_okay=False))
    @click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
    def diff(before: str, after: str, as_json: bool) -> None:
        """Compare two runs (their .json or .md reports): did a model or prompt change help?"""
        try:
            a, b = load_result(before), load_result(after)
        except DiffError as exc:
            raise UsageError(str(exc)) from exc
        d = diff_runs(a, b, Path(before).stem, Path(after).stem)
        click.echo(d.model_dump_json(indent=2) if as_json else render_diff_md(d), nl=as_json)



