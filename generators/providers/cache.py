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
from collections.abc import Callable
from pathlib import Path

from generators import forked

from generators.providers.base import LLMRequest, LLMResponse

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


def settle_all() -> None:
    """Wait for every pending background write (run at exit: an entry is never left half-done)."""
    for root in list(_PENDING):
        ResponseCache(root).settle()


class ResponseCache:
    """A directory of cached answers. ``enabled=False`` (``--no-cache``) reads and writes nothing."""

    def __init__(self, root: str | Path = DEFAULT_DIR, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> LLMResponse | None:
        """The cached answer, or None (absent, disabled or unreadable: a miss, never an error)."""
        if not self.enabled:
            return None
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
        _PENDING.setdefault(self.root.resolve(), []).append((job, write))

    def settle(self) -> None:
        """Wait for this cache directory's background writes (:meth:`put_text_later`)."""
        for job, write in _PENDING.pop(self.root.resolve(), []):
            if job.take() is None:  # the child failed: the entry is written here
                try:
                    write()
                except OSError:
                    pass  # an entry that cannot be written is a miss next time, never an error

    def put(self, key: str, resp: LLMResponse) -> None:
        """Store ``resp`` atomically (a crash never leaves a torn entry)."""
        if not self.enabled:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"text": resp.text, "input_tokens": resp.input_tokens,
                                   "output_tokens": resp.output_tokens}), encoding="utf-8")
        os.replace(tmp, path)
