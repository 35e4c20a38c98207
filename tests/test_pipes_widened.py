"""Pipes to and from helper processes hold 1 MiB where Linux allows it (inventory.forked.widen_pipe).

A helper's answer is read, and its work written, by a thread of the scan's process that
waits for the GIL between one pipe's worth and the next; the scan's compiled steps hold the
GIL for tens of milliseconds at a time. The pool's task and result pipes, the scrub judge's
input, and a forked child's result pipe are all widened; where the size cannot be set, a
pipe keeps its size and nothing fails.
"""

from __future__ import annotations

import os
import sys

import pytest

import inventory.scan as scan_mod
from inventory import forked
from inventory.scrubjudge import FreeTextJudge

fcntl = pytest.importorskip("fcntl")
if not hasattr(fcntl, "F_GETPIPE_SZ") or not sys.platform.startswith("linux"):
    pytest.skip("pipe sizes are Linux's", allow_module_level=True)


def _size(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)


def _limit() -> int:
    try:
        return int(open("/proc/sys/fs/pipe-max-size").read())
    except OSError:
        return forked.PIPE_BYTES


def _widened() -> int:
    """What a widened pipe holds here: PIPE_BYTES, unless the system's limit is lower (and
    the process cannot go above it)."""
    return forked.PIPE_BYTES if os.geteuid() == 0 or _limit() >= forked.PIPE_BYTES else _size_default()


def _size_default() -> int:
    r, w = os.pipe()
    try:
        return _size(r)
    finally:
        os.close(r)
        os.close(w)


def test_a_pipe_is_widened_and_anything_else_is_left_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r, w = os.pipe()
    try:
        before = _size(r)
        forked.widen_pipe(w)  # either end: the size is the pipe's
        assert _size(r) == _widened() and _size(r) >= before
    finally:
        os.close(r)
        os.close(w)
    with open(tmp_path / "file", "wb") as fh:
        forked.widen_pipe(fh.fileno())  # not a pipe: nothing happens, nothing fails
    forked.widen_pipe(10**6)  # not even open


def test_the_scan_pools_pipes_are_widened() -> None:
    pool = scan_mod._pool(2)
    try:
        assert pool.submit(sum, [1, 2]).result() == 3  # and it works
        assert _size(pool._call_queue._reader.fileno()) == _widened()  # type: ignore[attr-defined]
        assert _size(pool._result_queue._reader.fileno()) == _widened()  # type: ignore[attr-defined]
    finally:
        pool.shutdown(wait=True)


def test_the_scrub_judges_input_is_widened() -> None:
    judge = FreeTextJudge.start()
    assert judge is not None
    try:
        assert _size(judge._proc.stdin.fileno()) == _widened()  # type: ignore[union-attr]
        judge.submit(["kubectl get pods"])
        assert judge.masks_any() is False
    finally:
        judge.close()


@pytest.mark.skipif(not forked.available(), reason="no fork here")
def test_a_forked_childs_result_pipe_is_widened() -> None:
    job = forked.start(lambda: "x" * (3 << 20))  # more than any pipe holds: still read whole
    assert job is not None
    assert _size(job._fd) == _widened()
    assert job.take() == "x" * (3 << 20)
