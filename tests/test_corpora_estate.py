"""The estate as it is: environments and systems resolved from explicit signals, on real
repositories (../shared/corpora; skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.model import Inventory
from tests.estate_support import CORPORA, scan_corpus

FLUX = CORPORA / "fluxcd__flux2-kustomize-helm-example"
FLINK = CORPORA / "apache__flink-kubernetes-operator"
SPARK = CORPORA / "kubeflow__spark-operator"
FOUNDATION = CORPORA / "terraform-google-modules__terraform-example-foundation"
NOTIFY = CORPORA / "cds-snc__notification-api"
OPENSHIFT_RUNBOOKS = CORPORA / "openshift__runbooks"
PROMETHEUS_RUNBOOKS = CORPORA / "prometheus-operator__runbooks"

pytestmark = pytest.mark.corpora



def _ents(inv: Inventory) -> dict:
    return {e.id: e for e in (*inv.components, *inv.resources)}


def test_flux_podinfo_is_a_system_in_production_and_staging() -> None:
    podinfo = _ents(scan_corpus(FLUX))["service:podinfo"]
    assert {"prod", "staging"} <= set(podinfo.environments)
    for env in ("prod", "staging"):
        srcs = [s for s in podinfo.environment_sources if s.environment == env]
        assert srcs and all(s.evidence and s.how for s in srcs), env
    assert any("Flux Kustomization" in s.how for s in podinfo.environment_sources)


def test_flux_infrastructure_controllers_follow_the_cluster_kustomizations() -> None:
    ents = _ents(scan_corpus(FLUX))
    assert set(ents["service:cert-manager"].environments) == {"prod", "staging"}


def test_flink_and_spark_custom_resources_are_systems() -> None:
    flink = [c for c in scan_corpus(FLINK).components if (c.subtype or "").startswith("flink")]
    assert {c.subtype for c in flink} == {"flink-deployment", "flink-session-job"}
    assert any(c.kind == "service" and c.subtype == "flink-deployment" for c in flink)
    spark = {c.id: c for c in scan_corpus(SPARK).components}
    assert spark["job:spark-pi"].subtype == "spark-application"
    assert any(c.kind == "cron-job" and c.subtype == "scheduled-spark-application" for c in spark.values())


def _label(ent) -> str | None:
    addr = ent.attributes.get("terraform_address")
    return str(addr).rsplit(".", 1)[-1] if isinstance(addr, str) else None


def test_foundation_production_roots_are_production_and_named_from_attributes() -> None:
    inv = scan_corpus(FOUNDATION)
    in_prod_root = [e for e in inv.resources if any("/envs/production/" in ev.path for ev in e.evidence)]
    assert in_prod_root
    for ent in in_prod_root:
        assert "prod" in ent.environments, ent.id
        assert ent.name != _label(ent) and "{" not in ent.name and "$" not in ent.name, ent.name
    # What those roots instantiate is production too, through the module calls.
    via_module = [e for e in inv.resources
                  if any(s.environment == "prod" and s.resolver == "terraform" for s in e.environment_sources)]
    assert len(via_module) >= 20
    for ent in inv.resources:
        assert ent.name != _label(ent) and "${" not in ent.name and "{" not in ent.name, ent.id
    # The environments the estate names itself, not guessed ones.
    assert {"prod", "nonproduction", "dev"} <= {e.name for e in inv.environments}


def test_notification_api_catalog_entry_is_a_system_with_its_owner() -> None:
    inv = scan_corpus(NOTIFY)
    svc = {c.id: c for c in inv.components}["service:notification-api-service"]
    assert svc.owners == ["notify-dev"]
    assert any(o.name == "notify-dev" for o in inv.owners)
    # Its dev container stack is local development; nothing else is called dev.
    dev = {e.id for e in (*inv.components, *inv.resources) if "dev" in e.environments}
    assert {"postgres:db", "redis:redis"} <= dev


def _runbook_resolution(inv: Inventory) -> tuple[int, int]:
    """(runbook command sightings, those whose actions resolved to a system)."""
    seen: dict[tuple[str, int, str], bool] = {}
    for act in inv.actions:
        for ref in act.commands if act.origin == "command" else ():
            if ref.evidence.path.endswith(".md"):
                key = (ref.evidence.path, ref.evidence.line, ref.command)
                seen[key] = seen.get(key, False) or act.target is not None
    return len(seen), sum(seen.values())


@pytest.mark.parametrize("root", [OPENSHIFT_RUNBOOKS, PROMETHEUS_RUNBOOKS], ids=["openshift", "prometheus"])
def test_runbook_only_estates_resolve_commands_to_the_systems_they_operate(root: Path) -> None:
    inv = scan_corpus(root)
    total, resolved = _runbook_resolution(inv)
    assert total > 50 and resolved >= 0.8 * total, (resolved, total)
    ents = _ents(inv)
    # Named workloads and the tools' own systems, not only the current context's cluster.
    assert "other:etcd" in ents
    named = [e for e in ents.values() if e.attributes.get("operated_from") and e.kind != "k8s-cluster"]
    assert len(named) >= 5
    assert all(e.evidence and e.evidence[0].path.endswith(".md") for e in named)


def _targets_at(inv: Inventory, path: str) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for act in inv.actions:
        for ref in act.commands:
            if ref.evidence.path == path:
                out.setdefault(ref.command, set()).add(act.target)
    return out


def test_foundation_wrapper_and_branch_pushes_run_their_environment_root() -> None:
    inv = scan_corpus(FOUNDATION)
    t = _targets_at(inv, "2-environments/README.md")
    root = "other:tf-root-2-environments-envs-production"
    assert t["./tf-wrapper.sh apply production"] == {root}
    assert t["git push origin production"] == {root}
    assert _ents(inv)[root].environments == ["prod"]
    # `cd gcp-environments` left the scanned tree: a relative -chdir there names nothing.
    assert t['export backend_bucket=$(terraform -chdir="../gcp-bootstrap/" output -raw gcs_bucket_tfstate)'] == {None}


def test_openshift_runbook_session_carries_the_project_namespace() -> None:
    t = _targets_at(scan_corpus(OPENSHIFT_RUNBOOKS), "alerts/openshift-container-storage-operator/helpers/podDebug.md")
    assert t["oc logs pod/${MYPOD}"] == {"k8s-namespace:openshift-storage"}
