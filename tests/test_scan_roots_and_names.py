"""Roots named alike and names that are not UTF-8: a scan tells the roots' files apart and
skips (with a warning) what it could neither key nor show, on a cold scan, a rescan of an
unchanged tree and a rescan after an edit; never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory.config import Config
from inventory.io import inventory_to_yaml
from inventory.scan import _root_labels, scan_paths
from tests.scan_cache_support import HOUR_AGO, no_settle, old_example_tree  # noqa: F401 - fixture


@pytest.mark.parametrize(("roots", "labels"), [
    (["/r/one/infra", "/r/two/infra"], ["one/infra", "two/infra"]),
    (["/r/a/x/infra", "/r/b/x/infra", "/r/c/infra"], ["a/x/infra", "b/x/infra", "c/infra"]),
    (["/r/infra", "/r/apps"], ["infra", "apps"]),
    (["/p", "/x/p/q", "/y/p/q"], ["p", "x/p/q", "y/p/q"]),  # "p" is no other label's folder
    (["/a/b", "/a/b/a/b"], ["a/b", "b/a/b"]),  # one inside the other, named alike
    (["/a/b", "/a/b"], ["a/b", "a/b~2"]),  # no part tells them apart
])
def test_each_root_gets_a_label_of_its_own(roots: list[str], labels: list[str]) -> None:
    got = _root_labels([Path(r) for r in roots])
    assert got == labels
    assert len(set(got)) == len(got)
    assert not any(b.startswith(a + "/") for a in got for b in got if a != b)


def _edited(root: Path) -> None:
    compose = root / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("image:", "imag3:", 1))


def test_roots_named_alike_are_told_apart_cold_and_warm(tmp_path: Path, no_settle: None) -> None:
    one = old_example_tree(tmp_path / "one")
    two = old_example_tree(tmp_path / "two")
    assert one.name == two.name
    cache = tmp_path / "cache"
    cold, _ = scan_paths([one, two], Config(), cache_dir=cache)
    paths = {e.path for a in cold.actions for e in a.evidence}
    assert any(p.startswith("one/acme-platform/") for p in paths)
    assert any(p.startswith("two/acme-platform/") for p in paths)
    _edited(two)  # a rescan after an edit rebuilds from each file's stored fragments
    warm, _ = scan_paths([one, two], Config(), cache_dir=cache)
    assert inventory_to_yaml(warm) == inventory_to_yaml(scan_paths([one, two], Config(), use_cache=False)[0])


def test_the_same_root_given_twice_is_walked_once(tmp_path: Path) -> None:
    root = old_example_tree(tmp_path)
    twice, stats = scan_paths([root, root / "."], Config(), use_cache=False)
    once, once_stats = scan_paths([root], Config(), use_cache=False)
    assert stats.files_seen == once_stats.files_seen
    assert twice.model_dump(exclude={"sources"}) == once.model_dump(exclude={"sources"})


def _with_unnamed(root: Path) -> bytes:
    """A runbook whose name is not UTF-8 (a Latin-1 é), and a directory named so, holding one."""
    runbooks = os.fsencode(root / "runbooks")
    name = os.path.join(runbooks, b"caf\xe9.md")
    with open(name, "wb") as fh:
        fh.write(b"# runbook\n\n```\nkubectl delete namespace acme-prod\n```\n")
    os.utime(name, (HOUR_AGO, HOUR_AGO))
    folder = os.path.join(runbooks, b"d\xe9p")
    os.mkdir(folder)
    with open(os.path.join(folder, b"x.md"), "wb") as fh:
        fh.write(b"# x\n")
    return name


@pytest.mark.parametrize("in_c", [True, False])
def test_a_name_that_is_not_utf8_is_skipped_with_a_warning(tmp_path: Path, no_settle: None,
                                                           monkeypatch: pytest.MonkeyPatch, in_c: bool) -> None:
    if not in_c:
        monkeypatch.setattr(scan_mod, "_list_dir", scan_mod._py_list_dir)
    root = old_example_tree(tmp_path)
    name = _with_unnamed(root)
    cache = tmp_path / "cache"
    runs = [scan_paths([root], Config(), use_cache=False), scan_paths([root], Config(), cache_dir=cache),
            scan_paths([root], Config(), cache_dir=cache)]
    with open(name, "r+b") as fh:  # an edit: the rescan rebuilds
        fh.write(b"#")
    runs.append(scan_paths([root], Config(), cache_dir=cache))
    for inv, stats in runs:
        skipped = sorted(w.path for w in stats.warnings if w.message == "name is not UTF-8: skipped")
        assert skipped == ["runbooks/caf\\xe9.md", "runbooks/d\\xe9p"]
        json.dumps(inv.model_dump(mode="json"))  # every string shown is UTF-8
        assert not any("caf" in e.path for a in inv.actions for e in a.evidence)
    assert inventory_to_yaml(runs[0][0]) == inventory_to_yaml(runs[-1][0])


def test_both_listings_mark_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    if scan_mod._list_dir is scan_mod._py_list_dir:
        pytest.skip("the _cbuild extension is not built")
    for raw in (b"caf\xe9.md", b"ok.md", "naïve.md".encode(), b"\xff"):
        with open(os.path.join(os.fsencode(tmp_path), raw), "wb") as fh:
            fh.write(b"x")
    assert scan_mod._list_dir(str(tmp_path)) == scan_mod._py_list_dir(str(tmp_path))
    names, kinds, known = scan_mod._list_dir(str(tmp_path))
    assert dict(zip(names, kinds)) == {"caf\udce9.md": "x", "ok.md": "f", "naïve.md": "f", "\udcff": "x"} and known
