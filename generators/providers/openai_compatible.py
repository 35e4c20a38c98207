"""OpenAI-compatible servers (Ollama, vLLM, LM Studio) through the OpenAI SDK and a ``base_url``.

Local servers differ in how much of structured output they support, so the default asks
for ``json_schema`` (vLLM, recent Ollama and LM Studio honour it) and validation catches
the rest; ``structured=False`` falls back to ``json_object``.
"""

from __future__ import annotations

import os

from generators.providers.base import RetryPolicy
from generators.providers.openai_provider import OpenAIProvider

DEFAULT_BASE_URL = "http://localhost:11434/v1"  # Ollama
DEFAULT_MODEL = "llama3.1"


class OpenAICompatibleProvider(OpenAIProvider):
    """``provider: openai-compatible``. No key is needed by most local servers."""

    name = "openai-compatible"

    def __init__(self, model: str | None = None, *, api_key: str | None = None, base_url: str | None = None,
                 retry: RetryPolicy | None = None, timeout: float = 60.0, structured: bool = True) -> None:
        base = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        super().__init__(model or DEFAULT_MODEL, api_key=key, base_url=base, retry=retry, timeout=timeout)
        self.structured = structured
        self.base_url = base
