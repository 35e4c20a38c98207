"""The hook's side of the warm classifier: find, ask and start a :mod:`generators.hook_server`.

Importing the full classifier costs ~400 ms, far over the hook's 150 ms budget, so one
background process per exported hook state keeps it loaded and answers over a UNIX socket.
This module runs inside every hook call and imports only the standard library.

Trust: the socket lives in a directory owned by the user and closed to everyone else
(``$XDG_RUNTIME_DIR/stackpolicy`` or ``/tmp/stackpolicy-<uid>``, mode 0700); a directory that
is not ours or is open to others is refused. The socket name is derived from the state
file's absolute path and the SHA-256 of its bytes, the server must be run by our own uid
(``SO_PEERCRED`` where available) and must echo that hash and the command in its reply.
Anything else (no server, timeout, a malformed or foreign reply) returns ``None``, and the
caller classifies in-process: a server can only ever make the hook faster, never change
what it answers.

Decision cache: answers are also kept on disk beside the socket (``<state hash>.cache/``, one
small file per line, named by the SHA-256 of the line; the line itself is not stored), so the
first call of the next session is answered with one ``open()``, before any server is up.
Lines the classifier finds a secret in are never cached. The state's hash is memoised by the
state file's inode, size, mtime and ctime, so a call does not read and hash a large state.
The server stamps the cache with its code (``code`` file) and empties it when that changes.

Environment: ``STACKPOLICY_HOOK_SERVER=off`` never uses or starts a server;
``STACKPOLICY_HOOK_SOCKET_DIR`` overrides the socket directory (tests, benchmarks);
``STACKPOLICY_HOOK_IDLE`` is the server's idle timeout in seconds (default 900).
"""

from __future__ import annotations

import os
import stat
import sys
import time

# SHA-256 from CPython's own small module: `hashlib` loads OpenSSL's libcrypto (4-13 ms a call).
try:
    from _sha256 import sha256 as _sha256  # Python <= 3.11
except ImportError:  # pragma: no cover - other Pythons
    try:
        from _sha2 import sha256 as _sha256  # Python >= 3.12
    except ImportError:
        from hashlib import sha256 as _sha256

# JSON through CPython's C codec directly: the `json` package imports `re` (and `enum`), which
# costs a hook call more than everything it does with JSON. Same output as `json.dumps`.
try:
    import _json

    class _DecodeContext:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        memo: dict[str, str] = {}

        @staticmethod
        def parse_constant(name: str) -> float:
            raise ValueError(f"not JSON: {name}")

    _scan = _json.make_scanner(_DecodeContext())

    def _no_default(obj: object) -> object:
        raise TypeError(f"not JSON serializable: {type(obj).__name__}")

    _encode = _json.make_encoder(None, _no_default, _json.encode_basestring_ascii, None, ": ", ", ",
                                 False, False, True)

    def json_loads(data: str | bytes) -> object:
        """``json.loads`` for the hook's own small documents (``ValueError`` when malformed)."""
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        text = text.strip(" \t\n\r")
        try:
            obj, end = _scan(text, 0)
        except StopIteration as exc:
            raise ValueError(f"malformed JSON at {exc.value}") from None
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if end != len(text):
            raise ValueError(f"extra data after JSON at {end}")
        return obj

    def json_dumps(obj: object) -> str:
        """``json.dumps(obj)`` (ASCII, default separators)."""
        return "".join(_encode(obj, 0))
except (ImportError, AttributeError, TypeError):  # pragma: no cover - Pythons without the C codec
    import json as _json_module

    json_loads = _json_module.loads
    json_dumps = _json_module.dumps

# Only CPython's C `_socket` (the `socket` package imports `enum`, ~3 ms): a table hit with no
# server up never needs it at all.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

# A listening server answers a new line in a few ms (a table or cache hit in well under one);
# the slow path costs a full classifier import (0.4 s idle, 1-2 s on a loaded machine). So a
# server that is slow to reply is still worth waiting for, up to about what the slow path costs.
CLIENT_TIMEOUT = 1.0
# A server that is loading (started by SessionStart or an earlier call) began before this call
# and is ready sooner than this process could import the classifier itself.
LOADING_WAIT = 3.0
# Decision cache: longer lines are not cached (rare; they go to the server), nor more entries.
CACHE_MAX_COMMAND = 8192
CACHE_MAX_ENTRIES = 50_000
DEFAULT_IDLE = 900.0
# SessionStart (`--warm`) waits for the server to listen, so the session's first call is answered
# warm; bounded well below the exported SessionStart timeout (10 s): a session always starts.
DEFAULT_WARM_WAIT = 5.0
MAX_WARM_WAIT = 8.0
MAX_REPLY = 1 << 20
DECISIONS = frozenset({"allow", "ask", "deny"})


