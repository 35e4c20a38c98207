"""Hook latency, process to process: ``python bench/hook_latency.py [--runs N] [--sessions S] [--json PATH]``.

Times the exported Claude Code hooks the way Claude Code runs them: the exact ``command``
strings of the exported ``settings.json`` (whatever the exporter writes: absolute path,
guard...), each call a fresh ``/bin/sh -c <command>`` with the event JSON on stdin, timed
from spawn to exit. Part of ``make bench``.

Sessions start from nothing warm (a fresh socket directory: no server, no decision cache),
run the ``SessionStart`` command, then the first ``PreToolUse`` call at once:

* ``session start``: the ``SessionStart`` (``--warm``) command itself;
* ``first call: table command``: a command of the policy (answered from the exported table);
* ``first call: new command``: a command outside the table, right after SessionStart, while
  the server is still loading (the worst case: the call waits for it, or classifies itself);
* ``first call: seen in an earlier session``: a command outside the table that an earlier
  session asked (the server of that session has exited; the decision cache answers);
* ``steady state``: calls once the server is up, new commands and table commands mixed.

``all calls`` pools every PreToolUse call above; the aims (p50 <= 50 ms, p95 <= 100 ms) are
checked on it and on the first calls. ``python -c pass`` is timed the same way: the
interpreter start no hook call can go below. Servers started here are stopped at the end.
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
AIM_P50_MS = 50.0
AIM_P95_MS = 100.0
MISSES = [
    "sudo bash -c 'kubectl -n acme-prod delete deploy/orders-api' && echo done",
    "kubectl -n acme-prod delete deploy/payments-api",
    "git log --oneline -5 && git status",
    "helm upgrade orders-api ./chart -n acme-prod",
    "terraform -chdir=infra plan -out plan.bin",
    "ls -la src/",
    "grep -rn TODO generators/ | head",
    "python -m pytest -q tests/test_hook.py",
]


def _event(cmd: str, cwd: Path) -> str:
    return json.dumps({"session_id": "bench", "cwd": str(cwd), "hook_event_name": "PreToolUse",
                       "tool_name": "Bash", "tool_input": {"command": cmd}})


def _sh(command: str, stdin: str, env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Milliseconds from spawn to exit of ``/bin/sh -c command``, and its stdout."""
    t = time.perf_counter()
    res = subprocess.run(["/bin/sh", "-c", command], input=stdin, capture_output=True, text=True, env=env, cwd=cwd)
    ms = (time.perf_counter() - t) * 1000
    if res.returncode != 0:
        raise RuntimeError(f"hook command failed ({res.returncode}): {res.stderr.strip()[-300:]}")
    return ms, res.stdout


def _decision(stdout: str) -> str:
    return json.loads(stdout)["hookSpecificOutput"]["permissionDecision"] if stdout.strip() else "-"


def _pct(times: list[float], q: float) -> float:
    if len(times) == 1:
        return times[0]
    return statistics.quantiles(times, n=100, method="inclusive")[int(q) - 1]


def _stop_servers(sock_dir: Path) -> None:
    """Stop every server whose lock is in ``sock_dir`` (waiting briefly for one still starting)."""
    end = time.monotonic() + 3.0
    while not any(sock_dir.glob("*.lock")) and time.monotonic() < end:
        time.sleep(0.05)
    end = time.monotonic() + 20.0
    for lock in sock_dir.glob("*.lock"):
        while time.monotonic() < end and _locked(lock):  # a server holds it (it writes its pid once up)
            text = lock.read_text().strip()
            if text.isdigit():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(text), signal.SIGTERM)
                break
            time.sleep(0.05)


def _locked(lock: Path) -> bool:
    import fcntl

    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
    return False


