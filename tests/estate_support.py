"""Scan a small estate written into a temporary directory, or a corpus in ../shared/corpora
(shared by the resolve and corpora tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from inventory.model import Inventory
from inventory.scan import scan_paths

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def scan_files(tmp_path: Path, files: dict[str, str]) -> Inventory:
    """Write ``files`` (relative path → text) under ``tmp_path`` and scan it without a cache."""
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    return inv


@lru_cache(maxsize=None)
def scan_corpus(root: Path) -> Inventory:
    """The inventory of one corpus under ``CORPORA`` (scanned once per test process); the
    calling test is skipped when the corpus is absent."""
    if not root.is_dir():
        pytest.skip(f"corpus not available: {root}")
    inv, _ = scan_paths([root], use_cache=False, jobs=1)
    return inv


def command_targets(inv: Inventory) -> dict[str, set[str | None]]:
    """Each command line of the inventory → the targets of the actions that cite it."""
    out: dict[str, set[str | None]] = {}
    for act in inv.actions:
        for ref in act.commands:
            out.setdefault(ref.command, set()).add(act.target)
    return out
