"""The OpenAI and OpenAI-compatible providers against the local wire-format server, over the lean
transport and the real SDK alike."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from generators.providers.base import LLMRequest, ProviderError, RetryPolicy
from generators.providers.openai_compatible import OpenAICompatibleProvider
from generators.providers.openai_provider import OpenAIProvider
from generators.providers.select import ProviderConfigError, build_provider, resolve_name
from inventory.config import ProviderConfig
from tests.llm_server import LLMServer, Reply, llm_server  # noqa: F401 - fixture

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False}
REQ = LLMRequest(key="policy:x", system="sys", prompt="do it", schema_name="answer", schema=SCHEMA, max_tokens=500)
FAST = RetryPolicy(max_retries=2, base_delay=0.01)


@pytest.fixture(autouse=True, params=["fast", "sdk"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs over both transports: the lean client (the default) and the SDK."""
    monkeypatch.setenv("STACKPOLICY_LLM_TRANSPORT", request.param)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return request.param


def _provider(server: LLMServer, **kw: object) -> OpenAIProvider:
    return OpenAIProvider("gpt-test", api_key="test-key", base_url=server.openai_base_url,
                          retry=kw.pop("retry", FAST), timeout=kw.pop("timeout", 5.0))  # type: ignore[arg-type]


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _complete(p: OpenAIProvider, req: LLMRequest = REQ):  # type: ignore[no-untyped-def]
    try:
        return await p.complete(req)
    finally:
        await p.aclose()


def test_structured_request_and_answer(llm_server: LLMServer, transport: str) -> None:
    llm_server.script("chat", llm_server.openai_json({"ok": True}, prompt_tokens=321, completion_tokens=12))
    resp = _run(_complete(_provider(llm_server)))
    assert json.loads(resp.text) == {"ok": True}
    assert (resp.input_tokens, resp.output_tokens, resp.attempts) == (321, 12, 1)
    body = llm_server.requests_for("chat")[0].body
    assert body["model"] == "gpt-test"
    assert body["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "do it"}]
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}
    assert body["max_completion_tokens"] == 500
    assert llm_server.requests_for("chat")[0].headers["authorization"] == "Bearer test-key"
    # The transport asked for is the one that sent it.
    assert llm_server.requests_for("chat")[0].headers["user-agent"].startswith("stackpolicy/") == (transport == "fast")


def test_429_honours_retry_after(llm_server: LLMServer) -> None:
    llm_server.script("chat", Reply.error(429, "slow down", headers={"retry-after": "0.4"}),
                      llm_server.openai_json({"ok": True}))
    t0 = time.perf_counter()
    resp = _run(_complete(_provider(llm_server, retry=RetryPolicy(max_retries=2, base_delay=5.0))))
    elapsed = time.perf_counter() - t0
    assert resp.attempts == 2
    # Retry-After (0.4 s) wins over the 5 s backoff.
    assert 0.4 <= elapsed < 3.0


def test_500_is_retried_then_succeeds(llm_server: LLMServer) -> None:
    llm_server.script("chat", Reply.error(500), Reply.error(503), llm_server.openai_json({"ok": True}))
    resp = _run(_complete(_provider(llm_server)))
    assert resp.attempts == 3
    assert len(llm_server.requests_for("chat")) == 3


def test_gives_up_after_max_retries_with_clear_message(llm_server: LLMServer) -> None:
    llm_server.script("chat", *[Reply.error(500, "boom")] * 3)
    with pytest.raises(ProviderError, match=r"openai: HTTP 500: boom \(gave up after 3 attempts\)"):
        _run(_complete(_provider(llm_server)))


def test_400_is_not_retried(llm_server: LLMServer) -> None:
    llm_server.script("chat", Reply.error(400, "bad schema", kind="invalid_request_error"))
    with pytest.raises(ProviderError, match="HTTP 400: bad schema"):
        _run(_complete(_provider(llm_server)))
    assert len(llm_server.requests_for("chat")) == 1


