"""Provider flags shared by `policy`, `evals` and `prompts`, and the hooks `policy`/`evals` call.

The decorator stores the flags on the click context (``ctx.obj["llm"]``), so the commands'
own signatures do not change; :func:`llm_provider` builds the provider for the pipeline,
handles ``--dry-run`` and batch resumption, and writes the call log at the end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from generators.cli.common import UsageError, console, isatty
from generators.documents.model import DocumentMeta, EvalSuite, Policy, TierDefinition
from generators.llm.prompts import PromptError, RenderedPrompt
from generators.llm.run import LLMRefiner, plan
from generators.llm.setup import LLMFlags, make_refiner, make_renderer, provider_config
from generators.llm.slices import eval_slices, system_slices
from generators.pipeline import DocumentProvider, draft_documents
from generators.providers.base import ProviderError
from generators.providers.batch import BatchPending
from generators.providers.select import PROVIDER_NAMES, ProviderConfigError
from generators.risk.model import Assessment
from inventory.config import Config
from inventory.model import Inventory


def llm_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --provider/--model/--base-url/--concurrency/--budget/--prompts-dir/--dry-run/--batch;
    they are stored as one :class:`LLMFlags` in ``ctx.obj["llm"]``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        ctx = click.get_current_context()
        ctx.ensure_object(dict)
        ctx.obj["llm"] = LLMFlags(provider=kw.pop("provider"), model=kw.pop("model"), base_url=kw.pop("base_url"),
                             concurrency=kw.pop("concurrency"), budget=kw.pop("budget"),
                             prompts_dir=kw.pop("prompts_dir"), dry_run=kw.pop("dry_run"), batch=kw.pop("batch"),
                             no_cache=kw.get("no_cache", False))
        return fn(*args, **kw)

    opts = [
        click.option("--provider", type=click.Choice(PROVIDER_NAMES), default=None,
                     help="LLM provider (default: `provider` in stackpolicy.yaml, else auto: Anthropic if "
                          "ANTHROPIC_API_KEY is set, else OpenAI if OPENAI_API_KEY, else offline)."),
        click.option("--model", default=None, help="Model name for the provider."),
        click.option("--base-url", "base_url", default=None,
                     help="API base URL (OpenAI-compatible servers: Ollama, vLLM, LM Studio)."),
        click.option("--concurrency", type=click.IntRange(1, 256), default=None, help="Parallel API calls."),
        click.option("--budget", type=click.FloatRange(0), default=None,
                     help="Stop calling the API once this many USD are spent (price table: generators/providers/prices.yaml)."),
        click.option("--prompts-dir", "prompts_dir", type=click.Path(file_okay=False), default=None,
                     help="Directory with prompt templates that override the bundled ones (same file names)."),
        click.option("--dry-run", "dry_run", is_flag=True,
                     help="Render the prompts, count calls and tokens, estimate the cost; call nothing, write nothing."),
        click.option("--batch", is_flag=True,
                     help="Submit through the OpenAI Batch API / Anthropic Message Batches; rerun to resume."),
    ]
    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


def flags_of(ctx: click.Context) -> LLMFlags:
    """The provider flags of this invocation (defaults when the command has none)."""
    obj = ctx.find_root().obj or {}
    return (ctx.obj or {}).get("llm") or obj.get("llm") or LLMFlags()


class _CliProvider:
    """Wraps the refiner for the pipeline: batch-pending stops the run cleanly; the log is written at the end."""

    def __init__(self, ctx: click.Context, refiner: LLMRefiner, reason: str, out_dir: Path) -> None:
        self.ctx, self.refiner, self.reason, self.out_dir = ctx, refiner, reason, out_dir
        self.name = refiner.name
        self.model = refiner.model

    @property
    def drafts_ahead(self) -> bool:
        """Whether the pipeline may draft the eval suite ahead, in a forked child (the refiner says)."""
        return self.refiner.drafts_ahead

    def _guard(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except BatchPending as exc:
            console().print(f"[yellow]{exc}[/yellow]")
            self.ctx.exit(0)
        except ProviderError as exc:
            raise UsageError(str(exc)) from exc

    def refine_policy(self, draft: Policy, inv: Inventory, assessments: dict[str, Assessment]) -> Policy:
        out = self._guard(lambda: self.refiner.refine_policy(draft, inv, assessments))
        if self.refiner.unreachable is not None and not any(r.outcome in ("valid", "repaired")
                                                            for r in self.refiner.log.records):
            # Not one answer: a wrong base URL or a server that is down, not a model problem.
            raise UsageError(f"{self.refiner.unreachable}; nothing was written (check --base-url / "
                             "OPENAI_BASE_URL / ANTHROPIC_BASE_URL, or use --provider offline)")
        return out

    def refine_evals(self, draft: EvalSuite, inv: Inventory, policy: Policy) -> EvalSuite:
        out = self._guard(lambda: self.refiner.refine_evals(draft, inv, policy))
        self._write_log()
        return out

    # The refiner's finished-documents cache, passed through: an unchanged rerun then skips
    # drafting, prompt rendering and answer validation, not only the API calls.
    def prepare_recall(self, assessments: dict[str, Assessment], tiers: list[TierDefinition]) -> None:
        self.refiner.prepare_recall(assessments, tiers)

    def recall_documents(self, inv: Inventory, assessments: dict[str, Assessment], tiers: list[TierDefinition],
                         meta: DocumentMeta) -> tuple[Policy, EvalSuite] | None:
        hit = self.refiner.recall_documents(inv, assessments, tiers, meta)
        if hit is not None:  # no refine step runs: the log (every prompt a cache hit) is written here
            self._write_log()
        return hit

    def remember_documents(self, policy: Policy, evals: EvalSuite) -> None:
        self.refiner.remember_documents(policy, evals)

    def _write_log(self) -> None:
        path = self.refiner.log.write(self.out_dir)
        console().print(f"LLM calls: {self.refiner.log.summary()} (log: {path})")


def llm_provider(ctx: click.Context, cfg: Config, inv: Inventory,
                 assessments: dict[str, Assessment]) -> DocumentProvider | None:
    """The provider for `policy` / `evals` (None: offline). ``--dry-run`` prints the plan and exits 0."""
    flags = flags_of(ctx)
    out_dir = Path(ctx.params.get("output") or cfg.output)
    try:
        refiner, reason = make_refiner(cfg, flags, progress=isatty())
    except (ProviderConfigError, PromptError) as exc:
        raise UsageError(str(exc)) from exc
    ctx.obj["llm_note"] = reason if refiner is None else f"{refiner.provider.label} ({reason})"
    if flags.dry_run:
        _dry_run(cfg, flags, inv, assessments, refiner)
        ctx.exit(0)
    if refiner is None:
        return None
    return _CliProvider(ctx, refiner, reason, out_dir)


def llm_note(ctx: click.Context) -> str | None:
    """Which provider drafted the documents and why (set by :func:`llm_provider`)."""
    note = (ctx.obj or {}).get("llm_note")
    return note if note is None or not note.startswith("provider auto: neither") else f"offline ({note})"


def _dry_run(cfg: Config, flags: LLMFlags, inv: Inventory, assessments: dict[str, Assessment],
             refiner: LLMRefiner | None) -> None:
    policy, evals = draft_documents(inv, assessments, cfg, provider=None)
    prompts = all_prompts(cfg, flags, inv, policy, evals)
    con = console()
    if refiner is None:
        con.print(f"dry run: offline drafter, {len(prompts)} prompts would be sent by an LLM provider; none is "
                  "configured, so a real run makes no calls.")
        return
    pc = provider_config(cfg, flags)
    p = plan(prompts, refiner.provider.name, refiner.provider.model, refiner.cache, max_tokens=pc.max_output_tokens,
             temperature=pc.temperature, batch=flags.batch)
    con.print(p.describe(refiner.provider.label, flags.batch))


def all_prompts(cfg: Config, flags: LLMFlags, inv: Inventory, policy: Policy, evals: EvalSuite) -> list[RenderedPrompt]:
    """Every prompt a run would send: the policy prompts, then the eval prompts (from the offline drafts)."""
    try:
        renderer = make_renderer(cfg, flags)
        return ([renderer.policy(sl) for sl in system_slices(policy, inv)]
                + [renderer.evals(sl) for sl in eval_slices(policy, inv, evals.cases)])
    except PromptError as exc:
        raise UsageError(str(exc)) from exc
