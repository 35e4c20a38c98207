"""The scan cache's SQLite file: written without waiting for the disk, so a damaged file (what a
crash of the machine can leave) must cost a rebuild, never a traceback or a wrong result."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from inventory.config import Config
from inventory.io import inventory_to_yaml
from inventory.scan import FragmentCache, scan_paths

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "acme-platform"
    shutil.copytree(EXAMPLE, root)
    return root


def _warm_after_one_more_scan(root: Path, cache: Path, expected: str) -> None:
    """The scan right after a repair stores a fresh cache; the one after it is all hits."""
    inv, _ = scan_paths([root], Config(), cache_dir=cache)
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_yaml(inv) == inventory_to_yaml(again) == expected
    assert stats.cache_hits == stats.files_scanned > 0


def test_the_cache_does_not_wait_for_the_disk(tmp_path: Path) -> None:
    cache = FragmentCache(tmp_path)
    assert cache.db is not None
    assert cache.db.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
    cache.close()


def test_a_cache_file_that_is_not_a_database_is_started_afresh(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    expected = inventory_to_yaml(scan_paths([root], Config(), use_cache=False)[0])
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "scan.sqlite").write_bytes(b"this is not a database " * 400)
    inv, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_yaml(inv) == expected
    assert stats.cache_hits == 0
    # Replaced by a working cache at once: the next scan is answered from it.
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_yaml(again) == expected
    assert stats.cache_hits == stats.files_scanned > 0


def test_a_damaged_cache_is_read_as_misses_then_removed(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    expected = inventory_to_yaml(scan_paths([root], Config(), use_cache=False)[0])
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    db_file = cache / "scan.sqlite"
    with sqlite3.connect(db_file) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
    blob = db_file.read_bytes()
    assert len(blob) > 2 * page
    # Every page but the first (the schema) overwritten: each table's pages are garbage.
    db_file.write_bytes(blob[:page] + b"\xff" * (len(blob) - page))
    inv, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_yaml(inv) == expected
    assert stats.cache_hits == 0
    assert not db_file.exists()  # removed as the scan closed it, not read again
    _warm_after_one_more_scan(root, cache, expected)


def test_only_a_damaged_file_is_removed_not_a_busy_one(tmp_path: Path) -> None:
    cache = FragmentCache(tmp_path)
    cache._lost(sqlite3.OperationalError("database is locked"))
    assert not cache.damaged
    cache.close()
    assert (tmp_path / "scan.sqlite").exists()
    cache = FragmentCache(tmp_path)
    cache._lost(sqlite3.DatabaseError("database disk image is malformed"))
    assert cache.damaged
    cache.close()
    assert not (tmp_path / "scan.sqlite").exists()
