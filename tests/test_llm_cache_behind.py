"""Answers cached by a writer thread while a stage runs: readable at once, all on disk when the
stage ends, and a write that fails still fails the stage."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from generators.providers.base import LLMResponse
from generators.providers.cache import ResponseCache


def test_entries_written_behind_are_readable_at_once_and_on_disk_after(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    with cache.writing_behind():
        assert threading.active_count() == 2
        for n in range(50):
            cache.put(f"{n:064x}", LLMResponse(text=f"answer {n}", input_tokens=n, output_tokens=1))
        got = cache.get(f"{7:064x}")
        assert got is not None and (got.text, got.input_tokens, got.attempts) == ("answer 7", 7, 0)
    assert threading.active_count() == 1
    fresh = ResponseCache(tmp_path / "c")  # another reader sees only what is on disk
    assert [fresh.get(f"{n:064x}").text for n in range(50)] == [f"answer {n}" for n in range(50)]  # type: ignore[union-attr]
    assert not list((tmp_path / "c").rglob("*.tmp*"))


def test_a_failed_write_behind_fails_the_stage(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "ab").write_text("a file where a folder must go")
    cache = ResponseCache(tmp_path / "c")
    with pytest.raises(OSError):
        with cache.writing_behind():
            cache.put("ab" + "0" * 62, LLMResponse(text="x"))
    assert threading.active_count() == 1


def test_a_disabled_cache_starts_no_writer(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c", enabled=False)
    with cache.writing_behind():
        assert threading.active_count() == 1
        cache.put("0" * 64, LLMResponse(text="x"))
        assert cache.get("0" * 64) is None
    assert not (tmp_path / "c").exists()