def test_slow_response_times_out_and_is_retried(llm_server: LLMServer) -> None:
    llm_server.script("chat", llm_server.openai_json({"ok": False}).slow(2.0), llm_server.openai_json({"ok": True}))
    resp = _run(_complete(_provider(llm_server, timeout=0.5)))
    assert json.loads(resp.text) == {"ok": True}
    assert resp.attempts == 2


def test_truncated_answer_is_flagged(llm_server: LLMServer) -> None:
    llm_server.script("chat", llm_server.openai_chat('{"ok": tr', finish_reason="length"))
    resp = _run(_complete(_provider(llm_server)))
    assert resp.truncated and resp.text == '{"ok": tr'


def test_empty_answer_is_an_error(llm_server: LLMServer) -> None:
    llm_server.script("chat", llm_server.openai_chat(None))
    with pytest.raises(ProviderError, match="empty answer"):
        _run(_complete(_provider(llm_server)))


def test_batch_submit_and_collect(llm_server: LLMServer) -> None:
    llm_server.batch_polls_before_done = 1
    llm_server.script("chat", llm_server.openai_json({"ok": True}))
    p = _provider(llm_server)

    async def go():  # type: ignore[no-untyped-def]
        try:
            bid = await p.submit_batch([REQ])
            first = await p.collect_batch(bid)
            second = await p.collect_batch(bid)
            return bid, first, second
        finally:
            await p.aclose()

    bid, first, second = _run(go())
    assert first is None  # still running on the first poll
    assert second is not None and len(second) == 1
    (resp,) = second.values()
    assert json.loads(resp.text) == {"ok": True}
    uploaded = next(iter(llm_server.files.values())).decode()
    line = json.loads(uploaded.splitlines()[0])
    assert line["url"] == "/v1/chat/completions" and line["body"]["model"] == "gpt-test"
    assert llm_server.batches[bid]["endpoint"] == "/v1/chat/completions"


def test_openai_compatible_uses_base_url_and_placeholder_key(llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm_server.script("chat", llm_server.openai_json({"ok": True}))
    p = OpenAICompatibleProvider("llama3.1", base_url=llm_server.openai_base_url, retry=FAST, timeout=5)
    resp = _run(_complete(p))  # type: ignore[arg-type]
    assert json.loads(resp.text) == {"ok": True}
    rec = llm_server.requests_for("chat")[0]
    assert rec.body["model"] == "llama3.1"
    assert rec.headers["authorization"] == "Bearer not-needed"
    assert p.label == "openai-compatible:llama3.1"


def test_auto_selection_prefers_anthropic_then_openai_then_offline() -> None:
    assert resolve_name("auto", {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"})[0] == "anthropic"
    assert resolve_name("auto", {"OPENAI_API_KEY": "o"})[0] == "openai"
    name, why = resolve_name("auto", {})
    assert name == "offline" and "neither" in why
    with pytest.raises(ProviderConfigError, match="unknown provider 'gemini'"):
        resolve_name("gemini", {})


def test_build_provider_reads_sdk_env_and_flags_override() -> None:
    env = {"OPENAI_API_KEY": "o", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}
    sel = build_provider(ProviderConfig(name="openai", model="gpt-x"), env)
    assert sel.provider is not None and sel.provider.label == "openai:gpt-x"
    assert sel.provider._base_url == "http://127.0.0.1:1/v1"  # type: ignore[attr-defined]
    sel = build_provider(ProviderConfig(name="openai", base_url="http://127.0.0.1:2/v1"), env)
    assert sel.provider._base_url == "http://127.0.0.1:2/v1"  # type: ignore[union-attr]
    with pytest.raises(ProviderConfigError, match="needs ANTHROPIC_API_KEY"):
        build_provider(ProviderConfig(name="anthropic"), {})
    assert build_provider(ProviderConfig(name="auto"), {}).provider is None
