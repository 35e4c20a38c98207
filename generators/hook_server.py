"""The warm classifier behind the hook: ``python -m generators.hook_server STATE --hash H --socket S``.

Started detached by :func:`generators.hook_client.spawn` on the first hook call that misses
the precomputed table. It loads the full classifier once, then answers one JSON line per
connection on a UNIX socket: ``{"command", "state"}`` in, ``{"command", "state",
"decision", "reason"}`` out. It only classifies: it never runs a command.

It exits when idle for ``--idle`` seconds, when the state file's bytes change (the next hook
call starts a fresh server for the new state), or when another server already holds the
socket's lock. Its pid is in ``<socket>.lock`` while it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import IO

from generators import hook_client

# How often the state file is checked for changes while no call arrives.
CHECK_INTERVAL = 1.0
MAX_REQUEST = 1 << 20
REQUEST_TIMEOUT = 1.0


def _file_key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _read_request(conn: socket.socket) -> dict[str, object] | None:
    buf = b""
    while b"\n" not in buf and len(buf) <= MAX_REQUEST:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
    try:
        req = json.loads(buf.split(b"\n", 1)[0])
    except ValueError:
        return None
    return req if isinstance(req, dict) else None


# Lines that make the classifier load what it otherwise loads lazily on first use (wrapper
# and compound parsing; detect-secrets' token plugins, ~400 ms, which redaction imports
# only when a line looks like it holds a token). Paid once at startup, not by a hook call
# that would then miss its 100 ms and fall back to the slow path.
WARM_UP = (
    "sudo bash -c 'kubectl -n default get pods' && echo done",
    "curl -H 'Authorization: Bearer ghp_000000000000000000000000000000000000' https://example.invalid",
    "export AWS_ACCESS_KEY_ID=AKIA0000000000000000 SLACK=xoxb-0 STRIPE=sk_live_0 JWT=eyJ0",
)


def warm_up(classify: Callable[[str], tuple[str, str]]) -> None:
    """Classify :data:`WARM_UP` and discard the answers (errors surface on real calls)."""
    for line in WARM_UP:
        with contextlib.suppress(Exception):
            classify(line)


def code_stamp() -> str:
    """Which classifier code answers: the version and every module's path, size and mtime.

    Stored in the decision cache; a server of other code empties the cache it finds (an
    upgrade, or an edit of an editable install, may change answers on unchanged states).
    """
    from generators import __version__

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = []
    for top in ("generators", "inventory"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".py", ".yaml", ".json")):
                    with contextlib.suppress(OSError):
                        st = os.stat(os.path.join(dirpath, name))
                        files.append(f"{os.path.relpath(os.path.join(dirpath, name), root)} {st.st_size} {st.st_mtime_ns}")
    return hook_client.state_hash("\n".join([__version__, *files]).encode())


class DecisionCache:
    """The on-disk decision cache of one state (see :mod:`generators.hook_client`), as the server fills it."""

    def __init__(self, directory: str, digest: str, stamp: str) -> None:
        self.directory, self.digest = directory, digest
        path = hook_client.cache_dir(directory, digest)
        self.entries = 0
        self.usable = False
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return
        if not hook_client.private_dir(path):
            return
        stamp_path = os.path.join(path, "code")
        try:
            with open(stamp_path, encoding="ascii") as fh:
                old = fh.read().strip()
        except OSError:
            old = ""
        names = [n for n in os.listdir(path) if n != "code"]
        if old != stamp:  # answers of other code: drop them before anyone reads them again
            for name in names:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(path, name))
            names = []
            if not hook_client._write_atomic(stamp_path, stamp.encode()):
                return
        self.entries = len(names)
        self.usable = True

    def put(self, command: str, decision: str, reason: str) -> None:
        """Keep one answer while the cache is under its size bound."""
        if self.usable and self.entries < hook_client.CACHE_MAX_ENTRIES:
            if hook_client.cache_put(self.directory, self.digest, command, decision, reason):
                self.entries += 1

    def prefill(self, table: dict[str, dict[str, str]]) -> None:
        """The exported table's verdicts, so a later call with no server up skips parsing the state."""
        for command, verdict in table.items():
            if hook_client.cache_get(self.directory, self.digest, command) is None:
                self.put(command, verdict.get("decision", ""), verdict.get("reason", ""))