def _wait_for_server(sock_dir: Path, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(sock_dir.glob("*.sock")):
            return True
        time.sleep(0.05)
    return False


def measure(out: Path, runs: int, sessions: int) -> dict[str, object]:
    """Every figure of the hook benchmark for the exported hooks in ``out``."""
    settings = json.loads((out / "enforce" / "claude-code" / "settings.json").read_text())
    pre = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    start = settings["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    state = out / "enforce" / "claude-code" / "hook-state.json"
    known = list(json.loads(state.read_text())["table"])
    project = out.parent
    dirs: list[Path] = []
    rows: dict[str, list[float]] = {}
    decisions: dict[str, set[str]] = {}

    def env_for(d: Path) -> dict[str, str]:
        # The CLI on PATH, as for a user who installed it (an exported absolute path needs none).
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path, "STACKPOLICY_HOOK_SOCKET_DIR": str(d), "STACKPOLICY_HOOK_SERVER": "on",
                "CLAUDE_PROJECT_DIR": str(project)}

    def fresh() -> tuple[Path, dict[str, str]]:
        d = Path(tempfile.mkdtemp(prefix="sphb"))  # short: AF_UNIX paths are limited
        dirs.append(d)
        return d, env_for(d)

    def call(label: str, cmd: str, env: dict[str, str]) -> None:
        ms, stdout = _sh(pre, _event(cmd, project), env, project)
        rows.setdefault(label, []).append(ms)
        decisions.setdefault(label, set()).add(_decision(stdout))

    floor = [_sh(f"{shlex_quote(sys.executable)} -c pass", "", dict(os.environ), project)[0] for _ in range(runs)]
    try:
        for i in range(sessions):
            d, env = fresh()
            ms, _ = _sh(start, "{}", env, project)
            rows.setdefault("session start (SessionStart --warm)", []).append(ms)
            call("first call: table command", known[(i * 7) % len(known)], env)
            _stop_servers(d)
        for i in range(sessions):
            d, env = fresh()
            _sh(start, "{}", env, project)
            call("first call: new command", MISSES[i % len(MISSES)], env)
            _stop_servers(d)
        # One session asks new commands; the next (its server gone, the cache kept) asks them again.
        d, env = fresh()
        _sh(start, "{}", env, project)
        if not _wait_for_server(d):
            raise RuntimeError("the hook server did not come up")
        for i in range(runs):
            call("steady state (server up)", MISSES[(i // 2) % len(MISSES)] if i % 2 else known[i % len(known)], env)
        _stop_servers(d)
        time.sleep(0.3)
        for i in range(sessions):
            call("first call: seen in an earlier session", MISSES[i % len(MISSES)], env)
            _stop_servers(d)
    finally:
        for d in dirs:
            _stop_servers(d)
        time.sleep(0.2)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    calls = [t for k, ts in rows.items() if not k.startswith("session start") for t in ts]
    firsts = [t for k, ts in rows.items() if k.startswith("first call") for t in ts]
    table = {k: {"calls": len(ts), "p50_ms": statistics.median(ts), "p95_ms": _pct(ts, 95),
                 "decisions": sorted(decisions.get(k, {"-"}))} for k, ts in rows.items()}
    table["all PreToolUse calls"] = {"calls": len(calls), "p50_ms": statistics.median(calls), "p95_ms": _pct(calls, 95),
                                     "decisions": []}
    table["first calls of a session"] = {"calls": len(firsts), "p50_ms": statistics.median(firsts),
                                         "p95_ms": _pct(firsts, 95), "decisions": []}
    return {"command": pre, "loadavg": list(os.getloadavg()), "session_start_command": start,
            "interpreter_start": {"calls": len(floor), "p50_ms": statistics.median(floor), "p95_ms": _pct(floor, 95)},
            "rows": table, "aims": {"p50_ms": AIM_P50_MS, "p95_ms": AIM_P95_MS}}


def shlex_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def format_report(res: dict[str, object]) -> str:
    """The human-readable table."""
    lines = [f"PreToolUse command: {res['command']}",
             f"{'hook call (process to process)':42} {'calls':>5} {'p50 ms':>8} {'p95 ms':>8}  aims  decisions"]
    for label, r in res["rows"].items():  # type: ignore[union-attr]
        met = "met" if r["p50_ms"] <= AIM_P50_MS and r["p95_ms"] <= AIM_P95_MS else "MISSED"
        if label.startswith("session start"):
            met = "  - "
        lines.append(f"{label:42} {r['calls']:>5} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f}  {met:>6}  {','.join(r['decisions'])}")
    f = res["interpreter_start"]  # type: ignore[index]
    lines.append(f"{'(floor: python -c pass)':42} {f['calls']:>5} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", type=Path, default=None, help="a generated output dir (default: generate the example)")
    ap.add_argument("--runs", type=int, default=40, help="steady-state calls (and interpreter starts)")
    ap.add_argument("--sessions", type=int, default=6, help="fresh sessions per first-call figure")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("stackpolicy")
    tmp: Path | None = None
    out = args.output
    if out is None:
        tmp = Path(tempfile.mkdtemp(prefix="sp-hook-bench-"))
        out = tmp / "output"
        subprocess.run([str(exe), "policy", "--output", str(out)], check=True, capture_output=True, cwd=REPO)
    out = out.resolve()
    subprocess.run([str(exe), "export", "claude-code", "--output", str(out)], check=True, capture_output=True, cwd=REPO)
    res = measure(out, args.runs, args.sessions)
    print(format_report(res))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
