"""A rescan of a changed tree forks its workers before it loads the stored fragments.

A worker forked after the loading would count every loaded fragment in its memory: on a
large estate that took the process tree well past the scan's memory budget.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory.config import Config
from inventory.scan import scan_paths


def _tree(root: Path, files: int, version: str) -> None:
    for i in range(files):
        d = root / "k8s" / f"svc-{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "deploy.yaml").write_text(
            "apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata: {{name: svc-{i:03d}, namespace: shop-prod}}\n"
            "spec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: app\n          image: registry.example/svc-{i:03d}:{version}\n")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the workers are forked")
def test_workers_fork_before_the_stored_fragments_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_mod, "_SETTLE_NS", 0)
    root, cache = tmp_path / "tree", tmp_path / "cache"
    _tree(root, 200, "1.0")
    scan_paths([root], Config(), cache_dir=cache, jobs=2)
    for i in range(0, 200, 2):  # half the files change: 100 scanned again, 100 from the cache
        (root / "k8s" / f"svc-{i:03d}" / "deploy.yaml").write_text(
            (root / "k8s" / f"svc-{i:03d}" / "deploy.yaml").read_text().replace(":1.0", ":2.0"))
    events: list[str] = []
    real_submit, real_loaded = scan_mod.ProcessPoolExecutor.submit, scan_mod._cached_fragments

    def submit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        events.append("fork" if not self._processes else "task")
        return real_submit(self, *args, **kwargs)

    def loaded(blob):  # type: ignore[no-untyped-def]
        events.append("load")
        return real_loaded(blob)

    monkeypatch.setattr(scan_mod.ProcessPoolExecutor, "submit", submit)
    monkeypatch.setattr(scan_mod, "_cached_fragments", loaded)
    inv, stats = scan_paths([root], Config(), cache_dir=cache, jobs=2)
    assert stats.cache_hits == 100 and stats.files_scanned == 200
    assert "fork" in events and "load" in events
    assert events.index("fork") < events.index("load")
    fresh, _ = scan_paths([root], Config(), use_cache=False)
    assert inv.digest() == fresh.digest()
