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
