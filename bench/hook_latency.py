"""Hook latency: ``python bench/hook_latency.py [--output DIR] [--runs N]`` (part of ``make bench``).

Times ``stackpolicy hook claude-code`` end to end, as Claude Code runs it (a new process
per tool call, JSON on stdin), against the exported hook state of the bundled example:

* table hit, no server yet: a command from the policy, answered from ``hook-state.json``
  (stdlib only; the first call starts the server, which loads alongside the next calls);
* cold first call: a command outside the table with no warm server (the slow path: the
  full classifier is imported in the hook process, which then starts the server);
* warm server call: commands outside the table, answered by the warm classifier server;
* table hit, server up: the steady state (the server answers; the state is not parsed).

Each phase reports p50/p95 over ``--runs`` calls (cold: ``--cold-runs``, each with a fresh
socket directory so no server is up). The aim is 150 ms; the numbers are reported, not enforced.
Servers started here are stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AIM_MS = 150.0
MISSES = [
    "sudo bash -c 'kubectl -n acme-prod delete deploy/orders-api' && echo done",
    "kubectl -n acme-prod delete deploy/payments-api",
    "git log --oneline -5 && git status",
    "helm upgrade orders-api ./chart -n acme-prod",
    "terraform -chdir=infra plan -out plan.bin",
]


def _event(cmd: str) -> str:
    return json.dumps({"session_id": "bench", "cwd": str(REPO), "hook_event_name": "PreToolUse",
                       "tool_name": "Bash", "tool_input": {"command": cmd}})


def _call(exe: Path, state: Path, cmd: str, env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run([str(exe), "hook", "claude-code", "--state", str(state)], input=_event(cmd),
                         capture_output=True, text=True, check=True, env=env)
    ms = (time.perf_counter() - t) * 1000
    return ms, json.loads(res.stdout)["hookSpecificOutput"]["permissionDecision"]


def _stop_servers(state: Path, sock_dir: Path) -> None:
    """Stop the server this bench started in ``sock_dir`` (every hook call may start one).

    Waits until it is up first: only then is its pid in the lock file, and a server still
    starting would otherwise be missed.
    """
    if not any(sock_dir.glob("*.lock")) and not _wait_for_lock(sock_dir):
        return
    _wait_for_server(state, sock_dir)
    for lock in sock_dir.glob("*.lock"):
        text = lock.read_text().strip()
        if text.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(text), signal.SIGTERM)


def _wait_for_lock(sock_dir: Path, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(sock_dir.glob("*.lock")):
            return True
        time.sleep(0.05)
    return False


def _wait_for_server(state: Path, sock_dir: Path, timeout: float = 20.0) -> bool:
    """The server for ``state`` in ``sock_dir`` answers (it loads the classifier first)."""
    from generators import hook_client

    digest = hook_client.state_hash(state.read_bytes())
    sock = hook_client.socket_path(str(sock_dir), str(state), digest)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if hook_client.query(sock, digest, "true", timeout=1.0) is not None:
            return True
        time.sleep(0.05)
    return False


def _row(label: str, times: list[float], decisions: set[str]) -> str:
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
    aim = "met" if p95 <= AIM_MS else "missed"
    return f"{label:34} {len(times):>5} {p50:9.1f} {p95:9.1f} {aim:>6}  {','.join(sorted(decisions))}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", type=Path, default=None, help="a generated output dir (default: generate the example)")
    ap.add_argument("--runs", type=int, default=50, help="calls per phase (table hit, warm server)")
    ap.add_argument("--cold-runs", type=int, default=5, help="cold first calls (each starts a server)")
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("stackpolicy")
    out = args.output
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="sp-hook-bench-")) / "output"
        subprocess.run([str(exe), "policy", "--output", str(out)], check=True, capture_output=True, cwd=REPO)
    subprocess.run([str(exe), "export", "claude-code", "--output", str(out)], check=True, capture_output=True, cwd=REPO)
    state = out / "enforce" / "claude-code" / "hook-state.json"
    known = next(iter(json.loads(state.read_text())["table"]))
    dirs: list[Path] = []
    stopped: set[Path] = set()

    def fresh_env() -> tuple[dict[str, str], Path]:
        d = Path(tempfile.mkdtemp(prefix="sphb"))  # short: AF_UNIX paths are limited
        dirs.append(d)
        return {**os.environ, "STACKPOLICY_HOOK_SOCKET_DIR": str(d), "STACKPOLICY_HOOK_SERVER": "on"}, d

    rows: list[str] = []
    try:
        env, sock_dir = fresh_env()
        table = [_call(exe, state, known, env) for _ in range(args.runs)]
        rows.append(_row("table hit, no server yet", [t for t, _ in table], {d for _, d in table}))
        cold = []
        for _ in range(args.cold_runs):
            env, sock_dir = fresh_env()
            cold.append(_call(exe, state, MISSES[0], env))
            _stop_servers(state, sock_dir)
            stopped.add(sock_dir)
        rows.append(_row("cold first call (slow path)", [t for t, _ in cold], {d for _, d in cold}))
        env, sock_dir = fresh_env()
        _call(exe, state, MISSES[0], env)  # starts the server
        if not _wait_for_server(state, sock_dir):
            rows.append(f"{'warm server call':34} the server did not come up")
        else:
            warm = [_call(exe, state, MISSES[i % len(MISSES)], env) for i in range(args.runs)]
            rows.append(_row("warm server call (not in table)", [t for t, _ in warm], {d for _, d in warm}))
            hits = [_call(exe, state, known, env) for _ in range(args.runs)]
            rows.append(_row("table hit, server up", [t for t, _ in hits], {d for _, d in hits}))
    finally:
        for d in dirs:
            if d not in stopped:
                _stop_servers(state, d)
        time.sleep(0.2)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    print(f"{'hook call':34} {'calls':>5} {'p50 ms':>9} {'p95 ms':>9} {'aim':>6}  decisions")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
