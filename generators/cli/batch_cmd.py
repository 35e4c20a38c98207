"""`stackpolicy batch status`: the batches a `--batch` run submitted and where they are."""

from __future__ import annotations

import asyncio
import os

import click

from generators.cli.common import console, get_config
from generators.llm.setup import state_dir
from generators.providers.base import ProviderError, RetryPolicy
from generators.providers.batch import BatchState
from generators.providers.select import ProviderConfigError, build_provider
from inventory.config import Config


def register(main: click.Group) -> None:
    @main.group("batch")
    def batch() -> None:
        """Batch jobs submitted by `policy --batch` / `evals --batch`."""

    @batch.command("status")
    @click.option("--no-remote", is_flag=True, help="Only show the saved jobs; do not ask the API.")
    @click.pass_context
    def status(ctx: click.Context, no_remote: bool) -> None:
        """Show saved batch jobs and, with an API key, their current status. Rerun the same
        `policy --batch` command to collect finished batches."""
        cfg = get_config(ctx)
        jobs = BatchState(state_dir(cfg) / "batches.json").load()
        con = console(stderr=False)
        if not jobs:
            con.print("no batch jobs pending")
            return
        for doc, job in sorted(jobs.items()):
            remote = ""
            if not no_remote:
                remote = _remote_status(cfg, job.provider, job.model, job.batch_id)
            con.print(f"{doc}: {job.provider}:{job.model} batch {job.batch_id}, {len(job.keys)} requests, "
                      f"submitted {job.submitted_at or 'unknown'}{remote}")


def _remote_status(cfg: Config, provider: str, model: str, batch_id: str) -> str:
    """`: <status>` from the API, or why it is unknown."""
    pc = cfg.provider.model_copy(update={"name": provider, "model": model})
    try:
        sel = build_provider(pc, os.environ, RetryPolicy(max_retries=1, base_delay=pc.retry_base_delay))
    except ProviderConfigError as exc:
        return f" (status unknown: {exc})"
    if sel.provider is None:
        return ""

    async def ask() -> str:
        try:
            return await sel.provider.batch_status(batch_id)  # type: ignore[union-attr]
        finally:
            await sel.provider.aclose()  # type: ignore[union-attr]

    try:
        return f": {asyncio.run(ask())}"
    except ProviderError as exc:
        return f" (status unknown: {exc})"
