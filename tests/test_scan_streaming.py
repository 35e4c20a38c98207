"""A scan with nothing stored to consult streams files to the workers as the walk finds them.

It must give exactly what the usual passes give (walk, hash every file, then match and scan):
the same inventory, statistics and warnings, and the same cache entries under the same keys,
so that a rescan finds them.
"""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory import store
from inventory.config import Config
from inventory.scan import FragmentCache, scan_paths
from tests.scan_cache_support import count_models

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


def _odd_tree(tmp_path: Path) -> list[Path]:
    """Two roots with something for every kind of warning: broken link, loop, binary, not UTF-8, too large."""
    a = tmp_path / "a"
    shutil.copytree(EXAMPLE, a)
    (a / "odd").mkdir()
    (a / "odd" / "latin1.md").write_bytes(b"# Caf\xe9\n\n```sh\nkubectl get pods\n```\n")
    (a / "odd" / "image.png").write_bytes(bytes(range(256)) * 4)
    (a / "odd" / "broken.yaml").symlink_to(tmp_path / "nowhere")
    (a / "odd" / "loop").symlink_to(a)
    b = tmp_path / "b"
    (b / "deploy").mkdir(parents=True)
    (b / "deploy" / "big.yaml").write_text("a: " + "x" * 5000 + "\n")
    (b / "deploy" / "nul.yaml").write_bytes(b"kind: Service\x00\n")
    (b / "deploy" / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: billing\n")
    (b / "empty").mkdir()
    return [b, a]  # not in name order: files go back in root order, not relpath order


def _stored(cache: Path) -> dict[str, list[tuple]]:
    """The cache's rows, and its trees' inventory files (name, bytes)."""
    with sqlite3.connect(cache / "scan.sqlite") as db:
        rows = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in ("fragments", "inventories", "trees")}
    files = sorted((cache / "trees").iterdir()) if (cache / "trees").exists() else []
    return {**rows, "tree files": [(f.name, f.read_bytes()) for f in files]}


def _summary(inv, stats) -> tuple:  # type: ignore[no-untyped-def]
    return (store.dump(inv), stats.files_seen, stats.files_scanned, stats.cache_hits, stats.bytes_read,
            stats.skipped, [w.model_dump() for w in stats.warnings])


@pytest.mark.parametrize("jobs", [1, 2])
def test_streaming_gives_what_the_usual_passes_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    roots = _odd_tree(tmp_path)
    cfg = Config(max_file_bytes=4096)
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)  # several batches, and the pool, on a small tree
    streamed = scan_paths(roots, cfg, cache_dir=tmp_path / "streamed", jobs=jobs)
    # The usual passes, as taken when something is stored.
    monkeypatch.setattr(FragmentCache, "is_empty", lambda self: False)
    usual = scan_paths(roots, cfg, cache_dir=tmp_path / "usual", jobs=jobs)
    assert _summary(*streamed) == _summary(*usual)
    assert streamed[1].skipped >= 3 and streamed[1].cache_hits == 0
    messages = {w.message for w in streamed[1].warnings}
    assert {"broken symlink, skipped", "file larger than 4096 bytes, skipped",
            "not UTF-8 text (binary or another encoding), skipped"} <= messages
    assert _stored(tmp_path / "streamed") == _stored(tmp_path / "usual")


