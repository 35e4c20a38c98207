"""Deployment units: same-named manifests in unrelated folders are different systems; the same
one across Kustomize overlays stays one (fixture: tests/fixtures/estate/confluent-examples,
laid out like the Confluent for Kubernetes examples repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.model import Inventory
from inventory.scan import scan_paths

FIX = Path(__file__).parent / "fixtures" / "estate" / "confluent-examples"
EXAMPLES = 12  # example folders, each with a Kafka named `kafka` in namespace `confluent`


def _scan() -> Inventory:
    inv, _ = scan_paths([FIX], use_cache=False, jobs=1)
    return inv


def test_same_named_kafkas_in_example_folders_are_separate_clusters() -> None:
    inv = _scan()
    clusters = [r for r in inv.resources if r.kind == "kafka-cluster"]
    named_kafka = [c for c in clusters if c.name == "kafka"]
    assert len(named_kafka) == EXAMPLES + 2  # + two namespaces of one folder
    ids = {c.id for c in named_kafka}
    # Readable ids: the shortest tail of the folder that tells them apart, or the namespace.
    assert {"kafka-cluster:kafka.plain-with-ldap", "kafka-cluster:kafka.source", "kafka-cluster:kafka.destination",
            "kafka-cluster:kafka.multi-tenant-team-a", "kafka-cluster:kafka.multi-tenant-team-b"} <= ids
    ldap = next(c for c in named_kafka if c.id == "kafka-cluster:kafka.plain-with-ldap")
    assert ldap.attributes["deployment_unit"] == "security/plain-with-ldap"
    assert [str(ev) for ev in ldap.evidence] == ["security/plain-with-ldap/confluent-platform.yaml:4"]  # metadata.name


def test_topics_are_bound_to_the_cluster_of_their_folder() -> None:
    inv = _scan()
    topics = [r for r in inv.resources if r.kind == "kafka-topic"]
    assert len(topics) >= 2 * EXAMPLES + 2
    member = {e.source: e.target for e in inv.edges if e.kind == "member-of"}
    for t in topics:
        assert t.id in member, t.id  # every topic is bound to a cluster
    # By kafkaClusterRef (even examples) and, without one, as the only Kafka of its namespace.
    assert member["kafka-topic:demo-topic.plain-with-ldap"] == "kafka-cluster:kafka.plain-with-ldap"
    assert member["kafka-topic:security-mtls-events"] == "kafka-cluster:kafka.mtls"
    assert member["kafka-topic:demo-topic.source"] == "kafka-cluster:kafka.source"
    assert member["kafka-topic:audit.team-b"] == "kafka-cluster:kafka.multi-tenant-team-b"


def test_the_same_cluster_across_overlays_stays_one_entity_in_both_environments() -> None:
    inv = _scan()
    ents = {e.id: e for e in (*inv.components, *inv.resources)}
    assert "kafka-cluster:gitops-kafka" in ents and not any(i.startswith("kafka-cluster:gitops-kafka.") for i in ents)
    payments = ents["kafka-topic:payments"]  # defined in each overlay: one topic, two environments
    assert set(payments.environments) == {"prod", "staging"}
    assert {e.target for e in inv.edges if e.source == payments.id and e.kind == "member-of"} == {
        "kafka-cluster:gitops-kafka"}


def test_ids_are_stable_whatever_the_scan_order() -> None:
    a, b = _scan(), _scan()
    assert sorted(e.id for e in a.resources) == sorted(e.id for e in b.resources)


ONE_FILE = """apiVersion: platform.confluent.io/v1beta1
kind: Kafka
metadata: {name: kafka, namespace: team-a}
spec: {replicas: 3, image: {application: confluentinc/cp-server:7.6.0}}
---
apiVersion: platform.confluent.io/v1beta1
kind: Kafka
metadata: {name: kafka, namespace: team-b}
spec: {replicas: 3, image: {application: confluentinc/cp-server:7.6.0}}
---
apiVersion: platform.confluent.io/v1beta1
kind: KafkaTopic
metadata: {name: orders, namespace: team-a}
spec: {replicas: 3}
---
apiVersion: platform.confluent.io/v1beta1
kind: KafkaTopic
metadata: {name: audit, namespace: team-b}
spec: {replicas: 3, kafkaClusterRef: {name: kafka}}
"""


def test_two_namespaces_in_one_file_are_two_clusters_with_their_own_topics(tmp_path: Path) -> None:
    (tmp_path / "multi-tenant").mkdir()
    (tmp_path / "multi-tenant" / "confluent-platform.yaml").write_text(ONE_FILE, encoding="utf-8")
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    clusters = {r.id: r for r in inv.resources if r.kind == "kafka-cluster"}
    assert sorted(clusters) == ["kafka-cluster:kafka.team-a", "kafka-cluster:kafka.team-b"]
    a, b = clusters["kafka-cluster:kafka.team-a"], clusters["kafka-cluster:kafka.team-b"]
    assert (a.name, a.namespace, [str(e) for e in a.evidence]) == ("kafka", "team-a", ["multi-tenant/confluent-platform.yaml:3"])
    assert (b.name, b.namespace, [str(e) for e in b.evidence]) == ("kafka", "team-b", ["multi-tenant/confluent-platform.yaml:8"])
    member = {e.source: e.target for e in inv.edges if e.kind == "member-of"}
    # By kafkaClusterRef within its own namespace, and as the only Kafka of its namespace.
    assert member == {"kafka-topic:audit": b.id, "kafka-topic:orders": a.id}
    again, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert sorted(r.id for r in again.resources) == sorted(r.id for r in inv.resources)


def test_one_definition_per_file_in_one_namespace_stays_one_entity(tmp_path: Path) -> None:
    doc = ONE_FILE.split("---\n")[0]
    (tmp_path / "a.yaml").write_text(doc + "---\n" + doc.replace("replicas: 3", "replicas: 5"), encoding="utf-8")
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert [r.id for r in inv.resources if r.kind == "kafka-cluster"] == ["kafka-cluster:kafka"]


def test_units_are_not_built_when_every_custom_resource_is_defined_once(monkeypatch) -> None:
    """Without a same-named custom resource in two places or a Confluent cluster, no unit is
    asked for: the fragments come back as they are, without a walk of their directories."""
    import inventory.units as units
    from inventory.config import Config
    from inventory.model import Evidence, Resource
    from inventory.scanners.base import Fragment

    def _kafka(name: str, path: str) -> Fragment:
        res = Resource(id=f"kafka-cluster:{name}", kind="kafka-cluster", name=name, subtype="strimzi",
                       attributes={"k8s_kind": "Kafka"}, evidence=[Evidence(path=path, line=1)])
        return Fragment(path=path, scanner="kubernetes", resources=[res])

    frags = [_kafka("a", "x/a.yaml"), _kafka("b", "y/b.yaml")]

    def refuse(*_: object) -> None:
        raise AssertionError("units built")

    monkeypatch.setattr(units, "_units", refuse)
    assert units.separate_same_named(frags, Config()) is frags
    # The same name in two folders does need them.
    with pytest.raises(AssertionError, match="units built"):
        units.separate_same_named([_kafka("a", "x/a.yaml"), _kafka("a", "y/a.yaml")], Config())
