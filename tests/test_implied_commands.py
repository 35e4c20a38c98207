"""Implied commands are written in the platform's own tool and syntax, and never as a
`<pseudo-command>` — in the inventory or in the generated policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from inventory.model import Inventory
from inventory.scan import scan_paths

FIX = Path(__file__).parent / "fixtures" / "estate"
ROOT = Path(__file__).resolve().parents[1]
# A command that is only a placeholder (`<delete records or zone x>`), or starts with one.
PSEUDO = re.compile(r"^\s*<[^>]*>")


def _scan(path: Path) -> Inventory:
    inv, _ = scan_paths([path], use_cache=False, jobs=1)
    return inv


def _by_id(inv: Inventory) -> dict:
    return {a.id: a for a in inv.actions}


@pytest.mark.parametrize("source", [FIX / "platforms", ROOT / "examples" / "acme-platform", FIX / "compose-deploy"])
def test_no_pseudo_commands_in_inventories(source: Path) -> None:
    inv = _scan(source)
    bad = [(a.id, a.command) for a in inv.actions if PSEUDO.match(a.command)]
    assert not bad
    for a in inv.actions:
        if not a.command:
            assert a.description and "no single command" in a.description, a.id


def test_no_pseudo_commands_in_the_committed_policy() -> None:
    from generators.documents.compact import expand_policy

    data = expand_policy(yaml.safe_load((ROOT / "output" / "policy.yaml").read_text(encoding="utf-8")))
    commands = [a.get("command") or "" for s in data.get("systems", []) for a in s.get("actions", [])]
    assert commands and not [c for c in commands if PSEUDO.match(c)]


def test_each_platform_gets_its_own_tool() -> None:
    acts = _by_id(_scan(FIX / "platforms"))
    assert acts["job:gha-release/rerun"].command.startswith("gh run rerun")
    assert acts["service:app/restart"].command == "docker compose restart app"
    assert acts["volume:dbdata/delete"].command.startswith("docker volume rm")
    assert acts["postgres:db/delete"].command == "docker compose rm -s -f db"  # never kubectl
    assert acts["postgres:orders-db/failover"].command.startswith("aws rds ")
    assert acts["object-bucket:acme-exports/delete"].command.startswith("gsutil ")
    assert acts["postgres:billing-sql/failover"].command.startswith("gcloud sql instances failover billing-sql")


def test_bucket_iam_bindings_are_iam_not_buckets() -> None:
    inv = _scan(FIX / "platforms")
    kinds = {r.attributes.get("terraform_address"): r.kind for r in inv.resources}
    assert kinds["google_storage_bucket.exports"] == "object-bucket"
    assert kinds["google_storage_bucket_iam_member.exports_reader"] == "iam"


def test_a_workflow_says_what_it_does_and_where_it_deploys() -> None:
    job = {c.id: c for c in _scan(FIX / "platforms").components}["job:gha-release"]
    assert job.attributes["does"] == ["deploys", "publishes", "runs-tests"]
    assert job.environments == ["prod"]
    assert job.environment_sources[0].how == "job deploy deploys to the production environment"
    assert {(f.name, f.value) for f in job.facts} >= {("deploys_to", "prod"), ("does", "publishes")}


def test_a_test_only_workflow_runs_on_ci_and_a_publishing_one_is_unresolved(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text("on: [pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
                               "    steps:\n      - run: pytest -q\n")
    (wf / "release.yml").write_text("on: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
                                    "    steps:\n      - run: pytest -q\n      - run: docker push ghcr.io/acme/app:1\n")
    jobs = {c.id: c for c in _scan(tmp_path).components}
    ci = jobs["job:gha-ci"]
    assert ci.environments == ["test"] and "only runs tests" in ci.environment_sources[0].how
    assert jobs["job:gha-release"].environments == [], jobs["job:gha-release"].environment_sources
