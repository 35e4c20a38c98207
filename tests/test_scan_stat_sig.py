"""The walk's stat (``scan.stat_sig``): the C one gives exactly what the Python one gives, so a
walk cache written by either is read by the other, and fails as ``os.stat`` fails."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory.config import Config
from inventory.scan import _py_stat_sig, scan_paths
from inventory.store import _cbuild
from tests.scan_cache_support import old_example_tree

needs_c = pytest.mark.skipif(getattr(_cbuild, "stat_sig", None) is None, reason="the _cbuild extension is not built")


@needs_c
def test_the_c_stat_sig_is_the_python_one(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("kind: Service\n" * 50)
    os.utime(f, ns=(1_700_000_000_123_456_789, 1_700_000_000_987_654_321))
    (tmp_path / "link.yaml").symlink_to(f)
    (tmp_path / "dirlink").symlink_to(tmp_path)
    for path in (f, tmp_path / "link.yaml", tmp_path, tmp_path / "dirlink", Path("/")):
        for for_dir in (False, True):
            assert _cbuild.stat_sig(str(path), for_dir) == _py_stat_sig(str(path), for_dir), (path, for_dir)
    sig, size, newest = _cbuild.stat_sig(str(f), False)
    st = f.stat()
    assert size == st.st_size and newest == max(st.st_mtime_ns, st.st_ctime_ns) == st.st_ctime_ns  # changed after the utime


@needs_c
def test_the_c_stat_sig_fails_as_os_stat_does(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(FileNotFoundError) as err:
        _cbuild.stat_sig(str(missing), False)
    assert err.value.errno == errno.ENOENT and err.value.filename == str(missing)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        _cbuild.stat_sig(str(tmp_path / "file" / "below"), True)
    with pytest.raises(TypeError):
        _cbuild.stat_sig(str(tmp_path), True, 1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        _cbuild.stat_sig("nul\0byte", False)


@pytest.mark.parametrize("first, then", [("c", "py"), ("py", "c")])
def test_a_walk_cache_written_by_either_is_read_by_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             first: str, then: str) -> None:
    if getattr(_cbuild, "stat_sig", None) is None:
        pytest.skip("the _cbuild extension is not built")
    monkeypatch.setattr(scan_mod, "_SETTLE_NS", 0)
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    impl = {"c": _cbuild.stat_sig, "py": _py_stat_sig}
    monkeypatch.setattr(scan_mod, "stat_sig", impl[first])
    cold, _ = scan_paths([root], Config(), cache_dir=cache, jobs=1)
    monkeypatch.setattr(scan_mod, "stat_sig", impl[then])
    opened: list[str] = []
    real_open = open

    def counting_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(scan_mod, "open", counting_open, raising=False)
    monkeypatch.setenv("STACKPOLICY_NO_FORK", "1")  # walked here, where the open is counted
    warm, stats = scan_paths([root], Config(), cache_dir=cache, jobs=1)
    assert warm == cold and stats.cache_hits == stats.files_scanned > 0
    assert not [p for p in opened if p.startswith(str(root))]  # every file known by its stat: none read


needs_known = pytest.mark.skipif(getattr(_cbuild, "known_digests", None) is None,
                                 reason="the _cbuild extension (with known_digests) is not built")


@needs_known
def test_known_digests_answers_only_files_whose_stat_is_what_the_cache_holds(tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("same.yaml", "edited.yaml", "big.yaml", "gone.yaml", "new.yaml")}
    for path in files.values():
        path.write_text("kind: Service\n")
    known = {str(p): (_py_stat_sig(str(p), False)[0], f"sha-{name}") for name, p in files.items() if name != "new.yaml"}
    files["edited.yaml"].write_text("kind: Deployment\n")  # another size and mtime
    files["big.yaml"].write_text("x" * 100)
    known[str(files["big.yaml"])] = (_py_stat_sig(str(files["big.yaml"]), False)[0], "sha-big")
    files["gone.yaml"].unlink()
    jobs = [scan_mod.FileJob(tmp_path, str(p), name) for name, p in files.items()]
    jobs.append(scan_mod.FileJob(tmp_path, str(tmp_path / "nul\0byte"), "nul"))  # not a C string: the caller's
    used: set[str] = set()
    answers, size = _cbuild.known_digests(jobs, known, used, 50)
    assert answers == ["sha-same.yaml", None, None, None, None, None]
    assert used == {str(files["same.yaml"])} and size == files["same.yaml"].stat().st_size
    # What the Python walk does with each: the same digests, the others read, hashed or reported.
    with pytest.raises(TypeError):
        _cbuild.known_digests(tuple(jobs), known, used, 50)  # type: ignore[arg-type]


def _warm_walks_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attr: str, values: tuple) -> list:
    """A tree scanned, one file edited, then walked warm with ``scan.<attr>`` set to each of
    ``values`` in turn: what each walk gives (files, reads, digests, counts, the cache used)."""
    monkeypatch.setattr(scan_mod, "_SETTLE_NS", 0)
    root = old_example_tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    edited = sorted(root.rglob("*.yaml"))[0]
    edited.write_text(edited.read_text() + "\n# edited\n")
    results = []
    for value in values:
        monkeypatch.setattr(scan_mod, attr, value)
        walk = scan_mod.FragmentCache(cache).get_walk()
        stats = scan_mod.ScanStats()
        seen = scan_mod._walk_and_hash([root], Config(), stats, walk)
        results.append(([(j.relpath, data is not None, digest) for j, data, digest in seen],
                        stats.files_seen, stats.bytes_read, stats.skipped, stats.warnings, sorted(walk.used_files)))
    return results


@needs_known
def test_a_warm_walk_gives_the_same_with_or_without_known_digests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = _warm_walks_with(tmp_path, monkeypatch, "known_digests", (_cbuild.known_digests, None))
    assert results[0] == results[1]
    assert any(read for _, read, _ in results[0][0]) and not all(read for _, read, _ in results[0][0])


needs_entries = pytest.mark.skipif(getattr(_cbuild, "dir_entries", None) is None,
                                   reason="the _cbuild extension (with dir_entries) is not built")


def _walked(roots: list[Path], walk: scan_mod.WalkCache | None) -> list:
    stats = scan_mod.ScanStats()
    out = [(i, None if job is None else (job.root, job.path, job.relpath, type(job)))
           for i, job in scan_mod.walk_files(roots, Config(), stats, walk)]
    return [out, stats.warnings]


@needs_entries
@pytest.mark.parametrize("cached", [False, True])
def test_the_walk_gives_the_same_with_or_without_dir_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           cached: bool) -> None:
    monkeypatch.setattr(scan_mod, "_SETTLE_NS", 0)
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        for rel in ("x.yaml", "k8s/base/d.yaml", "k8s/base/e.yaml", "node_modules/m.js", "deep/er/still/f.tf", "z.md"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("x: 1\n")
    (a / "k8s" / "again").symlink_to(a / "k8s")  # a link: that directory is walked by the loop
    (b / "deep" / "empty").mkdir()
    results = []
    for helper in (_cbuild.dir_entries, None):
        monkeypatch.setattr(scan_mod, "dir_entries", helper)
        walk = scan_mod.WalkCache()
        if cached:  # listings from a first walk, as a warm rescan reads them
            _walked([a, b], walk)
            walk = scan_mod.WalkCache.load(walk.dump([a, b]))
        results.append([_walked([a], walk), _walked([a, b], walk), _walked([b / "deep"], walk)])
    assert results[0] == results[1]
    files = [job for _, job in results[0][1][0] if job is not None]
    assert ("b/k8s/base/d.yaml" in [rel for _, _, rel, _ in files]) and not any("node_modules" in rel for _, _, rel, _ in files)


@needs_entries
def test_dir_entries_leaves_any_other_kind_of_entry_to_the_loop() -> None:
    kit = (scan_mod.FileJob, Path("/r"), scan_mod.FileJob.root, scan_mod.FileJob.path, scan_mod.FileJob.relpath, None)
    assert _cbuild.dir_entries("/r/", "", ("a", "b"), "fl", set(), kit) is None
    assert _cbuild.dir_entries("/r/", "", ("a",), "o", set(), kit) is None
    files, dirs = _cbuild.dir_entries("/r/s/", "s/", ("a", "b", ".git"), "fdd", {".git"}, kit)
    assert [(j.root, j.path, j.relpath) for j in files] == [(Path("/r"), "/r/s/a", "s/a")]
    assert dirs == [("/r/s/b", "s/b/")]
    with pytest.raises(ValueError):
        _cbuild.dir_entries("/r/", "", ("a", "b"), "f", set(), kit)  # one kind per name
    with pytest.raises(TypeError):
        _cbuild.dir_entries("/r/", "", ["a"], "f", set(), kit)  # type: ignore[arg-type]


needs_bases = pytest.mark.skipif(not getattr(_cbuild, "STATS_FROM_BASES", 0),
                                 reason="the _cbuild extension (with stats from bases) is not built")


@needs_bases
def test_a_stat_from_an_open_root_is_the_stat_of_the_path(tmp_path: Path) -> None:
    # Relative to the root's open directory (fstatat), the same answer as os.stat of the whole
    # path: for files, directories and links below it, for the root itself and for paths
    # outside it (stat-ed as they are), and the same error, naming the whole path.
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    f = root / "a" / "b" / "c.yaml"
    f.write_text("kind: Service\n")
    (root / "link.yaml").symlink_to(f)
    (root / "dirlink").symlink_to(root / "a")
    outside = tmp_path / "outside.yaml"
    outside.write_text("x")
    with scan_mod._stat_bases([root, tmp_path / "missing-root"]) as bases:
        assert bases is not None and len(bases) == 1 and bases[0][0] == os.fsencode(str(root)) + b"/"
        for path in (f, root / "link.yaml", root / "dirlink", root / "dirlink" / "b" / "c.yaml", root / "a", root,
                     outside, Path("/")):
            for for_dir in (False, True):
                assert _cbuild.stat_sig(str(path), for_dir, bases) == _py_stat_sig(str(path), for_dir), (path, for_dir)
        missing = root / "a" / "nope.yaml"
        with pytest.raises(FileNotFoundError) as err:
            _cbuild.stat_sig(str(missing), False, bases)
        assert err.value.filename == str(missing)
        jobs = [scan_mod.FileJob(root, str(p), p.name) for p in (f, root / "link.yaml", missing, outside)]
        known = {str(p): (_py_stat_sig(str(p), False)[0], f"sha-{p.name}") for p in (f, root / "link.yaml", outside)}
        assert _cbuild.known_digests(jobs, known, set(), 1000, bases) == _cbuild.known_digests(jobs, known, set(), 1000)
        with pytest.raises(TypeError):
            _cbuild.stat_sig(str(f), False, ((b"/x/", "3"),))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            _cbuild.known_digests(jobs, known, set(), 1000, [(b"/x/", 3)])  # type: ignore[arg-type]
        fds = [fd for _, fd in bases]
    for fd in fds:  # let go once the walk is done
        with pytest.raises(OSError):
            os.fstat(fd)


def test_without_stats_from_bases_there_are_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(scan_mod, "_STATS_FROM_BASES", False)
    with scan_mod._stat_bases([tmp_path]) as bases:
        assert bases is None


@needs_bases
def test_a_warm_walk_gives_the_same_with_or_without_stats_from_bases(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    results = _warm_walks_with(tmp_path, monkeypatch, "_STATS_FROM_BASES", (True, False))
    assert results[0] == results[1]
    assert any(read for _, read, _ in results[0][0]) and not all(read for _, read, _ in results[0][0])
