"""The provider interface: one structured-output call, plus the retry loop every API shares.

A provider turns an :class:`LLMRequest` (system text, user prompt, JSON schema) into an
:class:`LLMResponse` (the answer text and token usage). SDK clients are created with
``max_retries=0``: retries happen here so ``Retry-After`` is honoured and every attempt is
counted in the call log.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class LLMRequest:
    """One prompt to send: ``key`` is a stable id (``policy:<system id>``) used for batches and logs."""

    key: str
    system: str
    prompt: str
    schema_name: str
    schema: dict[str, Any]
    max_tokens: int = 8000
    temperature: float = 0.0


@dataclass
class LLMResponse:
    """What came back: the answer as JSON text, and what it cost."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 1
    truncated: bool = False  # the model stopped at max_tokens


class ProviderError(Exception):
    """A call that failed for good (after retries); the message says why, without secrets."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


@dataclass
class RetryPolicy:
    """Backoff for 429 / 5xx / timeouts. Tests shrink ``base_delay`` to keep fast."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.1  # fraction of the delay added at random, so parallel calls do not retry in lockstep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based); ``Retry-After`` wins when given."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        d = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        return d + d * self.jitter * random.random()


@dataclass
class Attempts:
    """How many attempts a call took and the errors of the failed ones (for the call log)."""

    count: int = 0
    errors: list[str] = field(default_factory=list)


async def with_retries(fn: Callable[[], Awaitable[T]], policy: RetryPolicy, attempts: Attempts | None = None) -> T:
    """Run ``fn``; on a retryable :class:`ProviderError` wait (Retry-After or backoff) and retry."""
    attempts = attempts if attempts is not None else Attempts()
    while True:
        attempts.count += 1
        try:
            return await fn()
        except ProviderError as exc:
            attempts.errors.append(str(exc))
            if not exc.retryable or attempts.count > policy.max_retries:
                if exc.retryable:
                    raise ProviderError(f"{exc} (gave up after {attempts.count} attempts)",
                                        status=exc.status) from exc
                raise
            await asyncio.sleep(policy.delay(attempts.count, exc.retry_after))


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header; None when absent or a date."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def batch_custom_id(key: str) -> str:
    """A batch-safe id for a request key (Anthropic allows only ``[a-zA-Z0-9_-]{1,64}``)."""
    return "sp-" + hashlib.sha256(key.encode()).hexdigest()[:40]


class Provider(ABC):
    """One LLM API. Subclasses implement :meth:`_complete` (a single attempt)."""

    name: str = "provider"

    def __init__(self, model: str, retry: RetryPolicy | None = None, timeout: float = 60.0) -> None:
        self.model = model
        self.retry = retry or RetryPolicy()
        self.timeout = timeout

    @abstractmethod
    async def _complete(self, req: LLMRequest) -> LLMResponse:
        """One attempt. Raise :class:`ProviderError` (``retryable`` for 429/5xx/timeouts)."""

    async def complete(self, req: LLMRequest) -> LLMResponse:
        """The answer to ``req``, retrying transient failures."""
        attempts = Attempts()
        resp = await with_retries(lambda: self._complete(req), self.retry, attempts)
        resp.attempts = attempts.count
        return resp

    async def aclose(self) -> None:
        """Release the HTTP client."""
        return None

    @property
    def label(self) -> str:
        """``provider:model``, as written into ``drafted_by``."""
        return f"{self.name}:{self.model}"


TRANSPORT_ENV = "STACKPOLICY_LLM_TRANSPORT"  # "sdk": every request through the official SDK


class SDKProvider(Provider):
    """A provider backed by an official async SDK client, created on first use.

    The one request a run repeats thousands of times (a structured-output call) goes through
    :class:`~generators.providers.http.FastClient` when :meth:`_fast_settings` gives a URL
    and headers for it and :func:`~generators.providers.http.fast_path_for` accepts the URL
    (no proxy); everything else (batches, files, a proxied URL, ``STACKPOLICY_LLM_TRANSPORT=sdk``)
    through the SDK client.
    """

    def __init__(self, model: str, *, api_key: str | None = None, base_url: str | None = None,
                 retry: RetryPolicy | None = None, timeout: float = 60.0) -> None:
        super().__init__(model, retry, timeout)
        self._api_key, self._base_url = api_key, base_url
        self._client: Any = None
        self._fast: Any = None  # FastClient, for the running event loop
        self._fast_off = False  # decided once: the SDK serves every request

    def _fast_settings(self) -> tuple[str, dict[str, str]] | None:
        """(base URL, headers) for the lean transport, or None when only the SDK can serve."""
        return None

    def json_answer(self, raw: bytes) -> dict[str, Any]:
        """A raw response body as the JSON object every API answers with; ProviderError otherwise."""
        import json

        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ProviderError(f"{self.name}: the response is not JSON") from exc
        if not isinstance(data, dict):
            raise ProviderError(f"{self.name}: the response is not a JSON object")
        return data

    def fast_client(self) -> Any:
        """The lean transport for the hot request, or None (then the SDK serves it)."""
        if self._fast is None and not self._fast_off:
            import os

            from generators.providers.http import FastClient, fast_path_for

            settings = None if os.environ.get(TRANSPORT_ENV, "").strip().lower() == "sdk" else self._fast_settings()
            if settings is None or not fast_path_for(settings[0]):
                self._fast_off = True
                return None
            self._fast = FastClient(settings[0], self.name, self.timeout, settings[1])
        return self._fast

    @abstractmethod
    def _new_client(self) -> Any:
        """The SDK's async client, with ``max_retries=0`` (:func:`with_retries` owns retrying,
        so ``Retry-After`` and attempt counts are ours)."""

    @property
    def client(self) -> Any:
        """The SDK client, created on first use inside the running event loop (a run = one loop)."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    async def aclose(self) -> None:
        """Release the HTTP clients (both belong to the event loop that is ending)."""
        if self._fast is not None:
            fast, self._fast = self._fast, None
            await fast.aclose()
        if self._client is not None:
            await self._client.close()
            self._client = None