def state_hash(raw: bytes) -> str:
    """The identity of one hook state: the SHA-256 of the file's bytes."""
    return _sha256(raw).hexdigest()


def enabled() -> bool:
    """Whether the warm server may be used (``STACKPOLICY_HOOK_SERVER=off`` turns it off)."""
    return os.environ.get("STACKPOLICY_HOOK_SERVER", "on").strip().lower() not in {"off", "0", "no", "false"}


def idle_timeout() -> float:
    """The server's idle timeout in seconds (``STACKPOLICY_HOOK_IDLE``, default 15 minutes)."""
    try:
        value = float(os.environ.get("STACKPOLICY_HOOK_IDLE", DEFAULT_IDLE))
    except ValueError:
        return DEFAULT_IDLE
    return value if value > 0 else DEFAULT_IDLE


def _candidate_dir() -> str:
    override = os.environ.get("STACKPOLICY_HOOK_SOCKET_DIR")
    if override:
        return override
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "stackpolicy")
    return os.path.join("/tmp", f"stackpolicy-{os.getuid()}")


def private_dir(path: str) -> bool:
    """``path`` is a real directory (not a symlink), owned by us, and closed to group and others."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def socket_dir(create: bool = False) -> str | None:
    """The private socket directory, created 0700 when ``create``; ``None`` if it is not safe."""
    path = _candidate_dir()
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
    return path if private_dir(path) else None


def socket_path(directory: str, state_path: str, digest: str) -> str:
    """The socket of the server for this state file with these exact bytes."""
    key = _sha256(f"{os.path.abspath(state_path)}\0{digest}".encode()).hexdigest()[:32]
    return os.path.join(directory, f"{key}.sock")


def state_digest(state_path: str, directory: str | None) -> tuple[str, bytes | None]:
    """``(hash, bytes or None)`` of the state file, the hash memoised in ``directory``.

    The memo (``<key>.stat``) holds the file's inode, size, mtime and ctime with the hash; when
    the file still matches, its bytes are not read (``None``). Any rewrite (``export`` writes a
    new file) changes the inode or ctime, which no user-level call can set back.
    """
    st = os.stat(state_path)
    sig = f"{st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"
    memo = None
    if directory is not None:
        key = _sha256(os.path.abspath(state_path).encode()).hexdigest()[:32]
        memo = os.path.join(directory, f"{key}.stat")
        try:
            with open(memo, encoding="ascii") as fh:
                old_sig, _, digest = fh.read().rpartition(" ")
            if old_sig == sig and len(digest) == 64:
                return digest, None
        except (OSError, ValueError):
            pass
    with open(state_path, "rb") as fh:
        raw = fh.read()
    digest = state_hash(raw)
    if memo is not None and sig == _stat_sig(state_path):  # unchanged while we read it
        _write_atomic(memo, f"{sig} {digest}".encode())
    return digest, raw


def _stat_sig(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def _write_atomic(path: str, data: bytes) -> bool:
    """Write ``data`` to ``path`` via a private temporary file and a rename (best effort)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def cache_dir(directory: str, digest: str) -> str:
    """The decision cache of one state (by its hash) inside the private socket directory."""
    return os.path.join(directory, f"{digest[:32]}.cache")


def _line_key(command: str) -> str:
    return _sha256(command.encode("utf-8", "surrogatepass")).hexdigest()


def cache_get(directory: str, digest: str, command: str) -> tuple[str, str] | None:
    """The cached ``(decision, reason)`` for ``command`` under this state, or ``None``."""
    if len(command) > CACHE_MAX_COMMAND:
        return None
    key = _line_key(command)
    try:
        with open(os.path.join(cache_dir(directory, digest), key[:40]), "rb") as fh:
            rec = json_loads(fh.read(MAX_REPLY))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("line") != key or rec.get("state") != digest:
        return None  # a collision of the short name, or a file from elsewhere: never trust it
    decision, reason = rec.get("decision"), rec.get("reason")
    if decision not in DECISIONS or not isinstance(reason, str):
        return None
    return decision, reason


