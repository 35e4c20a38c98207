"""Runbook commands resolve to the systems they name, on real repositories (../shared/corpora;
skipped when absent): clusters and contexts, manifests applied from the repository, Helm
releases, images a workload runs."""

from __future__ import annotations


import pytest

from inventory.model import Inventory
from tests.estate_support import CORPORA, scan_corpus

BANK = CORPORA / "GoogleCloudPlatform__bank-of-anthos"
FLINK = CORPORA / "apache__flink-kubernetes-operator"
STRIMZI = CORPORA / "strimzi__strimzi-kafka-operator"

pytestmark = pytest.mark.corpora



def _targets(inv: Inventory, path: str, line: int) -> set[str | None]:
    out = {a.target for a in inv.actions for r in a.commands
           if r.evidence.path == path and r.evidence.line == line}
    assert out, f"no command at {path}:{line}"
    return out


def test_bank_of_anthos_clusters_contexts_and_manifests() -> None:
    inv = scan_corpus(BANK)
    # `gcloud container clusters get-credentials bank-of-anthos`: the cluster, not the project.
    assert _targets(inv, ".github/workflows/ui-tests/README.md", 13) == {"k8s-cluster:bank-of-anthos"}
    # `kubectx cluster-1`: the cluster it selects.
    assert _targets(inv, "extras/asm-multicluster/README.md", 53) == {"k8s-cluster:cluster-1"}
    # `kubectl apply -f ../../kubernetes-manifests/accounts-db.yaml`: what the file defines.
    assert _targets(inv, "extras/asm-multicluster/README.md", 76) == {"postgres:accounts-db"}
    # `gcloud container clusters get-credentials ${CLUSTER_1_NAME}`: a placeholder names nothing.
    assert _targets(inv, "extras/cloudsql-multicluster/README.md", 71) == {None}


def test_flink_image_builds_operate_the_deployment_running_the_image() -> None:
    inv = scan_corpus(FLINK)
    assert _targets(inv, "examples/flink-beam-example/README.md", 58) == {"service:beam-example"}
    # Two FlinkDeployments run autoscaling-example: not guessed.
    assert _targets(inv, "examples/autoscaling/README.md", 75) == {None}


def test_strimzi_operator_deployment_and_helm_release() -> None:
    inv = scan_corpus(STRIMZI)
    assert _targets(inv, "development-docs/DEBUGGING.md", 50) == {"service:strimzi-cluster-operator"}
    release = "service:my-strimzi-cluster-operator"
    assert _targets(inv, "helm-charts/helm3/strimzi-kafka-operator/README.md", 85) == {release}
    assert _targets(inv, "helm-charts/helm3/strimzi-kafka-operator/README.md", 96) == {release}
