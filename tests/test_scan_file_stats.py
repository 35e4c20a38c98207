"""The scan's stat fast path: an unchanged file is recognised from its stat, a changed one never is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import inventory.scan as scan_mod
import inventory.scanfile as scanfile_mod
from inventory.config import Config
from inventory.io import inventory_to_yaml
from inventory.scan import scan_paths
from tests.scan_cache_support import HOUR_AGO, CallLog, no_settle, old_example_tree  # noqa: F401 - fixture


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CallLog:
    """Paths the scan opens from now on (in this process or a child forked from it)."""
    opened = CallLog(tmp_path / "opened.log")
    real_open = open

    real_read_regular = scan_mod._read_regular

    def counting_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Not the scan cache's own files (its stored walk and trees' inventories, FragmentCache,
        # and the temporary files they are written as).
        if not Path(path).name.startswith("walk.bin") and Path(path).parent.name != "trees":
            opened.add(str(path))
        return real_open(path, *args, **kwargs)

    def counting_read_regular(path: str, limit: int):  # type: ignore[no-untyped-def]
        opened.add(str(path))  # the streamed scan's workers read through a plain descriptor
        return real_read_regular(path, limit)

    monkeypatch.setattr(scan_mod, "open", counting_open, raising=False)
    monkeypatch.setattr(scanfile_mod, "open", counting_open, raising=False)  # the workers read there
    monkeypatch.setattr(scanfile_mod, "_read_regular", counting_read_regular)
    return opened


def test_a_settled_unchanged_tree_is_rescanned_without_reading_a_file(tmp_path: Path, reads: CallLog,
                                                                      no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    first, _ = scan_paths([root], Config(), cache_dir=cache)
    assert reads  # the first scan reads every file
    reads.clear()
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert reads == []
    assert stats.cache_hits == stats.files_scanned > 0
    assert inventory_to_yaml(again) == inventory_to_yaml(first)


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(tmp_path: Path, reads: CallLog, no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    compose = root / "docker-compose.yml"
    text = compose.read_text()
    assert "busybox" not in text and "postgres" in text
    # Same length, same mtime: only the inode change time tells.
    compose.write_text(text.replace("postgres", "postgrex", 1))
    os.utime(compose, (HOUR_AGO, HOUR_AGO))
    reads.clear()
    warm, stats = scan_paths([root], Config(), cache_dir=cache)
    cold, _ = scan_paths([root], Config(), use_cache=False)
    assert str(compose) in reads
    assert stats.cache_hits == stats.files_scanned - 1
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)


def test_a_file_changed_as_it_was_hashed_is_read_again(tmp_path: Path, reads: CallLog, no_settle: None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    compose = root / "docker-compose.yml"
    compose.write_text(compose.read_text())
    # Hashed in the very tick of its last change: a second write then would look the same.
    with monkeypatch.context() as m:
        m.setattr(scan_mod.time, "time_ns", lambda: compose.stat().st_ctime_ns)
        scan_paths([root], Config(), cache_dir=cache)
    reads.clear()
    scan_paths([root], Config(), cache_dir=cache)
    assert reads == [str(compose)]


def test_files_changed_within_two_seconds_of_hashing_are_read_again(tmp_path: Path, reads: CallLog) -> None:
    root = old_example_tree(tmp_path)  # just copied: every inode changed a moment ago
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    n = len(reads)
    reads.clear()
    scan_paths([root], Config(), cache_dir=cache)
    assert len(reads) == n > 0


def test_without_a_cache_every_file_is_read(tmp_path: Path, reads: CallLog) -> None:
    root = old_example_tree(tmp_path)
    scan_paths([root], Config(), use_cache=False)
    n = len(reads)
    reads.clear()
    scan_paths([root], Config(), use_cache=False)
    assert len(reads) == n > 0


def test_giving_memory_back_is_harmless_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan trims the C heap between stages; where there is no glibc it must simply not."""
    import ctypes

    def no_libc(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(scan_mod, "_MALLOC_TRIM", None)
    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    scan_mod._give_back_memory()
    assert scan_mod._MALLOC_TRIM is False
    scan_mod._give_back_memory()  # remembered: not looked up again
