"""The scan's walk: sorted relative paths, skipped directories, symlink loops and broken links."""

from __future__ import annotations

import os
from pathlib import Path

from inventory.config import Config
from inventory.scan import ScanStats, iter_files


def _tree(root: Path) -> None:
    for rel in ("b.yaml", "a/z.txt", "a/b/c.md", "node_modules/x.js", ".git/config", "docs/runbook.md"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)


def test_walk_lists_files_sorted_and_skips_tool_directories(tmp_path: Path) -> None:
    _tree(tmp_path)
    stats = ScanStats()
    jobs = list(iter_files([tmp_path], Config(), stats))
    assert [j.relpath for j in jobs] == ["a/b/c.md", "a/z.txt", "b.yaml", "docs/runbook.md"]
    assert all(j.abspath == tmp_path / j.relpath and j.path == str(tmp_path / j.relpath) for j in jobs)
    assert stats.warnings == []


def test_walk_labels_paths_with_the_root_name_when_several_roots(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two" / "k8s").mkdir(parents=True)
    (tmp_path / "one" / "x.yaml").write_text("x")
    (tmp_path / "two" / "k8s" / "y.yaml").write_text("y")
    jobs = list(iter_files([tmp_path / "one", tmp_path / "two"], Config(), ScanStats()))
    assert [j.relpath for j in jobs] == ["one/x.yaml", "two/k8s/y.yaml"]


def test_walk_applies_include_and_exclude_globs(tmp_path: Path) -> None:
    _tree(tmp_path)
    cfg = Config(exclude=["a/b"], include=["a/*", "b.yaml"])
    assert [j.relpath for j in iter_files([tmp_path], cfg, ScanStats())] == ["a/z.txt", "b.yaml"]


def test_walk_reports_symlink_loops_and_broken_links_once(tmp_path: Path) -> None:
    _tree(tmp_path)
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "back")  # a/b/back -> a: a loop
    os.symlink(tmp_path / "missing", tmp_path / "dangling")
    stats = ScanStats()
    rels = [j.relpath for j in iter_files([tmp_path], Config(), stats)]
    assert rels == ["a/b/c.md", "a/z.txt", "b.yaml", "docs/runbook.md"]
    messages = sorted((w.path, w.message) for w in stats.warnings)
    assert messages == [("a/b/back", "symlink loop: directory already visited, skipped"),
                        ("dangling", "broken symlink, skipped")]


def test_the_c_listing_of_a_directory_is_os_scandirs(tmp_path: Path) -> None:
    """``_cbuild.list_dir`` (the walk's listing of each directory) answers as the Python one over
    os.scandir: names sorted as str, each kind (directory, file, symlink, other) as DirEntry
    tells it, names that are not UTF-8 as os.fsdecode gives them, the same OSError."""
    import socket

    import pytest

    import inventory.scan as scan_mod

    cbuild = pytest.importorskip("inventory._cbuild")
    if not hasattr(cbuild, "list_dir"):
        pytest.skip("the C helpers are an older build")
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    for name in ("b.yaml", "a.txt", "Z.md", "é-ünïcode.yaml", ".hidden", "10", "9", "a b"):
        (d / name).write_text(name)
    os.symlink(d / "sub", d / "link-to-dir")
    os.symlink(d / "a.txt", d / "link-to-file")
    os.symlink(d / "missing", d / "broken-link")
    os.mkfifo(d / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(d / "sock"))
    raw = os.fsencode(str(d)) + b"/bad-\xff-name"
    with open(raw, "w") as fh:
        fh.write("x")
    names, kinds, known = cbuild.list_dir(str(d))
    assert (names, kinds, known) == scan_mod._py_list_dir(str(d))
    assert kinds[names.index("sub")] == "d" and kinds[names.index("link-to-dir")] == "l"
    assert kinds[names.index("fifo")] == "o" and kinds[names.index("sock")] == "o"
    assert os.fsdecode(b"bad-\xff-name") in names and list(names) == sorted(names)
    assert cbuild.list_dir(str(d / "sub")) == ((), "", True)
    for missing in (d / "nope", d / "a.txt"):
        try:
            scan_mod._py_list_dir(str(missing))
        except OSError as exc:
            expected = (type(exc), exc.errno, exc.filename)
        with pytest.raises(OSError) as got:
            cbuild.list_dir(str(missing))
        assert (type(got.value), got.value.errno, got.value.filename) == expected
