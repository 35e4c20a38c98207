"""A local, scripted stand-in for the OpenAI and Anthropic HTTP APIs.

The real ``openai`` and ``anthropic`` SDKs talk to it over HTTP on 127.0.0.1, so tests
exercise the actual wire format with no network. Each test scripts what the server answers:

    def test_something(llm_server):
        llm_server.script("chat", llm_server.openai_json({"systems": []}))
        llm_server.script("messages", Reply.error(429, headers={"retry-after": "0"}),
                          llm_server.anthropic_tool("submit", {"systems": []}))
        client = AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="test", max_retries=0)
        ...
        assert llm_server.requests_for("chat")[0].body["model"] == "gpt-test"

Routes (the name you script by → the HTTP path):

- ``chat``: ``POST /v1/chat/completions`` (OpenAI Chat Completions)
- ``responses``: ``POST /v1/responses`` (OpenAI Responses)
- ``messages``: ``POST /v1/messages`` (Anthropic Messages)
- ``files``/``batches``: OpenAI Files + Batches (``/v1/files``, ``/v1/batches``); each batch
  line is answered as if it were posted to its ``url`` (so it consumes the ``chat`` script)
- ``message_batches``: Anthropic Message Batches (``/v1/messages/batches``); each request is
  answered through the ``messages`` script

When a route's queue is empty the route's *responder* answers (``server.respond(route, fn)``,
``fn(request) -> Reply``); with neither, the server answers 500 with a message saying so,
which makes an unscripted call fail loudly in the test.

Reply helpers cover every failure the providers must survive: :meth:`Reply.error` (429
with ``Retry-After``, 500...), :meth:`Reply.raw` (truncated / non-JSON bodies), ``delay=``
(slow past the client's timeout). ``openai_chat`` / ``anthropic_message`` take arbitrary
``tool_calls`` / content blocks so agent-loop tests can script tool use.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Recorded:
    """One request the server received."""

    route: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON when the body was JSON, else the raw text (multipart uploads)
    raw: bytes = b""

    @property
    def text(self) -> str:
        """The raw body as text (what a secret-leak assertion should search)."""
        return self.raw.decode("utf-8", errors="replace")


@dataclass
class Reply:
    """What the server sends back for one request."""

    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes → sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (simulate slow / timeout)

    @staticmethod
    def json(body: Any, status: int = 200, **headers: str) -> Reply:
        """A JSON reply."""
        return Reply(status=status, body=body, headers=dict(headers))

    @staticmethod
    def error(status: int, message: str = "scripted error", *, headers: dict[str, str] | None = None,
              delay: float = 0.0, kind: str = "api_error") -> Reply:
        """An API error in a shape both SDKs understand (OpenAI ``error.message``, Anthropic ``error.type``)."""
        body = {"type": "error", "error": {"type": kind, "message": message, "code": None}}
        return Reply(status=status, body=body, headers=dict(headers or {}), delay=delay)

    @staticmethod
    def raw(text: str, status: int = 200, content_type: str = "application/json") -> Reply:
        """A body sent verbatim (e.g. truncated JSON)."""
        return Reply(status=status, body=text, headers={"content-type": content_type})

    def slow(self, delay: float) -> Reply:
        """This reply, sent after ``delay`` seconds."""
        self.delay = delay
        return self


_ROUTES: tuple[tuple[str, str, str], ...] = (
    # (method, path prefix, route name); the first match wins, so longer prefixes first
    ("POST", "/v1/chat/completions", "chat"),
    ("POST", "/v1/responses", "responses"),
    ("POST", "/v1/messages/batches", "message_batches"),
    ("GET", "/v1/messages/batches", "message_batches"),
    ("POST", "/v1/messages", "messages"),
    ("POST", "/v1/files", "files"),
    ("GET", "/v1/files", "files"),
    ("POST", "/v1/batches", "batches"),
    ("GET", "/v1/batches", "batches"),
)


class _Server(ThreadingHTTPServer):
    """One thread per connection, and a listen backlog that fits a burst of concurrent clients:
    the default backlog of 5 drops SYNs when 64 calls connect at once, and the kernel's 1 s
    SYN retransmit then shows up as latency the benchmark blames on the client."""

    request_queue_size = 256
    daemon_threads = True


class LLMServer:
    """The scripted server. Thread-safe; one instance per test (see the ``llm_server`` fixture)."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency  # added to every answer (bench uses 0.3 s)
        self.requests: list[Recorded] = []
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        self._responders: dict[str, Callable[[Recorded], Reply]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}  # OpenAI batch objects
        self.message_batches: dict[str, dict[str, Any]] = {}  # Anthropic batch objects
        self._mb_results: dict[str, list[dict[str, Any]]] = {}
        self.batch_polls_before_done = 0  # how many status polls report "in progress" first
        self._polls: dict[str, int] = defaultdict(int)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._open: dict[socket.socket, threading.Thread] = {}  # connection -> its handler thread

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> LLMServer:
        """Listen on 127.0.0.1 with a random free port, in a daemon thread."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The handler writes the headers and the body separately; with Nagle's algorithm the
            # body then waits for the client's delayed ACK (40 ms on Linux), a stall real API
            # servers do not have and the benchmark would count as the client's latency.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._open[self.connection] = threading.current_thread()

            def finish(self) -> None:
                with server._lock:
                    server._open.pop(self.connection, None)
                super().finish()

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                server._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self, "POST")

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down, with the connections clients keep alive.

        A keep-alive client leaves its handler thread waiting for a next request; left running,
        that thread outlives the test and every later test that forks (which needs a process
        with one thread) would silently take its no-fork path instead.
        """
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            with self._lock:
                open_now = list(self._open.items())
            for conn, _ in open_now:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the client closed it meanwhile
            for _, thread in open_now:
                thread.join(timeout=5)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the Anthropic SDK's ``base_url``)."""
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's ``base_url`` (ends in ``/v1``)."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's ``base_url``."""
        return self.url

    # ---- scripting -------------------------------------------------------------------
    def script(self, route: str, *replies: Reply) -> None:
        """Queue ``replies`` for ``route`` (answered in order, one per request)."""
        with self._lock:
            self._queues[route].extend(replies)

    def respond(self, route: str, fn: Callable[[Recorded], Reply]) -> None:
        """Answer ``route`` with ``fn(request)`` whenever its queue is empty."""
        self._responders[route] = fn

    def pending(self, route: str) -> int:
        """Scripted replies not yet consumed on ``route``."""
        with self._lock:
            return len(self._queues[route])

    def requests_for(self, route: str) -> list[Recorded]:
        """Requests received on ``route``, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.route == route]

    def all_request_text(self) -> str:
        """Every request body received, concatenated (plus uploaded batch files)."""
        with self._lock:
            return "\n".join([r.text for r in self.requests] + [b.decode("utf-8", "replace") for b in self.files.values()])

    # ---- reply builders ----------------------------------------------------------------
    @staticmethod
    def openai_chat(content: str | None = None, *, tool_calls: list[dict[str, Any]] | None = None,
                    model: str = "gpt-test", prompt_tokens: int = 100, completion_tokens: int = 50,
                    finish_reason: str | None = None) -> Reply:
        """A Chat Completions answer with ``content`` and/or ``tool_calls``.

        ``tool_calls`` items are either full OpenAI dicts or ``{"name": ..., "arguments": {...}}``
        shorthands (ids are filled in).
        """
        calls = []
        for i, tc in enumerate(tool_calls or []):
            if "function" in tc:
                calls.append(tc)
                continue
            args = tc.get("arguments", {})
            calls.append({"id": tc.get("id", f"call_{i + 1}"), "type": "function",
                          "function": {"name": tc["name"], "arguments": args if isinstance(args, str) else json.dumps(args)}})
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        return Reply.json({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish_reason or ("tool_calls" if calls else "stop")}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    @classmethod
    def openai_json(cls, obj: Any, **kw: Any) -> Reply:
        """A Chat Completions answer whose content is ``obj`` as JSON (structured output)."""
        return cls.openai_chat(json.dumps(obj), **kw)

    @staticmethod
    def anthropic_message(blocks: list[dict[str, Any]] | str, *, model: str = "claude-test",
                          input_tokens: int = 100, output_tokens: int = 50,
                          stop_reason: str | None = None) -> Reply:
        """A Messages answer; ``blocks`` is a text string or a list of content blocks."""
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        stop = stop_reason or ("tool_use" if any(b.get("type") == "tool_use" for b in blocks) else "end_turn")
        return Reply.json({
            "id": "msg_test", "type": "message", "role": "assistant", "model": model, "content": blocks,
            "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        })

    @classmethod
    def anthropic_tool(cls, name: str, input: Any, **kw: Any) -> Reply:  # noqa: A002 - wire name
        """A Messages answer with one ``tool_use`` block calling ``name`` with ``input``."""
        return cls.anthropic_message([{"type": "tool_use", "id": "toolu_test", "name": name, "input": input}], **kw)

    # ---- request handling --------------------------------------------------------------
    def _route(self, method: str, path: str) -> str:
        for m, prefix, name in _ROUTES:
            if m == method and path.split("?")[0].startswith(prefix):
                return name
        return "unknown"

    def _next(self, route: str, rec: Recorded) -> Reply:
        with self._lock:
            q = self._queues[route]
            reply = q.popleft() if q else None
        if reply is not None:
            return reply
        fn = self._responders.get(route)
        if fn is not None:
            return fn(rec)
        return Reply.error(500, f"llm_server: nothing scripted for route '{route}'")

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = h.path
        route = self._route(method, path)
        try:
            body: Any = json.loads(raw) if raw and "json" in (h.headers.get("content-type") or "") else raw.decode("utf-8", "replace")
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        rec = Recorded(route, method, path, {k.lower(): v for k, v in h.headers.items()}, body, raw)
        with self._lock:
            self.requests.append(rec)
        if route in ("files", "batches", "message_batches"):
            reply = self._batch_api(route, method, path, rec)
        else:
            reply = self._next(route, rec)
        time.sleep(self.latency + reply.delay)
        self._send(h, reply)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        headers = {k.lower(): v for k, v in reply.headers.items()}
        if isinstance(reply.body, (dict, list)):
            data = json.dumps(reply.body).encode()
            headers.setdefault("content-type", "application/json")
        elif isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = (reply.body or "").encode()
        headers.setdefault("content-type", "application/json")
        try:
            h.send_response(reply.status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (timeout test): nothing to send it.
            return

    # ---- batch endpoints ---------------------------------------------------------------
    def _answer_inner(self, route: str, path: str, body: Any) -> Reply:
        """Answer one request inside a batch through the normal script for ``route``."""
        raw = json.dumps(body).encode()
        rec = Recorded(route, "POST", path, {}, body, raw)
        with self._lock:
            self.requests.append(rec)
        return self._next(route, rec)

    def _batch_api(self, route: str, method: str, path: str, rec: Recorded) -> Reply:
        base = path.split("?")[0].rstrip("/")
        if route == "files":
            return self._files(method, base, rec)
        if route == "batches":
            return self._openai_batches(method, base, rec)
        return self._anthropic_batches(method, base, rec)

    def _files(self, method: str, base: str, rec: Recorded) -> Reply:
        if method == "POST":
            content = _multipart_file(rec.raw, rec.headers.get("content-type", ""))
            fid = f"file-{next(self._ids)}"
            with self._lock:
                self.files[fid] = content
            return Reply.json({"id": fid, "object": "file", "bytes": len(content), "created_at": 1700000000,
                               "filename": "input.jsonl", "purpose": "batch", "status": "processed"})
        parts = base.split("/")  # /v1/files/<id>[/content]
        fid = parts[3] if len(parts) > 3 else ""
        if fid not in self.files:
            return Reply.error(404, f"no such file {fid}", kind="not_found_error")
        if base.endswith("/content"):
            return Reply(status=200, body=self.files[fid], headers={"content-type": "application/octet-stream"})
        return Reply.json({"id": fid, "object": "file", "bytes": len(self.files[fid]), "created_at": 1700000000,
                           "filename": "input.jsonl", "purpose": "batch", "status": "processed"})

    def _openai_batches(self, method: str, base: str, rec: Recorded) -> Reply:
        if method == "POST" and base == "/v1/batches":
            bid = f"batch_{next(self._ids)}"
            batch = {"id": bid, "object": "batch", "endpoint": rec.body.get("endpoint"), "errors": None,
                     "input_file_id": rec.body.get("input_file_id"), "completion_window": "24h",
                     "status": "in_progress", "output_file_id": None, "error_file_id": None,
                     "created_at": 1700000000, "request_counts": {"total": 0, "completed": 0, "failed": 0}}
            with self._lock:
                self.batches[bid] = batch
            return Reply.json(batch)
        bid = base.split("/")[3] if len(base.split("/")) > 3 else ""
        batch = self.batches.get(bid)
        if batch is None:
            return Reply.error(404, f"no such batch {bid}", kind="not_found_error")
        if batch["status"] == "in_progress":
            self._polls[bid] += 1
            if self._polls[bid] > self.batch_polls_before_done:
                self._complete_openai_batch(batch)
        return Reply.json(batch)

    def _complete_openai_batch(self, batch: dict[str, Any]) -> None:
        lines = self.files.get(batch["input_file_id"], b"").decode().splitlines()
        out = []
        for line in lines:
            if not line.strip():
                continue
            item = json.loads(line)
            reply = self._answer_inner("chat", item["url"], item["body"])
            out.append(json.dumps({"id": f"req_{item['custom_id']}", "custom_id": item["custom_id"],
                                   "response": {"status_code": reply.status, "request_id": "r",
                                                "body": reply.body if isinstance(reply.body, dict) else {"raw": reply.body}},
                                   "error": None}))
        fid = f"file-{next(self._ids)}"
        with self._lock:
            self.files[fid] = ("\n".join(out) + "\n").encode()
        batch.update(status="completed", output_file_id=fid,
                     request_counts={"total": len(out), "completed": len(out), "failed": 0})

    def _anthropic_batches(self, method: str, base: str, rec: Recorded) -> Reply:
        if method == "POST" and base == "/v1/messages/batches":
            bid = f"msgbatch_{next(self._ids)}"
            batch = {"id": bid, "type": "message_batch", "processing_status": "in_progress",
                     "request_counts": {"processing": len(rec.body.get("requests", [])), "succeeded": 0,
                                        "errored": 0, "canceled": 0, "expired": 0},
                     "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
                     "ended_at": None, "archived_at": None, "cancel_initiated_at": None, "results_url": None}
            with self._lock:
                self.message_batches[bid] = batch
                self._mb_results[bid] = list(rec.body.get("requests", []))
            return Reply.json(batch)
        parts = base.split("/")  # /v1/messages/batches/<id>[/results]
        bid = parts[4] if len(parts) > 4 else ""
        batch = self.message_batches.get(bid)
        if batch is None:
            return Reply.error(404, f"no such batch {bid}", kind="not_found_error")
        if base.endswith("/results"):
            lines = [json.dumps(r) for r in self._mb_results.get(bid, [])]
            return Reply(status=200, body=("\n".join(lines) + "\n").encode(),
                         headers={"content-type": "application/binary"})
        if batch["processing_status"] == "in_progress":
            self._polls[bid] += 1
            if self._polls[bid] > self.batch_polls_before_done:
                results = []
                for req in self._mb_results[bid]:
                    reply = self._answer_inner("messages", "/v1/messages", req["params"])
                    ok = reply.status == 200 and isinstance(reply.body, dict)
                    results.append({"custom_id": req["custom_id"],
                                    "result": {"type": "succeeded", "message": reply.body} if ok else
                                    {"type": "errored", "error": {"type": "error", "error": {"type": "api_error", "message": str(reply.body)}}}})
                self._mb_results[bid] = results
                n_ok = sum(1 for r in results if r["result"]["type"] == "succeeded")
                batch.update(processing_status="ended", ended_at="2026-01-01T01:00:00Z",
                             results_url=f"{self.url}/v1/messages/batches/{bid}/results",
                             request_counts={"processing": 0, "succeeded": n_ok, "errored": len(results) - n_ok,
                                             "canceled": 0, "expired": 0})
        return Reply.json(batch)


def _multipart_file(raw: bytes, content_type: str) -> bytes:
    """The file part of a multipart/form-data upload (the only part the Files API needs)."""
    if "boundary=" not in content_type:
        return raw
    boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
    for part in raw.split(b"--" + boundary):
        if b'name="file"' in part:
            _head, _, content = part.partition(b"\r\n\r\n")
            return content[:-2] if content.endswith(b"\r\n") else content
    return raw


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """A started :class:`LLMServer` on a random port, stopped after the test."""
    server = LLMServer().start()
    try:
        yield server
    finally:
        server.stop()


def serve_main(argv: list[str] | None = None) -> None:
    """``python -m tests.llm_server [--latency S]``: serve valid answers to every stackpolicy prompt
    in its own process (the benchmark uses this so the server does not share the client's GIL).
    Prints the base URL on the first line of stdout; stops when stdin closes."""
    import argparse
    import sys

    from tests.llm_answers import anthropic_responder, openai_responder

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args(argv)
    server = LLMServer(latency=args.latency).start()
    server.respond("chat", openai_responder(server))
    server.respond("messages", anthropic_responder(server))
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    serve_main()
