"""The lean HTTP transport (generators/providers/http.py) against raw local servers: the answer
shapes real servers send (chunked, gzip, Connection: close), a keep-alive connection the server
closed while idle, errors worded as the SDK path words them, and when the SDK must serve instead."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable

import pytest

from generators.providers.base import ProviderError
from generators.providers.http import FastClient, Origin, fast_path_for

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    return head + body


def _serve(handler: Handler, test: Callable[[str], Awaitable[None]]) -> list[bytes]:
    """Run ``test(base_url)`` against a server whose connections ``handler`` answers (return
    False to close the connection after an answer); the raw requests received, in order."""
    seen: list[bytes] = []

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    req = await _read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                assert req is not None
                seen.append(req)
                if not await handler(reader, writer, req):
                    return
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            await test(f"http://127.0.0.1:{port}/v1")

    asyncio.run(main())
    return seen


def _answer(status: int, body: bytes, *extra: str) -> bytes:
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{h}\r\n" for h in extra)
    return head.encode() + b"\r\n" + body


def _client(url: str, timeout: float = 5.0) -> FastClient:
    return FastClient(url, "openai", timeout, {"Authorization": "Bearer k"})


def test_request_line_headers_and_body_on_the_wire() -> None:
    async def handler(_r, w, _req):  # type: ignore[no-untyped-def]
        w.write(_answer(200, b'{"ok":1}', "Content-Length: 8"))
        return True

    async def test(url: str) -> None:
        c = _client(url)
        try:
            assert await c.post_json("/chat/completions", b'{"a":1}') == b'{"ok":1}'
        finally:
            await c.aclose()

    (req,) = _serve(handler, test)
    head, _, body = req.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions HTTP/1.1"
    assert f"Host: 127.0.0.1:{lines[1].rsplit(':', 1)[1]}" == lines[1]
    assert "Authorization: Bearer k" in lines and "Content-Type: application/json" in lines
    assert "Content-Length: 7" in lines and body == b'{"a":1}'


def test_keep_alive_reuses_one_connection_and_reads_chunked_and_gzip_answers() -> None:
    conns: list[int] = []
    payload = json.dumps({"choices": [1, 2, 3]}).encode()

    async def handler(_r, w, _req):  # type: ignore[no-untyped-def]
        conns.append(id(w))
        if len(conns) == 1:  # chunked, in two chunks
            w.write(_answer(200, b"", "Transfer-Encoding: chunked")
                    + b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\n\r\n" % (5, payload[:5], len(payload) - 5, payload[5:]))
        else:
            z = gzip.compress(payload)
            w.write(_answer(200, z, f"Content-Length: {len(z)}", "Content-Encoding: gzip"))
        return True

    async def test(url: str) -> None:
        c = _client(url)
        try:
            assert await c.post_json("/x", b"{}") == payload
            assert await c.post_json("/x", b"{}") == payload
        finally:
            await c.aclose()

    assert len(_serve(handler, test)) == 2
    assert len(set(conns)) == 1  # the second request went over the first connection


def test_connection_close_and_an_idle_connection_closed_by_the_server() -> None:
    calls: list[int] = []

    async def handler(_r, w, _req):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            # Claims keep-alive, then closes: the client's pooled connection is stale.
            w.write(_answer(200, b"{}", "Content-Length: 2"))
            await w.drain()
            return False
        # A body that runs to the end of the connection.
        w.write(_answer(200, b'{"n":2}', "Connection: close"))
        return False

    async def test(url: str) -> None:
        c = _client(url)
        try:
            assert await c.post_json("/x", b"{}") == b"{}"
            await asyncio.sleep(0.05)
            assert await c.post_json("/x", b"{}") == b'{"n":2}'  # retried on a fresh connection
            assert not c._idle  # a closed connection is never pooled
        finally:
            await c.aclose()

    assert len(_serve(handler, test)) == 2


def test_error_answers_are_worded_like_the_sdk_path() -> None:
    answers = [
        _answer(429, b'{"error":{"message":"slow down"}}', "Content-Length: 33", "Retry-After: 1.5"),
        _answer(400, b'{"error":{"message":"bad schema"}}', "Content-Length: 34"),
        _answer(502, b"upstream gone", "Content-Length: 13"),
    ]

    async def handler(_r, w, _req):  # type: ignore[no-untyped-def]
        w.write(answers.pop(0))
        return True

    errors: list[ProviderError] = []

    async def test(url: str) -> None:
        c = _client(url)
        try:
            for _ in range(3):
                with pytest.raises(ProviderError) as info:
                    await c.post_json("/x", b"{}")
                errors.append(info.value)
        finally:
            await c.aclose()

    _serve(handler, test)
    assert [str(e) for e in errors] == ["openai: HTTP 429: slow down", "openai: HTTP 400: bad schema",
                                        "openai: HTTP 502: upstream gone"]
    assert [(e.retryable, e.status, e.retry_after) for e in errors] == [(True, 429, 1.5), (False, 400, None),
                                                                          (True, 502, None)]


def test_timeout_and_refused_connection_are_retryable_errors() -> None:
    async def handler(_r, _w, _req):  # type: ignore[no-untyped-def]
        await asyncio.sleep(2)
        return False

    async def test(url: str) -> None:
        c = _client(url, timeout=0.2)
        try:
            with pytest.raises(ProviderError, match="request timed out") as info:
                await c.post_json("/x", b"{}")
            assert info.value.retryable
        finally:
            await c.aclose()

    _serve(handler, test)

    async def refused() -> None:
        c = _client("http://127.0.0.1:1/v1")
        with pytest.raises(ProviderError, match="cannot connect") as info:
            await c.post_json("/x", b"{}")
        assert info.value.retryable

    asyncio.run(refused())


def test_garbage_instead_of_http_is_an_error_not_a_traceback() -> None:
    async def handler(_r, w, _req):  # type: ignore[no-untyped-def]
        w.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        return False

    async def test(url: str) -> None:
        c = _client(url)
        with pytest.raises(ProviderError, match="not an HTTP/1.x status line"):
            await c.post_json("/x", b"{}")
        await c.aclose()

    _serve(handler, test)


def test_proxies_leave_the_request_to_the_sdk() -> None:
    assert fast_path_for("https://api.openai.com/v1", {})
    assert not fast_path_for("https://api.openai.com/v1", {"https": "http://proxy:3128"})
    assert not fast_path_for("https://api.openai.com/v1", {"all": "socks5://proxy:1080"})
    assert fast_path_for("http://localhost:11434/v1", {"https": "http://proxy:3128"})  # not for this scheme
    assert fast_path_for("https://api.openai.com/v1", {"https": "http://proxy:3128", "no": "api.openai.com"})
    assert not fast_path_for("unix:///tmp/sock", {})


def test_origin_parsing() -> None:
    o = Origin.parse("https://api.anthropic.com")
    assert (o.scheme, o.host, o.port, o.base_path, o.host_header) == ("https", "api.anthropic.com", 443, "", "api.anthropic.com")
    o = Origin.parse("http://127.0.0.1:8080/v1/")
    assert (o.port, o.base_path, o.host_header) == (8080, "/v1", "127.0.0.1:8080")
    with pytest.raises(ValueError):
        Origin.parse("ftp://x")
