"""The bench measures document sizes in a child process (so the runner stays lean)."""

from __future__ import annotations

import sys
from pathlib import Path

from generators.documents.audit import document_stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from measure import run_worker  # noqa: E402

OUTPUT = Path(__file__).resolve().parents[1] / "output"


def test_document_stats_task_matches_the_in_process_figures() -> None:
    m = run_worker("document_stats", {"out": str(OUTPUT)}, timeout=120)
    assert m.returncode == 0, m.stderr_tail
    expected = document_stats(OUTPUT)
    assert m.result["stats"]["bytes"] == expected.bytes
    assert m.result["stats"]["classes"] == expected.classes
    assert m.result["stats"]["mermaid_nodes"] == expected.mermaid_nodes


def test_document_stats_task_reports_a_missing_folder_as_an_error(tmp_path: Path) -> None:
    m = run_worker("document_stats", {"out": str(tmp_path / "nothing")}, timeout=120)
    assert m.returncode == 0
    assert "stats" not in m.result
    assert m.result["error"]


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


def test_the_scan_task_reports_where_a_cold_scan_went_and_a_warm_one_skipped(tmp_path: Path) -> None:
    args = {"paths": [str(EXAMPLE)], "cache_dir": str(tmp_path / "cache")}
    cold = run_worker("scan", args, timeout=300)
    assert cold.returncode == 0, cold.stderr_tail
    stages = cold.result["stages"]
    # Every stage of a cold scan, in the order it ran, and no more time than the scan took.
    assert list(stages) == ["walk, read and scan files", "merge fragments", "resolve environments",
                            "overrides, aliases, references", "commands to actions", "implied actions",
                            "assemble the inventory", "scrub secrets", "store the inventory"]
    assert all(v >= 0 for v in stages.values())
    assert sum(stages.values()) <= cold.result["seconds"]
    assert cold.result["cpu_main_s"] > 0
    warm = run_worker("scan", args, timeout=300)
    assert warm.returncode == 0, warm.stderr_tail
    assert warm.result["digest"] == cold.result["digest"]
    # Answered from the stored inventory, loaded while a forked child walked (what of the
    # walk the load did not hide is its own stage).
    assert list(warm.result["stages"]) == ["load the stored inventory", "walk and hash files"]
