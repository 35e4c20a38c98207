"""The stats a walk keeps (``scan.TreeStats``): a warm rescan of an unchanged tree checks them
instead of walking, and any change a walk would see makes it walk.

Each changed tree is checked against a scan without a cache (the same inventory), and whether
the rescan walked is seen through ``_walk_and_hash``, also in the forked child the rescan
walks in. Stats are kept only for a walk whose result follows from them alone: none after a
symlink was followed, a warning, or a listing or file too fresh to trust.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory.config import Config
from inventory.io import inventory_to_yaml
from inventory.scan import ScanStats, TreeStats, WalkCache, scan_paths
from tests.scan_cache_support import HOUR_AGO, CallLog, no_settle, old_example_tree  # noqa: F401 - fixture

needs_stats = pytest.mark.skipif(scan_mod._stats_unchanged is None or not scan_mod._STATS_FROM_BASES,
                                 reason="the _cbuild extension (with its stat records) is not built")


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CallLog:
    """Each walk of a tree from now on (a line per call of ``_walk_and_hash``), also in a forked child."""
    calls = CallLog(tmp_path / "walked.log")
    real = scan_mod._walk_and_hash

    def counting(roots, *args):  # type: ignore[no-untyped-def]
        calls.add(",".join(map(str, roots)))
        return real(roots, *args)

    monkeypatch.setattr(scan_mod, "_walk_and_hash", counting)
    return calls


def _stats_files(cache: Path) -> list[Path]:
    return sorted((cache / "trees").glob("*.stats"))


def _rescanned_as_cold(roots: list[Path], cache: Path, walked: CallLog, *, walks: bool) -> ScanStats:
    """A warm rescan of ``roots``: the inventory a scan without a cache gives, and a walk or none."""
    walked.clear()
    warm, stats = scan_paths(roots, Config(), cache_dir=cache)
    assert (len(walked) > 0) is walks, f"walked: {list(walked)}"
    cold, cold_stats = scan_paths(roots, Config(), use_cache=False)
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)
    assert (stats.files_seen, stats.bytes_read, stats.skipped) == (cold_stats.files_seen, cold_stats.bytes_read,
                                                                   cold_stats.skipped)
    assert [w.model_dump() for w in stats.warnings] == [w.model_dump() for w in cold_stats.warnings]
    return stats


@needs_stats
def test_a_warm_rescan_of_an_unchanged_tree_walks_nothing(tmp_path: Path, walked: CallLog, no_settle: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)  # cold: the walk's stats kept
    assert len(_stats_files(cache)) == 1
    # Nor is the walk cache read: a rescan of an unchanged tree needs only the stats.
    read = CallLog(tmp_path / "read.log")
    real_read = WalkCache.read
    monkeypatch.setattr(WalkCache, "read", classmethod(lambda cls, path: (read.add(str(path)), real_read(path))[1]))
    stats = _rescanned_as_cold([root], cache, walked, walks=False)
    assert read == [] and stats.cache_hits == stats.files_scanned > 0
    _rescanned_as_cold([root], cache, walked, walks=False)


def _edit_in_place(root: Path) -> None:
    compose = root / "docker-compose.yml"
    with compose.open("r+") as fh:  # same file, same size: only its times change, not its directory's
        text = fh.read()
        fh.seek(0)
        fh.write(text.replace("image:", "imag3:", 1))


def _touch_only(root: Path) -> None:
    os.utime(root / "k8s" / "base" / "orders-api.yaml", None)  # same bytes: a walk reads it again, finds the same


def _chmod_dir(root: Path) -> None:
    os.chmod(root / "runbooks", 0o700)


def _add_file(root: Path) -> None:
    shutil.copy(root / "docker-compose.yml", root / "k8s" / "base" / "docker-compose.yml")


def _remove_file(root: Path) -> None:
    next(p for p in sorted((root / "runbooks").iterdir()) if p.is_file()).unlink()


def _rename_dir(root: Path) -> None:
    (root / "runbooks").rename(root / "runbooks-moved")


def _add_dir(root: Path) -> None:
    (root / "terraform" / "new").mkdir(parents=True)
    shutil.copy(root / "docker-compose.yml", root / "terraform" / "new" / "docker-compose.yml")


def _file_to_symlink(root: Path) -> None:
    target = root / "docker-compose.yml"
    (root / "compose-copy.yml").write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to("compose-copy.yml")


def _same_size_swap(root: Path) -> None:
    # Another file put in place under the same name, same size, its times set back: its inode differs.
    a = root / "docker-compose.yml"
    data = a.read_bytes()
    tmp = root / "swap.tmp"
    tmp.write_bytes(data.replace(b"image:", b"imag3:", 1))
    st = a.stat()
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, a)


CHANGES = [_edit_in_place, _touch_only, _chmod_dir, _add_file, _remove_file, _rename_dir, _add_dir, _file_to_symlink,
           _same_size_swap]


@needs_stats
@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
def test_any_change_makes_the_rescan_walk(tmp_path: Path, walked: CallLog, no_settle: None, change) -> None:  # type: ignore[no-untyped-def]
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    change(root)
    _rescanned_as_cold([root], cache, walked, walks=True)
    # The walk after the change kept its own stats (unless it followed a symlink): the next
    # rescan of the tree as it is now walks nothing.
    _rescanned_as_cold([root], cache, walked, walks=change is _file_to_symlink)


@needs_stats
def test_a_scan_that_excludes_files_is_rescanned_from_its_stats(tmp_path: Path, walked: CallLog, no_settle: None) -> None:
    # An excluded file is in no stat kept: an edit in place to it changes nothing scanned;
    # one to a file scanned, or a file added beside an excluded one, makes the rescan walk.
    root = old_example_tree(tmp_path)
    cfg = Config(exclude=["runbooks/"])
    cache = tmp_path / "cache"

    def rescanned(walks: bool) -> None:
        walked.clear()
        warm, _ = scan_paths([root], cfg, cache_dir=cache)
        assert (len(walked) > 0) is walks
        assert inventory_to_yaml(warm) == inventory_to_yaml(scan_paths([root], cfg, use_cache=False)[0])

    scan_paths([root], cfg, cache_dir=cache)
    assert len(_stats_files(cache)) == 1
    runbook = next(p for p in sorted((root / "runbooks").iterdir()) if p.is_file())
    with runbook.open("r+") as fh:
        fh.write("#")
    rescanned(walks=False)
    _edit_in_place(root)
    rescanned(walks=True)
    (root / "runbooks" / "new.md").write_text("# new\n")
    rescanned(walks=True)


@needs_stats
def test_no_stats_are_kept_for_a_walk_that_followed_a_symlink(tmp_path: Path, walked: CallLog,
                                                              no_settle: None) -> None:
    # What a link leads to is in no stat of the tree: a file beyond it edited in place.
    root = old_example_tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "docker-compose.yml").write_bytes((root / "docker-compose.yml").read_bytes())
    os.utime(outside / "docker-compose.yml", (HOUR_AGO, HOUR_AGO))
    (root / "linked").symlink_to(outside)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    assert _stats_files(cache) == []
    with (outside / "docker-compose.yml").open("r+") as fh:
        text = fh.read()
        fh.seek(0)
        fh.write(text.replace("image:", "imag3:", 1))
    _rescanned_as_cold([root], cache, walked, walks=True)


@needs_stats
def test_stats_that_no_longer_hold_are_dropped_when_the_walk_keeps_none(tmp_path: Path, walked: CallLog,
                                                                      no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    assert len(_stats_files(cache)) == 1
    (root / "linked").symlink_to(root / "runbooks")  # the next walks follow a link: no stats of theirs
    _rescanned_as_cold([root], cache, walked, walks=True)
    assert _stats_files(cache) == []  # not checked again on every rescan, to fail each time
    _rescanned_as_cold([root], cache, walked, walks=True)


@needs_stats
def test_a_walk_with_a_warning_keeps_no_stats(tmp_path: Path, walked: CallLog, no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    (root / "big.yaml").write_text("x: " + "y" * 5000)
    os.utime(root / "big.yaml", (HOUR_AGO, HOUR_AGO))
    cache = tmp_path / "cache"
    cfg = Config(max_file_bytes=4000)
    scan_paths([root], cfg, cache_dir=cache)
    assert _stats_files(cache) == []
    walked.clear()
    _, stats = scan_paths([root], cfg, cache_dir=cache)
    assert len(walked) == 1 and any("larger than" in w.message for w in stats.warnings)


@needs_stats
def test_a_tree_too_fresh_to_trust_keeps_no_stats(tmp_path: Path, walked: CallLog) -> None:
    # Files changed within the settle window (the real one: two seconds) could change again
    # within the same timestamp tick, unseen by a stat.
    root = old_example_tree(tmp_path)
    (root / "fresh.yaml").write_text("fresh: true\n")
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    assert _stats_files(cache) == []
    _rescanned_as_cold([root], cache, walked, walks=True)


@needs_stats
@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "flipped", "other-key"])
def test_damaged_stats_mean_a_walk_not_an_error(tmp_path: Path, walked: CallLog, no_settle: None, damage: str) -> None:
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    (kept,) = _stats_files(cache)
    blob = kept.read_bytes()
    head = len(TreeStats.MAGIC) + 4
    if damage == "garbage":
        blob = b"garbage"
    elif damage == "empty":
        blob = b""
    elif damage == "truncated":
        blob = blob[: len(blob) - 40]
    elif damage == "flipped":
        blob = blob[:-1] + bytes([blob[-1] ^ 1])
    else:  # a well-formed blob whose tree key is not the stored inventory's
        payload = b"0" * 64 + blob[head + 64:]
        blob = TreeStats.MAGIC + __import__("zlib").crc32(payload).to_bytes(4, "big") + payload
    kept.write_bytes(blob)
    _rescanned_as_cold([root], cache, walked, walks=True)


@needs_stats
def test_each_root_of_a_scan_of_several_is_checked(tmp_path: Path, walked: CallLog, no_settle: None) -> None:
    one = old_example_tree(tmp_path / "one")
    two = old_example_tree(tmp_path / "two").rename(tmp_path / "two" / "acme-platform-b")
    cache = tmp_path / "cache"
    scan_paths([one, two], Config(), cache_dir=cache)
    _rescanned_as_cold([one, two], cache, walked, walks=False)
    _edit_in_place(two)
    _rescanned_as_cold([one, two], cache, walked, walks=True)


@needs_stats
def test_a_name_beyond_ascii_is_checked_by_its_bytes(tmp_path: Path, walked: CallLog, no_settle: None) -> None:
    root = old_example_tree(tmp_path)
    odd = root / "runbooks" / "café-ünïcode.md"
    odd.write_bytes(b"# runbook\n\n```\nkubectl get pods -n acme-prod\n```\n")
    os.utime(odd, (HOUR_AGO, HOUR_AGO))
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    assert len(_stats_files(cache)) == 1
    _rescanned_as_cold([root], cache, walked, walks=False)
    with open(odd, "r+b") as fh:
        fh.write(b"#")  # in place, same size
    os.utime(odd, None)
    _rescanned_as_cold([root], cache, walked, walks=True)


@needs_stats
def test_malformed_records_are_never_a_match_nor_a_crash(tmp_path: Path) -> None:
    root = old_example_tree(tmp_path)
    walk = WalkCache()
    walk.started_ns = time.time_ns() + 10**12  # all settled
    stats = ScanStats()
    files = scan_mod._walk_and_hash([root], Config(), stats, walk)
    blob = TreeStats.dump(walk, len(files), False, "a" * 64)
    assert blob is not None
    records = blob[len(TreeStats.MAGIC) + 4 + 64:]
    whole = (stats.files_seen, stats.bytes_read)
    with scan_mod._stat_bases([root]) as bases:
        assert scan_mod._stats_unchanged(records, bases) == whole
        rng = random.Random(20261206)
        for _ in range(300):
            b = bytearray(records)
            if rng.random() < 0.3:
                del b[rng.randrange(len(b)):]
            else:
                for _ in range(rng.randint(1, 3)):
                    b[rng.randrange(len(b))] = rng.randrange(256)
            answer = scan_mod._stats_unchanged(bytes(b), bases)
            # A change that still names every entry with its stat (a byte of a shared prefix
            # length pointing at the same text, say) may match; nothing else does (records cut
            # at a record's end are fewer than the count says).
            assert answer is None or answer == whole
        assert scan_mod._stats_unchanged(b"\0\0\0\0", bases) == (0, 0)  # no record: an empty tree's
        for short in (b"", b"x", records[:4], records + records[4:40]):
            assert scan_mod._stats_unchanged(short, bases) is None
    with pytest.raises(TypeError):
        scan_mod._stats_unchanged(records, "not bases")


@needs_stats
def test_dumping_refuses_what_the_stats_cannot_tell(tmp_path: Path) -> None:
    walk = WalkCache()
    walk.listed = 1
    walk.dirs[str(tmp_path)] = (b"x" * 32, (), "")
    walk.used_dirs.add(str(tmp_path))
    key = "b" * 64
    assert TreeStats.dump(walk, 0, False, key) is not None
    assert TreeStats.dump(walk, 0, True, key) is None  # a warning
    assert TreeStats.dump(walk, 1, False, key) is None  # a file hashed but not recorded
    walk.listed = 2
    assert TreeStats.dump(walk, 0, False, key) is None  # a directory listed but not recorded
    walk.listed = 1
    walk.followed = True
    assert TreeStats.dump(walk, 0, False, key) is None  # a symlink followed
    walk.followed = False
    walk.dirs[str(tmp_path)] = (b"short", (), "")
    assert TreeStats.dump(walk, 0, False, key) is None  # not a sig


@pytest.mark.corpora
@needs_stats
def test_the_corpora_are_rescanned_from_their_stats(tmp_path: Path, walked: CallLog) -> None:
    corpora = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
    if not corpora.is_dir():
        pytest.skip(f"corpora not available: {corpora}")
    kept = 0
    for root in sorted(p for p in corpora.iterdir() if p.is_dir()):
        cache = tmp_path / root.name
        scan_paths([root], Config(), cache_dir=cache)
        # Stats are kept unless the walk followed a symlink, warned, or met something too fresh.
        keeps = len(_stats_files(cache)) == 1
        kept += keeps
        _rescanned_as_cold([root], cache, walked, walks=not keeps)
    assert kept >= 5  # most real trees are rescanned without a walk
