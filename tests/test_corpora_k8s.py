"""Kubernetes-family scanners on real repositories (../shared/corpora; skipped when absent)."""

from __future__ import annotations


import pytest

from inventory.model import Inventory
from tests.estate_support import CORPORA, scan_corpus

BOA = CORPORA / "GoogleCloudPlatform__bank-of-anthos"
STRIMZI = CORPORA / "strimzi__strimzi-kafka-operator"
OURS = ("kubernetes", "helm", "kustomize")

pytestmark = pytest.mark.corpora



def _edges(inv: Inventory) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.kind) for e in inv.edges}


def test_bank_of_anthos_databases_are_postgres_with_volumes() -> None:
    inv = scan_corpus(BOA)
    res = {r.id: r for r in inv.resources}
    for db in ("accounts-db", "ledger-db"):
        pg = res[f"postgres:{db}"]
        assert pg.stateful is True and pg.replicas == 1
        assert pg.attributes["k8s_kind"] == "StatefulSet"
        assert pg.attributes["ports"] == ["5432/TCP"]
        assert (pg.id, f"volume:{db}", "writes") in _edges(inv)
    assert "payments" in res["postgres:ledger-db"].data_classes
    assert "pii" in res["postgres:accounts-db"].data_classes


def test_bank_of_anthos_services_reach_their_databases_through_configmaps() -> None:
    inv = scan_corpus(BOA)
    comps = {c.id for c in inv.components}
    assert {"service:frontend", "service:userservice", "service:ledgerwriter", "service:balancereader",
            "service:transactionhistory", "service:contacts"} <= comps
    edges = _edges(inv)
    assert ("service:userservice", "postgres:accounts-db", "depends-on") in edges
    assert ("service:contacts", "postgres:accounts-db", "depends-on") in edges
    for svc in ("ledgerwriter", "balancereader", "transactionhistory"):
        assert (f"service:{svc}", "postgres:ledger-db", "depends-on") in edges
    assert ("service:frontend", "service:userservice", "depends-on") in edges
    via = {(e.source, e.target): e.via for e in inv.edges}
    assert via[("service:userservice", "postgres:accounts-db")] == "accounts-db-config:ACCOUNTS_DB_URI"


def test_bank_of_anthos_environments_come_from_overlays() -> None:
    inv = scan_corpus(BOA)
    frontend = {c.id: c for c in inv.components}["service:frontend"]
    assert {"dev", "prod", "staging"} <= set(frontend.environments)
    assert frontend.attributes["namespace.prod"] == "bank-of-anthos-production"
    assert frontend.attributes["service_type"] == "LoadBalancer"


def test_bank_of_anthos_jwt_secret_is_a_name_only() -> None:
    inv = scan_corpus(BOA)
    jwt = {r.id: r for r in inv.resources}["secret:jwt-key"]
    assert jwt.attributes["keys"] == ["jwtRS256.key", "jwtRS256.key.pub"]
    assert any(ev.path == "extras/jwt/jwt-secret.yaml" for ev in inv.secrets)
    dumped = inv.model_dump_json()
    assert "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVkt" not in dumped  # the base64 private key
    assert "accounts-pwd" not in dumped and "bankofanthos" not in dumped.replace("bank-of-anthos", "")


def test_strimzi_examples_clusters_topics_users() -> None:
    inv = scan_corpus(STRIMZI)
    res = {r.id: r for r in inv.resources}
    # Every example folder deploys its own `my-cluster`: one cluster per folder, not one merged.
    clusters = [r for r in res.values() if r.kind == "kafka-cluster"]
    assert len(clusters) >= 10
    assert {"kafka-cluster:my-cluster.kafka", "kafka-cluster:my-cluster.tls-auth", "kafka-cluster:cluster-a.tls-auth",
            "kafka-cluster:cluster-b.mirror-maker"} <= set(res)
    kafka = res["kafka-cluster:my-cluster.kafka"]
    assert kafka.name == "my-cluster" and kafka.attributes["deployment_unit"] == "examples/kafka"
    assert kafka.attributes["kafka_version"] == "4.3.1"
    assert kafka.replicas and kafka.replicas >= 3  # from its node pools
    topic = res["kafka-topic:my-topic.topic"]
    assert topic.attributes["cluster"] == "my-cluster"
    assert "config.retention.ms" in topic.attributes
    assert {"kafka-user:my-user.user", "kafka-user:my-connect.tls-auth", "kafka-user:my-bridge.tls-auth"} <= set(res)
    edges = _edges(inv)
    # Within one example folder, topics and users bind to that folder's cluster.
    assert ("kafka-topic:my-topic.tls-auth", "kafka-cluster:my-cluster.tls-auth", "member-of") in edges
    assert ("kafka-user:my-user.tls-auth", "kafka-topic:my-topic.tls-auth", "consumes") in edges
    assert ("kafka-user:my-user.tls-auth", "kafka-topic:my-topic.tls-auth", "produces") in edges
    assert ("kafka-user:my-user.tls-auth", "kafka-cluster:my-cluster.tls-auth", "member-of") in edges
    # The topic of examples/topic/ names `my-cluster`, which several folders define: no guess.
    assert not any(s == "kafka-topic:my-topic.topic" and k == "member-of" for s, _, k in edges)


def test_strimzi_operator_and_helm_chart() -> None:
    inv = scan_corpus(STRIMZI)
    comps = {c.id: c for c in inv.components}
    chart = comps["service:strimzi-kafka-operator"]
    assert chart.evidence[0].path == "helm-charts/helm3/strimzi-kafka-operator/Chart.yaml"
    assert "Deployment" in chart.attributes["deploys"]
    assert "service:strimzi-cluster-operator" in comps
    res = {r.id: r for r in inv.resources}
    crb = [r for r in res.values() if r.attributes.get("k8s_kind") == "ClusterRoleBinding"]
    assert crb, "the operator's RBAC is inventoried"


def test_no_warning_flood_from_templates_or_manifests() -> None:
    for root in (BOA, STRIMZI):
        inv = scan_corpus(root)
        ours = [w for w in inv.warnings if w.scanner in OURS]
        assert ours == [], ours[:5]
