"""The decision table carries what the repositories' scripts run, so `classify --policy` and the
hook judge a call of a script by its body, as `classify --inventory` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generators import hook
from generators.classify import Classifier, load_policy
from generators.cli import main
from generators.decision.build import build_table
from generators.decision.model import DecisionTable
from generators.risk.assess import build_index
from inventory import yamlout
from inventory.config import Config
from inventory.model import Inventory
from inventory.scan import scan_paths

OPS = """#!/usr/bin/env bash
set -euo pipefail
case "$1" in
  status)
    kubectl get pods -n payments-prod
    ;;
  rotate)
    kubectl delete secret payments-tls -n payments-prod
    kubectl rollout restart deployment/payments-api -n payments-prod
    ;;
esac
"""

STATUS = "#!/bin/bash\nkubectl get pods -n payments-prod\n"

SECRET = "#!/bin/bash\nmysql -h db -u root -pS3cr3tPassw0rd9 -e 'DROP DATABASE orders'\n"

RUNBOOK = """# Payments certificates

Rotate the certificate from the repository root:

```bash
./scripts/ops.sh rotate
```

Check the pods:

```bash
./scripts/status.sh
```
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Inventory, DecisionTable, Path]:
    root = tmp_path_factory.mktemp("repo")
    for rel, text in {"scripts/ops.sh": OPS, "scripts/status.sh": STATUS, "scripts/wipe.sh": SECRET,
                      "docs/runbook.md": RUNBOOK}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    inv, _ = scan_paths([str(root)], Config(), use_cache=False, jobs=1)
    table, _ = build_table(inv)
    # policy.yaml as `stackpolicy policy` writes it: the table under `table:`, through the same YAML writer.
    policy = root / "policy.yaml"
    policy.write_text(yamlout.dump({"table": table.model_dump(mode="json", exclude_none=True)}), encoding="utf-8")
    return inv, table, policy


CALLS = ["./scripts/ops.sh rotate", "bash scripts/ops.sh rotate", "cd scripts && ./ops.sh rotate",
         "./scripts/status.sh", "./scripts/wipe.sh", "./scripts/missing.sh", "kubectl get pods -n payments-prod"]


def test_the_table_carries_the_scripts_and_what_they_run(repo) -> None:
    _, table, _ = repo
    by_path = {s.path: s for s in table.scripts}
    assert sorted(by_path) == ["scripts/ops.sh", "scripts/status.sh", "scripts/wipe.sh"]
    ops = [(c.line, c.command) for c in by_path["scripts/ops.sh"].commands]
    assert (8, "kubectl delete secret payments-tls -n payments-prod") in ops
    assert (9, "kubectl rollout restart deployment/payments-api -n payments-prod") in ops
    assert ops == sorted(ops)


def test_no_secret_reaches_the_table(repo) -> None:
    _, table, policy = repo
    wipe = next(s for s in table.scripts if s.path == "scripts/wipe.sh")
    assert wipe.commands and all("S3cr3tPassw0rd9" not in c.command for c in wipe.commands)
    assert "S3cr3tPassw0rd9" not in policy.read_text(encoding="utf-8")


@pytest.mark.parametrize("line", CALLS)
def test_classify_with_the_policy_decides_a_script_call_as_with_the_inventory(repo, line: str) -> None:
    inv, _, policy = repo
    with_inventory = Classifier(index=build_index(inv)).classify(line)
    with_policy = Classifier(table=load_policy(policy)).classify(line)
    assert with_policy.tier == with_inventory.tier
    assert with_policy.reasons == with_inventory.reasons
    assert [(r.via, r.tier) for r in with_policy.commands] == [(r.via, r.tier) for r in with_inventory.commands]


def test_the_policy_alone_judges_the_script_by_its_body(repo) -> None:
    _, table, policy = repo
    c = Classifier(table=load_policy(policy)).classify("./scripts/ops.sh rotate")
    assert c.tier == "T3" and c.decision == "deny"  # deletes a secret in prod
    assert any("scripts/ops.sh:8" in r for r in c.reasons), c.reasons
    # The same table without its scripts only knows an unknown program: a human decides, no more.
    bare = table.model_copy(update={"scripts": []})
    assert Classifier(table=bare).classify("./scripts/ops.sh rotate").tier == "T2"


def test_cli_with_the_policy(repo) -> None:
    _, _, policy = repo
    res = CliRunner().invoke(main, ["classify", "--policy", str(policy), "--json", "./scripts/ops.sh rotate"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["tier"] == "T3"
    assert any(c["via"] == "script scripts/ops.sh:8" for c in data["commands"])


def test_the_hook_without_an_inventory_judges_the_script_by_its_body(repo) -> None:
    _, table, _ = repo
    # The hook state as the export writes it: the table without instances and factors, no inventory.
    state = {"decision_table": table.model_dump(mode="json", exclude={"classes": {"__all__": {"instances", "factors"}}})}
    classify = hook.build_classifier(json.loads(json.dumps(state)))
    decision, reason = classify("./scripts/ops.sh rotate")
    assert decision == "deny" and "scripts/ops.sh:8" in reason
    assert classify("./scripts/status.sh")[0] == "ask"  # reads only; the call itself is still a program
