"""The LLM bench's breakdown of the wall: its rows add up to the wall, and a stage's excess
over the ideal lands in the row that caused it (slow calls, a pipe not kept full, a tail)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from llm_phase import breakdown  # noqa: E402


def _sum(gap: dict[str, float]) -> float:
    return sum(v for k, v in gap.items() if not k.startswith("(info)"))


def _row(gap: dict[str, float], prefix: str) -> float:
    return next(v for k, v in gap.items() if k.startswith(prefix))


def test_a_full_pipe_at_the_latency_is_exactly_ideal() -> None:
    # 8 calls, width 4, 1 s each, back to back from t=2: two full rounds.
    timeline = [("policy", 2.0 + r, 3.0 + r) for r in (0, 1) for _ in range(4)]
    gap, stages = breakdown(timeline, 5.5, 4, 1.0)
    assert _row(gap, "before the first call") == pytest.approx(2.0)
    assert _row(gap, "policy calls: ideal") == pytest.approx(2.0)
    assert _row(gap, "policy calls: slower") == pytest.approx(0.0)
    assert _row(gap, "policy calls: pipe not full") == pytest.approx(0.0)
    assert _row(gap, "policy calls: tail") == pytest.approx(0.0)
    assert _row(gap, "after the last answer") == pytest.approx(1.5)
    assert _sum(gap) == pytest.approx(5.5)
    assert stages["policy"]["calls"] == 8


def test_late_prompts_show_as_pipe_not_full_and_slow_calls_as_slow() -> None:
    # Width 2, latency 1: the second slot starts 0.5 s late (a prompt not ready), and one
    # call takes 1.5 s (an answer read late).
    timeline = [("policy", 0.0, 1.0), ("policy", 0.5, 2.0), ("policy", 1.0, 2.0)]
    gap, _ = breakdown(timeline, 2.0, 2, 1.0)
    assert _row(gap, "policy calls: slower") == pytest.approx(3 * (3.5 / 3 - 1.0) / 2)
    assert _row(gap, "policy calls: pipe not full") == pytest.approx(0.5 / 2)
    assert _sum(gap) == pytest.approx(2.0)


def test_stages_and_the_time_between_them_add_up() -> None:
    # Width 2, latency 0.3: the last policy call takes 0.7 s and holds the stage open.
    policy = [("policy", 0.5, 0.8), ("policy", 0.5, 0.8), ("policy", 0.8, 1.1), ("policy", 0.8, 1.5)]
    evals = [("evals", 3.0, 3.3), ("evals", 3.1, 3.4)]
    gap, stages = breakdown(policy + evals, 4.0, 2, 0.3)
    assert _row(gap, "policy calls: slower") == pytest.approx(4 * 0.1 / 2)
    assert _row(gap, "policy calls: tail") == pytest.approx(0.4 / 2)
    assert _row(gap, "between the stages") == pytest.approx(3.0 - 1.5)
    assert _row(gap, "evals calls: ideal") == pytest.approx(math.ceil(2 / 2) * 0.3)
    assert _row(gap, "evals calls: pipe not full") == pytest.approx(0.1 / 2)
    assert _row(gap, "after the last answer") == pytest.approx(0.6)
    assert _sum(gap) == pytest.approx(4.0)
    assert list(stages) == ["policy", "evals"]


def test_no_calls_is_said_plainly() -> None:
    gap, stages = breakdown([], 0.4, 64, 0.3)
    assert gap == {"no API calls (all cached)": 0.4}
    assert stages == {}
