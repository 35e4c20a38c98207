"""Resolvers whose signal is a command: Terraform workspaces, ``-var-file`` on the command
line, and kube contexts (one fixture per signal kind, built in a temporary directory)."""

from __future__ import annotations

from pathlib import Path

from inventory.model import Inventory
from tests.estate_support import scan_files as _scan

DB_TF = """resource "aws_db_instance" "orders" {
  identifier = "orders-db-${terraform.workspace}"
  engine     = "postgres"
}
"""


def _ent(inv: Inventory, ent_id: str):
    return next(e for e in (*inv.components, *inv.resources) if e.id == ent_id)


def test_terraform_workspace_select_places_the_root_module(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {
        "infra/main.tf": DB_TF,
        "Makefile": "plan-prod:\n\tcd infra && terraform workspace select prod && terraform plan\n"
                    "plan-staging:\n\tterraform -chdir=infra workspace select staging\n"
                    "plan-blue:\n\tterraform -chdir=infra workspace select blue\n",
    })
    db = _ent(inv, "postgres:orders-db")
    assert set(db.environments) == {"prod", "staging"}  # `blue` names no environment
    srcs = {s.environment: s for s in db.environment_sources}
    assert srcs["prod"].resolver == "terraform-workspace" and str(srcs["prod"].evidence[0]) == "Makefile:2"
    assert "workspace prod" in srcs["prod"].how and "infra/" in srcs["prod"].how
    # Its name in each workspace: a command naming orders-db-prod finds it, in prod.
    assert db.attributes["names_by_environment"] == ["prod: orders-db-prod", "staging: orders-db-staging"]


def test_tf_workspace_variable_and_the_one_root_reading_the_workspace(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {
        "infra/main.tf": DB_TF,
        "other/main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "acme-exports"\n}\n',
        ".github/workflows/deploy.yml": "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n"
                                        "      - run: TF_WORKSPACE=staging terraform apply -auto-approve\n",
    })
    assert _ent(inv, "postgres:orders-db").environments == ["staging"]
    assert _ent(inv, "object-bucket:acme-exports").environments == []  # does not read the workspace


def test_var_file_on_the_command_line_places_the_root_it_runs(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {
        "deploy/main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "acme-exports"\n}\n',
        "vars/production.tfvars": 'region = "eu-west-1"\n',
        "scripts/apply.sh": "#!/bin/sh\nterraform -chdir=deploy apply -var-file=../vars/production.tfvars\n",
        "Makefile": "apply-stg:\n\tcd deploy && terraform apply -var-file=envs/stg.tfvars\n"
                    "apply-any:\n\tterraform apply -var-file=common.tfvars\n",
    })
    bucket = _ent(inv, "object-bucket:acme-exports")
    assert set(bucket.environments) == {"prod", "staging"}
    srcs = {s.environment: s for s in bucket.environment_sources if s.resolver == "terraform-var-file"}
    assert str(srcs["prod"].evidence[0]) == "scripts/apply.sh:2" and "deploy/" in srcs["prod"].how
    assert str(srcs["staging"].evidence[0]) == "Makefile:2"


def test_kube_context_places_what_the_command_applies(tmp_path: Path) -> None:
    deploy = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  template:\n"
              "    spec:\n      containers: [{{name: app, image: acme/{name}:1}}]\n")
    inv = _scan(tmp_path, {
        "k8s/web/deploy.yaml": deploy.format(name="web"),
        "k8s/worker/deploy.yaml": deploy.format(name="worker"),
        "k8s/batch/deploy.yaml": deploy.format(name="batch"),
        "scripts/deploy.sh": "#!/bin/sh\nkubectl --context prod-eu apply -f k8s/web/\n"
                             "kubectl config use-context gke_acme_staging\nkubectl apply -f k8s/worker/\n",
        "runbooks/batch.md": "```\nkubectl config use-context acme-prod\nkubectl apply -f k8s/batch/\n```\n",
    })
    web = _ent(inv, "service:web")
    assert web.environments == ["prod"] and web.environment_sources[0].resolver == "kube-context"
    assert str(web.environment_sources[0].evidence[0]) == "scripts/deploy.sh:2"
    assert _ent(inv, "service:worker").environments == ["staging"]  # the script's current context
    assert _ent(inv, "service:batch").environments == []  # a runbook's earlier use-context is not stated
