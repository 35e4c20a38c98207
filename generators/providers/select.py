"""Pick the provider for a run: flags over ``stackpolicy.yaml`` over env; ``auto`` looks at API keys."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from generators.providers.base import Provider, RetryPolicy
from inventory.config import ProviderConfig

PROVIDER_NAMES = ("auto", "offline", "openai", "anthropic", "openai-compatible")


class ProviderConfigError(Exception):
    """An unknown provider name or a provider that cannot be used as configured."""


@dataclass
class Selection:
    """The chosen provider (None: offline) and a sentence saying why, for the console."""

    name: str
    provider: Provider | None
    reason: str


def resolve_name(name: str, env: Mapping[str, str]) -> tuple[str, str]:
    """The concrete provider for ``name`` and why (``auto``: Anthropic key, else OpenAI key, else offline)."""
    if name not in PROVIDER_NAMES:
        raise ProviderConfigError(f"unknown provider '{name}' (choose from: {', '.join(PROVIDER_NAMES)})")
    if name != "auto":
        return name, f"provider '{name}' was requested"
    if env.get("ANTHROPIC_API_KEY"):
        return "anthropic", "provider auto: ANTHROPIC_API_KEY is set"
    if env.get("OPENAI_API_KEY"):
        return "openai", "provider auto: OPENAI_API_KEY is set (ANTHROPIC_API_KEY is not)"
    return "offline", "provider auto: neither ANTHROPIC_API_KEY nor OPENAI_API_KEY is set"


def build_provider(pc: ProviderConfig, env: Mapping[str, str] | None = None,
                   retry: RetryPolicy | None = None) -> Selection:
    """Instantiate the provider ``pc`` describes. Keys come only from the environment."""
    env = os.environ if env is None else env
    name, reason = resolve_name(pc.name, env)
    retry = retry or RetryPolicy(max_retries=pc.max_retries)
    if name == "offline":
        return Selection("offline", None, reason)
    if name == "openai":
        from generators.providers.openai_provider import OpenAIProvider

        if not env.get("OPENAI_API_KEY"):
            raise ProviderConfigError("provider 'openai' needs OPENAI_API_KEY in the environment")
        p: Provider = OpenAIProvider(pc.model, api_key=env["OPENAI_API_KEY"],
                                     base_url=pc.base_url or env.get("OPENAI_BASE_URL"), retry=retry, timeout=pc.timeout)
    elif name == "anthropic":
        from generators.providers.anthropic_provider import AnthropicProvider

        if not env.get("ANTHROPIC_API_KEY"):
            raise ProviderConfigError("provider 'anthropic' needs ANTHROPIC_API_KEY in the environment")
        p = AnthropicProvider(pc.model, api_key=env["ANTHROPIC_API_KEY"],
                              base_url=pc.base_url or env.get("ANTHROPIC_BASE_URL"), retry=retry, timeout=pc.timeout)
    else:
        from generators.providers.openai_compatible import OpenAICompatibleProvider

        p = OpenAICompatibleProvider(pc.model, api_key=env.get("OPENAI_API_KEY"),
                                     base_url=pc.base_url or env.get("OPENAI_BASE_URL"), retry=retry, timeout=pc.timeout)
    return Selection(name, p, f"{reason}; model {p.model}")
