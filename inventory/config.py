"""`stackpolicy.yaml`: optional project configuration.

Every key is optional; a missing file means defaults (scan `examples/acme-platform`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inventory.commands.model import plain_reads

CONFIG_NAME = "stackpolicy.yaml"
DEFAULT_SOURCES = ["examples/acme-platform"]

# Name fragments that reveal an environment. Matched as whole tokens (split on -_./ and
# case-insensitive) against namespaces, overlay dirs, workspaces, paths and labels.
DEFAULT_ENVIRONMENT_PATTERNS: dict[str, list[str]] = {
    "prod": ["prod", "prd", "production", "gprd", "live", "prod1", "prod2"],
    "staging": ["staging", "stg", "stage", "gstg", "preprod", "pre-prod", "uat"],
    "dev": ["dev", "development", "local", "sandbox"],
    "test": ["test", "testing", "qa", "ci"],
}


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and line."""


class Override(BaseModel):
    """Facts a team asserts about an entity that the scan cannot see."""

    model_config = ConfigDict(extra="forbid")

    criticality: str | None = None  # low | medium | high | critical
    owners: list[str] = Field(default_factory=list)
    data_classes: list[str] = Field(default_factory=list)
    environment: str | None = None


class ProviderConfig(BaseModel):
    """LLM provider settings (see generators/providers)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "auto"  # auto | offline | openai | anthropic | openai-compatible
    model: str | None = None
    base_url: str | None = None
    temperature: float = 0.0
    concurrency: int = 4
    timeout: float = 60.0
    max_retries: int = 4
    retry_base_delay: float = 1.0  # seconds before the first retry (doubles each time; Retry-After wins)
    budget_usd: float | None = None
    max_output_tokens: int = 8000


class EvalsConfig(BaseModel):
    """Eval-suite settings."""

    model_config = ConfigDict(extra="forbid")

    budget: int = Field(default=150, ge=12, le=5000)  # cases per suite, whatever the estate's size


class Config(BaseModel):
    """The parsed `stackpolicy.yaml`."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES))
    include: list[str] = Field(default_factory=list)  # globs; empty: everything
    exclude: list[str] = Field(default_factory=list)
    environments: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ENVIRONMENT_PATTERNS.items()}
    )
    overrides: dict[str, Override] = Field(default_factory=dict)  # keyed by entity id or name
    # Path glob (relative to a scanned source) → environment: the estate's own statement of
    # where what is defined under a path runs (`"terraform/deployments/**": prod`).
    environment_paths: dict[str, str] = Field(default_factory=dict)
    max_file_bytes: int = 2_000_000
    output: str = "output"
    prompts_dir: str | None = None
    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    evals: EvalsConfig = Field(default_factory=EvalsConfig)
    rules: dict[str, Any] = Field(default_factory=dict)  # overrides of generators/risk/rules.yaml
    tiers: dict[str, Any] = Field(default_factory=dict)  # renames / definitions of T0..T3
    base_dir: str = "."  # where the config file lives; relative sources resolve against it


def load_config(path: str | Path | None = None, *, search_dir: str | Path = ".") -> Config:
    """Load `stackpolicy.yaml` from ``path`` or ``search_dir``; defaults when absent."""
    cfg_path = Path(path) if path else Path(search_dir) / CONFIG_NAME
    if not cfg_path.exists():
        if path:
            raise ConfigError(f"{cfg_path}: configuration file not found")
        return Config()
    import yaml  # here, not at the top: start-up of `classify` without a config never needs it

    try:
        raw = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{cfg_path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cfg_path}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{cfg_path}:1: expected a mapping at the top level")
    if isinstance(raw.get("provider"), str):
        raw["provider"] = {"name": raw["provider"]}
    envs = raw.get("environments")
    if isinstance(envs, dict):
        # A team's patterns extend the defaults rather than replace them.
        merged = {k: list(v) for k, v in DEFAULT_ENVIRONMENT_PATTERNS.items()}
        for env, pats in envs.items():
            merged.setdefault(str(env), [])
            merged[str(env)] = sorted(set(merged[str(env)]) | {str(p) for p in (pats or [])})
        raw["environments"] = merged
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{cfg_path}: {loc}: {first['msg']}") from exc
    cfg.base_dir = str(cfg_path.parent)
    return cfg


plain_reads(Override, ProviderConfig, EvalsConfig, Config)  # see commands.model.plain_reads
