"""Response cache: an unchanged prompt regenerates with zero API calls.

Keyed by provider, model, the rendered prompt (system + user) and the schema, so any change
to the inventory slice, the templates or the schema misses. Entries live under
``.stackpolicy/cache/llm/`` (gitignored) as one JSON file each. Only validated answers are
stored, and prompts are built from the redacted inventory, so nothing secret lands here.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from generators.providers.base import LLMRequest, LLMResponse
from inventory import forked

DEFAULT_DIR = Path(".stackpolicy") / "cache" / "llm"


def cache_key(provider: str, model: str, req: LLMRequest) -> str:
    """sha256 of everything that determines the answer."""
    h = hashlib.sha256()
    for part in (provider, model, req.system, req.prompt, req.schema_name, _schema_digest(req.schema), str(req.temperature)):
        h.update(part.encode())
        h.update(b"\0")  # separator: ("ab", "c") and ("a", "bc") must differ
    return h.hexdigest()


_SCHEMA_DIGESTS: dict[int, tuple[dict, str]] = {}


def _schema_digest(schema: dict) -> str:
    """sha256 of a schema, memoised per schema object (one run renders thousands of prompts with two schemas)."""
    hit = _SCHEMA_DIGESTS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
    _SCHEMA_DIGESTS[id(schema)] = (schema, digest)
    return digest


# Background writes not yet waited for, per cache directory: (the child, the inline write).
_PENDING: dict[Path, list[tuple[forked.Forked[bool], Callable[[], bool]]]] = {}
_AT_EXIT: list[object] = []  # settle_all registered (once)
_OWNER: list[int] = []  # the pid that started the pending writes


def settle_all() -> None:
    """Wait for every pending background write (run at exit: an entry is never left half-done)."""
    for root in list(_PENDING):
        ResponseCache(root).settle()


def _owned_here() -> bool:
    """Whether this process started the pending writes (a process forked from it inherits the
    list, not the children: it leaves them to their parent)."""
    if _OWNER and _OWNER[0] != os.getpid():
        _PENDING.clear()
        return False
    return True


class ResponseCache:
    """A directory of cached answers. ``enabled=False`` (``--no-cache``) reads and writes nothing."""

    def __init__(self, root: str | Path = DEFAULT_DIR, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled
        # While :meth:`writing_behind` is active: entries handed to the writer thread, not yet on disk.
        self._behind: queue.SimpleQueue[tuple[str, LLMResponse] | None] | None = None
        self._pending: dict[str, LLMResponse] = {}
        self._failed: list[BaseException] = []

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> LLMResponse | None:
        """The cached answer, or None (absent, disabled or unreadable: a miss, never an error)."""
        if not self.enabled:
            return None
        pending = self._pending.get(key)
        if pending is not None:
            return LLMResponse(text=pending.text, input_tokens=pending.input_tokens,
                               output_tokens=pending.output_tokens, attempts=0)
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            return LLMResponse(text=data["text"], input_tokens=int(data.get("input_tokens", 0)),
                               output_tokens=int(data.get("output_tokens", 0)), attempts=0)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def get_text(self, key: str) -> str | None:
        """A stored text entry (see :meth:`put_text`), or None (absent, disabled or unreadable).
        Entries still being written in the background (:meth:`put_text_later`) are waited for."""
        if not self.enabled:
            return None
        self.settle()
        try:
            return self._path(key).with_suffix(".txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put_text(self, key: str, text: str) -> None:
        """Store a text entry atomically (the LLM refiner's finished documents). Like answers,
        they are built from the redacted inventory, so nothing secret lands here."""
        if not self.enabled:
            return
        path = self._path(key).with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def put_text_later(self, key: str, make_text: Callable[[], str]) -> None:
        """:meth:`put_text` of ``make_text()``, computed and written in a forked child while the
        caller goes on (serialising a large estate's documents takes about a second, which the
        run need not wait for). Where forking is not available, or the child fails, the entry is
        written here instead (at once, or when :meth:`settle` finds the child failed). Reading
        an entry, and the process's exit, wait for pending writes first."""
        if not self.enabled:
            return

        def write() -> bool:
            self.put_text(key, make_text())
            return True

        job = forked.start(write)
        if job is None:
            write()
            return
        if not _AT_EXIT:
            _AT_EXIT.append(atexit.register(settle_all))
        _OWNER[:] = [os.getpid()]
        _PENDING.setdefault(self.root.resolve(), []).append((job, write))

    def settle(self) -> None:
        """Wait for this cache directory's background writes (:meth:`put_text_later`)."""
        if not _owned_here():
            return
        for job, write in _PENDING.pop(self.root.resolve(), []):
            if job.take() is None:  # the child failed: the entry is written here
                try:
                    write()
                except OSError:
                    pass  # an entry that cannot be written is a miss next time, never an error

    @contextmanager
    def writing_behind(self) -> Iterator[None]:
        """While inside, :meth:`put` hands entries to a writer thread (the event loop that reads
        the answers does not wait on the disk: thousands of small files); :meth:`get` sees them
        at once. Leaving waits for every entry to be written, and raises the first write error
        as :meth:`put` would have. No process may be forked meanwhile (a thread runs)."""
        if not self.enabled or self._behind is not None:
            yield
            return
        self._behind = queue.SimpleQueue()
        self._failed = []
        writer = threading.Thread(target=self._write_behind, args=(self._behind,), name="llm-cache-writer",
                                  daemon=True)
        writer.start()
        try:
            yield
        finally:
            self._behind.put(None)
            writer.join()
            self._behind = None
            self._pending.clear()
        if self._failed:
            raise self._failed[0]

    def _write_behind(self, entries: queue.SimpleQueue[tuple[str, LLMResponse] | None]) -> None:
        while (item := entries.get()) is not None:
            key, resp = item
            try:
                if not self._failed:
                    self._write(key, resp)
            except BaseException as exc:  # noqa: BLE001 - raised again when the writer is left
                self._failed.append(exc)
            finally:
                if self._pending.get(key) is resp:  # a later put of the same key stays pending
                    del self._pending[key]

    def put(self, key: str, resp: LLMResponse) -> None:
        """Store ``resp`` atomically (a crash never leaves a torn entry)."""
        if not self.enabled:
            return
        if self._behind is not None:
            self._pending[key] = resp
            self._behind.put((key, resp))
            return
        self._write(key, resp)

    def _write(self, key: str, resp: LLMResponse) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"text": resp.text, "input_tokens": resp.input_tokens,
                                   "output_tokens": resp.output_tokens}), encoding="utf-8")
        os.replace(tmp, path)
