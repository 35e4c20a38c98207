"""Parsed command lines read as the scan's pool parses them (see ``scan._PoolParse``).

Apart from :mod:`inventory.scan` so that it is compiled (:mod:`inventory.compiled`): the
actions step reads a line through :class:`Awaited` for every command sighting (~30,000 at
2,000 services, on the cold scan's serial tail), and a call into interpreted code was a
microsecond of each.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Future
from typing import Any


def answers_into(future: Future, parsed: dict[str, bytes]) -> bool:
    """Add a parse task's readings to ``parsed``, keeping any it has; False when its worker died."""
    try:
        lines = future.result()
    except BrokenExecutor:
        return False
    for text, line in lines.items():
        parsed.setdefault(text, line)
    return True


class Awaited(dict):  # type: ignore[type-arg]
    """Parsed command lines (``CommandLine`` rows by text, as ``parsed`` holds them) while the
    pool's tasks still answer: :meth:`get` of a text not here yet waits for the next task,
    in the order they were handed out, until it is (or none is left). The tasks hold the
    lines of the files in path order, the order the actions step reads them in, so it starts
    on the first while the pool parses the last (rather than waiting for all of them)."""

    # Every this many reads, whether the last task is done (then all are taken at once, and
    # ``done`` called: the pool's workers need not outlive their work).
    CHECK_EVERY = 512

    def __init__(self, parsed: dict[str, bytes], futures: list[Future], done: Callable[[], None] | None = None) -> None:
        super().__init__(parsed)
        self._futures = deque(futures)
        self._done = done
        self._reads = 0
        if not self._futures:
            self._finished()

    def __bool__(self) -> bool:
        return bool(self._futures) or len(self) > 0

    def get(self, text: str, default: Any = None) -> Any:  # type: ignore[override]
        line = dict.get(self, text)
        if self._futures:
            self._reads += 1
            if self._reads % self.CHECK_EVERY == 0 and self._futures[-1].done():
                while self._futures:
                    self._take(self._futures.popleft())
                line = dict.get(self, text)
            while line is None and self._futures:
                self._take(self._futures.popleft())
                line = dict.get(self, text)
        return default if line is None else line

    def _take(self, future: Future) -> None:
        if not answers_into(future, self):  # no more answers: the rest is parsed by the builder
            self._futures.clear()
        if not self._futures:
            self._finished()

    def _finished(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done()
