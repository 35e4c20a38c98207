"""The PreToolUse hook: decisions, fail-closed errors, and a stdlib-only fast path."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generators.hook import run
from tests.test_review_roundtrip import _policy, _repo

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from generators.cli import main

    root = tmp_path_factory.mktemp("hook")
    out = root / "out"
    code, output = _policy(out, _repo(root / "repo"))
    assert code == 0, output
    res = CliRunner().invoke(main, ["export", "claude-code", "--output", str(out)])
    assert res.exit_code == 0, res.output
    return out / "enforce" / "claude-code" / "hook-state.json"


def _ask(state: Path, payload: object) -> dict | None:
    out = io.StringIO()
    stdin = io.StringIO(payload if isinstance(payload, str) else json.dumps(payload))
    assert run(stdin, out, str(state)) == 0
    text = out.getvalue()
    return json.loads(text) if text else None


def _bash(cmd: str) -> dict:
    return {"session_id": "s", "cwd": "/tmp", "hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": cmd}}


@pytest.mark.parametrize(("cmd", "decision"), [
    ("kubectl get pods -n acme-prod -l app=orders-api", "allow"),  # the policy's own command (fast path)
    ("kubectl delete namespace acme-prod", "deny"),
    ("echo ok && kubectl delete namespace acme-prod", "deny"),  # compound: the worst part decides
    ("sudo bash -c 'terraform destroy -auto-approve'", "deny"),  # wrappers do not hide it
    ("kubectl rollout undo deployment/orders-api -n acme-prod", "ask"),
    ("git status", "allow"),
])
def test_decisions(state: Path, cmd: str, decision: str) -> None:
    ans = _ask(state, _bash(cmd))
    assert ans is not None
    out = ans["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] == decision
    assert out["permissionDecisionReason"].startswith("stackpolicy: T")


def test_other_tools_are_left_alone(state: Path) -> None:
    assert _ask(state, {"tool_name": "Read", "tool_input": {"file_path": "x"}}) is None


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", {"tool_name": "Bash", "tool_input": {}}])
def test_bad_input_fails_closed(state: Path, payload: object) -> None:
    ans = _ask(state, payload)
    assert ans is not None and ans["hookSpecificOutput"]["permissionDecision"] == "ask"


def test_missing_state_fails_closed(tmp_path: Path) -> None:
    ans = _ask(tmp_path / "nope.json", _bash("kubectl get pods"))
    assert ans is not None
    assert ans["hookSpecificOutput"]["permissionDecision"] == "ask"
    assert "hook error" in ans["hookSpecificOutput"]["permissionDecisionReason"]


def test_relative_state_is_resolved_against_the_project_dir(state: Path, monkeypatch) -> None:
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(state.parents[3]))
    rel = state.relative_to(state.parents[3]).as_posix()
    ans = _ask(Path(rel), _bash("kubectl delete namespace acme-prod"))
    assert ans is not None and ans["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_fast_path_imports_only_the_standard_library(state: Path) -> None:
    code = (
        "import io, json, sys\n"
        "from generators.hook import run\n"
        f"ev = {json.dumps(_bash('kubectl get pods -n acme-prod -l app=orders-api'))!r}\n"
        f"run(io.StringIO(ev), sys.stdout, {str(state)!r})\n"
        "heavy = sorted(m for m in ('pydantic', 'yaml', 'click', 'generators.classify') if m in sys.modules)\n"
        "print(json.dumps(heavy))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    answer, heavy = res.stdout.strip().splitlines()
    assert json.loads(answer)["hookSpecificOutput"]["permissionDecision"] == "allow"
    assert json.loads(heavy) == []


def test_console_script_answers_without_click(state: Path) -> None:
    exe = Path(sys.executable).with_name("stackpolicy")
    if not exe.exists():
        pytest.skip("stackpolicy console script not installed")
    res = subprocess.run([str(exe), "hook", "claude-code", "--state", str(state)],
                         input=json.dumps(_bash("kubectl delete namespace acme-prod")),
                         capture_output=True, text=True, check=True)
    assert json.loads(res.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_slow_path_uses_the_exported_rules(state: Path, tmp_path: Path) -> None:
    data = json.loads(state.read_text())
    assert data["rules"]["tiers"]["T0"]["name"] == "observe"
    data["rules"]["tiers"]["T0"]["name"] = "look-only"  # as a team's `tiers:` override would
    custom = tmp_path / "state.json"
    custom.write_text(json.dumps(data))
    ans = _ask(custom, _bash("git log --oneline"))
    assert ans is not None
    assert ans["hookSpecificOutput"]["permissionDecisionReason"].startswith("stackpolicy: T0 look-only")
