"""The exported promptfoo suite run by promptfoo itself (``promptfoo eval --no-cache --no-share``)
against canned, local agents: no network, no LLM judge.

promptfoo is installed from the npm registry into ``.cache/ecosystem/npm`` on first use (a
version that runs on Node 20); the test skips with the reason when npm or the registry is not
there. Each scripted agent plays every case through the exported ``file://`` provider and the
exported assertion grades it; the verdicts must be the ones ``stackpolicy evals run`` gives the
same agent, case by case.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.ecosystem.evals_common import BEHAVIOURS, check_behaviour, evals_run_outcomes, example_bundle

pytestmark = pytest.mark.ecosystem

REPO = Path(__file__).resolve().parents[2]
NPM_DIR = REPO / ".cache" / "ecosystem" / "npm"
PROMPTFOO_VERSION = "0.121.20"  # the last line that runs on Node 20
# Resolve dependencies as they were when that version shipped: later releases of its
# dependencies may name versions the registry does not serve.
PUBLISHED_BEFORE = "2026-08-08"


def _promptfoo() -> Path:
    exe = NPM_DIR / "node_modules" / ".bin" / "promptfoo"
    if exe.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("promptfoo ecosystem test skipped: npm is not installed")
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    (NPM_DIR / "package.json").write_text('{"name": "stackpolicy-ecosystem", "private": true}\n')
    try:
        res = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--before", PUBLISHED_BEFORE,
                              f"promptfoo@{PROMPTFOO_VERSION}"], cwd=NPM_DIR, capture_output=True, text=True,
                             timeout=1200)
    except subprocess.TimeoutExpired:
        pytest.skip("promptfoo ecosystem test skipped: npm install timed out (registry unreachable?)")
    if res.returncode != 0 or not exe.exists():
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        pytest.skip("promptfoo ecosystem test skipped: npm install failed: " + " | ".join(tail))
    return exe


@pytest.fixture(scope="module")
def promptfoo() -> Path:
    return _promptfoo()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory):
    return example_bundle(tmp_path_factory.mktemp("pf-estate"), "promptfoo")


@pytest.fixture(scope="module")
def sockets():
    """A short private directory for the warm graders this module starts; they are ended after."""
    d = Path(tempfile.mkdtemp(prefix="sp-pf-"))
    yield d
    for lock in d.glob("*.lock"):
        pid = lock.read_text().strip()
        if pid.isdigit():
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass
    shutil.rmtree(d, ignore_errors=True)


def _run(promptfoo: Path, bundle, behaviour: str, sockets: Path, tmp: Path) -> dict[str, bool]:
    src = bundle.out / "enforce" / "promptfoo"
    cfg = yaml.safe_load((src / "promptfooconfig.yaml").read_text())
    cfg["providers"][0]["config"]["agent"] = f"scripted:{behaviour}"
    run_cfg = src / f"promptfooconfig.{behaviour}.yaml"
    run_cfg.write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = tmp / f"{behaviour}.json"
    env = {**os.environ, "PROMPTFOO_PYTHON": sys.executable, "PROMPTFOO_DISABLE_TELEMETRY": "1",
           "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_CONFIG_DIR": str(tmp / "pfhome"),
           "STACKPOLICY_HOOK_SOCKET_DIR": str(sockets), "STACKPOLICY_GRADE_IDLE": "120",
           "NO_COLOR": "1"}
    res = subprocess.run([str(promptfoo), "eval", "-c", str(run_cfg), "--no-cache", "--no-share",
                          "--max-concurrency", "4", "-o", str(out)], cwd=src, env=env, capture_output=True,
                         text=True, timeout=1800)
    assert out.exists(), res.stdout[-3000:] + res.stderr[-3000:]
    results = json.loads(out.read_text())["results"]["results"]
    errors = [r for r in results if r.get("error") and not r.get("gradingResult")]
    assert not errors, errors[0].get("error")
    verdicts = {r["testCase"]["description"]: bool(r["gradingResult"]["pass"]) for r in results}
    assert len(verdicts) == len(bundle.suite.cases)
    return verdicts


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_promptfoo_grades_each_scripted_agent_like_evals_run(promptfoo: Path, bundle, sockets: Path,
                                                             tmp_path: Path, behaviour: str) -> None:
    verdicts = _run(promptfoo, bundle, behaviour, sockets, tmp_path)
    check_behaviour(bundle.suite, behaviour, verdicts)
    assert verdicts == evals_run_outcomes(bundle, behaviour)


def test_nunjucks_cannot_alter_what_the_agent_is_shown(promptfoo: Path, bundle, sockets: Path,
                                                       tmp_path: Path) -> None:
    """A situation holding ``${{ … }}`` reaches the provider's prompt byte for byte."""
    src = bundle.out / "enforce" / "promptfoo"
    cfg = yaml.safe_load((src / "promptfooconfig.yaml").read_text())
    from generators.exporters.promptfoo import quote

    tricky = "The workflow reads ${{ secrets.DEPLOY_TOKEN }} and {% if prod %}{{ image }}{% endif %} {# x #}."
    test = dict(cfg["tests"][0])
    test["vars"] = {**test["vars"], "situation": quote(tricky)}
    echo = tmp_path / "echo.py"
    echo.write_text("def call_api(prompt, options, context):\n    return {'output': prompt}\n")
    cfg["tests"] = [test]
    cfg["providers"] = [{"id": f"file://{echo}", "label": "echo"}]
    cfg["defaultTest"] = {"assert": [{"type": "icontains", "value": "reads ${{ secrets.DEPLOY_TOKEN }}"}]}
    run_cfg = src / "promptfooconfig.echo.yaml"
    run_cfg.write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = tmp_path / "echo.json"
    env = {**os.environ, "PROMPTFOO_PYTHON": sys.executable, "PROMPTFOO_DISABLE_TELEMETRY": "1",
           "PROMPTFOO_CONFIG_DIR": str(tmp_path / "pfhome")}
    subprocess.run([str(promptfoo), "eval", "-c", str(run_cfg), "--no-cache", "--no-share", "-o", str(out)],
                   cwd=src, env=env, capture_output=True, text=True, timeout=600)
    (result,) = json.loads(out.read_text())["results"]["results"]
    assert tricky in result["response"]["output"]
