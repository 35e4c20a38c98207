"""Scripts a runbook runs are what the script does: resolution, expansion, actions and tiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from generators.decision.build import build_table
from inventory.commands.shell import parse_line
from inventory.config import Config
from inventory.model import Inventory
from inventory.scan import scan_paths
from inventory.scripts import MAX_DEPTH, ScriptIndex, script_reference


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def _scan(root: Path) -> Inventory:
    inv, _ = scan_paths([str(root)], Config(), use_cache=False, jobs=1)
    return inv


def _pc(line: str):
    return parse_line(line).commands[0]


FAILOVER = """#!/usr/bin/env bash
set -euo pipefail
echo "failing over $1"
kubectl scale deployment/payments-api --replicas=0 -n payments-prod
kubectl delete namespace payments-prod
"""

RUNBOOK = """# Payments failover

Run the failover from the repository root:

```bash
./scripts/failover.sh prod
```
"""


@pytest.mark.parametrize(("line", "ref"), [
    ("./scripts/failover.sh prod", "./scripts/failover.sh"),
    ("bash hack/rotate-certs.sh --all", "hack/rotate-certs.sh"),
    ("sh -ex ./x.sh a", "./x.sh"),
    ("source scripts/env.sh", "scripts/env.sh"),
    (". ./env.sh", "./env.sh"),
    ("sudo ./scripts/x.sh", "./scripts/x.sh"),
    ("kubectl get pods", None),
    ("failover", None),
])
def test_which_commands_run_a_script(line: str, ref: str | None) -> None:
    pcs = [pc for pc in parse_line(line).commands if script_reference(pc)]
    assert (script_reference(pcs[0]) if pcs else None) == ref


def test_a_script_inside_a_container_or_over_ssh_is_not_a_repository_file() -> None:
    for line in ("kubectl exec -n prod db-0 -- ./scripts/failover.sh", "ssh db1.example.net ./scripts/failover.sh"):
        assert not any(script_reference(pc) for pc in parse_line(line).commands), line


def test_resolution_from_the_caller_folder_its_ancestors_then_a_unique_suffix() -> None:
    idx = ScriptIndex({"scripts/failover.sh": [(3, "kubectl delete ns prod")],
                       "svc/a/scripts/ops.sh": [(1, "true")], "svc/b/scripts/ops.sh": [(1, "true")],
                       "docs/ops/local.sh": [(1, "true")]})
    assert idx.resolve("./scripts/failover.sh", "docs/runbook.md") == "scripts/failover.sh"  # the root above
    assert idx.resolve("./local.sh", "docs/ops/runbook.md") == "docs/ops/local.sh"  # the caller's folder
    assert idx.resolve("../ops/local.sh", "docs/ops/runbook.md") == "docs/ops/local.sh"
    assert idx.resolve("scripts/ops.sh", "svc/b/docs/runbook.md") == "svc/b/scripts/ops.sh"
    assert idx.resolve("failover.sh") == "scripts/failover.sh"  # one script of that name: a suffix match
    assert idx.resolve("scripts/ops.sh") is None  # two fit: ambiguous, unresolved
    assert idx.resolve("$DIR/scripts/failover.sh", "x/y.sh") == "scripts/failover.sh"
    for ref in ("/usr/local/bin/failover.sh", "~/failover.sh", "./missing.sh", "scripts/*.sh"):
        assert idx.resolve(ref, "docs/runbook.md") is None, ref


def test_expansion_follows_nested_scripts_and_stops_on_cycles() -> None:
    idx = ScriptIndex({"a.sh": [(1, "./b.sh"), (2, "kubectl get pods")],
                       "b.sh": [(1, "./a.sh"), (2, "kubectl delete ns prod")]})
    got = [(s.path, s.line, s.depth) for s in idx.expand("a.sh")]
    # b.sh's lines come right after the line that calls it; a.sh is not entered twice.
    assert got == [("a.sh", 1, 1), ("b.sh", 1, 2), ("b.sh", 2, 2), ("a.sh", 2, 1)]


def test_expansion_depth_is_bounded() -> None:
    n = MAX_DEPTH + 3
    bodies = {f"s{i}.sh": [(1, f"./s{i + 1}.sh"), (2, f"echo {i}")] for i in range(n)}
    got = ScriptIndex(bodies).expand("s0.sh")
    assert max(s.depth for s in got) == MAX_DEPTH
    assert {s.path for s in got} == {f"s{i}.sh" for i in range(MAX_DEPTH)}


def test_runbook_step_is_what_its_script_does(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", {"scripts/failover.sh": FAILOVER, "docs/runbook.md": RUNBOOK})
    inv = _scan(root)
    by_id = {a.id: a for a in inv.actions}
    # No opaque program action for the script: its own commands stand for the step.
    assert not any("failover" in a.id for a in inv.actions), sorted(by_id)
    deletes = [a for a in inv.actions if a.verb == "delete" and a.object_kind == "namespace"]
    assert len(deletes) == 1
    paths = {(e.path, e.line) for e in deletes[0].evidence}
    assert ("scripts/failover.sh", 5) in paths and ("docs/runbook.md", 6) in paths
    table, assessments = build_table(inv)
    assert assessments[deletes[0].id].tier == "T3"


def test_bash_script_from_a_nested_runbook_folder(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", {
        "hack/rotate-certs.sh": "#!/bin/sh\nkubectl delete secret tls-prod -n ingress-prod\n",
        "docs/ops/certs.md": "# Certs\n\n```sh\nbash hack/rotate-certs.sh\n```\n",
    })
    inv = _scan(root)
    acts = [a for a in inv.actions if a.verb == "delete"]
    assert len(acts) == 1 and ("docs/ops/certs.md", 4) in {(e.path, e.line) for e in acts[0].evidence}
    assert not any(a.tool in ("bash", "rotate-certs.sh") for a in inv.actions)


def test_missing_script_stays_an_unknown_program(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", {"docs/runbook.md": RUNBOOK})
    inv = _scan(root)
    calls = [a for a in inv.actions if "failover" in a.id]
    assert len(calls) == 1
    _, assessments = build_table(inv)
    assert assessments[calls[0].id].tier in ("T2", "T3")  # unknown: a human decides


def test_scripts_calling_each_other_terminate(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", {
        "scripts/a.sh": "#!/bin/bash\n./scripts/b.sh\nkubectl get pods -n prod\n",
        "scripts/b.sh": "#!/bin/bash\n./scripts/a.sh\nkubectl delete deployment web -n prod\n",
        "runbook.md": "```bash\n./scripts/a.sh\n```\n",
    })
    inv = _scan(root)
    deletes = [a for a in inv.actions if a.verb == "delete"]
    assert len(deletes) == 1
    assert ("runbook.md", 2) in {(e.path, e.line) for e in deletes[0].evidence}


def test_classify_with_the_inventory_judges_a_script_call_by_the_script(tmp_path: Path) -> None:
    from generators.classify import Classifier
    from generators.risk.assess import build_index

    root = _write(tmp_path / "repo", {
        "scripts/failover.sh": FAILOVER,
        "scripts/status.sh": "#!/bin/bash\nkubectl get pods -n payments-prod\n",
        "docs/runbook.md": RUNBOOK,
    })
    clf = Classifier(index=build_index(_scan(root)))
    c = clf.classify("./scripts/failover.sh prod")
    assert c.tier == "T3" and c.decision == "deny"
    vias = [r.via for r in c.commands if r.tier == "T3"]
    assert "script scripts/failover.sh:5" in vias, vias
    assert any("scripts/failover.sh:5" in reason for reason in c.reasons)
    # The same call from elsewhere (`cd scripts && ./failover.sh`) finds the one script of that name.
    assert clf.classify("cd scripts && bash failover.sh").tier == "T3"
    # A script whose commands are reads never lowers the call: a human still decides.
    assert clf.classify("./scripts/status.sh").tier == "T2"
    # Unknown scripts and no inventory: as before, the unknown program's tier.
    assert clf.classify("./scripts/other.sh").tier == "T2"
    assert Classifier().classify("./scripts/failover.sh prod").tier == "T2"
