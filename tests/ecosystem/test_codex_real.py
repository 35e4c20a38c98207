"""Codex (the real ``codex execpolicy check``) with the exported rules and hook decides never
weaker than ``classify`` on the whole equivalence corpus."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generators.hook import codex_answer, codex_parts
from tests.ecosystem import tools
from tests.ecosystem.conftest import REPORTS
from tests.enforce_equivalence import CODEX, RANK, Report, codex_combined

pytestmark = pytest.mark.ecosystem


@pytest.fixture(scope="module")
def codex_bin() -> Path:
    return tools.codex_native(tools.codex())


def _check(codex_bin: Path, rules: Path, argv: tuple[str, ...]) -> str | None:
    res = subprocess.run([str(codex_bin), "execpolicy", "check", "--rules", str(rules), "--resolve-host-executables",
                          "--", *argv], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, (argv, res.stderr)
    got = json.loads(res.stdout).get("decision")
    return CODEX[got] if got else None


def test_codex_loads_the_rules_and_their_examples(codex_bin: Path, exported: Path) -> None:
    # Codex validates every rule's `match` examples when it loads the file.
    rules = exported / "enforce" / "codex" / "stackpolicy.rules"
    assert _check(codex_bin, rules, ("kubectl", "delete", "ns", "acme-prod", "--wait=false")) == "deny"
    assert _check(codex_bin, rules, ("/opt/tools/kubectl", "delete", "ns", "acme-prod")) == "deny"
    assert _check(codex_bin, rules, ("terraform", "destroy", "-auto-approve")) == "deny"


def test_codex_never_weaker_than_classify(codex_bin: Path, exported: Path, clf, sample: list[str]) -> None:  # noqa: ANN001
    lines = sample
    rules_file = exported / "enforce" / "codex" / "stackpolicy.rules"
    state_rules = json.loads((exported / "enforce" / "codex" / "hook-state.json").read_text())["codex_rules"]
    parts = {line: [tuple(p) for p in codex_parts(line)] for line in lines}
    unique = sorted({p for ps in parts.values() for p in ps})
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        decided = dict(zip(unique, pool.map(lambda a: _check(codex_bin, rules_file, a), unique)))
    alone, combined = Report("codex rules alone"), Report("codex rules + hook")
    for line in lines:
        c = clf.classify(line)
        got = [decided[p] for p in parts[line] if decided[p] is not None]
        rules_decision = max(got, key=lambda d: RANK[d]) if got else None
        alone.add(line, c.decision, rules_decision or "default")
        combined.add(line, c.decision, codex_combined(rules_decision, codex_answer(c.decision, "", state_rules, line)))
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "codex.json").write_text(json.dumps({
        "lines": len(lines), "alone": alone.summary(), "combined": combined.summary(),
        "alone_weaker": alone.weaker, "combined_stricter": combined.stricter}, indent=1))
    print(f"\n{alone.summary()}\n{combined.summary()}")
    assert combined.weaker == [], combined.weaker[:10]
    # Where a rule matches, it is never weaker than classify except for a prompt on a line
    # the hook denies (a prefix cannot see the flag or target that makes it T3).
    assert [w for w in alone.weaker if w[2] not in ("default", "ask")] == []


def test_codex_hook_answers_from_its_registration(exported: Path) -> None:
    cmd = json.loads((exported / "enforce" / "codex" / "hooks.json").read_text())["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    for line, want in (("kubectl delete ns acme-prod", "deny"), ("kubectl get pods", None)):
        event = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": line},
                 "cwd": str(exported.parent)}
        res = subprocess.run(["sh", "-c", cmd], input=json.dumps(event), capture_output=True, text=True,
                             cwd=exported.parent, timeout=120)
        assert res.returncode == 0, res.stderr
        got = json.loads(res.stdout)["hookSpecificOutput"]["permissionDecision"] if res.stdout.strip() else None
        assert got == want, (line, res.stdout)
    assert shlex.split(cmd)  # a valid shell command
