"""The walk's directory cache: an unchanged directory is not listed again, a changed one always is."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory.config import Config
from inventory.io import inventory_to_yaml
from inventory.scan import ScanStats, WalkCache, iter_files, scan_paths
from tests.scan_cache_support import CallLog, no_settle, old_example_tree  # noqa: F401 - fixture


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CallLog:
    """Directories the walk lists (reads the entries of) from now on, also in a forked child."""
    calls = CallLog(tmp_path / "listed.log")
    real = scan_mod._list_dir

    def counting(d: str):  # type: ignore[no-untyped-def]
        calls.add(d)
        return real(d)

    monkeypatch.setattr(scan_mod, "_list_dir", counting)
    return calls


def _tree(root: Path) -> Path:
    for rel in ("b.yaml", "a/z.txt", "a/b/c.md", "a/b/d/e.yaml", "node_modules/x.js", "docs/runbook.md"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    return root


def _walk(root: Path, walk: WalkCache | None) -> tuple[list[str], list[tuple[str, str]]]:
    stats = ScanStats()
    rels = [j.relpath for j in iter_files([root], Config(), stats, walk)]
    return rels, sorted((w.path, w.message) for w in stats.warnings)


def _stored(walk: WalkCache, root: Path) -> WalkCache:
    """``walk`` after a round trip through its stored form (as the next scan sees it)."""
    return WalkCache.load(walk.dump([root]))


def test_an_unchanged_directory_is_not_listed_again(tmp_path: Path, listed: CallLog, no_settle: None) -> None:
    root = _tree(tmp_path / "t")
    first = WalkCache()
    expected = _walk(root, first)
    assert len(listed) == 5  # t, a, a/b, a/b/d, docs (node_modules is never walked)
    listed.clear()
    again = _walk(root, _stored(first, root))
    assert listed == []
    assert again == expected == _walk(root, None)


def test_added_removed_and_renamed_files_are_seen(tmp_path: Path, listed: CallLog, no_settle: None) -> None:
    root = _tree(tmp_path / "t")
    first = WalkCache()
    _walk(root, first)
    (root / "a" / "b" / "d" / "new.yaml").write_text("x")
    (root / "docs" / "runbook.md").unlink()
    (root / "a" / "z.txt").rename(root / "a" / "y.txt")
    listed.clear()
    again = _walk(root, _stored(first, root))
    # Only the three changed directories were listed again.
    assert sorted(listed) == sorted(str(root / d) for d in ("a", "a/b/d", "docs"))
    assert again == _walk(root, None)
    assert again[0] == ["a/b/c.md", "a/b/d/e.yaml", "a/b/d/new.yaml", "a/y.txt", "b.yaml"]


def test_a_replaced_directory_is_listed_again(tmp_path: Path, listed: CallLog, no_settle: None) -> None:
    root = _tree(tmp_path / "t")
    first = WalkCache()
    _walk(root, first)
    # A new directory at the same path: another inode, even if the parent were left as it was.
    shutil.rmtree(root / "a" / "b" / "d")
    (root / "a" / "b" / "d").mkdir()
    (root / "a" / "b" / "d" / "other.yaml").write_text("x")
    listed.clear()
    again = _walk(root, _stored(first, root))
    assert again == _walk(root, None)
    assert "a/b/d/other.yaml" in again[0] and "a/b/d/e.yaml" not in again[0]


def test_a_symlink_is_followed_afresh_in_an_unchanged_directory(tmp_path: Path, listed: CallLog,
                                                                no_settle: None) -> None:
    root = _tree(tmp_path / "t")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "target").write_text("a file")
    os.symlink(outside / "target", root / "a" / "link")
    os.symlink(tmp_path / "missing", root / "dangling")
    first = WalkCache()
    rels, warnings = _walk(root, first)
    assert "a/link" in rels and warnings == [("dangling", "broken symlink, skipped")]
    # What the link leads to becomes a directory; the link and its directory are untouched.
    (outside / "target").unlink()
    (outside / "target").mkdir()
    (outside / "target" / "inner.yaml").write_text("x")
    (tmp_path / "missing").write_text("now there")
    before = (root / "a").stat()
    listed.clear()
    again = _walk(root, _stored(first, root))
    assert (root / "a").stat().st_mtime_ns == before.st_mtime_ns
    assert str(root / "a") not in listed
    assert again == _walk(root, None)
    assert "a/link/inner.yaml" in again[0] and "a/link" not in again[0] and "dangling" in again[0]
    assert again[1] == []


def test_a_directory_changed_as_it_was_listed_is_listed_again(tmp_path: Path, listed: CallLog, no_settle: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "t")
    (root / "a" / "b" / "late.md").write_text("x")
    # Listed in the very tick of its last change: an entry created then would look the same.
    with monkeypatch.context() as m:
        m.setattr(scan_mod.time, "time_ns", lambda: (root / "a" / "b").stat().st_ctime_ns)
        first = WalkCache()
    _walk(root, first)
    listed.clear()
    _walk(root, _stored(first, root))
    assert str(root / "a" / "b") in listed


def test_directories_changed_within_two_seconds_of_listing_are_listed_again(tmp_path: Path,
                                                                           listed: CallLog) -> None:
    root = _tree(tmp_path / "t")  # just made: every directory changed a moment ago
    first = WalkCache()
    _walk(root, first)
    n = len(listed)
    listed.clear()
    _walk(root, _stored(first, root))
    assert len(listed) == n > 0


def test_a_damaged_walk_cache_is_an_empty_one(tmp_path: Path, no_settle: None) -> None:
    root = _tree(tmp_path / "t")
    walk = WalkCache()
    _walk(root, walk)
    good = walk.dump([root])
    assert len(WalkCache.load(good).dirs) == len(walk.dirs) == 5
    flipped = bytearray(good)
    flipped[-5] ^= 0xFF
    for blob in (b"", b"garbage", good[:-3], bytes(flipped), None, good.replace(WalkCache.MAGIC, b"x" * len(WalkCache.MAGIC))):
        loaded = WalkCache.load(blob)
        assert loaded.dirs == {} and loaded.files == {}


def test_the_walk_is_written_beside_the_scan_and_in_place_once_the_cache_is_done(
        tmp_path: Path, no_settle: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    root = _tree(tmp_path / "t")
    walk = WalkCache()
    _walk(root, walk)
    release = threading.Event()
    real = scan_mod._write_whole

    def slow_write(path: Path, parts: list[bytes]) -> bool:
        assert threading.current_thread() is not threading.main_thread()  # off the scan's thread
        release.wait(5)
        return real(path, parts)

    monkeypatch.setattr(scan_mod, "_write_whole", slow_write)
    cache = scan_mod.FragmentCache(tmp_path / "cache")
    cache.put_walk(walk, [root])
    assert cache.walk_file is not None and not cache.walk_file.exists()  # still being written
    threading.Timer(0.05, release.set).start()
    assert len(cache.get_walk().dirs) == len(walk.dirs)  # read back: waited for
    again = WalkCache()
    _walk(root / "a", again)
    release.clear()
    threading.Timer(0.05, release.set).start()
    cache.put_walk(again, [root / "a"])
    cache.close()  # done only once the walk is in place
    assert cache.walk_file.exists() and WalkCache.read(cache.walk_file).dirs == again.dirs  # the last one
    assert not list(cache.walk_file.parent.glob("*.tmp"))


def test_entries_of_what_is_gone_are_dropped_and_other_trees_kept(tmp_path: Path, no_settle: None) -> None:
    root = _tree(tmp_path / "t")
    other = _tree(tmp_path / "other")
    walk = WalkCache()
    _walk(root, walk)
    _walk(other, walk)
    shutil.rmtree(root / "a" / "b")
    again = _stored(walk, root)
    _walk(root, again)
    kept = _stored(again, root).dirs
    assert str(root / "a") in kept and str(root / "a" / "b") not in kept and str(root / "a" / "b" / "d") not in kept
    assert str(other / "a" / "b" / "d") in kept  # not under the walked root: not this walk's to judge


def test_a_warm_scan_of_an_unchanged_tree_lists_no_directory(tmp_path: Path, listed: CallLog,
                                                            no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    first, _ = scan_paths([root], Config(), cache_dir=cache)
    assert listed
    listed.clear()
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert listed == []
    assert stats.cache_hits == stats.files_scanned > 0
    assert inventory_to_yaml(again) == inventory_to_yaml(first)


def test_an_edit_in_place_is_seen_though_its_directory_is_not_listed(tmp_path: Path, listed: CallLog,
                                                                     no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    compose = root / "docker-compose.yml"
    with compose.open("r+") as fh:  # the same file, written over: its directory does not change
        text = fh.read()
        fh.seek(0)
        fh.write(text.replace("\nservices:\n", "\nservices:\n  walk-cache-probe:\n    image: busybox:1\n", 1))
    listed.clear()
    warm, stats = scan_paths([root], Config(), cache_dir=cache)
    assert str(root) not in listed
    cold, _ = scan_paths([root], Config(), use_cache=False)
    assert stats.cache_hits == stats.files_scanned - 1
    assert any("walk-cache-probe" in c.id for c in warm.components)
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)


def test_a_new_file_in_a_scanned_tree_is_scanned(tmp_path: Path, no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    shutil.copy(root / "docker-compose.yml", root / "k8s" / "base" / "docker-compose.yml")
    (root / "runbooks").rename(root / "runbooks-moved")
    warm, _ = scan_paths([root], Config(), cache_dir=cache)
    cold, _ = scan_paths([root], Config(), use_cache=False)
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)
    assert any(e.path.startswith("runbooks-moved/") for a in warm.actions for e in a.evidence)


@pytest.mark.parametrize("damage", [b"garbage", b"", None])
def test_a_damaged_stored_walk_means_a_full_walk_not_an_error(tmp_path: Path, no_settle: None,
                                                              damage: bytes | None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    cold, _ = scan_paths([root], Config(), use_cache=False)
    scan_paths([root], Config(), cache_dir=cache)
    stored = cache / "walk.bin"
    assert stored.stat().st_size > 1000
    if damage is None:
        stored.unlink()
    else:
        stored.write_bytes(damage)
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert stats.cache_hits == stats.files_scanned > 0
    assert inventory_to_yaml(again) == inventory_to_yaml(cold)


def test_a_rebuild_after_an_edit_reads_only_the_files_it_must(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              no_settle: None) -> None:
    # After an edit, the files whose fragments are stored (unchanged since they were scanned)
    # are neither read nor matched again: only the edited file, and the files no scanner reads.
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    compose = root / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("\nservices:\n", "\nservices:\n  read-probe:\n    image: busybox:1\n", 1))
    opened = CallLog(tmp_path / "opened.log")
    real_open = open

    def logged_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).startswith(str(root)):
            opened.add(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(scan_mod, "open", logged_open, raising=False)
    warm, stats = scan_paths([root], Config(), cache_dir=cache, jobs=1)
    assert stats.cache_hits == stats.files_scanned - 1
    assert str(compose) in opened
    # Read: the edited file (by the walk, which hashes it), and each file no scanner reads.
    assert len(set(opened)) <= stats.files_seen - stats.files_scanned + 1 < stats.files_seen
    cold, _ = scan_paths([root], Config(), use_cache=False)
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)


def test_stored_fragments_that_do_not_load_have_their_file_read_and_scanned(tmp_path: Path, no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    with sqlite3.connect(cache / "scan.sqlite") as db:
        db.execute("UPDATE fragments SET value = ?", (b"damaged",))
        db.execute("DELETE FROM trees")
        db.execute("DELETE FROM inventories")
    compose = root / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("\nservices:\n", "\nservices:\n  read-probe:\n    image: busybox:1\n", 1))
    warm, stats = scan_paths([root], Config(), cache_dir=cache)
    cold, _ = scan_paths([root], Config(), use_cache=False)
    assert stats.cache_hits == 0
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)
    again, stats = scan_paths([root], Config(), cache_dir=cache)  # and what they gave is stored anew
    assert stats.cache_hits == stats.files_scanned
    assert inventory_to_yaml(again) == inventory_to_yaml(cold)


@pytest.mark.skipif(scan_mod._marshal_v2 is None, reason="the _cbuild extension (marshal_v2) is not built")
def test_the_walk_is_dumped_as_marshal_dumps_it_without_the_gil(tmp_path: Path, no_settle: None) -> None:
    import marshal
    import random

    # What a walk holds (a listing: sig, names, kinds; a digest: sig, sha256), names beyond ASCII too.
    rng = random.Random(20261206)
    words = ["a", "é", "日本", "𝄞", "lone \ud800", "x" * 300, ""]
    dirs = {f"/r/{rng.choice(words)}/{i}": (os.urandom(rng.randrange(40)), tuple(rng.sample(words, 3)), "dfl")
            for i in range(300)}
    files = {f"/r/f{i}{rng.choice(words)}": (os.urandom(24), "0" * 64) for i in range(300)}
    for value in ((dirs, files), ({}, {}), [None, True, False, b"", ""], {"k": [("t", b"b")]}):
        assert scan_mod._marshal_v2(value) == marshal.dumps(value, 2)
    for other in ((1,), {"k": 2.5}, [object()], {1: "a"}, {"s": {1, 2}}):
        assert scan_mod._marshal_v2(other) is None  # marshal'd by marshal itself then
    # A scan's walk, dumped by the thread that writes it, is the file marshal's dump makes.
    root = old_example_tree(tmp_path)
    written = []
    for name in ("c", "py"):
        with pytest.MonkeyPatch.context() as m:
            if name == "py":
                m.setattr(scan_mod, "_marshal_v2", None)
            cache = scan_mod.FragmentCache(tmp_path / name)
            scan_paths([root], Config(), cache_dir=tmp_path / name)
            assert cache.walk_file is not None
            written.append(cache.walk_file.read_bytes())
            cache.close()
    assert written[0] == written[1]
    assert len(WalkCache.load(written[0]).dirs) > 5
