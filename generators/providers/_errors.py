"""Turn an SDK exception (openai or anthropic; they share a shape), or an HTTP error answer
received without the SDK (:mod:`generators.providers.http`), into a :class:`ProviderError`.
Both paths word the message and decide ``retryable`` the same way."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from generators.providers.base import ProviderError, parse_retry_after

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def from_sdk_error(exc: Exception, provider: str) -> ProviderError:
    """A ProviderError for ``exc``: retryable for timeouts, connection errors, 429 and 5xx."""
    cls = type(exc).__name__
    status: int | None = getattr(exc, "status_code", None)
    if status is not None:
        response: Any = getattr(exc, "response", None)
        retry_after = parse_retry_after(getattr(response, "headers", None))
        message = _message(exc)
        return ProviderError(f"{provider}: HTTP {status}: {message}", retryable=status in RETRYABLE_STATUS or status >= 500,
                             retry_after=retry_after, status=status)
    if "Timeout" in cls:
        return ProviderError(f"{provider}: request timed out", retryable=True)
    if "Connection" in cls:
        return ProviderError(f"{provider}: cannot connect ({exc})", retryable=True)
    return ProviderError(f"{provider}: {cls}: {exc}")


def from_status(provider: str, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """A ProviderError for an HTTP error answer: the API's own ``error.message`` when the body
    carries one (OpenAI and Anthropic both do), ``Retry-After`` honoured, 408/409/429/5xx retryable."""
    try:
        parsed: Any = json.loads(body) if body else None
    except ValueError:
        parsed = None
    message = _body_message(parsed) or body.decode("utf-8", "replace").strip()[:300] or f"status {status}"
    return ProviderError(f"{provider}: HTTP {status}: {message}", retryable=status in RETRYABLE_STATUS or status >= 500,
                         retry_after=parse_retry_after(headers), status=status)


def _body_message(body: Any) -> str | None:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return None


def _message(exc: Exception) -> str:
    found = _body_message(getattr(exc, "body", None))
    if found:
        return found
    return str(getattr(exc, "message", exc))[:300]
