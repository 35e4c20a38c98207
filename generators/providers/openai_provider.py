"""OpenAI (official SDK): Chat Completions with structured output (``json_schema``), and the Batch API."""

from __future__ import annotations

import json
import os
from typing import Any

from generators import __version__

from generators.providers._errors import from_sdk_error
from generators.providers.base import LLMRequest, LLMResponse, ProviderError, RetryPolicy, SDKProvider, batch_custom_id

DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the SDK's own default


class OpenAIProvider(SDKProvider):
    """``provider: openai``. ``base_url`` and the key fall back to the SDK's own env vars."""

    name = "openai"
    structured = True  # send response_format json_schema (strict)

    def __init__(self, model: str | None = None, *, api_key: str | None = None, base_url: str | None = None,
                 retry: RetryPolicy | None = None, timeout: float = 60.0) -> None:
        super().__init__(model or DEFAULT_MODEL, api_key=api_key, base_url=base_url, retry=retry, timeout=timeout)

    def _new_client(self) -> Any:
        from openai import AsyncOpenAI

        return AsyncOpenAI(api_key=self._api_key, base_url=self._base_url, max_retries=0, timeout=self.timeout)

    def _fast_settings(self) -> tuple[str, dict[str, str]] | None:
        # The SDK's own resolution: the argument, else OPENAI_API_KEY / OPENAI_BASE_URL, and the
        # organization / project headers from OPENAI_ORG_ID / OPENAI_PROJECT_ID.
        key = self._api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            return None  # the SDK says what is missing
        headers = {"Authorization": f"Bearer {key}", "User-Agent": f"stackpolicy/{__version__}"}
        if os.environ.get("OPENAI_ORG_ID"):
            headers["OpenAI-Organization"] = os.environ["OPENAI_ORG_ID"]
        if os.environ.get("OPENAI_PROJECT_ID"):
            headers["OpenAI-Project"] = os.environ["OPENAI_PROJECT_ID"]
        return self._base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL, headers

    def body(self, req: LLMRequest) -> dict[str, Any]:
        """The Chat Completions request body (also used for batch lines)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": req.system}, {"role": "user", "content": req.prompt}],
            "temperature": req.temperature,
            "max_completion_tokens": req.max_tokens,
        }
        if self.structured:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": req.schema_name, "schema": req.schema, "strict": True}}
        else:
            body["response_format"] = {"type": "json_object"}
        return body

    async def _complete(self, req: LLMRequest) -> LLMResponse:
        # The plain-dict body goes straight to the SDK's transport (`client.post`): the typed
        # `chat.completions.create` walks the whole body (the large JSON schema included)
        # through its TypedDict transform on every call, and parsing the answer into SDK models
        # only to dump them back to a dict is wasted work too. Errors, auth and timeouts are
        # the SDK's as before. Faster still: the lean transport (see SDKProvider), same body.
        fast = self.fast_client()
        if fast is not None:
            raw = await fast.post_json("/chat/completions", json.dumps(self.body(req)).encode())
        else:
            try:
                raw = await self.client.post("/chat/completions", body=self.body(req), cast_to=bytes)
            except Exception as exc:  # noqa: BLE001 - every SDK error becomes a ProviderError
                raise from_sdk_error(exc, self.name) from exc
        return self.parse(self.json_answer(raw))

    def parse(self, data: dict[str, Any]) -> LLMResponse:
        """An LLMResponse from a Chat Completions response body (dict form)."""
        choices = data.get("choices") or []
        if not choices:
            raise ProviderError(f"{self.name}: response has no choices")
        choice = choices[0]
        msg = choice.get("message") or {}
        text = msg.get("content")
        if not text and msg.get("tool_calls"):
            text = msg["tool_calls"][0]["function"]["arguments"]
        if not text:
            refusal = msg.get("refusal")
            raise ProviderError(f"{self.name}: empty answer" + (f" (refused: {refusal})" if refusal else ""))
        usage = data.get("usage") or {}
        return LLMResponse(text=text, input_tokens=int(usage.get("prompt_tokens") or 0),
                           output_tokens=int(usage.get("completion_tokens") or 0),
                           truncated=choice.get("finish_reason") == "length")

    # ---- Batch API -----------------------------------------------------------------
    async def submit_batch(self, reqs: list[LLMRequest]) -> str:
        """Upload a JSONL of requests and start a batch; returns the batch id."""
        lines = [json.dumps({"custom_id": batch_custom_id(r.key), "method": "POST", "url": "/v1/chat/completions", "body": self.body(r)})
                 for r in reqs]
        try:
            f = await self.client.files.create(file=("stackpolicy-batch.jsonl", ("\n".join(lines) + "\n").encode()),
                                               purpose="batch")
            batch = await self.client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                                     completion_window="24h")
        except Exception as exc:  # noqa: BLE001
            raise from_sdk_error(exc, self.name) from exc
        return batch.id

    async def batch_status(self, batch_id: str) -> str:
        """The batch's status string (``in_progress``, ``completed``, ``failed``...)."""
        try:
            return (await self.client.batches.retrieve(batch_id)).status
        except Exception as exc:  # noqa: BLE001
            raise from_sdk_error(exc, self.name) from exc

    async def collect_batch(self, batch_id: str) -> dict[str, LLMResponse | ProviderError] | None:
        """Answers by batch custom id (:func:`batch_custom_id`) once the batch is done; None while it still runs."""
        try:
            batch = await self.client.batches.retrieve(batch_id)
            if batch.status in ("validating", "in_progress", "finalizing", "cancelling"):
                return None
            if batch.status != "completed" or not batch.output_file_id:
                raise ProviderError(f"{self.name}: batch {batch_id} ended with status {batch.status}")
            content = await self.client.files.content(batch.output_file_id)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise from_sdk_error(exc, self.name) from exc
        out: dict[str, LLMResponse | ProviderError] = {}
        for line in content.text.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            resp = item.get("response") or {}
            if resp.get("status_code") != 200:
                out[item["custom_id"]] = ProviderError(f"{self.name}: batch item HTTP {resp.get('status_code')}")
                continue
            try:
                out[item["custom_id"]] = self.parse(resp.get("body") or {})
            except ProviderError as exc:
                out[item["custom_id"]] = exc
        return out

