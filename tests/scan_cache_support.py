"""Shared by the scan-cache tests: an example tree aged an hour, a settle window of zero, and a
count of the model objects an inventory holds."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

import inventory.scan as scan_mod

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
HOUR_AGO = time.time() - 3600


def old_example_tree(tmp_path: Path) -> Path:
    """A copy of the example repo whose files were all last modified an hour ago."""
    root = tmp_path / "acme-platform"
    shutil.copytree(EXAMPLE, root)
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (HOUR_AGO, HOUR_AGO))
    return root


@pytest.fixture
def no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust a file's stat or a directory's listing as soon as its last change is older than
    the scan's reading of it.

    A test cannot age an inode change time (copying and utime() set it to now), so the real
    two-second window would make everything here too fresh to trust (that window has its own
    tests).
    """
    monkeypatch.setattr(scan_mod, "_SETTLE_NS", 0)


def count_models(obj: object) -> int:
    """How many model objects ``obj`` holds, itself included."""
    if isinstance(obj, list):
        return sum(count_models(x) for x in obj)
    if isinstance(obj, BaseModel):
        return 1 + sum(count_models(v) for v in obj.__dict__.values())
    return 0


class CallLog:
    """What was done (one line per item, e.g. a path opened), as a list that also sees what
    processes forked from this one did: a warm rescan walks in a forked child. Each item is
    one short append to a file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.log.write_text("")

    def add(self, item: str) -> None:
        """Record ``item`` (from this process or a forked child)."""
        with open(self.log, "a") as fh:
            fh.write(f"{item}\n")

    def _items(self) -> list[str]:
        return self.log.read_text().splitlines()

    def clear(self) -> None:
        self.log.write_text("")

    def __eq__(self, other: object) -> bool:
        return self._items() == other

    def __len__(self) -> int:
        return len(self._items())

    def __contains__(self, item: object) -> bool:
        return item in self._items()

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._items())

    def __repr__(self) -> str:
        return repr(self._items())
