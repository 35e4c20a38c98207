"""The bench summary: every aim with its measured value and met / MISSED, from the runs' JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import summary  # noqa: E402


def _status(table: list[tuple[str, str, str, str, str]], prefix: str) -> tuple[str, str]:
    row = next(r for r in table if r[0].strip().startswith(prefix))
    return row[1], row[3]


def test_each_aim_is_reported_met_or_missed() -> None:
    results = {
        "services": 500, "cpu_count": 2, "loadavg": [3.0, 2.0, 1.0],
        "ratios": {"cold_over_floor": 2.5, "scan_peak_rss_mb": 263.0, "warm_over_cold": 0.04},
        "phases": {
            "llm": {"details": {"cold_over_ideal": 1.2, "calls": 10, "concurrency": 4, "cold_s": 1.2, "ideal_s": 1.0,
                                "gap_s": {"rendering prompts (event loop)": 0.1}}},
            "classify": {"rate_per_s": 2500.0, "items": 5000},
            "offline": {"seconds": 100.0, "tree_peak_mb": 554.0},
        },
    }
    hook = {"rows": {"all PreToolUse calls": {"calls": 58, "p50_ms": 40.0, "p95_ms": 120.0},
                     "first calls of a session": {"calls": 18, "p50_ms": 45.0, "p95_ms": 90.0},
                     "steady state (server up)": {"calls": 40, "p50_ms": 30.0, "p95_ms": 60.0}},
            "interpreter_start": {"calls": 40, "p50_ms": 20.0, "p95_ms": 30.0}}
    table = summary.rows(results, hook)
    assert _status(table, "cold scan / parse floor") == ("2.50", "MISSED")
    assert _status(table, "scan peak RSS") == ("263", "met")
    assert _status(table, "warm rescan / cold scan") == ("4.0", "met")
    assert _status(table, "LLM generation wall / ideal") == ("1.20", "met")
    assert _status(table, "hook, all PreToolUse calls: p50") == ("40.0", "met")
    assert _status(table, "hook, all PreToolUse calls: p95") == ("120.0", "MISSED")
    assert _status(table, "gap: rendering prompts") == ("0.1", "-")
    assert _status(table, "classify --stdin") == ("2500", "-")
    assert _status(table, "(steady p50 / interpreter start") == ("1.50", "-")
    # Generation's aims are for 2,000 services: a smaller run is reported without one.
    assert _status(table, "offline policy + evals, s") == ("100.0", "-")
    full = summary.rows({**results, "services": 2000}, hook)
    assert _status(full, "offline policy + evals, s") == ("100.0", "MISSED")
    assert _status(full, "offline policy + evals, peak MB") == ("554", "met")


def test_missing_figures_are_na_not_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"services": 10, "ratios": {}, "phases": {}}))
    assert summary.main(["--results", str(tmp_path / "results.json"), "--hook", str(tmp_path / "none.json")]) == 0
    out = capsys.readouterr().out
    assert "n/a" in out and "aims missed: 0" in out
    assert summary.main(["--results", str(tmp_path / "x.json"), "--hook", str(tmp_path / "y.json")]) == 2


def test_the_cold_scan_breakdown_lists_its_stages_the_rest_and_the_cpu() -> None:
    from phases import PhaseResult
    from run import format_cold_stages

    cold = PhaseResult(name="cold scan", seconds=10.0, details={
        "stages": {"walk, read and scan files": 6.0, "commands to actions": 2.0},
        "cpu_main_s": 5.0, "cpu_workers_s": 12.0})
    floor = PhaseResult(name="floor (2 procs)", seconds=4.0)
    text = format_cold_stages({"floor2": floor, "cold": cold})
    assert "walk, read and scan files" in text and "60.0 %" in text
    assert "commands to actions" in text and "20.0 %" in text
    assert "(everything else)" in text and "2.00" in text  # 10 - 6 - 2
    assert "scan workers 12.00 s" in text
    assert format_cold_stages({"cold": PhaseResult(name="cold scan", status="failed")}) == ""
