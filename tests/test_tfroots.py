"""Runbook commands that run a Terraform root module resolve to that root (a system of its
own, placed by the root's per-environment directory): ``terraform -chdir=<dir>``, a bare
``terraform`` in a root's README or after ``cd <root>``, an unread wrapper script or
``git push`` whose argument is the one root of that name under the runbook's directory, and
``cp``/``mv`` of a path in a root. A ``cd`` out of the scanned tree, a child module's name,
several roots of one name and local subcommands (``terraform login``) resolve nothing. Google
Cloud commands name their bucket, dataset or project."""

from __future__ import annotations

from pathlib import Path

from tests.estate_support import scan_files as _scan, command_targets as _targets

MAIN = """module "app" {{
  source = "../../modules/app"
  env    = "{env}"
}}
"""
APP = """resource "google_storage_bucket" "data" {
  name     = "acme-${var.env}-data"
  location = "EU"
}
variable "env" {}
"""
README = """# Infra

```bash
terraform -chdir=envs/production plan
./tf-wrapper.sh apply staging
git push origin production
./tf-wrapper.sh apply app
terraform -chdir=../elsewhere/ output
terraform login
cd envs/staging && terraform apply -auto-approve
```

```bash
cd ../elsewhere-copy
terraform -chdir=envs/production destroy
./tf-wrapper.sh plan production
mv terraform.example.tfvars terraform.tfvars
```
"""


def _estate(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"infra/envs/production/main.tf": MAIN.format(env="prod"),
            "infra/envs/staging/main.tf": MAIN.format(env="staging"),
            "infra/modules/app/main.tf": APP, "infra/README.md": README, **(extra or {})}


PROD = "other:tf-root-infra-envs-production"
STAGING = "other:tf-root-infra-envs-staging"


def test_commands_that_run_a_root_resolve_to_it_and_its_environment(tmp_path: Path) -> None:
    inv = _scan(tmp_path, _estate())
    t = _targets(inv)
    assert t["terraform -chdir=envs/production plan"] == {PROD}
    assert t["./tf-wrapper.sh apply staging"] == {STAGING}
    assert t["git push origin production"] == {PROD}
    assert t["cd envs/staging && terraform apply -auto-approve"] == {STAGING}
    ents = {e.id: e for e in inv.resources}
    prod = ents[PROD]
    assert (prod.name, prod.subtype, prod.environments) == ("infra/envs/production", "terraform-root", ["prod"])
    src = next(s for s in prod.environment_sources if s.resolver == "terraform-root")
    assert "infra/envs/production/" in src.how
    assert [str(e) for e in src.evidence] == ["infra/envs/production/main.tf:1"]
    assert "-chdir=envs/production" in str(prod.attributes["operated_from"])
    # The root's own operations are actions on it, in Terraform's syntax.
    implied = {a.verb: a.command for a in inv.actions if a.target == PROD and a.origin == "implied"}
    assert implied["destroy"] == "terraform -chdir=infra/envs/production destroy"


def test_what_names_no_single_root_in_the_tree_resolves_nothing(tmp_path: Path) -> None:
    t = _targets(_scan(tmp_path, _estate()))
    assert t["./tf-wrapper.sh apply app"] == {None}  # a child module is not a root
    assert t["terraform -chdir=../elsewhere/ output"] == {None}  # outside the scanned tree
    assert t["terraform login"] == {None}  # the local machine's credentials
    # After `cd` out of the tree, relative paths name nothing; a root named by name still does.
    assert t["terraform -chdir=envs/production destroy"] == {None}
    assert t["mv terraform.example.tfvars terraform.tfvars"] == {None}
    assert t["./tf-wrapper.sh plan production"] == {PROD}


def test_two_roots_of_one_name_are_ambiguous(tmp_path: Path) -> None:
    inv = _scan(tmp_path, _estate({"infra/regions/eu/production/main.tf": MAIN.format(env="prod")}))
    assert _targets(inv)["./tf-wrapper.sh plan production"] == {None}


def test_a_readme_in_a_root_runs_that_root(tmp_path: Path) -> None:
    inv = _scan(tmp_path, _estate({"infra/envs/production/README.md": "```\nterraform init\nterraform plan\n```\n"}))
    assert _targets(inv)["terraform plan"] == {PROD}


def test_google_cloud_commands_name_their_bucket_dataset_or_project(tmp_path: Path) -> None:
    rb = ("```bash\ngsutil rm -r gs://acme-exports\nbq rm -r -f acme-data:analytics\n"
          "gcloud compute instances list --project acme-prod-1\ngsutil ls gs://<bucket>\n```\n")
    inv = _scan(tmp_path, {"runbooks/gcp.md": rb})
    t = _targets(inv)
    assert t["gsutil rm -r gs://acme-exports"] == {"object-bucket:acme-exports"}
    assert t["bq rm -r -f acme-data:analytics"] == {"warehouse-dataset:analytics"}
    assert t["gcloud compute instances list --project acme-prod-1"] == {"other:acme-prod-1"}
    assert t["gsutil ls gs://<bucket>"] == {None}
    project = next(e for e in inv.resources if e.id == "other:acme-prod-1")
    assert project.subtype == "gcp-project" and project.environments == ["prod"]  # --project names prod