def test_the_pool_parses_the_command_lines_after_the_scan_not_the_builder(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers scan without parsing the lines they sight; once the scan is done they parse
    # them while this process merges: the actions step then parses none itself, and the
    # inventory is the one-process scan's.
    import inventory.actions as actions

    roots = _odd_tree(tmp_path)
    serial, _ = scan_paths(roots, Config(), use_cache=False, jobs=1)
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    monkeypatch.setattr(scan_mod._PoolParse, "CHUNK", 16)  # several tasks, and a last partial one
    here, main_parses = os.getpid(), []
    real_parse = actions.parse_line

    def counted(text: str):  # type: ignore[no-untyped-def]
        if os.getpid() == here:
            main_parses.append(text)
        return real_parse(text)

    monkeypatch.setattr(actions, "parse_line", counted)
    monkeypatch.setattr(scan_mod, "_read_and_scan", _notes_parse)
    _NOTES[:] = [tmp_path / "notes"]
    _NOTES[0].mkdir()
    inv, stats = scan_paths(roots, Config(), cache_dir=tmp_path / "cache", jobs=2)
    assert main_parses == []
    assert {n.read_text() for n in _NOTES[0].iterdir()} == {"False"}  # no batch was parsed as it was scanned
    assert store.dump(inv) == store.dump(serial)
    assert sum(len(a.commands) for a in inv.actions) > 16 * 3  # lines from several parse tasks
    # Without a pool the batches are scanned here, their lines parsed with them.
    _, one = scan_paths(roots, Config(), cache_dir=tmp_path / "one", jobs=1)
    assert one.files_scanned == stats.files_scanned


@pytest.mark.skipif(not hasattr(os, "fork"), reason="pool workers are forked")
def test_the_late_files_go_out_in_path_order_and_their_lines_are_parsed_as_they_come_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The actions step reads the sighted lines in the files' order, and the pool's parse
    # tasks are waited for in the order handed out: the late files (runbooks, scripts) go out
    # sorted, and each batch's lines are queued for parsing as the batch comes back, not all
    # once the last is in (the other files' before them). The inventory is the serial scan's.
    root = tmp_path / "acme"
    shutil.copytree(EXAMPLE, root)
    for i in range(24):  # runbooks all over the tree: more batches than workers
        d = root / f"team-{(i * 7) % 24:02d}" / "docs"
        d.mkdir(parents=True)
        (d / "runbook.md").write_text(f"# Team {i}\n\n```sh\nkubectl -n team-{i} rollout restart deploy/api-{i}\n"
                                      f"kubectl -n team-{i} get pods\n```\n")
    serial, _ = scan_paths([root], Config(), use_cache=False, jobs=1)
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 4)
    monkeypatch.setattr(scan_mod._PoolParse, "CHUNK", 4)
    scanned: list[list[str]] = []
    queued: list[tuple[bool, int]] = []
    real_pool, real_queue = scan_mod._pool, scan_mod._queue_parsing

    def pool(n_jobs: int):  # type: ignore[no-untyped-def]
        made = real_pool(n_jobs)
        submit = made.submit

        def recording(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            if fn is scan_mod._read_and_scan:
                scanned.append([rel for _, rel in args[0]])
            return submit(fn, *args, **kwargs)

        made.submit = recording  # type: ignore[method-assign]
        return made

    def queue(parsing, records, positions, *, flush=True):  # type: ignore[no-untyped-def]
        real_queue(parsing, records, positions, flush=flush)
        queued.append((flush, len(parsing.seen)))

    monkeypatch.setattr(scan_mod, "_pool", pool)
    monkeypatch.setattr(scan_mod, "_queue_parsing", queue)
    inv, _ = scan_paths([root], Config(), cache_dir=tmp_path / "cache", jobs=2)
    assert store.dump(inv) == store.dump(serial)
    late = [rel for batch in scanned for rel in batch if rel.endswith("runbook.md")]
    assert len(late) >= 24 and late == sorted(late)
    assert queued and not any(flush for flush, _ in queued)  # queued as the batches came back
    assert queued[-1][1] > queued[0][1] > 0 or len({n for _, n in queued}) > 1  # over several batches


def test_a_rescan_after_streaming_is_answered_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = _odd_tree(tmp_path)
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    cache = tmp_path / "cache"
    first, _ = scan_paths(roots, Config(), cache_dir=cache, jobs=2)
    again, stats = scan_paths(roots, Config(), cache_dir=cache, jobs=2)
    assert stats.cache_hits == stats.files_scanned > 0
    assert store.dump(again) == store.dump(first)


def test_only_an_empty_cache_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "acme"
    shutil.copytree(EXAMPLE, root)
    streamed: list[bool] = []
    real = scan_mod._scan_streaming

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        streamed.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(scan_mod, "_scan_streaming", spy)
    scan_paths([root], Config(), cache_dir=tmp_path / "cache")
    (root / "new.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: extra\n")
    scan_paths([root], Config(), cache_dir=tmp_path / "cache")
    scan_paths([root], Config(), use_cache=False)
    assert streamed == [True, True]  # the cold scan and the uncached one; not the rescan


def test_an_unreadable_file_is_a_warning_when_streamed(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    root = tmp_path / "r"
    root.mkdir()
    (root / "secret.yaml").write_text("kind: Service\n")
    (root / "secret.yaml").chmod(0)
    _, stats = scan_paths([root], Config(), use_cache=False)
    assert [w.message for w in stats.warnings] == ["cannot read file: Permission denied"]
    assert stats.skipped == 1


_PARENT: list[int] = []
_REAL_READ_AND_SCAN = scan_mod._read_and_scan
_NOTES: list[Path] = []  # where each batch scanned notes whether its lines were parsed with it


def _notes_parse(batch, cfg_json, parse=True):  # type: ignore[no-untyped-def]
    """``_read_and_scan``, noting ``parse`` in a file of its own."""
    (_NOTES[0] / f"{os.getpid()}-{batch[0][1].replace('/', '_')}").write_text(str(parse))
    return _REAL_READ_AND_SCAN(batch, cfg_json, parse)


def _dies_in_a_worker(batch, cfg_json, parse=True):  # type: ignore[no-untyped-def]
    """``_read_and_scan``, except that a pool worker running it dies (as one killed would)."""
    if os.getpid() != _PARENT[0]:
        os._exit(1)
    return _REAL_READ_AND_SCAN(batch, cfg_json, parse)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the dying worker is a forked one")
def test_batches_of_a_dead_worker_are_scanned_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = _odd_tree(tmp_path)
    serial, serial_stats = scan_paths(roots, Config(), use_cache=False, jobs=1)
    _PARENT[:] = [os.getpid()]
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    monkeypatch.setattr(scan_mod, "_read_and_scan", _dies_in_a_worker)
    inv, stats = scan_paths(roots, Config(), cache_dir=tmp_path / "cache", jobs=2)
    assert store.dump(inv) == store.dump(serial)
    assert stats.files_scanned == serial_stats.files_scanned > 8


_STATE_DIR: list[Path] = []  # where each process that scans a batch notes its collector's state


def _notes_collector_state(batch: list[tuple[str, str]], cfg_json: str,  # type: ignore[no-untyped-def]
                           parse: bool = True):
    """``_read_and_scan``, noting (collector on, young threshold) in a file named by the process id."""
    (_STATE_DIR[0] / str(os.getpid())).write_text(f"{gc.isenabled()}:{gc.get_threshold()[0]}")
    return _REAL_READ_AND_SCAN(batch, cfg_json, parse)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="pool workers are forked")
def test_workers_collect_garbage_rarely_even_when_forked_from_a_paused_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = _odd_tree(tmp_path)
    _STATE_DIR[:] = [tmp_path / "states"]
    _STATE_DIR[0].mkdir()
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    monkeypatch.setattr(scan_mod, "_read_and_scan", _notes_collector_state)
    scan_paths(roots, Config(), cache_dir=tmp_path / "cache", jobs=2)
    workers = {f.name: f.read_text() for f in _STATE_DIR[0].iterdir() if f.name != str(os.getpid())}
    assert workers, "no batch ran in a pool worker"
    # The streamed scan pauses this process's collector while the workers fork from it.
    assert set(workers.values()) == {f"True:{scan_mod._WORKER_GC_THRESHOLD}"}
    assert gc.isenabled()  # and this process's collector is as it was


@pytest.mark.parametrize("use_cache", [True, False])
def test_a_built_inventory_is_left_out_of_the_cyclic_collector_and_still_freed(
        tmp_path: Path, use_cache: bool) -> None:
    # Everything the build makes while the collector is paused would otherwise be walked by
    # the first collection after it, and again in each older generation.
    enabled = gc.isenabled()
    gc.unfreeze()
    try:
        inv, _ = scan_paths([EXAMPLE], Config(), use_cache=use_cache, cache_dir=tmp_path / "cache", jobs=1)
        n = count_models(inv)
        assert n > 100
        assert gc.get_freeze_count() >= n
        assert gc.isenabled() == enabled
        frozen = gc.get_freeze_count()
        del inv
        assert frozen - gc.get_freeze_count() >= n
    finally:
        gc.unfreeze()


def _own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="pool workers are forked")
def test_the_pool_is_put_behind_once_its_work_is_ahead_of_need() -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=2) as pool:
        before = {pool.submit(_own_nice).result() for _ in range(4)}
        scan_mod._PoolParse(pool, "{}").behind()
        after = {pool.submit(_own_nice).result() for _ in range(4)}
    assert after == {max(nice, scan_mod.WORK_AHEAD_NICE) for nice in before}  # lowered, never raised


