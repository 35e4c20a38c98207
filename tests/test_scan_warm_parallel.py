"""A rescan walks in a forked child while it loads the stored inventory (scan._walk_beside_loading).

Whatever the tree did since the last scan, the result must be what walking here gives: the
same inventory, statistics, warnings and stored state; and a child that fails or cannot be
forked only means walking here.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory.config import Config
from inventory.scan import ScanStats, scan_paths
from tests.scan_cache_support import HOUR_AGO, old_example_tree


def _scan(root: Path, cache: Path) -> tuple[str, ScanStats]:
    inv, stats = scan_paths([root], Config(), cache_dir=cache, jobs=1)
    return inv.digest(), stats


def _scanned_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, tuple[str, ScanStats]]:
    """The example tree, scanned once into a cache (files settle at once): root, cache, that scan."""
    monkeypatch.setattr(scan_mod, "_SETTLE_NS", 0)
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    return root, cache, _scan(root, cache)


def _facts(stats: ScanStats) -> tuple:
    return (stats.files_seen, stats.files_scanned, stats.cache_hits, stats.bytes_read, stats.skipped,
            [w.model_dump() for w in stats.warnings])


def _changes() -> dict:
    def nothing(root: Path) -> None:
        pass

    def edit(root: Path) -> None:
        with (root / "runbooks" / "cache-flush.md").open("a") as fh:
            fh.write("\n```sh\nkubectl -n acme-prod get pods\n```\n")

    def touch(root: Path) -> None:  # a new stat, the same content: the walk learns it
        os.utime(root / "docker-compose.yml", (HOUR_AGO + 60, HOUR_AGO + 60))

    def add_and_break(root: Path) -> None:  # a new file, and a walk warning
        (root / "k8s" / "extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")
        (root / "k8s" / "dangling.yaml").symlink_to(root / "nowhere.yaml")

    def remove(root: Path) -> None:
        (root / "docker-compose.yml").unlink()

    return {"nothing": nothing, "edit": edit, "touch": touch, "add_and_break": add_and_break, "remove": remove}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")
@pytest.mark.parametrize("change", sorted(_changes()))
def test_a_rescan_gives_what_walking_here_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 change: str) -> None:
    monkeypatch.setattr(scan_mod, "_SETTLE_NS", 0)
    results = {}
    for how in ("here", "beside"):
        # The same path both times: the sources are part of the inventory.
        shutil.rmtree(tmp_path / "tree", ignore_errors=True)
        root = old_example_tree(tmp_path / "tree")
        cache = tmp_path / f"cache-{how}"
        _scan(root, cache)
        _scan(root, cache)  # the walk settled and stored, the tree stored
        _changes()[change](root)
        calls: list[object] = []
        real = scan_mod._walk_beside_loading

        def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
            if how == "here":
                return None
            calls.append(result := real(*args, **kwargs))
            return result

        with monkeypatch.context() as m:
            m.setattr(scan_mod, "_walk_beside_loading", spy)
            digest, stats = _scan(root, cache)
            if how == "beside":  # the child walked: only an untouched tree is answered from the store
                assert len(calls) == 1 and calls[0] is not None
                assert (calls[0].inventory is not None) == (change == "nothing")
            again = _scan(root, cache)  # and what the rescan stored serves the next one alike
        results[how] = (digest, _facts(stats), again[0], _facts(again[1]))
    assert results["beside"] == results["here"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")
def test_a_child_that_fails_means_walking_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache, first = _scanned_tree(tmp_path, monkeypatch)
    parent = os.getpid()
    real = scan_mod._walk_and_hash

    def dies_in_a_child(*args, **kwargs):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return real(*args, **kwargs)

    monkeypatch.setattr(scan_mod, "_walk_and_hash", dies_in_a_child)
    digest, stats = _scan(root, cache)
    assert digest == first[0] and stats.cache_hits == stats.files_scanned > 0
    assert _facts(stats)[:5] == _facts(_scan(root, cache)[1])[:5]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")
@pytest.mark.parametrize("meanwhile", ["removed", "damaged"])
def test_a_stored_inventory_gone_or_damaged_once_the_child_started_is_rebuilt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: str) -> None:
    # The child starts before the stored inventory is read: another scan may replace (or a
    # crash damage) it in between. The rescan then builds the inventory again, as it would
    # have from the start, and stores it.
    from inventory import forked

    root, cache, first = _scanned_tree(tmp_path, monkeypatch)
    real_start = forked.start

    def start(fn, **kwargs):  # type: ignore[no-untyped-def]
        job = real_start(fn, **kwargs)
        with sqlite3.connect(cache / "scan.sqlite") as db:
            if meanwhile == "removed":
                db.execute("DELETE FROM trees")
            else:
                db.execute("UPDATE trees SET value = ?", (b"not a stored inventory",))
        return job

    monkeypatch.setattr(forked, "start", start)
    digest, stats = _scan(root, cache)
    assert digest == first[0] and stats.cache_hits == stats.files_scanned > 0
    monkeypatch.setattr(forked, "start", real_start)
    assert _scan(root, cache)[0] == first[0]  # stored again: read back as it was


def test_without_fork_the_walk_is_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache, first = _scanned_tree(tmp_path, monkeypatch)
    monkeypatch.delattr(os, "fork")
    digest, stats = _scan(root, cache)
    assert digest == first[0] and stats.cache_hits == stats.files_scanned > 0


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, as an interactive `stackpolicy scan` sees it."""

    def isatty(self) -> bool:
        return True


def test_the_progress_bar_starts_its_thread_at_the_first_update(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Terminal())
    threads = threading.active_count()
    update, close = scan_mod.default_progress()
    assert update is not None and threading.active_count() == threads
    update(1, 2)
    assert threading.active_count() == threads + 1
    close()  # rich lets its thread end by itself
    _, close_unused = scan_mod.default_progress()
    close_unused()  # never started: nothing to stop, and no error


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")
def test_an_interactive_rescan_still_walks_beside_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI makes its progress bar before scanning; its refresh thread would forbid the fork.
    root, cache, first = _scanned_tree(tmp_path, monkeypatch)
    _scan(root, cache)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    real = scan_mod._walk_beside_loading
    calls: list[object] = []

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(result := real(*args, **kwargs))
        return result

    monkeypatch.setattr(scan_mod, "_walk_beside_loading", spy)
    update, close = scan_mod.default_progress()
    try:
        inv, stats = scan_paths([root], Config(), cache_dir=cache, jobs=1, progress=update)
    finally:
        close()
    assert len(calls) == 1 and calls[0] is not None and calls[0].inventory is not None
    assert inv.digest() == first[0] and stats.cache_hits == stats.files_scanned > 0
