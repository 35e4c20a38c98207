"""`stackpolicy classify` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generators.cli import main
from inventory.io import inventory_to_yaml
from tests.test_classify import small_inventory


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def inventory_file(tmp_path: Path) -> Path:
    p = tmp_path / "inventory.yaml"
    p.write_text(inventory_to_yaml(small_inventory()), encoding="utf-8")
    return p


def _run(runner: CliRunner, args: list[str], stdin: str | None = None):
    return runner.invoke(main, args, input=stdin)


def test_json_output_shape(runner: CliRunner) -> None:
    res = _run(runner, ["classify", "--json", "kubectl delete namespace payments"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["tier"] == "T3"
    assert data["decision"] == "deny"
    assert data["tier_name"] == "forbidden"
    assert isinstance(data["reasons"], list) and data["reasons"]
    assert data["command"] == "kubectl delete namespace payments"
    cmd = data["commands"][0]
    assert {"tool", "verb", "target", "matched_action", "matched_target", "tier", "factors"} <= set(cmd)
    assert (cmd["tool"], cmd["verb"], cmd["target"]) == ("kubectl", "delete", "payments")


@pytest.mark.parametrize(("line", "tier", "decision"), [
    ("kubectl get pods", "T0", "allow"),
    ("kubectl rollout restart deploy/api -n staging", "T1", "allow"),
    ("terraform apply", "T2", "ask"),
    ("redis-cli FLUSHALL", "T3", "deny"),
])
def test_decision_follows_tier(runner: CliRunner, line: str, tier: str, decision: str) -> None:
    data = json.loads(_run(runner, ["classify", "--json", line]).output)
    assert (data["tier"], data["decision"]) == (tier, decision)


def test_stdin_prints_json_lines(runner: CliRunner) -> None:
    stdin = "kubectl get pods\n\nterraform destroy\npsql -c \"SELECT 1\"\n"
    res = _run(runner, ["classify", "--stdin", "--json"], stdin)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 4  # one answer per input line, the blank one included
    rows = [json.loads(line) for line in lines]
    assert [r["tier"] for r in rows] == ["T0", "T2", "T3", "T0"]
    assert [r["command"] for r in rows] == ["kubectl get pods", "", "terraform destroy", 'psql -c "SELECT 1"']


def test_readable_line_without_json(runner: CliRunner) -> None:
    res = _run(runner, ["classify", "kubectl rollout restart deploy/api -n prod"])
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("T2 change (ask): kubectl rollout restart deploy/api -n prod  -- prod (namespace prod)")
    with pytest.raises(json.JSONDecodeError):
        json.loads(res.output)


def test_with_inventory_resolves_targets(runner: CliRunner, inventory_file: Path) -> None:
    staging = json.loads(_run(runner, ["classify", "--inventory", str(inventory_file), "--json",
                                       "kubectl rollout restart deployment/orders-api -n shop-staging"]).output)
    prod = json.loads(_run(runner, ["classify", "--inventory", str(inventory_file), "--json",
                                    "kubectl rollout restart deployment/orders-api -n shop-prod"]).output)
    assert (staging["tier"], prod["tier"]) == ("T1", "T2")
    assert prod["matched_target"] == "service:orders-api"
    assert prod["matched_action"] == "service:orders-api/restart@prod"


def test_policy_file_raises_a_class(runner: CliRunner, inventory_file: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("table:\n  classes:\n    - {id: restart/deployment@staging, verb_class: restart, kind: deployment,"
                      " environment: staging, tier: T3, floor: T1, rule: r, rationale: r}\n")
    res = _run(runner, ["classify", "--inventory", str(inventory_file), "--policy", str(policy), "--json",
                        "kubectl rollout restart deployment/orders-api -n shop-staging"])
    data = json.loads(res.output)
    assert data["tier"] == "T3" and data["decision"] == "deny"
    assert "the policy sets class restart/deployment@staging to T3" in data["reasons"][0]


def test_generated_policy_yaml_is_accepted(runner: CliRunner, tmp_path: Path) -> None:
    """The usage --help advertises: the generated policy.yaml decides every command it shows."""
    from generators.classify import Classifier, load_policy

    table = load_policy(Path(__file__).parent.parent / "output" / "policy.yaml")
    assert table.classes and table.targets
    clf = Classifier(table=table)
    shown = [(i.command, i.tier) for c in table.classes for i in c.instances if i.is_command]
    assert shown
    assert [(cmd, t) for cmd, t in shown if clf.classify(cmd).tier != t] == []


def test_missing_inventory_is_a_clean_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    res = _run(runner, ["classify", "--inventory", str(missing), "--json", "kubectl get pods"])
    assert res.exit_code == 2
    assert "nope.yaml" in res.output and "error:" in res.output
    assert "Traceback" not in res.output


def test_bad_policy_and_bad_inventory_are_usage_errors(runner: CliRunner, tmp_path: Path) -> None:
    bad_inv = tmp_path / "inv.yaml"
    bad_inv.write_text("components: 12\n")
    res = _run(runner, ["classify", "--inventory", str(bad_inv), "kubectl get pods"])
    assert res.exit_code == 2 and "inv.yaml" in res.output
    bad_policy = tmp_path / "policy.yaml"
    bad_policy.write_text("just a string\n")
    res = _run(runner, ["classify", "--policy", str(bad_policy), "kubectl get pods"])
    assert res.exit_code == 2 and "policy.yaml" in res.output


def test_needs_a_command_or_stdin(runner: CliRunner) -> None:
    assert _run(runner, ["classify"]).exit_code == 2
    assert _run(runner, ["classify", "--stdin", "kubectl get pods"], "x\n").exit_code == 2


def test_config_rules_override_applies(runner: CliRunner, tmp_path: Path) -> None:
    cfg = tmp_path / "stackpolicy.yaml"
    cfg.write_text("rules:\n  classes:\n    restart: {tier: T2}\n")
    res = runner.invoke(main, ["--config", str(cfg), "classify", "--json", "kubectl rollout restart deploy/x -n dev"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["tier"] == "T2"
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  classes:\n    restart: {tier: T7}\n")
    res = runner.invoke(main, ["--config", str(broken), "classify", "kubectl get pods"])
    assert res.exit_code == 2 and "classes.restart.tier" in res.output