def _pool_closes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Small batches (a small tree uses the pool), and each stop of the parsing pool recorded
    as whether it waited for the workers."""
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    waits: list[bool] = []
    real_close = scan_mod._PoolParse.close

    def close(self, wait=False):  # type: ignore[no-untyped-def]
        waits.append(wait)
        real_close(self, wait)

    monkeypatch.setattr(scan_mod._PoolParse, "close", close)
    return waits


@pytest.mark.skipif(not hasattr(os, "fork"), reason="pool workers are forked")
def test_a_failure_after_the_scan_stops_the_pool_parsing_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pool is left running once the files are scanned (it parses their lines for the
    # build); anything that fails before the build takes it over stops it, not leaves it.
    import multiprocessing

    roots, closed = _odd_tree(tmp_path), _pool_closes(monkeypatch)

    def fails(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(scan_mod, "_inventory_key", fails)
    before = set(multiprocessing.active_children())
    with pytest.raises(RuntimeError, match="disk full"):
        scan_paths(roots, Config(), cache_dir=tmp_path / "cache", jobs=2)
    assert closed == [True]  # stopped, and waited for
    assert set(multiprocessing.active_children()) <= before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="pool workers are forked")
def test_a_cold_scan_leaves_no_worker_or_thread_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The build stops the pool without waiting for its workers to exit (they let their memory
    # go meanwhile); the scan still returns with them gone and the pool's thread joined, so a
    # rescan in this process can fork its walk (it does only when it is the one thread).
    import multiprocessing
    import threading

    roots, waits = _odd_tree(tmp_path), _pool_closes(monkeypatch)
    threads = set(threading.enumerate())
    scan_paths(roots, Config(), cache_dir=tmp_path / "cache", jobs=2)
    assert waits[0] is False and waits[-1] is True  # let go in the build, joined before returning
    assert set(threading.enumerate()) <= threads and not multiprocessing.active_children()
