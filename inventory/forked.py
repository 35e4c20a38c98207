"""Run a pure computation ahead of need in a forked child process, and collect it later.

A document run has CPU work that does not wait on the network (the offline eval draft) and
work that mostly does (the policy prompts' API calls, whose event loop must stay free to keep
the concurrency pipe full). In one process the two take turns on one interpreter lock; in a
forked child the computation uses the machine's other core, sees the parent's objects as they
were at the fork (copy-on-write, nothing serialised on the way in), and sends back only its
pickled result. The parent decides afterwards whether the result still applies
(:meth:`Forked.take`) or discards it (:meth:`Forked.discard`): speculation never changes what
a run produces, only when the work happens. :func:`stream` is the same for a sequence: the
child sends each value as it is computed (the prompts of a run, rendered while the calls go
out), and the parent computes whatever did not arrive.

Only on Linux (``fork`` is unsafe on macOS and absent on Windows) and only while the process
has a single thread (a fork copies no other thread, and a lock one of them held would stay
held in the child); otherwise :func:`start` returns None and the caller computes inline.
"""

from __future__ import annotations

import atexit
import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Generic, TypeVar

try:
    import fcntl
except ImportError:  # not on this platform: pipes keep their size
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

ENV_OFF = "STACKPOLICY_NO_FORK"  # set (to anything but "" / "0"): always compute inline

# What a pipe between this process and a helper holds (Linux's limit for an unprivileged
# process; 64 KiB by default).
PIPE_BYTES = 1 << 20


def widen_pipe(fd: int) -> None:
    """Make the pipe that ``fd`` is an end of hold :data:`PIPE_BYTES`, where the system allows it.

    A thread of this process that reads a helper's answer, or writes it its work, waits for
    the GIL between one pipe's worth and the next; the scan holds the GIL for tens of
    milliseconds at a time in its compiled steps (which never pause for another thread), so a
    1 MB answer through a 64 KiB pipe took some twenty such waits, and the helper could do
    nothing else until the last. Where the size cannot be set, it stays as it was.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    try:
        fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except (OSError, ValueError):
        pass  # not a pipe, or above the system's limit: as it was


def available() -> bool:
    """Whether :func:`start` may fork here (Linux, one thread, not switched off)."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1
            and os.environ.get(ENV_OFF, "") in ("", "0"))


class Forked(Generic[T]):
    """A child computing one value (see :func:`start`)."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self._fd = pid, fd
        self._done = False

    def take(self) -> T | None:
        """The child's result (waits for it), or None when the child failed in any way."""
        if self._done:
            return None
        chunks = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            self._close()
        # The child closed the pipe once its result was written whole (a child that failed
        # before wrote none, or a part that does not load): what it was told to compute is in,
        # and its exit (letting go of its memory: ~2 ms after a warm rescan's walk) is not
        # waited for here; it is reaped as soon as it is gone (see _reap).
        _reap(self.pid)
        if not chunks:
            return None
        try:
            ok, value = pickle.loads(b"".join(chunks))
        except Exception:  # noqa: BLE001 - an unreadable result is a failed speculation, never an error
            return None
        return value if ok else None

    def discard(self) -> None:
        """Stop the child (if still running) and reap it; its result is never read."""
        if self._done:
            return
        self._close()
        _kill_and_reap(self.pid)

    def _close(self) -> None:
        if not self._done:
            self._done = True
            os.close(self._fd)


def start(fn: Callable[[], T], *, nice: int = 10) -> Forked[T] | None:
    """``fn()`` computing in a forked child at ``nice`` lower priority (it is work ahead of need:
    the parent's own work comes first), or None when forking is not available here."""
    def child(write_fd: int) -> None:
        try:
            payload = pickle.dumps((True, fn()), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - the parent computes inline instead
            payload = pickle.dumps((False, None))
        _write_all(write_fd, payload)

    forked = _fork(child, nice)
    return None if forked is None else Forked(*forked)


class Stream(Generic[T]):
    """A child sending a sequence of values as it computes them (see :func:`stream`)."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self._fd = pid, fd
        self._done = False

    async def items(self) -> AsyncIterator[T]:
        """Each value as the child sends it, read on the running event loop without blocking it.

        Ends when the child is done, or at the first thing that goes wrong (the child failed or
        was killed, an unreadable value): the caller computes whatever did not come. Read once.
        """
        import asyncio  # here: a scan forks through this module and needs no event loop

        if self._done:
            return
        self._done = True
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 24)
        pipe = os.fdopen(self._fd, "rb", buffering=0)  # the transport closes it
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        try:
            while True:
                try:
                    head = await reader.readexactly(_HEAD)
                    value = pickle.loads(await reader.readexactly(int.from_bytes(head, "big")))
                except Exception:  # noqa: BLE001 - the end of the stream, or a failed child: the caller goes on
                    return
                yield value
        finally:
            transport.close()

    def close(self) -> None:
        """Stop the child (if still running) and reap it."""
        if not self._done:
            self._done = True
            os.close(self._fd)
        _kill_and_reap(self.pid)


_HEAD = 8  # bytes of length before each pickled value of a stream


def stream(gen: Callable[[], Iterable[T]], *, nice: int = 0) -> Stream[T] | None:
    """The values of ``gen()``, computed in a forked child at ``nice`` and sent one by one as
    each is ready (read them with :meth:`Stream.items`; :meth:`Stream.close` when done), or
    None when forking is not available here. A value the parent never reads costs only the
    child's time: the pipe's back-pressure holds the child when the parent falls behind."""
    def child(write_fd: int) -> None:
        for value in gen():
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(write_fd, len(payload).to_bytes(_HEAD, "big") + payload)

    forked = _fork(child, nice)
    return None if forked is None else Stream(*forked)


# Children whose result was taken and that had not exited yet: reaped by the next _reap, at the
# next fork, or at this process's exit (never left as zombies for long).
_EXITING: list[int] = []


def _reap(pid: int | None = None) -> None:
    """Reap ``pid`` if it has exited, else remember it; and every remembered child that has."""
    if pid is not None:
        _EXITING.append(pid)
    for waiting in list(_EXITING):
        try:
            done, _ = os.waitpid(waiting, os.WNOHANG)
        except ChildProcessError:
            done = waiting  # reaped elsewhere
        if done:
            _EXITING.remove(waiting)


@atexit.register
def _reap_all() -> None:
    """Wait for the children still exiting as this process ends."""
    while _EXITING:
        try:
            os.waitpid(_EXITING.pop(), 0)
        except ChildProcessError:
            pass


def _kill_and_reap(pid: int) -> None:
    """SIGKILL ``pid`` if it still runs, then reap it (no zombie left behind)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fork(child: Callable[[int], None], nice: int) -> tuple[int, int] | None:
    """Fork a child running ``child(write_fd)`` at ``nice``; (its pid, the read end) or None."""
    if not available():
        return None
    _reap()
    read_fd, write_fd = os.pipe()
    widen_pipe(read_fd)  # the child's result is written while the parent works (see widen_pipe)
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # the child: compute, send, and leave without running the parent's exit hooks
        code = 1
        try:
            os.close(read_fd)
            # What the parent had is shared copy-on-write: frozen, the child's collections skip
            # it and do not copy every page it lives on (freezing only relinks two list heads).
            gc.freeze()
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child quietly with the parent
            try:
                os.nice(nice)
            except OSError:
                pass
            child(write_fd)
            os.close(write_fd)  # the end of the result for the parent, before this process lets its memory go
            code = 0
        except BaseException:  # noqa: BLE001 - nothing may escape into the parent's code path
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd
