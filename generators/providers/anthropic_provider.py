"""Anthropic (official SDK): Messages with one forced tool whose input schema is the answer schema."""

from __future__ import annotations

import json
import os
from typing import Any

from generators import __version__

from generators.providers._errors import from_sdk_error
from generators.providers.base import LLMRequest, LLMResponse, ProviderError, RetryPolicy, SDKProvider, batch_custom_id

DEFAULT_MODEL = "claude-sonnet-4-5"
DEFAULT_BASE_URL = "https://api.anthropic.com"  # the SDK's own default
_WIRE: list[tuple[str, str] | None] = []  # (version header, auth style) of the installed SDK


def sdk_wire() -> tuple[str, str] | None:
    """The ``anthropic-version`` header and the API-key header style (``bearer`` or ``x-api-key``)
    the installed SDK sends, read from its sources without importing it (the import alone costs
    about a second); None when they cannot be read, and the SDK then serves every request."""
    if not _WIRE:
        import importlib.util
        import re
        from pathlib import Path

        found: tuple[str, str] | None = None
        try:
            spec = importlib.util.find_spec("anthropic")
            root = Path(spec.origin).parent if spec is not None and spec.origin else None
            if root is not None:
                version = re.search(r'^ANTHROPIC_API_VERSION\s*=\s*"([^"]+)"',
                                    (root / "_constants.py").read_text(), re.M)
                client = (root / "_client.py").read_text()
                bearer = 'return {"Authorization": f"Bearer {api_key}"}' in client
                x_api_key = '"X-Api-Key": api_key' in client
                if version is not None and bearer != x_api_key:
                    found = (version.group(1), "bearer" if bearer else "x-api-key")
        except (OSError, ValueError, ImportError):
            found = None
        _WIRE.append(found)
    return _WIRE[0]


class AnthropicProvider(SDKProvider):
    """``provider: anthropic``. Tool use is the structured-output channel: the answer is the tool input."""

    name = "anthropic"

    def __init__(self, model: str | None = None, *, api_key: str | None = None, base_url: str | None = None,
                 retry: RetryPolicy | None = None, timeout: float = 60.0) -> None:
        super().__init__(model or DEFAULT_MODEL, api_key=api_key, base_url=base_url, retry=retry, timeout=timeout)

    def _new_client(self) -> Any:
        from anthropic import AsyncAnthropic

        return AsyncAnthropic(api_key=self._api_key, base_url=self._base_url, max_retries=0, timeout=self.timeout)

    def _fast_settings(self) -> tuple[str, dict[str, str]] | None:
        # As the SDK resolves them: the argument, else ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL;
        # the headers as the installed SDK sends them. (ANTHROPIC_AUTH_TOKEN stays with the SDK.)
        key = self._api_key or os.environ.get("ANTHROPIC_API_KEY")
        wire = sdk_wire()
        if not key or wire is None:
            return None
        version, style = wire
        auth = {"Authorization": f"Bearer {key}"} if style == "bearer" else {"X-Api-Key": key}
        return (self._base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
                {**auth, "anthropic-version": version, "User-Agent": f"stackpolicy/{__version__}"})

    def params(self, req: LLMRequest) -> dict[str, Any]:
        """The Messages request body (also the ``params`` of a batch request).

        The current Messages API takes no ``temperature``; determinism comes from the forced
        tool and the validation, and the cache makes reruns identical.
        """
        return {
            "model": self.model,
            "max_tokens": req.max_tokens,
            "system": req.system,
            "messages": [{"role": "user", "content": req.prompt}],
            "tools": [{"name": req.schema_name, "description": "Submit the answer. Call exactly once.",
                       "input_schema": req.schema}],
            "tool_choice": {"type": "tool", "name": req.schema_name},
        }

    async def _complete(self, req: LLMRequest) -> LLMResponse:
        fast = self.fast_client()
        if fast is not None:  # the lean transport (see SDKProvider): same body, same answer
            raw = await fast.post_json("/v1/messages", json.dumps(self.params(req)).encode())
            return self.parse(self.json_answer(raw))
        try:
            msg = await self.client.messages.create(**self.params(req))
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes a ProviderError
            raise from_sdk_error(exc, self.name) from exc
        return self.parse(msg.model_dump())

    def parse(self, data: dict[str, Any]) -> LLMResponse:
        """An LLMResponse from a Messages response body (dict form)."""
        blocks = data.get("content") or []
        tool = next((b for b in blocks if b.get("type") == "tool_use"), None)
        if tool is not None:
            raw = tool.get("input")
            text = raw if isinstance(raw, str) else json.dumps(raw)
        else:
            text = "".join(b.get("text") or "" for b in blocks if b.get("type") == "text")
        if not text:
            raise ProviderError(f"{self.name}: empty answer")
        usage = data.get("usage") or {}
        return LLMResponse(text=text, input_tokens=int(usage.get("input_tokens") or 0),
                           output_tokens=int(usage.get("output_tokens") or 0),
                           truncated=data.get("stop_reason") == "max_tokens")

    # ---- Message Batches -----------------------------------------------------------
    async def submit_batch(self, reqs: list[LLMRequest]) -> str:
        """Create a Message Batch; returns its id."""
        try:
            batch = await self.client.messages.batches.create(
                requests=[{"custom_id": batch_custom_id(r.key), "params": self.params(r)} for r in reqs])
        except Exception as exc:  # noqa: BLE001
            raise from_sdk_error(exc, self.name) from exc
        return batch.id

    async def batch_status(self, batch_id: str) -> str:
        """``in_progress``, ``canceling`` or ``ended``."""
        try:
            return (await self.client.messages.batches.retrieve(batch_id)).processing_status
        except Exception as exc:  # noqa: BLE001
            raise from_sdk_error(exc, self.name) from exc

    async def collect_batch(self, batch_id: str) -> dict[str, LLMResponse | ProviderError] | None:
        """Answers by batch custom id (:func:`batch_custom_id`) once the batch has ended; None while it still runs."""
        try:
            batch = await self.client.messages.batches.retrieve(batch_id)
            if batch.processing_status != "ended":
                return None
            results = [r.model_dump() async for r in await self.client.messages.batches.results(batch_id)]
        except Exception as exc:  # noqa: BLE001
            raise from_sdk_error(exc, self.name) from exc
        out: dict[str, LLMResponse | ProviderError] = {}
        for item in results:
            result = item.get("result") or {}
            key = item.get("custom_id", "")
            if result.get("type") != "succeeded":
                out[key] = ProviderError(f"{self.name}: batch item {result.get('type')}")
                continue
            try:
                out[key] = self.parse(result.get("message") or {})
            except ProviderError as exc:
                out[key] = exc
        return out