class Server:
    """One state file's classifier behind one socket."""

    def __init__(self, state_path: str, digest: str, sock_path: str, idle: float,
                 classify: Callable[[str], tuple[str, str]]) -> None:
        self.state_path, self.digest, self.sock_path, self.idle = state_path, digest, sock_path, idle
        self.classify = classify
        self.key = _file_key(state_path)

    def state_changed(self) -> bool:
        """The state file is gone or its bytes no longer hash to ours."""
        key = _file_key(self.state_path)
        if key == self.key:
            return False
        try:
            with open(self.state_path, "rb") as fh:
                changed = hook_client.state_hash(fh.read()) != self.digest
        except OSError:
            return True
        self.key = key
        return changed

    def answer(self, req: dict[str, object] | None) -> dict[str, object]:
        """The reply to one request; an error reply makes the client classify in-process."""
        command = (req or {}).get("command")
        if not isinstance(command, str) or (req or {}).get("state") != self.digest:
            return {"state": self.digest, "error": "bad request"}
        try:
            decision, reason = self.classify(command)
        except Exception as exc:  # the client falls back to the slow path, which reports it
            return {"state": self.digest, "command": command, "error": f"{exc.__class__.__name__}: {exc}"}
        return {"state": self.digest, "command": command, "decision": decision, "reason": reason}

    def serve(self, listener: socket.socket) -> None:
        """Answer until idle for ``self.idle`` seconds or the state changes."""
        last = time.monotonic()
        while True:
            left = self.idle - (time.monotonic() - last)
            if left <= 0 or self.state_changed():
                return
            listener.settimeout(min(left, CHECK_INTERVAL))
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(REQUEST_TIMEOUT)
                    if hook_client._peer_is_us(conn):
                        reply = self.answer(_read_request(conn))
                        conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    pass  # a client that gave up; it has its answer from the slow path
            last = time.monotonic()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


@contextlib.contextmanager
def _lock(sock_path: str, fd: int | None = None) -> Iterator[IO[str] | None]:
    """The lock that makes one server per socket; ``None`` when another server holds it.

    ``fd``: the lock file, already locked by :func:`generators.hook_client.spawn` before exec.
    """
    if fd is not None:
        try:
            fh = open(fd, "r+", encoding="ascii", closefd=True)  # noqa: SIM115 (held for the server's life)
            same = os.fstat(fd)[1:3] == os.stat(sock_path + ".lock")[1:3]  # (inode, device)
        except OSError:
            yield None
            return
        try:
            if same:  # ours already: a no-op, which fails if the descriptor is not the locked one
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            same = False
        if not same:
            fh.close()
            yield None
            return
    else:
        fh = open(sock_path + ".lock", "a+", encoding="ascii")  # noqa: SIM115 (held for the server's life)
    try:
        if fd is None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield None
                return
        fh.truncate(0)
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield fh
        finally:
            fh.truncate(0)
    finally:
        fh.close()


def run(state_path: str, digest: str, sock_path: str, idle: float, lock_fd: int | None = None) -> int:
    """Load the classifier for ``state_path`` (whose bytes must hash to ``digest``) and serve."""
    directory = os.path.dirname(sock_path)
    if not hook_client.private_dir(directory):
        return 2
    # A plain `kill` still removes the socket and clears the lock file (the finally blocks run).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with _lock(sock_path, lock_fd) as held:
        if held is None:
            return 0
        with open(state_path, "rb") as fh:
            raw = fh.read()
        if hook_client.state_hash(raw) != digest:
            return 0  # the state changed since the hook looked; the next call starts the right server
        from generators.hook import STATE_VERSION, build_classifier, lookup

        state = json.loads(raw)
        if state.get("version") != STATE_VERSION:
            return 0  # the hook answers `ask` for a state from another version; nothing to serve
        # Before the classifier loads (the slow part): the table's verdicts go to the decision
        # cache, so calls arriving while it loads are answered from disk.
        cache = DecisionCache(directory, digest, code_stamp())
        if isinstance(state.get("table"), dict) and not hook_client.table_ok(state_path, digest):
            cache.prefill(state["table"])  # a state exported without its verdict table
        serving: list[bool] = []  # the warm-up lines are not cached, only real calls

        def keep(command: str, decision: str, reason: str) -> None:
            if serving:
                cache.put(command, decision, reason)

        # Pydantic's plugin discovery scans every installed distribution's entry points at the
        # first model; the classifier uses no plugin, and the scan delays the first answer.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        full = build_classifier(state, keep)
        warm_up(full)
        serving.append(True)

        def classify(command: str) -> tuple[str, str]:
            # The same order as the hook: the exported table first, then the classifier.
            return lookup(state, command) or full(command)

        server = Server(state_path, digest, sock_path, idle, classify)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sock_path)  # a dead server's socket: we hold the lock, so nobody else uses it
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            # Bound and listening under a temporary name, then renamed: a client that sees the
            # socket can connect at once (no refused connection between bind and listen).
            tmp = f"{sock_path}.{os.getpid()}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            listener.bind(tmp)
            os.chmod(tmp, 0o600)
            listener.listen(16)
            os.replace(tmp, sock_path)
            try:
                server.serve(listener)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(sock_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (run by :func:`generators.hook_client.spawn`)."""
    ap = argparse.ArgumentParser(prog="python -m generators.hook_server", description=__doc__)
    ap.add_argument("state", help="absolute path of hook-state.json")
    ap.add_argument("--hash", required=True, help="SHA-256 of the state file's bytes")
    ap.add_argument("--socket", required=True, help="the UNIX socket to listen on")
    ap.add_argument("--idle", type=float, default=hook_client.DEFAULT_IDLE, help="exit after this many idle seconds")
    ap.add_argument("--lock-fd", type=int, default=None, help="the socket's lock file, locked by the spawner")
    args = ap.parse_args(argv)
    return run(args.state, args.hash, args.socket, args.idle, args.lock_fd)


if __name__ == "__main__":
    raise SystemExit(main())
