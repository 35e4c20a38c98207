"""The exported Inspect task run by Inspect's own runner (``inspect_ai.eval``) against a canned
local model (``mockllm`` playing the scripted agents): no network, no LLM judge.

inspect-ai is installed from PyPI into the project's environment on first use; the test skips
with the reason when the registry cannot be reached. mockllm counts tokens with tiktoken, which
downloads its encoding on first use: every canned output carries its own usage, so nothing is
counted, and ``TIKTOKEN_CACHE_DIR`` points at an empty directory to prove it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ecosystem.evals_common import BEHAVIOURS, check_behaviour, evals_run_outcomes, example_bundle

pytestmark = pytest.mark.ecosystem

INSPECT_VERSION = "0.3.285"
DRIVER = Path(__file__).with_name("evals_inspect_driver.py")


@pytest.fixture(scope="module")
def inspect_ai() -> None:
    if importlib.util.find_spec("inspect_ai") is not None:
        return
    try:
        res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              f"inspect-ai=={INSPECT_VERSION}"], capture_output=True, text=True, timeout=1200)
    except subprocess.TimeoutExpired:
        pytest.skip("Inspect ecosystem test skipped: pip install timed out (registry unreachable?)")
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        pytest.skip("Inspect ecosystem test skipped: pip install inspect-ai failed: " + " | ".join(tail))
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def verdicts(inspect_ai: None, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("inspect-estate")
    bundle = example_bundle(tmp, "inspect")
    task = bundle.out / "enforce" / "inspect" / "stackpolicy_task.py"
    empty = tmp / "tiktoken"
    empty.mkdir()
    out = tmp / "verdicts.json"
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(empty), "INSPECT_DISPLAY": "none",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, str(DRIVER), str(task), str(tmp / "logs"), str(out), *BEHAVIOURS],
                         env=env, capture_output=True, text=True, timeout=2400)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert not any(empty.iterdir())  # no encoding was fetched or cached
    return bundle, json.loads(out.read_text())


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_inspect_scores_each_scripted_agent_like_evals_run(verdicts, behaviour: str) -> None:
    bundle, got = verdicts
    samples = got[behaviour]
    assert set(samples) == {c.id for c in bundle.suite.cases if not c.disabled}
    passed = {cid: s["value"] == "C" for cid, s in samples.items()}
    check_behaviour(bundle.suite, behaviour, passed)
    assert passed == evals_run_outcomes(bundle, behaviour)