def cache_put(directory: str, digest: str, command: str, decision: str, reason: str) -> bool:
    """Keep one answer (callers have checked the line holds no secret). Best effort."""
    if len(command) > CACHE_MAX_COMMAND or decision not in DECISIONS:
        return False
    d = cache_dir(directory, digest)
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    if not private_dir(d):
        return False
    key = _line_key(command)
    rec = {"line": key, "state": digest, "decision": decision, "reason": reason}
    return _write_atomic(os.path.join(d, key[:40]), json_dumps(rec).encode())


# -- The exported verdict table ------------------------------------------------------------
#
# `stackpolicy export` writes the classifier's verdicts on the policy's own commands beside the
# state (``hook-state.table``), one sorted line per command: the SHA-256 of the line, the
# decision and the reason (JSON). Its header names the SHA-256 of the state file it was written
# with, so a table that does not belong to the state's exact bytes (a half-finished export, a
# copy) is never read. A known line is then one read and one substring search: no JSON of the
# state to parse, no server, no socket directory.

TABLE_MAGIC = "stackpolicy-hook-table 1"


def table_path(state_path: str) -> str:
    """Where the verdict table of ``state_path`` lives (``x.json`` -> ``x.table``)."""
    base = state_path[:-5] if state_path.endswith(".json") else state_path
    return base + ".table"


def table_text(state_digest: str, table: dict[str, dict[str, str]]) -> str:
    """The verdict table file for a state whose bytes hash to ``state_digest`` (deterministic)."""
    rows = []
    for command, verdict in table.items():
        decision, reason = verdict.get("decision"), verdict.get("reason")
        if decision in DECISIONS and isinstance(reason, str):
            rows.append(f"{_line_key(command)} {decision} {json_dumps(reason)}")
    return "\n".join([f"{TABLE_MAGIC} {state_digest}", *sorted(rows)]) + "\n"


def table_ok(state_path: str, digest: str) -> bool:
    """A verdict table for these exact state bytes lies beside the state."""
    try:
        with open(table_path(state_path), "rb") as fh:
            head = fh.readline(200)
    except OSError:
        return False
    return head.rstrip(b"\n") == f"{TABLE_MAGIC} {digest}".encode()


def table_get(state_path: str, digest: str, command: str) -> tuple[str, str] | None:
    """The exported verdict on ``command`` if the table beside ``state_path`` belongs to ``digest``."""
    try:
        with open(table_path(state_path), "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    head, _, _ = data.partition(b"\n")
    if head != f"{TABLE_MAGIC} {digest}".encode():
        return None  # another state's table (or none at all): never trust it
    key = _line_key(command).encode()
    at = data.find(b"\n" + key + b" ")
    if at < 0:
        return None
    end = data.find(b"\n", at + 1)
    row = data[at + 1:end if end >= 0 else len(data)].decode("ascii", "replace")
    try:
        _key, decision, reason_json = row.split(" ", 2)
        reason = json_loads(reason_json)
    except ValueError:
        return None
    if decision not in DECISIONS or not isinstance(reason, str):
        return None
    return decision, reason


def _peer_is_us(sock: _socket.socket) -> bool:
    """The process at the other end runs as our uid (Linux ``SO_PEERCRED``; elsewhere the 0700 dir)."""
    import _socket

    opt = getattr(_socket, "SO_PEERCRED", None)
    if opt is None:
        return True
    cred = sock.getsockopt(_socket.SOL_SOCKET, opt, 12)  # struct ucred: pid, uid, gid (3 C ints)
    return int.from_bytes(cred[4:8], sys.byteorder, signed=True) == os.getuid()


def query(sock_path: str, digest: str, command: str, timeout: float = CLIENT_TIMEOUT) -> tuple[str, str] | None:
    """Ask the server at ``sock_path``: ``(decision, reason)``, or ``None`` for any failure."""
    import _socket

    deadline = time.monotonic() + timeout
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sock_path)
            if not _peer_is_us(sock):
                return None
            sock.sendall(json_dumps({"command": command, "state": digest}).encode() + b"\n")
            buf = b""
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or len(buf) > MAX_REPLY:
                    return None
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            sock.close()
        reply = json_loads(buf.split(b"\n", 1)[0])
    except (OSError, ValueError):
        return None
    if not isinstance(reply, dict) or reply.get("state") != digest or reply.get("command") != command:
        return None  # a stale or foreign server: never trust its answer
    decision, reason = reply.get("decision"), reply.get("reason")
    if decision not in DECISIONS or not isinstance(reason, str):
        return None
    return decision, reason


