"""Run one command as a child process and measure it: wall time, peak RSS, its JSON result.

Peak RSS is reported two ways because the scan uses a process pool:

* ``maxrss_mb``: the largest single process in the child's tree (``ru_maxrss`` from
  ``wait4``; exact, but blind to several processes being alive at once);
* ``tree_peak_mb``: the largest *sum* of RSS over the child and all its descendants,
  sampled every 20 ms (what the machine actually had to hold; a short spike between two
  samples can be missed). This is the number the 500 MB aim is checked against.

The sampler runs beside what it measures, on the same cores: on Linux it reads the tree from
``/proc/<pid>/task/<tid>/children`` and each process's ``statm`` (~0.1 ms a round), not with
psutil, whose ``children(recursive=True)`` reads every process of the system (~0.8 ms a
round, 4 % of a core at 20 ms: a warm rescan measured 5 % slower under it).

A child that shares its parent's memory is counted once: between ``vfork()`` and ``exec``
(how ``subprocess`` starts a program, e.g. the scan's judging helper) the child runs in the
parent's address space, and its ``statm`` shows the parent's whole RSS for that millisecond.
Which children do is asked of the kernel (``kcmp(KCMP_VM)``); where it cannot be asked, each
process counts whole, as before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SAMPLE_SECONDS = 0.02


@dataclass
class Measured:
    """What one child run cost and what it printed."""

    wall_s: float
    returncode: int
    maxrss_mb: float
    tree_peak_mb: float
    result: dict[str, Any] = field(default_factory=dict)  # last stdout line, if JSON
    stderr_tail: str = ""
    timed_out: bool = False


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_children_readable() -> bool:
    """Whether this system lists a task's children in /proc (Linux with CONFIG_PROC_CHILDREN)."""
    return os.path.exists(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children")


# kcmp(2)'s number on the machines it is known for, and its "same address space?" question.
_SYS_KCMP = {"x86_64": 312, "aarch64": 272, "arm64": 272}.get(os.uname().machine if hasattr(os, "uname") else "")
_KCMP_VM = 1  # enum kcmp_type: KCMP_FILE 0, KCMP_VM 1


def _kcmp() -> Any:
    """libc's ``syscall`` set up for kcmp, or None where it cannot be called."""
    if _SYS_KCMP is None or not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc.syscall
    except (OSError, AttributeError):
        return None


_SYSCALL = _kcmp()


def _shares_memory(a: int, b: int) -> bool:
    """Whether processes ``a`` and ``b`` run in one address space (a vfork child before its exec)."""
    if _SYSCALL is None:
        return False
    return _SYSCALL(_SYS_KCMP, a, b, _KCMP_VM, 0, 0) == 0  # 0: the same; -1 (an error) or 1/2: not


def _proc_tree_rss(pid: int) -> int | None:
    """The summed RSS (bytes) of ``pid`` and its descendants, read from /proc; None once ``pid`` is gone.
    A child in its parent's address space is not counted again (see the module docstring)."""
    total, stack, first = 0, [(pid, None)], True
    while stack:
        p, parent = stack.pop()
        try:
            if parent is None or not _shares_memory(p, parent):
                with open(f"/proc/{p}/statm", "rb") as fh:
                    total += int(fh.read().split()[1]) * _PAGE_BYTES
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children", "rb") as fh:
                    stack.extend((int(c), p) for c in fh.read().split())
        except (OSError, ValueError, IndexError):  # a process (or thread) that just exited
            if first:
                return None
        first = False
    return total


def _tree_rss_sampler(pid: int, stop: threading.Event, peak: list[int]) -> None:
    if _proc_children_readable():
        while not stop.is_set():
            total = _proc_tree_rss(pid)
            if total is None:
                break
            peak[0] = max(peak[0], total)
            stop.wait(SAMPLE_SECONDS)
        return
    try:
        import psutil
    except ImportError:  # psutil is a test extra; without it only ru_maxrss is reported
        return
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass  # a pool worker that just exited
        peak[0] = max(peak[0], total)
        stop.wait(SAMPLE_SECONDS)


def _wait(pid: int, timeout: float | None) -> tuple[int, Any, bool]:
    """``wait4`` on ``pid``; past ``timeout`` seconds, kill its process group and reap it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is None:
            _, status, usage = os.wait4(pid, 0)
            return status, usage, False
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, False
        if time.monotonic() > deadline:
            # The child leads its own session (start_new_session), so this reaches its pool too.
            os.killpg(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            return status, usage, True
        time.sleep(0.05)


def run_measured(cmd: list[str], *, stdin_text: str | None = None, cwd: Path | None = None,
                 env: dict[str, str] | None = None, timeout: float | None = None) -> Measured:
    """Run ``cmd`` to completion (or ``timeout`` seconds), sampling its process tree's memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        if stdin_text is not None:
            inp.write(stdin_text.encode())
            inp.seek(0)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=inp if stdin_text is not None else subprocess.DEVNULL,
                                stdout=out, stderr=err, cwd=cwd or REPO_DIR, env=env, start_new_session=True)
        stop = threading.Event()
        peak = [0]
        sampler = threading.Thread(target=_tree_rss_sampler, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        # wait4 (not Popen.wait) because it hands back the child's own rusage.
        status, usage, timed_out = _wait(proc.pid, timeout)
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    result: dict[str, Any] = {}
    lines = stdout.strip().splitlines()
    if lines:
        try:
            parsed = json.loads(lines[-1])
            result = parsed if isinstance(parsed, dict) else {}
        except json.JSONDecodeError:
            result = {}
    maxrss_kb = max(usage.ru_maxrss, int(result.get("rss_self_kb", 0)), int(result.get("rss_children_kb", 0)))
    return Measured(
        wall_s=wall,
        returncode=proc.returncode,
        maxrss_mb=maxrss_kb / 1024,
        tree_peak_mb=max(peak[0] / 2**20, maxrss_kb / 1024),
        result=result,
        stderr_tail=f"timed out after {timeout:.0f}s" if timed_out else "\n".join(stderr.strip().splitlines()[-5:]),
        timed_out=timed_out,
    )


def run_worker(task: str, args: dict[str, Any], timeout: float | None = None,
               env: dict[str, str] | None = None) -> Measured:
    """Run ``bench/worker.py <task>`` with ``args`` in a fresh interpreter (``env``: set in its environment)."""
    return run_measured([sys.executable, str(BENCH_DIR / "worker.py"), task, json.dumps(args)], timeout=timeout,
                        env={**os.environ, **env} if env else None)
