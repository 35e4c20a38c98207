"""The aims of ``make bench`` in one table: ``python bench/summary.py [--results F] [--hook F]``.

Reads what the runs before it wrote (``bench/out/results.json`` from ``bench/run.py --json``,
``bench/out/hook.json`` from ``bench/hook_latency.py --json``) and prints every aim with its
measured value, the limit, and ``met`` / ``MISSED``; figures without an aim (throughput)
follow; offline generation has its aims at 2,000 services. Ratios are taken within one run, so
they compare across machines better than seconds do; the load average each run saw is printed with it. Nothing is
enforced: the exit code is 0 unless an input is missing or unreadable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"

# (figure, limit, unit): the aims of the performance issue.
AIM_COLD_OVER_FLOOR = 2.0
AIM_PEAK_MB = 500.0
AIM_WARM_OVER_COLD = 0.05
AIM_LLM_OVER_IDEAL = 1.3
AIM_HOOK_P50_MS = 50.0
AIM_HOOK_P95_MS = 100.0
AIM_GENERATION_S = 30.0  # offline policy + evals at 2,000 services (issue: one decision table)
AIM_GENERATION_MB = 1024.0


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _row(figure: str, value: float | None, limit: float | None, fmt: str, how: str) -> tuple[str, str, str, str, str]:
    if value is None:
        return figure, "n/a", "-" if limit is None else format(limit, fmt), "n/a", how
    status = "-" if limit is None else ("met" if value <= limit else "MISSED")
    return figure, format(value, fmt), "-" if limit is None else format(limit, fmt), status, how


def rows(results: dict[str, Any] | None, hook: dict[str, Any] | None) -> list[tuple[str, str, str, str, str]]:
    """The summary rows: (figure, measured, aim, met/MISSED/-, what was measured)."""
    out: list[tuple[str, str, str, str, str]] = []
    r = results or {}
    rat = r.get("ratios") or {}
    phases = r.get("phases") or {}
    n = r.get("services")
    out.append(_row("cold scan / parse floor (2 procs), x", rat.get("cold_over_floor"), AIM_COLD_OVER_FLOOR, ".2f",
                    f"{n} services, same run"))
    out.append(_row("scan peak RSS, process tree, MB", rat.get("scan_peak_rss_mb"), AIM_PEAK_MB, ".0f",
                    "max of cold and warm"))
    warm = rat.get("warm_over_cold")
    out.append(_row("warm rescan / cold scan, %", warm * 100 if warm is not None else None, AIM_WARM_OVER_COLD * 100,
                    ".1f", "every file a cache hit"))
    edit = rat.get("edit_over_cold")
    out.append(_row("  rescan after an edit / cold scan, %", edit * 100 if edit is not None else None, None, ".1f",
                    "one runbook added: the rest from cache, the inventory rebuilt"))
    llm = (phases.get("llm") or {}).get("details") or {}
    out.append(_row("LLM generation wall / ideal, x", llm.get("cold_over_ideal"), AIM_LLM_OVER_IDEAL, ".2f",
                    f"{llm.get('calls', '?')} calls at 300 ms, concurrency {llm.get('concurrency', '?')}"))
    gap = llm.get("gap_s") or {}
    if llm.get("ideal_s") is not None:
        out.append(_row("  LLM wall, s (ideal: API latency only)", llm.get("cold_s"), None, ".1f",
                        f"ideal {llm['ideal_s']:.1f} s"))
    for what, secs in gap.items():
        out.append(_row(f"  gap: {what.strip()}, s", secs, None, ".1f", "where the wall beyond ideal goes"))
    h = (hook or {}).get("rows") or {}
    for label, key in (("hook, all PreToolUse calls", "all PreToolUse calls"),
                       ("hook, first calls of a session", "first calls of a session"),
                       ("hook, steady state (server up)", "steady state (server up)")):
        row = h.get(key) or {}
        out.append(_row(f"{label}: p50 ms", row.get("p50_ms"), AIM_HOOK_P50_MS, ".1f", "/bin/sh -c <exported command>"))
        out.append(_row(f"{label}: p95 ms", row.get("p95_ms"), AIM_HOOK_P95_MS, ".1f", f"{row.get('calls', 0)} calls"))
    floor = (hook or {}).get("interpreter_start") or {}
    out.append(_row("  (interpreter start, python -c pass: p50 ms)", floor.get("p50_ms"), None, ".1f",
                    "no hook call can go below this"))
    steady = h.get("steady state (server up)") or {}
    if floor.get("p50_ms") and steady.get("p50_ms"):
        out.append(_row("  (steady p50 / interpreter start, x)", steady["p50_ms"] / floor["p50_ms"], None, ".2f",
                        "the hook's own share under this load"))
    cls = phases.get("classify") or {}
    out.append(_row("classify --stdin, lines/s", cls.get("rate_per_s"), None, ".0f",
                    f"{cls.get('items', '?')} runbook lines, incl. interpreter start"))
    off = phases.get("offline") or {}
    # The aims are for 2,000 services; a smaller run (--quick) is shown without one.
    full = n == 2000
    out.append(_row("offline policy + evals, s", off.get("seconds"), AIM_GENERATION_S if full else None, ".1f",
                    f"{n} services, warm scan cache, `stackpolicy policy` incl. interpreter start"))
    out.append(_row("offline policy + evals, peak MB", off.get("tree_peak_mb"), AIM_GENERATION_MB if full else None,
                    ".0f", "process tree"))
    return out


def format_rows(table: list[tuple[str, str, str, str, str]]) -> str:
    """Aligned text."""
    head = ("figure", "measured", "aim", "status", "how")
    widths = [max(len(str(r[i])) for r in [head, *table]) for i in range(5)]
    lines = ["  ".join(str(c).ljust(w) if i in (0, 4) else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *table]]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the summary of the last ``make bench``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=OUT / "results.json")
    ap.add_argument("--hook", type=Path, default=OUT / "hook.json")
    args = ap.parse_args(argv)
    results, hook = _load(args.results), _load(args.hook)
    if results is None and hook is None:
        print(f"no bench results at {args.results} or {args.hook}; run `make bench`", file=sys.stderr)
        return 2
    table = rows(results, hook)
    print("\nSUMMARY (aims of the performance issue; ratios within one run)")
    loads = [f"{name} load average {' '.join(f'{x:.1f}' for x in d['loadavg'])}"
             for name, d in (("scan run", results), ("hook run", hook)) if d and d.get("loadavg")]
    if loads:
        print("; ".join(loads) + f" on {(results or {}).get('cpu_count', '?')} cores")
    if results and results.get("compiled"):
        print(f"scan run: {results['compiled']}")
    print(format_rows(table))
    missed = [r[0].strip() for r in table if r[3] == "MISSED"]
    print(f"\naims missed: {len(missed)}" + (": " + "; ".join(missed) if missed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
