"""A lean keep-alive HTTP/1.1 client for the one request a document run makes thousands of times.

A policy run posts one JSON body per prompt (thousands on a large estate, 64 at a time).
Through the official SDKs each post costs about 3 ms of CPU on the event loop (request
options, the httpx stack, response models) and the first one imports the SDK (about a
second); that CPU is what keeps the concurrency pipe from staying full. This client writes
the request line, the headers and the body on a pooled connection and reads the answer
back: well under a millisecond per call.

It speaks plain HTTP/1.1 (``Content-Length`` or chunked answers, gzip/deflate decoded,
``Connection: close`` honoured) over TCP or TLS (the system's trust store, or certifi's
when installed, as the SDKs use). Whatever it does not handle goes through the SDK as
before: :func:`fast_path_for` says no when a proxy applies to the URL. Errors are
:class:`~generators.providers.base.ProviderError`\\ s worded as the SDK path words them, so
retries, the circuit breaker and the call log behave the same.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from generators.providers._errors import from_status
from generators.providers.base import ProviderError

MAX_IDLE = 128  # idle connections kept per client (a run uses at most its concurrency)


@dataclass(frozen=True)
class Origin:
    """Where requests go: scheme, host, port and the base path every request path is joined to."""

    scheme: str
    host: str
    port: int
    base_path: str

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        """The origin of ``base_url`` (``http(s)://host[:port][/path]``)."""
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        port = u.port or (443 if u.scheme == "https" else 80)
        return cls(u.scheme, u.hostname, port, u.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the port only when it is not the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def fast_path_for(base_url: str, env_proxies: Mapping[str, str] | None = None) -> bool:
    """Whether :class:`FastClient` can serve ``base_url``: an http(s) URL that no proxy applies to
    (proxies, like every other transport setting, stay the SDK's business)."""
    try:
        origin = Origin.parse(base_url)
    except ValueError:
        return False
    proxies = urllib.request.getproxies() if env_proxies is None else dict(env_proxies)
    if not (proxies.get(origin.scheme) or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass_environment(origin.host, proxies))


class _Stale(Exception):
    """A pooled connection the server had already closed (nothing of the answer was read)."""


class FastClient:
    """JSON POSTs to one origin over pooled keep-alive connections (see the module docstring).

    Belongs to one event loop (a refine stage runs in one ``asyncio.run``): :meth:`aclose`
    at the end of it, as the providers do with their SDK clients.
    """

    def __init__(self, base_url: str, provider: str, timeout: float, headers: Mapping[str, str]) -> None:
        self.origin = Origin.parse(base_url)
        self.provider = provider
        self.timeout = timeout
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._ssl: ssl.SSLContext | None = None

    async def post_json(self, path: str, body: bytes) -> bytes:
        """The body of a 2xx answer to ``POST <base path><path>``; otherwise a ProviderError
        (retryable for timeouts, connection failures, 408/409/429/5xx, with ``Retry-After``)."""
        head = (f"POST {self.origin.base_path}{path} HTTP/1.1\r\nHost: {self.origin.host_header}\r\n"
                f"{self._headers}Content-Type: application/json\r\nAccept: application/json\r\n"
                f"Accept-Encoding: gzip, deflate\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin-1")
        try:
            status, headers, data = await asyncio.wait_for(self._exchange(head + body), self.timeout)
        except asyncio.TimeoutError as exc:
            raise ProviderError(f"{self.provider}: request timed out", retryable=True) from exc
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, _Stale) as exc:
            raise ProviderError(f"{self.provider}: cannot connect ({type(exc).__name__}: {exc})",
                                retryable=True) from exc
        if status >= 400 or status < 200:
            raise from_status(self.provider, status, headers, data)
        return data

    async def _exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        # A pooled connection may have been closed by the server while idle: a failure before
        # any byte of the answer arrived is retried once on a fresh connection (safe: the
        # server never saw a complete request it answered).
        while self._idle:
            conn = self._idle.pop()
            try:
                return await self._roundtrip(conn, request, reused=True)
            except _Stale:
                continue
        return await self._roundtrip(await self._connect(), request, reused=False)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.origin.scheme == "https":
            if self._ssl is None:
                self._ssl = _ssl_context()
            return await asyncio.open_connection(self.origin.host, self.origin.port, ssl=self._ssl,
                                                 server_hostname=self.origin.host, limit=1 << 20)
        return await asyncio.open_connection(self.origin.host, self.origin.port, limit=1 << 20)

    async def _roundtrip(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes,
                         reused: bool) -> tuple[int, dict[str, str], bytes]:
        reader, writer = conn
        keep = False
        try:
            try:
                writer.write(request)
                await writer.drain()
                line = await reader.readline()
            except (OSError, asyncio.IncompleteReadError) as exc:
                if reused:
                    raise _Stale(str(exc)) from exc
                raise
            if not line:
                if reused:
                    raise _Stale("connection closed by the server")
                raise EOFError("connection closed before an answer")
            status, headers, keep = await _read_head(reader, line)
            data = await _read_body(reader, headers)
            encoding = headers.get("content-encoding", "").strip().lower()
            if encoding in ("gzip", "x-gzip"):
                data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
            elif encoding == "deflate":
                data = zlib.decompress(data)
            elif encoding not in ("", "identity"):
                raise ValueError(f"unsupported content-encoding {encoding!r}")
            return status, headers, data
        except BaseException:
            keep = False
            raise
        finally:
            if keep and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
            else:
                writer.close()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass


async def _read_head(reader: asyncio.StreamReader, line: bytes) -> tuple[int, dict[str, str], bool]:
    """Status, lower-cased headers, and whether the connection may be reused."""
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {line[:80]!r}")
    version, status = parts[0], int(parts[1])
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n"):
            break
        if not raw:
            raise EOFError("connection closed inside the headers")
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise ValueError(f"malformed header line {raw[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    conn = headers.get("connection", "").lower()
    keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
    if "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower():
        keep = False  # the body runs to the end of the connection
    return status, headers, keep


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = await reader.readline()
            if not size_line:
                raise EOFError("connection closed inside a chunked body")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    del trailer
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)  # the CRLF after each chunk
    length = headers.get("content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    return await reader.read()


def _ssl_context() -> ssl.SSLContext:
    """Verified TLS: certifi's bundle when installed (as the SDKs use), else the system's."""
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()
