"""A real Claude Code session (``claude -p``) against a local fake Anthropic API: the model
asks to run each command; the exported settings' hook decides. T3 commands never run (in
bypass mode too), allowed ones do, and with the CLI missing the hook blocks everything."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.ecosystem import tools
from tests.ecosystem.conftest import REPORTS

pytestmark = pytest.mark.ecosystem

LINES = (
    "kubectl delete ns acme-prod",
    "terraform destroy -auto-approve",
    "psql -h orders-db -c 'DROP TABLE orders'",
    "kubectl logs x && kubectl delete ns acme-prod",
    "/usr/local/bin/kubectl delete ns acme-prod --wait=false",
    "bash -c 'kubectl delete namespace acme-prod'",
    "kubectl rollout restart deployment/orders-api -n acme-prod",
    "ls",
    "kubectl get pods -n acme-prod",
)


def _sse(blocks: list[dict[str, Any]], stop: str) -> bytes:
    events = [("message_start", {"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-fake", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}})]
    for i, b in enumerate(blocks):
        if b["type"] == "tool_use":
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(b["input"])}}))
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "text", "text": ""}}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                   "delta": {"type": "text_delta", "text": b["text"]}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": 5}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode()


class FakeAnthropic:
    """Answers every ``/v1/messages`` call: with tools, first a ``Bash`` tool_use of
    ``command``, then (once a tool_result comes back, recorded) a final text."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.results: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_HEAD(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                self.do_HEAD()

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                blocks, stop = fake.answer(body)
                if body.get("stream"):
                    data, ctype = _sse(blocks, stop), "text/event-stream"
                else:
                    data = json.dumps({"id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-fake",
                                       "content": blocks, "stop_reason": stop, "stop_sequence": None,
                                       "usage": {"input_tokens": 10, "output_tokens": 5}}).encode()
                    ctype = "application/json"
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        tools_ = {t.get("name") for t in body.get("tools") or []}
        results = [b for m in body.get("messages") or [] if isinstance(m.get("content"), list)
                   for b in m["content"] if b.get("type") == "tool_result" and b.get("tool_use_id") == "toolu_fake"]
        if results:
            self.results.append(results[-1])
            return [{"type": "text", "text": "done"}], "end_turn"
        if "Bash" in tools_:
            return [{"type": "tool_use", "id": "toolu_fake", "name": "Bash",
                     "input": {"command": self.command, "description": "run the command"}}], "tool_use"
        return [{"type": "text", "text": "ok"}], "end_turn"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _text(result: dict[str, Any]) -> str:
    c = result.get("content")
    if isinstance(c, list):
        return " ".join(str(x.get("text", "")) for x in c if isinstance(x, dict))
    return str(c or "")


def _session(claude: Path, project: Path, home: Path, command: str, mode: str) -> tuple[str, str]:
    """(outcome, tool_result text): ``ran``, ``blocked`` (by stackpolicy), or ``refused``."""
    fake = FakeAnthropic(command)
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "ANTHROPIC_BASE_URL": fake.url,
               "ANTHROPIC_API_KEY": "sk-ant-fake", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "IS_SANDBOX": "1",
               "STACKPOLICY_HOOK_SERVER": "off"}
        proc = subprocess.run([str(claude), "-p", "Run the command.", "--output-format", "stream-json", "--verbose",
                               "--permission-mode", mode, "--model", "claude-sonnet-4-5"],
                              cwd=project, env=env, capture_output=True, text=True, timeout=180)
    finally:
        fake.close()
    if not fake.results:
        return "no-tool-result", (proc.stdout + proc.stderr)[-800:]
    text = _text(fake.results[-1])
    if "stackpolicy" in text:
        return "blocked", text
    if fake.results[-1].get("is_error") and ("permission" in text.lower() or "denied" in text.lower()):
        return "refused", text
    return "ran", text


@pytest.fixture(scope="module")
def claude() -> Path:
    return tools.claude()


def _project(exported: Path, tmp: Path, settings: dict[str, Any]) -> tuple[Path, Path]:
    project = exported.parent
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "settings.json").write_text(json.dumps(settings))
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True, "projects": {
        str(project): {"hasTrustDialogAccepted": True}}}))
    return project, home


def test_claude_code_session_obeys_the_hook(claude: Path, exported: Path, clf, tmp_path: Path) -> None:  # noqa: ANN001
    settings = json.loads((exported / "enforce" / "claude-code" / "settings.json").read_text())
    project, home = _project(exported, tmp_path, settings)
    rows = []
    for line in LINES:
        outcome, text = _session(claude, project, home, line, "bypassPermissions")
        rows.append({"line": line, "classify": clf.classify(line).decision, "outcome": outcome, "text": text[:300]})
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "claude-code.json").write_text(json.dumps(rows, indent=1))
    print("\n" + "\n".join(f"{r['classify']:5} {r['outcome']:8} {r['line']}" for r in rows))
    weaker = [r for r in rows if r["classify"] != "allow" and r["outcome"] == "ran"]
    assert weaker == []
    assert all(r["outcome"] == "ran" for r in rows if r["classify"] == "allow")
    assert all(r["outcome"] == "blocked" for r in rows if r["classify"] == "deny")


def test_claude_code_blocks_when_the_cli_is_missing(claude: Path, exported: Path, tmp_path: Path) -> None:
    settings = json.loads((exported / "enforce" / "claude-code" / "settings.json").read_text())
    gone = str(tmp_path / "uninstalled" / "stackpolicy")
    real = shlex.split(settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"])[2]  # `[ -x <cli> ] || ...`
    settings = json.loads(json.dumps(settings).replace(real, gone))
    assert gone in json.dumps(settings) and real not in json.dumps(settings)
    project, home = _project(exported, tmp_path, settings)
    for line in ("ls", "kubectl delete ns acme-prod"):
        outcome, result = _session(claude, project, home, line, "bypassPermissions")
        assert outcome == "blocked" and "missing" in result, (line, outcome, result)
