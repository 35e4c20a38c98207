"""The Anthropic provider against the local wire-format server (lean transport and real SDK): tool
use, retries, batches."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from generators.providers.anthropic_provider import AnthropicProvider
from generators.providers.base import LLMRequest, ProviderError, RetryPolicy
from tests.llm_server import LLMServer, Reply, llm_server  # noqa: F401 - fixture

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False}
REQ = LLMRequest(key="evals:kafka-cluster:main", system="sys", prompt="do it", schema_name="answer", schema=SCHEMA,
                 max_tokens=700)


@pytest.fixture(autouse=True, params=["fast", "sdk"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs over both transports: the lean client (the default) and the SDK."""
    monkeypatch.setenv("STACKPOLICY_LLM_TRANSPORT", request.param)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return request.param


def _provider(server: LLMServer, timeout: float = 5.0, base_delay: float = 0.01) -> AnthropicProvider:
    return AnthropicProvider("claude-test", api_key="test-key", base_url=server.anthropic_base_url,
                             retry=RetryPolicy(max_retries=2, base_delay=base_delay), timeout=timeout)


async def _complete(p: AnthropicProvider):  # type: ignore[no-untyped-def]
    try:
        return await p.complete(REQ)
    finally:
        await p.aclose()


def test_forced_tool_use_request_and_answer(llm_server: LLMServer, transport: str) -> None:
    llm_server.script("messages", llm_server.anthropic_tool("answer", {"ok": True}, input_tokens=222, output_tokens=9))
    resp = asyncio.run(_complete(_provider(llm_server)))
    assert json.loads(resp.text) == {"ok": True}
    assert (resp.input_tokens, resp.output_tokens) == (222, 9)
    rec = llm_server.requests_for("messages")[0]
    # SDK 2.x authenticates with a bearer token; older ones used x-api-key.
    assert "test-key" in (rec.headers.get("x-api-key", "") + rec.headers.get("authorization", ""))
    assert rec.headers["anthropic-version"]
    # The transport asked for is the one that sent it.
    assert rec.headers["user-agent"].startswith("stackpolicy/") == (transport == "fast")
    body = rec.body
    assert body["system"] == "sys" and body["max_tokens"] == 700
    assert body["tools"] == [{"name": "answer", "description": "Submit the answer. Call exactly once.",
                              "input_schema": SCHEMA}]
    assert body["tool_choice"] == {"type": "tool", "name": "answer"}


def test_text_answer_is_accepted_when_no_tool_block(llm_server: LLMServer) -> None:
    llm_server.script("messages", llm_server.anthropic_message('{"ok": false}'))
    assert json.loads(asyncio.run(_complete(_provider(llm_server))).text) == {"ok": False}


def test_429_retry_after_and_529_overloaded(llm_server: LLMServer) -> None:
    llm_server.script("messages", Reply.error(429, headers={"retry-after": "0.3"}, kind="rate_limit_error"),
                      Reply.error(529, kind="overloaded_error"),
                      llm_server.anthropic_tool("answer", {"ok": True}))
    t0 = time.perf_counter()
    resp = asyncio.run(_complete(_provider(llm_server)))
    assert resp.attempts == 3 and time.perf_counter() - t0 >= 0.3


def test_timeout_then_give_up(llm_server: LLMServer) -> None:
    llm_server.script("messages", *[llm_server.anthropic_tool("answer", {"ok": True}).slow(1.5)] * 3)
    with pytest.raises(ProviderError, match=r"anthropic: request timed out \(gave up after 3 attempts\)"):
        asyncio.run(_complete(_provider(llm_server, timeout=0.3)))


def test_max_tokens_stop_is_truncated(llm_server: LLMServer) -> None:
    llm_server.script("messages", llm_server.anthropic_message('{"ok": tr', stop_reason="max_tokens"))
    assert asyncio.run(_complete(_provider(llm_server))).truncated


def test_message_batches_submit_and_collect(llm_server: LLMServer) -> None:
    llm_server.script("messages", llm_server.anthropic_tool("answer", {"ok": True}))
    p = _provider(llm_server)

    async def go():  # type: ignore[no-untyped-def]
        try:
            bid = await p.submit_batch([REQ])
            return bid, await p.collect_batch(bid)
        finally:
            await p.aclose()

    bid, results = asyncio.run(go())
    assert bid.startswith("msgbatch_") and results is not None
    (custom_id, resp), = results.items()
    assert custom_id.startswith("sp-") and len(custom_id) <= 64  # Anthropic's custom_id charset and length
    assert json.loads(resp.text) == {"ok": True}
    sent = llm_server.requests_for("message_batches")[0].body["requests"][0]
    assert sent["params"]["tool_choice"] == {"type": "tool", "name": "answer"}


def test_lean_transport_sends_the_headers_the_installed_sdk_sends(llm_server: LLMServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from generators.providers.anthropic_provider import sdk_wire

    wire = sdk_wire()
    assert wire is not None, "the installed SDK's version header and auth style could not be read"
    seen = {}
    for mode in ("fast", "sdk"):
        monkeypatch.setenv("STACKPOLICY_LLM_TRANSPORT", mode)
        llm_server.script("messages", llm_server.anthropic_tool("answer", {"ok": True}))
        asyncio.run(_complete(_provider(llm_server)))
        h = llm_server.requests_for("messages")[-1].headers
        seen[mode] = (h["anthropic-version"], h.get("authorization"), h.get("x-api-key"))
    assert seen["fast"] == seen["sdk"]
