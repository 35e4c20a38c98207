"""The scan's second cache level: a whole built inventory, reused only for an unchanged tree."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from inventory.config import Config
from inventory.io import inventory_to_json, inventory_to_yaml
from inventory.scan import scan_paths

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "acme-platform"
    shutil.copytree(EXAMPLE, root)
    return root


def _scanned_then_edited(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(tree, its compose file, cache): the example scanned into the cache, then a service
    added to its compose file."""
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    compose = root / "docker-compose.yml"
    compose.write_text(compose.read_text().replace(
        "\nservices:\n", "\nservices:\n  brand-new-cache-probe:\n    image: busybox:1\n", 1))
    return root, compose, cache


def _inventory_rows(cache: Path) -> int:
    with sqlite3.connect(cache / "scan.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM inventories").fetchone()[0]


def test_cached_inventory_is_byte_identical_to_a_cold_build(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    cold, _ = scan_paths([root], Config(), use_cache=False)
    first, first_stats = scan_paths([root], Config(), cache_dir=cache)
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert first_stats.cache_hits == 0
    assert stats.cache_hits == stats.files_scanned > 0
    assert _inventory_rows(cache) == 1
    assert inventory_to_yaml(again) == inventory_to_yaml(first) == inventory_to_yaml(cold)
    assert inventory_to_json(again) == inventory_to_json(cold)


def test_a_changed_file_rebuilds_the_inventory(tmp_path: Path) -> None:
    root, compose, cache = _scanned_then_edited(tmp_path)
    warm, stats = scan_paths([root], Config(), cache_dir=cache)
    cold, _ = scan_paths([root], Config(), use_cache=False)
    # Only the edited file is scanned again; the inventory is rebuilt, not the stale one.
    assert stats.cache_hits == stats.files_scanned - 1
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)
    assert any("brand-new-cache-probe" in c.id for c in warm.components)
    assert _inventory_rows(cache) == 1  # the stale entry for this scope was replaced


