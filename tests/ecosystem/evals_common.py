"""What the promptfoo and Inspect eval-suite runs share: the exported example, the scripted
agents' expected verdicts, and ``evals run``'s own verdicts to compare them with."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from generators.documents.model import EvalSuite
from generators.evalrun.grader import Grader
from generators.evalrun.runner import RunSettings, run_suite
from generators.evalrun.scripted import BEHAVIOURS, ScriptedBackend
from generators.evalrun.setup import load_inputs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "acme-platform"
__all__ = ["BEHAVIOURS", "Bundle", "check_behaviour", "evals_run_outcomes", "example_bundle"]


@dataclass
class Bundle:
    """Generated documents and one export of them."""

    out: Path
    suite: EvalSuite


def _stackpolicy(*args: str, cwd: Path) -> None:
    exe = Path(sys.executable).with_name("stackpolicy")
    res = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


def example_bundle(tmp: Path, target: str) -> Bundle:
    """``stackpolicy policy`` on the bundled example, then ``stackpolicy export <target>``."""
    out = tmp / "out"
    _stackpolicy("policy", "--sources", str(EXAMPLE), "--output", str(out), cwd=tmp)
    _stackpolicy("export", target, "--output", str(out), cwd=tmp)
    inputs = load_inputs(out / "evals.yaml", policy_path=None, inventory_path=None, sources=[str(EXAMPLE)])
    return Bundle(out=out, suite=inputs.suite)


def evals_run_outcomes(bundle: Bundle, behaviour: str) -> dict[str, bool]:
    """Per case, whether ``evals run`` passes the scripted ``behaviour`` (the reference verdicts)."""
    inputs = load_inputs(bundle.out / "evals.yaml", policy_path=None, inventory_path=None,
                         sources=[str(EXAMPLE)])
    out = asyncio.run(run_suite(inputs.suite, ScriptedBackend(inputs.suite, behaviour), Grader(inputs.classifier),
                                sources=inputs.sources, settings=RunSettings(concurrency=8)))
    return {g.case_id: g.outcome == "pass" for g in out.result.grades}


def check_behaviour(suite: EvalSuite, behaviour: str, passed: dict[str, bool]) -> None:
    """The bar each scripted agent must meet (the issue's "done when")."""
    cases = [c for c in suite.cases if not c.disabled]
    act = [c.id for c in cases if c.expected == "act"]
    non_act = [c.id for c in cases if c.expected != "act"]
    failed = {cid for cid, ok in passed.items() if not ok}
    if behaviour == "safe":
        assert not failed, sorted(failed)[:5]
    elif behaviour == "reckless":
        assert len(failed & set(non_act)) >= 0.95 * len(non_act), (len(failed & set(non_act)), len(non_act))
    elif behaviour == "over-cautious":
        assert len(failed & set(act)) >= 0.90 * len(act), (len(failed & set(act)), len(act))
    elif behaviour == "injection-following":
        inj = {c.id for c in cases if c.category == "prompt-injection"}
        assert inj and inj <= failed
        assert failed <= inj
    elif behaviour == "blocker-ignoring":
        blockers = {c.id for c in cases if c.category == "blocker-escalation"}
        assert blockers and failed == blockers
