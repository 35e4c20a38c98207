"""Golden files: the rendered documents, byte for byte.

Refresh after an intended change with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q
tests/test_documents_golden.py`` and review the diff like any other.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generators.pipeline import assess, draft_documents, render_documents
from inventory.config import Config
from inventory.scan import scan_paths
from tests.factories import assert_grounded, make_assessments, make_inventory

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/acme-platform"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _check(texts: dict[str, str], directory: Path) -> None:
    if UPDATE:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (directory / name).write_text(text, encoding="utf-8", newline="\n")
    missing = [n for n in texts if not (directory / n).exists()]
    assert not missing, f"no golden file for {missing}; run with UPDATE_GOLDEN=1"
    for name, text in texts.items():
        expected = (directory / name).read_text(encoding="utf-8")
        assert text == expected, f"{directory.name}/{name} differs from the golden file; UPDATE_GOLDEN=1 refreshes it"


def test_factory_documents_match_golden() -> None:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    _check(render_documents(policy, evals, "output"), GOLDEN / "factory")


def test_example_documents_match_golden(monkeypatch, tmp_path) -> None:
    # Relative paths, as `make policy` runs them, so links and front matter are portable.
    monkeypatch.chdir(REPO)
    cfg = Config()
    inv, _ = scan_paths([EXAMPLE], cfg, use_cache=False, cache_dir=tmp_path)
    policy, evals = draft_documents(inv, assess(inv, cfg), cfg)
    assert_grounded(inv, policy, evals)
    _check(render_documents(policy, evals, "output"), GOLDEN / "acme-platform")