def test_config_change_is_a_different_inventory(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    cfg = Config(exclude=["**/docker-compose*"])
    warm, _ = scan_paths([root], cfg, cache_dir=cache)
    cold, _ = scan_paths([root], cfg, use_cache=False)
    assert inventory_to_yaml(warm) == inventory_to_yaml(cold)


def test_no_cache_neither_reads_nor_writes(tmp_path: Path, monkeypatch) -> None:
    root = _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    _, stats = scan_paths([root], Config(), use_cache=False)
    assert stats.cache_hits == 0
    assert not (tmp_path / ".stackpolicy").exists()


def test_an_unchanged_tree_is_recognised_before_any_file_is_matched(tmp_path: Path, monkeypatch) -> None:
    import inventory.scan as scan

    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    first, first_stats = scan_paths([root], Config(), cache_dir=cache)

    def no_decoding(data: bytes) -> str | None:
        raise AssertionError("an unchanged tree must not be decoded or matched again")

    monkeypatch.setattr(scan, "_decode", no_decoding)
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_json(again) == inventory_to_json(first)
    assert stats.files_scanned == stats.cache_hits == first_stats.files_scanned
    assert stats.skipped == first_stats.skipped


def test_a_changed_file_no_scanner_reads_reuses_the_inventory(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    first, first_stats = scan_paths([root], Config(), cache_dir=cache)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")  # binary: no scanner wants it
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_json(again) == inventory_to_json(first)
    assert stats.cache_hits == stats.files_scanned == first_stats.files_scanned


def test_the_inventory_is_stored_once_and_found_by_either_key(tmp_path: Path, monkeypatch) -> None:
    import inventory.scan as scan

    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    first, _ = scan_paths([root], Config(), cache_dir=cache)
    with sqlite3.connect(cache / "scan.sqlite") as db:
        (by_files,), = db.execute("SELECT value FROM inventories").fetchall()
        (scope, key, by_tree), = db.execute("SELECT scope, key, value FROM trees").fetchall()
    # Stored once, in the tree's own file: the inventories row names the trees row, which names the file.
    assert len(by_files) < 1000 and len(by_tree) < 100
    (stored,) = (cache / "trees").iterdir()
    assert stored == scan.FragmentCache(cache).tree_file(scope, key) and stored.stat().st_size > 1000

    def no_build(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the stored inventory must be reused, not built again")

    monkeypatch.setattr(scan, "_build_pending", no_build)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")  # a new tree key, the same files scanned
    again, _ = scan_paths([root], Config(), cache_dir=cache)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01")  # and again: stored under the new keys
    third, _ = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_json(third) == inventory_to_json(again) == inventory_to_json(first)
    assert len(list((cache / "trees").iterdir())) == 1  # the scope's earlier trees' files are gone


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "truncated", "another tree's"])
def test_a_stored_trees_file_that_cannot_be_read_means_a_rebuild(tmp_path: Path, damage: str) -> None:
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    cold, _ = scan_paths([root], Config(), use_cache=False)
    scan_paths([root], Config(), cache_dir=cache)
    (stored,) = (cache / "trees").iterdir()
    data = stored.read_bytes()
    if damage == "missing":
        stored.unlink()
    elif damage == "empty":
        stored.write_bytes(b"")
    elif damage == "garbage":
        stored.write_bytes(b"x" * len(data))
    elif damage == "truncated":
        stored.write_bytes(data[: len(data) // 2])
    else:  # a valid stored inventory, of another tree: its checksum holds, its content does not fit
        other = tmp_path / "other"
        other.mkdir()
        (other / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: lonely\n")
        scan_paths([other], Config(), cache_dir=tmp_path / "other-cache")
        (theirs,) = (tmp_path / "other-cache" / "trees").iterdir()
        stored.write_bytes(theirs.read_bytes())
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_json(again) == inventory_to_json(cold)
    assert stats.cache_hits == stats.files_scanned  # rebuilt from the stored fragments


def test_a_damaged_database_takes_the_trees_files_with_it(tmp_path: Path) -> None:
    import inventory.scan as scan

    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    assert list((cache / "trees").iterdir())
    fc = scan.FragmentCache(cache)
    fc._remove()
    assert not (cache / "scan.sqlite").exists() and not list((cache / "trees").iterdir())


def test_generation_settings_do_not_invalidate_the_scan_cache(tmp_path: Path) -> None:
    # Where documents go, which provider drafts them, the configured sources list and the
    # config file's folder change no scan result: a scan under another such config is warm.
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    first, _ = scan_paths([root], Config(), cache_dir=cache)
    other = Config.model_validate({
        "sources": [str(root)], "output": str(tmp_path / "elsewhere"), "provider": {"name": "offline"},
        "evals": {"budget": 40}, "tiers": {"T3": {"name": "forbidden"}}, "base_dir": str(tmp_path),
    })
    again, stats = scan_paths([root], other, cache_dir=cache)
    assert stats.cache_hits == stats.files_scanned > 0
    assert _inventory_rows(cache) == 1
    assert inventory_to_yaml(again) == inventory_to_yaml(first)


def test_scan_settings_still_key_the_cache(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache)
    for cfg in (Config(max_file_bytes=1_000_000), Config(environment_paths={"**/payments/**": "prod"}),
                Config(overrides={"service:orders-api": {"criticality": "critical"}})):
        _, stats = scan_paths([root], cfg, cache_dir=cache)
        assert stats.cache_hits == 0, cfg


def test_a_rebuild_from_stored_fragments_has_their_lines_parsed_by_the_workers(tmp_path: Path, monkeypatch) -> None:
    # An edit rebuilds the inventory from every other file's stored fragments. Their command
    # lines were parsed by the workers that scanned them, in an earlier scan: the rebuild has
    # the workers parse them again (as the fragments load) instead of the builder, one by one.
    import inventory.actions as actions
    import inventory.scan as scan_mod

    root, compose, cache = _scanned_then_edited(tmp_path)
    monkeypatch.setattr(scan_mod, "PARSE_IN_POOL_FROM_FILES", 1)
    monkeypatch.setattr(scan_mod._PoolParse, "CHUNK", 16)  # several tasks, and a last partial one
    main_parses: list[str] = []
    real = actions.parse_line
    here = __import__("os").getpid()

    def counted(text: str):  # type: ignore[no-untyped-def]
        if __import__("os").getpid() == here:
            main_parses.append(text)
        return real(text)

    monkeypatch.setattr(actions, "parse_line", counted)
    rebuilt, stats = scan_paths([root], Config(), cache_dir=cache, jobs=2)
    assert stats.cache_hits == stats.files_scanned - 1
    assert "parse stored command lines" in stats.stages  # waited for before the build
    assert main_parses == []  # the builder parsed no line itself
    cold, _ = scan_paths([root], Config(), use_cache=False, jobs=1)
    assert inventory_to_yaml(rebuilt) == inventory_to_yaml(cold)
    assert sum(len(a.commands) for a in rebuilt.actions) > 16 * 3

    # Without a pool (one job), the builder parses them itself: the same inventory.
    compose.write_text(compose.read_text().replace("brand-new-cache-probe", "brand-new-cache-probe-2", 1))
    alone, _ = scan_paths([root], Config(), cache_dir=cache, jobs=1)
    assert main_parses
    cold, _ = scan_paths([root], Config(), use_cache=False, jobs=1)
    assert inventory_to_yaml(alone) == inventory_to_yaml(cold)


def test_the_code_tag_hashes_each_source_and_data_file_of_the_package_once_in_path_order() -> None:
    """The key of every stored inventory includes a hash of the package's own files, so that
    only the exact code that built one reuses it: each .py, .c and data file, by its path
    relative to the package (compiled modules, caches and the manifest left out)."""
    import hashlib

    import inventory.scan as scan_mod

    pkg = Path(scan_mod.__file__).resolve().parent
    files = sorted(f for f in pkg.rglob("*") if f.is_file() and "__pycache__" not in f.parts
                   and f.suffix in (".py", ".c", ".yaml", ".yml", ".json", ".txt"))
    assert any(f.name == "scan.py" for f in files) and any(f.suffix == ".yaml" for f in files)
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(pkg).as_posix()}\0{hashlib.sha256(f.read_bytes()).hexdigest()}\0".encode())
    assert scan_mod._code_tag.__wrapped__() == h.hexdigest()


def test_the_code_tag_takes_a_compiled_sources_digest_from_the_manifest_only_while_its_stat_is_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the guard trusts (a compiled module's source of the size and mtime the build
    recorded) the tag trusts too; a source changed since is read and hashed again."""
    import os

    import inventory._guard as guard_mod
    import inventory.scan as scan_mod

    source = Path(scan_mod.__file__).resolve().parent / "ids.py"
    st = os.stat(source)
    real = scan_mod._code_tag.__wrapped__()
    manifest = dict(guard_mod.guard().manifest)
    as_built = guard_mod.Entry(st.st_size, st.st_mtime_ns, "0" * 64, 0, 0)
    monkeypatch.setattr(guard_mod.guard(), "manifest", {**manifest, "inventory.ids": as_built})
    assert scan_mod._code_tag.__wrapped__() != real  # the manifest's digest, not the bytes'
    changed_since = guard_mod.Entry(st.st_size, st.st_mtime_ns - 1, "0" * 64, 0, 0)
    monkeypatch.setattr(guard_mod.guard(), "manifest", {**manifest, "inventory.ids": changed_since})
    assert scan_mod._code_tag.__wrapped__() == real  # read again
