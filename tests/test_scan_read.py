"""How the streamed scan reads a file (``scan._read_regular``): all of it, whatever its stat
said its size was, and nothing that is not a regular file within the size limit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import inventory.scan as scan_mod
from inventory.scan import _read_regular


def _stat_saying(monkeypatch: pytest.MonkeyPatch, size: int) -> list[int]:
    """Make fstat report ``size`` bytes (as it would have before the file grew or shrank);
    the sizes asked of os.read are recorded."""
    real_fstat, real_read = os.fstat, os.read
    asked: list[int] = []

    class Stat:
        def __init__(self, st: os.stat_result) -> None:
            self._st = st

        def __getattr__(self, name: str) -> Any:
            return size if name == "st_size" else getattr(self._st, name)

    def read(fd: int, n: int) -> bytes:
        asked.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(scan_mod.os, "fstat", lambda fd: Stat(real_fstat(fd)))
    monkeypatch.setattr(scan_mod.os, "read", read)
    return asked


def test_a_file_is_read_in_one_read_when_its_size_is_what_fstat_said(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.yaml"
    f.write_bytes(b"kind: Service\n" * 100)
    asked = _stat_saying(monkeypatch, f.stat().st_size)
    st, data = _read_regular(str(f), 10_000)  # type: ignore[misc]
    assert data == f.read_bytes() and asked == [f.stat().st_size + 1]


@pytest.mark.parametrize("said", [0, 5, 1_399])
def test_a_file_that_grew_since_its_fstat_is_read_to_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              said: int) -> None:
    # 0: also what /proc's files say of themselves.
    f = tmp_path / "grew.md"
    f.write_bytes(bytes(range(256)) * 300)  # 76,800 bytes: more than one further read
    _stat_saying(monkeypatch, said)
    assert _read_regular(str(f), 10**6)[1] == f.read_bytes()  # type: ignore[index]


def test_a_file_that_shrank_since_its_fstat_is_read_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "shrank.txt"
    f.write_bytes(b"short\n")
    _stat_saying(monkeypatch, 5_000)
    assert _read_regular(str(f), 10**6)[1] == b"short\n"  # type: ignore[index]


def test_an_empty_file_is_read_and_the_rest_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"x" * 2_000)
    assert _read_regular(str(empty), 100)[1] == b""  # type: ignore[index]
    assert _read_regular(str(big), 1_000) is None  # over the limit
    assert _read_regular(str(tmp_path), 10**6) is None  # a directory
    assert _read_regular(str(tmp_path / "missing"), 10**6) is None
