"""Grade one transcript through a warm grader: the exported promptfoo assertion's side.

promptfoo starts a new Python process for every ``python`` assertion, and loading the
policy's classifier takes seconds, so the first assertion starts one
:mod:`generators.evalrun.grade_server` per (policy, cases) pair and every assertion asks it
over a UNIX socket in the private directory the hook uses. This module imports only the
standard library (and :mod:`generators.hook_client`, which does too).

``STACKPOLICY_GRADE_SERVER=off`` grades in-process instead (slow, but no background process).
Any failure to grade is a failed assertion with the reason: a case is never passed because
the grader could not run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

from generators import hook_client

READY_WAIT = 120.0  # loading the policy on a busy machine
REPLY_TIMEOUT = 60.0
MAX_REPLY = 1 << 22
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


def server_key(policy: str, cases: str) -> str:
    """The identity of a grader: both files' absolute paths and bytes."""
    h = hashlib.sha256()
    for p in (policy, cases):
        h.update(os.path.abspath(p).encode() + b"\0")
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:32]


def _ask(sock_path: str, key: str, payload: dict[str, Any], timeout: float = REPLY_TIMEOUT) -> dict[str, Any] | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(sock_path)
            if not hook_client._peer_is_us(sock):
                return None
            sock.sendall(json.dumps({**payload, "key": key}).encode() + b"\n")
            buf = b""
            while b"\n" not in buf and len(buf) <= MAX_REPLY:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        reply = json.loads(buf.split(b"\n", 1)[0])
    except (OSError, ValueError):
        return None
    if not isinstance(reply, dict) or reply.get("key") != key:
        return None
    return reply


def _spawn(policy: str, cases: str, sock_path: str, key: str) -> None:
    python = os.environ.get("STACKPOLICY_PYTHON") or sys.executable
    subprocess.Popen(  # noqa: S603 - our own module, arguments are paths
        [python, "-m", "generators.evalrun.grade_server", "--policy", os.path.abspath(policy),
         "--cases", os.path.abspath(cases), "--socket", sock_path, "--key", key],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)


def grade(policy: str, cases: str, case_id: str, output: Any) -> dict[str, Any]:
    """``{"pass", "score", "reason"}`` for ``output`` (a transcript, tool calls or text) on ``case_id``."""
    payload = {"case_id": case_id, "output": output}
    if os.environ.get("STACKPOLICY_GRADE_SERVER", "on").lower() in ("off", "0", "no", "false"):
        from generators.evalrun.grade_server import Bundle

        reply = Bundle(policy, cases).answer(payload)
        return {k: reply[k] for k in ("pass", "score", "reason") if k in reply}
    try:
        key = server_key(policy, cases)
    except OSError as exc:
        return {"pass": False, "score": 0, "reason": f"stackpolicy: cannot read the grading inputs: {exc}"}
    directory = hook_client.socket_dir(create=True)
    if directory is None:
        return {"pass": False, "score": 0, "reason": "stackpolicy: no private socket directory for the grader"}
    sock_path = os.path.join(directory, f"grade-{key[:20]}.sock")
    if len(sock_path.encode()) > MAX_SOCKET_PATH:
        # A UNIX socket path this long cannot be bound: grade in this process instead.
        from generators.evalrun.grade_server import Bundle

        reply = Bundle(policy, cases).answer(payload)
        return {k: reply[k] for k in ("pass", "score", "reason") if k in reply}
    reply = _ask(sock_path, key, payload) if os.path.exists(sock_path) else None
    if reply is None:
        if not hook_client.running(sock_path):
            _spawn(policy, cases, sock_path, key)
        deadline = time.monotonic() + READY_WAIT
        while reply is None and time.monotonic() < deadline:
            time.sleep(0.2)
            if os.path.exists(sock_path):
                reply = _ask(sock_path, key, payload)
    if reply is None:
        return {"pass": False, "score": 0, "reason": "stackpolicy: the grader did not start (is stackpolicy "
                                                      "installed in this Python? set STACKPOLICY_PYTHON)"}
    return {k: reply[k] for k in ("pass", "score", "reason") if k in reply}
