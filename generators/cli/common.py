"""Helpers shared by CLI commands: config, sources, errors, console output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from inventory.config import Config, ConfigError, load_config

if TYPE_CHECKING:  # rich is imported when a console is made: `classify` never needs it
    from rich.console import Console

EXIT_FINDINGS = 1
EXIT_USAGE = 2


class UsageError(click.ClickException):
    """Bad input: printed as `error: ...`, exit code 2, never a traceback."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"error: {self.format_message()}", err=True)


def console(stderr: bool = True) -> Console:
    """A rich console (stderr by default, so stdout stays machine-readable)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def get_config(ctx: click.Context) -> Config:
    """The configuration for this invocation; a broken config file is a usage error."""
    obj = ctx.find_root().obj or {}
    if "config" not in obj:
        try:
            obj["config"] = load_config(obj.get("config_path"))
        except ConfigError as exc:
            raise UsageError(str(exc)) from exc
    return obj["config"]


def resolve_sources(cfg: Config, given: tuple[str, ...] | list[str]) -> list[str]:
    """Sources from flags, else from the config (relative to it), else the bundled example."""
    if given:
        return list(given)
    base = Path(cfg.base_dir)
    return [str(base / s) if not Path(s).is_absolute() and cfg.base_dir != "." else s for s in cfg.sources]


def isatty() -> bool:
    return sys.stderr.isatty()
