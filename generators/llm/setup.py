"""Build the LLM refiner for a run from stackpolicy.yaml, the environment and CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from generators.llm.prompts import PromptRenderer
from generators.llm.run import LLMRefiner, RunOptions
from generators.pipeline import load_tiers
from generators.providers.base import RetryPolicy
from generators.providers.batch import BatchState
from generators.providers.cache import ResponseCache
from generators.providers.calllog import CallLog
from generators.providers.select import build_provider
from inventory.config import Config, ProviderConfig

STATE_DIR = ".stackpolicy"


@dataclass
class LLMFlags:
    """Provider-related flags of `policy` / `evals` / `prompts` (None: take the config's value)."""

    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    concurrency: int | None = None
    budget: float | None = None
    prompts_dir: str | None = None
    dry_run: bool = False
    batch: bool = False
    no_cache: bool = False


def provider_config(cfg: Config, flags: LLMFlags) -> ProviderConfig:
    """The config's provider section with flags applied on top."""
    update = {k: v for k, v in {"name": flags.provider, "model": flags.model, "base_url": flags.base_url,
                                "concurrency": flags.concurrency, "budget_usd": flags.budget}.items() if v is not None}
    return cfg.provider.model_copy(update=update)


def prompts_dir(cfg: Config, flags: LLMFlags) -> Path | None:
    """The user's template directory: the flag, else ``prompts_dir`` relative to the config file."""
    if flags.prompts_dir:
        return Path(flags.prompts_dir)
    if cfg.prompts_dir:
        p = Path(cfg.prompts_dir)
        return p if p.is_absolute() else Path(cfg.base_dir) / p
    return None


def state_dir(cfg: Config) -> Path:
    """Where the response cache and batch state live (next to stackpolicy.yaml, else the cwd)."""
    return Path(cfg.base_dir) / STATE_DIR


def make_renderer(cfg: Config, flags: LLMFlags) -> PromptRenderer:
    """The prompt renderer with the configured tiers and the user's template overrides."""
    return PromptRenderer(load_tiers(cfg), prompts_dir(cfg, flags))


def make_refiner(cfg: Config, flags: LLMFlags, *, env: Mapping[str, str] | None = None,
                 progress: bool = False) -> tuple[LLMRefiner | None, str]:
    """The refiner for this run (None: offline) and a sentence saying which provider and why."""
    pc = provider_config(cfg, flags)
    sel = build_provider(pc, os.environ if env is None else env,
                         RetryPolicy(max_retries=pc.max_retries, base_delay=pc.retry_base_delay))
    if sel.provider is None:
        return None, sel.reason
    refiner = LLMRefiner(
        sel.provider, make_renderer(cfg, flags),
        cache=ResponseCache(state_dir(cfg) / "cache" / "llm", enabled=not flags.no_cache),
        log=CallLog(),
        options=RunOptions(concurrency=pc.concurrency, max_tokens=pc.max_output_tokens, temperature=pc.temperature,
                           budget_usd=pc.budget_usd, batch=flags.batch, progress=progress),
        batch_state=BatchState(state_dir(cfg) / "batches.json"),
    )
    return refiner, sel.reason
