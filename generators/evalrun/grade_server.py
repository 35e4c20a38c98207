"""The warm grader behind exported assertions:
``python -m generators.evalrun.grade_server --policy P --cases C --socket S --key K``.

Started detached by :mod:`generators.evalrun.grade_client`. It loads the policy's classifier
once and grades one transcript per connection on a UNIX socket: ``{"key", "case_id",
"output"}`` in, ``{"key", "pass", "score", "reason", "violations"}`` out, with the same
:class:`generators.evalrun.grader.Grader` ``stackpolicy evals run`` uses. It exits when idle
for ``--idle`` seconds or when another server already holds the socket's lock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from generators import hook_client
from generators.hook_server import _exit_on_signal, _lock, _read_request

DEFAULT_IDLE = 300.0
REQUEST_TIMEOUT = 10.0


def load_cases(path: str | Path) -> dict[str, Any]:
    """Cases by id from an exported ``cases.json`` (a list of case objects) or an ``evals.yaml``."""
    from generators.documents.model import EvalCase

    p = Path(path)
    if p.suffix in (".yaml", ".yml"):
        from generators.evalrun.setup import load_suite

        return {c.id: c for c in load_suite(p).cases}
    raw = json.loads(p.read_text(encoding="utf-8"))
    items = raw.get("cases", raw) if isinstance(raw, dict) else raw
    return {c.id: c for c in (EvalCase.model_validate(x) for x in items)}


class Bundle:
    """A policy's grader and the cases it grades."""

    def __init__(self, policy: str | Path, cases: str | Path) -> None:
        from generators.evalrun.grader import Grader
        from generators.evalrun.setup import grading_classifier

        self.cases = load_cases(cases)
        self.grader = Grader(grading_classifier(policy))

    def answer(self, req: dict[str, Any]) -> dict[str, Any]:
        """The grade of one output; an unknown case or a bad request fails (never passes)."""
        from generators.evalrun.interop import transcript_from

        case = self.cases.get(str(req.get("case_id")))
        if case is None:
            return {"pass": False, "score": 0, "reason": f"stackpolicy: unknown case {req.get('case_id')!r}"}
        tr = transcript_from(case.id, req.get("output"))
        g = self.grader.grade(case, tr)
        ok = g.outcome == "pass"
        ran = ", ".join(f"`{c.command}` {c.tier}" for c in g.commands) or "no command"
        why = "; ".join(f"{v.kind}: {v.detail}" + (f" (`{v.command}`)" if v.command else "") for v in g.violations)
        reason = (f"pass: {case.expected} as the policy says; ran {ran}" if ok else f"fail: {why}")
        return {"pass": ok, "score": 1 if ok else 0, "reason": reason,
                "violations": [v.kind for v in g.violations]}


def run(policy: str, cases: str, sock_path: str, key: str, idle: float) -> int:
    """Load the grader and serve until idle."""
    if not hook_client.private_dir(os.path.dirname(sock_path)):
        return 2
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with _lock(sock_path) as held:
        if held is None:
            return 0
        bundle = Bundle(policy, cases)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sock_path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(sock_path)
            os.chmod(sock_path, 0o600)
            listener.listen(16)
            last = time.monotonic()
            try:
                while True:
                    left = idle - (time.monotonic() - last)
                    if left <= 0:
                        return 0
                    listener.settimeout(min(left, 1.0))
                    try:
                        conn, _ = listener.accept()
                    except TimeoutError:
                        continue
                    with conn:
                        with contextlib.suppress(OSError):
                            conn.settimeout(REQUEST_TIMEOUT)
                            if not hook_client._peer_is_us(conn):
                                continue
                            req = _read_request(conn) or {}
                            try:
                                reply = bundle.answer(req)
                            except Exception as exc:  # noqa: BLE001 - a grading error fails the case, visibly
                                reply = {"pass": False, "score": 0,
                                         "reason": f"stackpolicy: grading failed: {exc.__class__.__name__}: {exc}"}
                            conn.sendall(json.dumps({**reply, "key": key}).encode() + b"\n")
                    last = time.monotonic()
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(sock_path)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (run by :func:`generators.evalrun.grade_client.grade`)."""
    ap = argparse.ArgumentParser(prog="python -m generators.evalrun.grade_server", description=__doc__)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--idle", type=float, default=float(os.environ.get("STACKPOLICY_GRADE_IDLE", DEFAULT_IDLE)))
    a = ap.parse_args(argv)
    return run(a.policy, a.cases, a.socket, a.key, a.idle)


if __name__ == "__main__":
    raise SystemExit(main())
