"""`stackpolicy scan`: sources in, `output/inventory.yaml` out."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from generators.cli.common import EXIT_FINDINGS, UsageError, console, get_config, resolve_sources
from inventory.io import atomic_write, inventory_to_json, inventory_to_yaml
from inventory.model import Inventory
from inventory.scan import ScanError, ScanStats, default_progress, scan_paths


def run_scan(ctx: click.Context, paths: list[str] | tuple[str, ...], *, use_cache: bool = True) -> tuple[Inventory, ScanStats]:
    """Scan with progress on a TTY; errors become clean usage errors."""
    cfg = get_config(ctx)
    sources = resolve_sources(cfg, paths)
    update, close = default_progress()
    try:
        return scan_paths(sources, cfg, use_cache=use_cache, progress=update)
    except ScanError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        close()


def print_summary(inv: Inventory, stats: ScanStats, out_path: str | None, timings: bool = False) -> None:
    """A short human summary on stderr: counts by kind and the first warnings (and, with
    ``timings``, the wall time of each stage of the scan)."""
    con = console()
    kinds = Counter(c.kind for c in inv.components) + Counter(r.kind for r in inv.resources)
    origins = Counter(a.origin for a in inv.actions)
    con.print(
        f"[bold]scanned[/bold] {stats.files_scanned} files ({stats.cache_hits} from cache) in "
        f"{', '.join(inv.sources)}"
    )
    con.print(
        f"  {len(inv.components)} components, {len(inv.resources)} resources, {len(inv.edges)} edges, "
        f"{len(inv.actions)} actions ({', '.join(f'{n} {o}' for o, n in sorted(origins.items())) or 'none'}), "
        f"{len(inv.secrets)} secret values redacted"
    )
    if kinds:
        con.print("  by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if inv.warnings:
        con.print(f"  [yellow]{len(inv.warnings)} warnings[/yellow]")
        for w in inv.warnings[:10]:
            con.print(f"    {w.path}:{w.line}: {w.message}", markup=False)
        if len(inv.warnings) > 10:
            con.print(f"    ... and {len(inv.warnings) - 10} more (see the inventory's `warnings`)")
    if timings:
        con.print("  stages: " + ", ".join(f"{name} {secs:.2f} s" for name, secs in stats.stages.items()), markup=False)
    if out_path:
        con.print(f"  wrote {out_path}")


def register(main: click.Group) -> None:
    @main.command("scan")
    @click.argument("paths", nargs=-1, type=click.Path())
    @click.option("-o", "--output", "output", default=None,
                  help="Where to write the inventory (default: output/inventory.yaml; '-' for stdout).")
    @click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
                  help="Inventory format. `--format json` without -o prints to stdout.")
    @click.option("--strict", is_flag=True, help="Exit 1 when the scan produced warnings.")
    @click.option("--no-cache", is_flag=True, help="Ignore and do not update the per-file scan cache.")
    @click.option("--timings", is_flag=True,
                  help="Also print how long each stage of the scan took (walk and scan, merge, actions, scrub, store...).")
    @click.pass_context
    def scan(ctx: click.Context, paths: tuple[str, ...], output: str | None, fmt: str, strict: bool, no_cache: bool,
             timings: bool) -> None:
        """Inventory services, configs and runbooks under PATHS.

        PATHS default to `sources` in stackpolicy.yaml, else examples/acme-platform.
        Writes a deterministic inventory (byte-identical on rerun) and prints a summary.
        """
        inv, stats = run_scan(ctx, paths, use_cache=not no_cache)
        text = inventory_to_json(inv) if fmt == "json" else inventory_to_yaml(inv)
        to_stdout = output == "-" or (output is None and fmt == "json")
        if to_stdout:
            sys.stdout.write(text)
            out_path = None
        else:
            cfg = get_config(ctx)
            out_path = output or str(Path(cfg.output) / "inventory.yaml")
            atomic_write(out_path, text)
        print_summary(inv, stats, out_path, timings)
        if strict and inv.warnings:
            console().print(f"[red]--strict: {len(inv.warnings)} warnings[/red]")
            ctx.exit(EXIT_FINDINGS)
