"""Hook latency: ``python bench/hook_latency.py [--output DIR] [--runs N]`` (part of ``make bench``).

Times ``stackpolicy hook claude-code`` end to end, as Claude Code runs it (a new process
per tool call, JSON on stdin), against the exported hook state of the bundled example:
a command from the policy (the fast path: standard library only) and one the full
classifier must decide. The aim is 150 ms; the numbers are reported, not enforced.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AIM_MS = 150.0


def _event(cmd: str) -> str:
    return json.dumps({"session_id": "bench", "cwd": str(REPO), "hook_event_name": "PreToolUse",
                       "tool_name": "Bash", "tool_input": {"command": cmd}})


def _time(exe: Path, state: Path, cmd: str, runs: int) -> tuple[float, str]:
    times, decision = [], ""
    for _ in range(runs):
        t = time.perf_counter()
        res = subprocess.run([str(exe), "hook", "claude-code", "--state", str(state)], input=_event(cmd),
                             capture_output=True, text=True, check=True)
        times.append((time.perf_counter() - t) * 1000)
        decision = json.loads(res.stdout)["hookSpecificOutput"]["permissionDecision"]
    return statistics.median(times), decision


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", type=Path, default=None, help="a generated output dir (default: generate the example)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("stackpolicy")
    out = args.output
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="sp-hook-bench-")) / "output"
        subprocess.run([str(exe), "policy", "--output", str(out)], check=True, capture_output=True, cwd=REPO)
    subprocess.run([str(exe), "export", "claude-code", "--output", str(out)], check=True, capture_output=True, cwd=REPO)
    state = out / "enforce" / "claude-code" / "hook-state.json"
    table = json.loads(state.read_text())["table"]
    known = next(iter(table))
    cases = [("fast path (a policy command)", known),
             ("full classifier (compound, wrapped)", "sudo bash -c 'kubectl -n acme-prod delete deploy/orders-api' && echo done")]
    print(f"{'hook call':40} {'median ms':>10} {'aim':>6}  decision")
    for label, cmd in cases:
        ms, decision = _time(exe, state, cmd, args.runs)
        print(f"{label:40} {ms:10.1f} {'met' if ms <= AIM_MS else 'missed':>6}  {decision}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