def running(sock_path: str) -> bool:
    """A server holds the lock of ``sock_path`` (it is up, or loading the classifier)."""
    import fcntl

    try:
        fd = os.open(sock_path + ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops our probe lock, if we got it
    return False


def wait_loading(sock_path: str, limit: float = LOADING_WAIT) -> bool:
    """Wait for a server that is still loading the classifier (it holds the lock, has no socket yet).

    Started by an earlier call (a table hit, ``--warm``), it is ready sooner than this process
    could import the classifier itself. ``True`` once its socket is there; ``False`` at once
    if no server is loading (none runs, or it already listens and simply did not answer).
    """
    if os.path.exists(sock_path):
        return False
    deadline = time.monotonic() + limit
    while not os.path.exists(sock_path):
        if not running(sock_path) or time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def ensure(state_path: str, digest: str) -> int | None:
    """Start a server for this state unless one runs (or the server is off, or the dir unsafe).

    The pid of the server it started, else ``None``.
    """
    try:
        if not enabled():
            return None
        directory = socket_dir(create=True)
        if directory is None:
            return None
        sock = socket_path(directory, state_path, digest)
        if not running(sock):
            return spawn(state_path, digest, sock)
    except Exception:  # noqa: BLE001 - the server is an optimisation: starting it must never cost the answer
        return None
    return None


def warm_wait() -> float:
    """How long ``--warm`` (SessionStart) waits for the server to listen (``STACKPOLICY_HOOK_WARM_WAIT``)."""
    try:
        value = float(os.environ.get("STACKPOLICY_HOOK_WARM_WAIT", DEFAULT_WARM_WAIT))
    except ValueError:
        return DEFAULT_WARM_WAIT
    return min(max(value, 0.0), MAX_WARM_WAIT)


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another uid would be EPERM; ours never is)
    return True


def wait_ready(sock_path: str, pid: int | None, limit: float) -> bool:
    """Wait until the server for ``sock_path`` listens: ``True`` once its socket is there.

    ``False`` at the ``limit``, or as soon as no server is starting (the one started, ``pid``, has
    exited, and no other holds the lock): a failed start is not waited for.
    """
    deadline = time.monotonic() + limit
    while not os.path.exists(sock_path):
        if time.monotonic() >= deadline or not (_alive(pid) or running(sock_path)):
            return False
        time.sleep(0.005)
    return True


def spawn(state_path: str, digest: str, sock_path: str, idle: float | None = None) -> int | None:
    """Start a detached server for this state: its pid (best effort: ``None`` when it could not).

    A double fork with a new session: the server outlives the hook call, is not its child
    (no zombie, no signal from Claude Code's process group) and has /dev/null for stdio.
    """
    # `-m generators.hook_server` must import from where this copy of stackpolicy lives.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [sys.executable, "-m", "generators.hook_server", os.path.abspath(state_path),
            "--hash", digest, "--socket", sock_path, "--idle", str(idle if idle is not None else idle_timeout())]
    try:
        # The middle process sends the server's pid; the pipe (close-on-exec) reaches EOF once
        # the server has exec'd, so a caller never sees a half-started fork of itself.
        rfd, wfd = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(rfd)
        os.close(wfd)
        return None
    if pid:
        os.close(wfd)
        data = b""
        try:
            os.waitpid(pid, 0)  # the middle process exits at once
            while chunk := os.read(rfd, 64):
                data += chunk
        except OSError:
            pass
        finally:
            os.close(rfd)
        return int(data) if data.strip().isdigit() else None
    try:  # the middle process: new session, fork the server, report its pid, leave
        os.close(rfd)
        os.setsid()
        server = os.fork()
        if server:
            os.write(wfd, str(server).encode())
            os._exit(0)
        os.chdir(root)
        # Take the server's lock before exec: from the moment this call returns, `running()`
        # is true, so a hook call right after a SessionStart never starts a second server
        # while the first is still importing. The exec'd server keeps the locked descriptor.
        import fcntl

        lock_fd = os.open(sock_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os._exit(0)  # another server holds it
        os.set_inheritable(lock_fd, True)
        argv += ["--lock-fd", str(lock_fd)]
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.execv(sys.executable, argv)
    finally:
        os._exit(0)  # never return into the hook's own code from a forked child
