"""Scan benchmark: ``make bench`` / ``python bench/run.py [--quick] [--services N] [--json]``.

Generates (or reuses) the synthetic monorepo under ``bench/out/``, runs the phases in
``bench/phases.py`` (each measurement in its own child process), prints a table and the
ratios against the parse floor measured in the same run, and optionally writes
``bench/out/results.json``. See ``bench/README.md`` for how to read the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # this checkout's inventory, as bench/worker.py does

from measure import BENCH_DIR, run_worker  # noqa: E402
from phases import PHASES, BenchContext, PhaseResult  # noqa: E402
from synth import ensure_repo  # noqa: E402

from inventory._guard import PURE_ENV  # noqa: E402
from inventory.compiled import summary as compiled_summary  # noqa: E402

OUT_DIR = BENCH_DIR / "out"
QUICK_SERVICES = 200
PROFILE_SERVICES = 200

# The aims from the product brief; reported as met / missed, never enforced.
AIM_COLD_OVER_FLOOR = 2.0
AIM_WARM_OVER_COLD = 0.05
AIM_PEAK_RSS_MB = 500.0


def ratios(results: dict[str, PhaseResult]) -> dict[str, Any]:
    """cold/floor (against the 2-process floor, and the 1-process one), warm/cold, edit/cold, peak RSS."""
    def secs(key: str) -> float | None:
        r = results.get(key)
        return r.seconds if r is not None and r.status == "ok" else None

    f1, f2, cold, warm, edit = secs("floor1"), secs("floor2"), secs("cold"), secs("warm"), secs("edit")
    out: dict[str, Any] = {
        "cold_over_floor": cold / f2 if cold and f2 else None,
        "cold_over_floor_1proc": cold / f1 if cold and f1 else None,
        "warm_over_cold": warm / cold if warm and cold else None,
        "edit_over_cold": edit / cold if edit and cold else None,
        "floor_parallel_speedup": f1 / f2 if f1 and f2 else None,
    }
    peaks = [r.tree_peak_mb for k, r in results.items() if k in ("cold", "warm") and r.tree_peak_mb]
    out["scan_peak_rss_mb"] = max(peaks) if peaks else None
    out["aims"] = {
        "cold <= 2x floor (2 procs)": _aim(out["cold_over_floor"], AIM_COLD_OVER_FLOOR),
        "warm <= 5% of cold": _aim(out["warm_over_cold"], AIM_WARM_OVER_COLD),
        "peak RSS <= 500 MB": _aim(out["scan_peak_rss_mb"], AIM_PEAK_RSS_MB),
    }
    return out


def _aim(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "met" if value <= limit else "MISSED"


def _fmt(value: float | None, spec: str) -> str:
    width = int(spec.split(".")[0].rstrip("df") or 0)  # "8.2f" -> 8: keep the columns aligned
    return "-".rjust(width) if value is None else format(value, spec)


def format_table(results: dict[str, PhaseResult]) -> str:
    """The human-readable report: one row per phase."""
    head = f"{'phase':<30} {'status':<8} {'time s':>8} {'items':>8} {'per s':>9} {'RSS MB':>7} {'tree MB':>8}  note"
    rows = [head, "-" * len(head)]
    for r in results.values():
        rows.append(
            f"{r.name:<30} {r.status:<8} {_fmt(r.seconds, '8.2f')} {_fmt(r.items, '8d')} "
            f"{_fmt(r.rate, '9.0f')} {_fmt(r.maxrss_mb, '7.0f')} {_fmt(r.tree_peak_mb, '8.0f')}  {r.note}"
        )
    return "\n".join(rows)


def format_ratios(rat: dict[str, Any]) -> str:
    """Ratios and whether the aims are met."""
    lines = [
        f"cold / floor (2 procs, the fair baseline): {_fmt(rat['cold_over_floor'], '.2f')}x   "
        f"(vs 1-proc floor: {_fmt(rat['cold_over_floor_1proc'], '.2f')}x)",
        f"warm / cold: {_fmt(rat['warm_over_cold'] and rat['warm_over_cold'] * 100, '.1f')} %",
        f"rescan after an edit / cold: {_fmt(rat.get('edit_over_cold') and rat['edit_over_cold'] * 100, '.1f')} % (no aim)",
        f"floor speed-up from 2 processes: {_fmt(rat['floor_parallel_speedup'], '.2f')}x",
        f"scan peak RSS (process tree): {_fmt(rat['scan_peak_rss_mb'], '.0f')} MB",
        "aims: " + ", ".join(f"{k}: {v}" for k, v in rat["aims"].items()),
    ]
    return "\n".join(lines)


def format_cold_stages(results: dict[str, PhaseResult]) -> str:
    """Where the (fastest) cold scan's time went: its stages, and the CPU of its processes.

    The workers' CPU over the cores is the least the scan stage could take on this machine;
    the stages after it run in one process while the other cores idle.
    """
    cold = results.get("cold")
    if cold is None or cold.status != "ok" or not cold.details.get("stages"):
        return ""
    stages: dict[str, float] = cold.details["stages"]
    total = cold.seconds or 0.0
    floor = results.get("floor2")
    lines = ["cold scan by stage (wall s, share of the scan):"]
    for name, secs in stages.items():
        lines.append(f"  {name:<34} {secs:7.2f}  {secs / total * 100 if total else 0:5.1f} %")
    rest = total - sum(stages.values())
    lines.append(f"  {'(everything else)':<34} {rest:7.2f}  {rest / total * 100 if total else 0:5.1f} %")
    main_cpu, workers_cpu = cold.details.get("cpu_main_s"), cold.details.get("cpu_workers_s")
    if main_cpu is not None and workers_cpu is not None:
        cores = os.cpu_count() or 1
        line = (f"  CPU: main process {main_cpu:.2f} s, scan workers {workers_cpu:.2f} s "
                f"({workers_cpu / cores:.2f} s over {cores} cores")
        if floor is not None and floor.status == "ok" and floor.seconds:
            line += f", {workers_cpu / cores / floor.seconds:.2f}x the 2-process floor"
        lines.append(line + ")")
    return "\n".join(lines)


def profile(out_dir: Path, seed: int) -> dict[str, Any]:
    """cProfile a 1-process cold scan of a 200-service repo; per-module hotspots."""
    repo, _, _ = ensure_repo(PROFILE_SERVICES, seed, out_dir)
    # As Python: cProfile sees into a Python function, not into a compiled one (inventory.compiled).
    m = run_worker("profile", {"paths": [str(repo)], "out": str(out_dir / "scan.prof")}, env={PURE_ENV: "1"})
    if m.returncode != 0:
        return {"error": m.stderr_tail}
    return m.result


def format_profile(prof: dict[str, Any], modules: int = 12, top: int = 4) -> str:
    """The hottest modules and their top functions by cumulative time."""
    if "error" in prof:
        return f"profile failed: {prof['error']}"
    lines = [f"cProfile, {PROFILE_SERVICES} services, 1 process: {prof['seconds']:.2f}s "
             f"(stats in {prof['stats_file']}; `python -m pstats` to browse)"]
    for label, rows in list(prof["summary"].items())[:modules]:
        lines.append(f"  {label}")
        for row in rows[:top]:
            lines.append(f"      {row['cum_s']:7.3f}s cum {row['self_s']:7.3f}s self {row['calls']:>8} calls  {row['function']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, generate the repo, run every phase, print and optionally save results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=2000, help="services in the synthetic repo (default 2000, ~20k files)")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_SERVICES} services: a fast check")
    ap.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    ap.add_argument("--repeat", type=int, default=1, help="run each timed phase N times and keep the fastest")
    ap.add_argument("--json", action="store_true", help="write bench/out/results.json")
    ap.add_argument("--profile", action="store_true", help=f"also cProfile a {PROFILE_SERVICES}-service cold scan")
    ap.add_argument("--timeout", type=float, default=1800.0,
                    help="seconds allowed per measured child run before it is killed (default 1800; 0: none)")
    ap.add_argument("--phases", default="", help="comma-separated phase keys to run (default: all): "
                    + ",".join(k for k, _ in PHASES))
    ap.add_argument("--out", type=Path, default=OUT_DIR, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    n = QUICK_SERVICES if args.quick else args.services
    known = [k for k, _ in PHASES]
    wanted = [k.strip() for k in args.phases.split(",") if k.strip()] or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        ap.error(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if n < 1:
        ap.error("--services must be at least 1")

    t0 = time.perf_counter()
    repo, n_files, fresh = ensure_repo(n, args.seed, args.out)
    print(f"synthetic repo: {n} services, {n_files} files at {repo} "
          f"({'generated in %.1fs' % (time.perf_counter() - t0) if fresh else 'reused'})")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
          "all phases read from the page cache (files were just written or read)")
    compiled = compiled_summary()
    print(f"{compiled} (python -m inventory.compiled status)\n")

    ctx = BenchContext(repo=repo, out_dir=args.out, n_services=n, n_files=n_files, repeat=args.repeat,
                       timeout=args.timeout or None)
    for key, phase in PHASES:
        if key not in wanted:
            continue
        print(f"  running {key} ...", file=sys.stderr, flush=True)
        ctx.results[key] = phase(ctx)
    rat = ratios(ctx.results)
    print(format_table(ctx.results))
    print()
    print(format_ratios(rat))
    stages = format_cold_stages(ctx.results)
    if stages:
        print()
        print(stages)

    prof: dict[str, Any] | None = None
    if args.profile:
        prof = profile(args.out, args.seed)
        print()
        print(format_profile(prof))

    if args.json:
        payload = {
            "services": n, "files": n_files, "seed": args.seed, "repeat": args.repeat,
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "loadavg": list(os.getloadavg()),
            "phases": {k: r.to_json() for k, r in ctx.results.items()},
            "ratios": rat, "profile": prof, "compiled": compiled,
        }
        path = args.out / "results.json"
        path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {path}")
    failed = [r.name for r in ctx.results.values() if r.status == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
