"""Grouping the inventory into systems."""

from __future__ import annotations

from generators.documents.systems import group_systems
from inventory.model import Edge, Evidence, Resource
from tests.factories import make_inventory


def test_shared_infrastructure_is_its_own_system_and_topics_join_their_cluster() -> None:
    g = group_systems(make_inventory())
    ids = [s.id for s in g.systems]
    assert ids == sorted(ids)
    # Each database and bucket is a system even though only one component uses it.
    assert g.system_of["postgres:orders-db"] == "postgres:orders-db"
    assert g.system_of["object-bucket:acme-training-data"] == "object-bucket:acme-training-data"
    # Topics belong to the Kafka cluster named by their Strimzi label.
    assert g.system_of["kafka-topic:orders-events"] == "kafka-cluster:events"
    events = g.by_id()["kafka-cluster:events"]
    assert events.members == ["kafka-cluster:events", "kafka-topic:orders-events", "kafka-topic:payments-events"]


def test_private_resource_folds_into_its_only_user_and_dependencies_follow() -> None:
    g = group_systems(make_inventory())
    assert g.system_of["volume:orders-api-cache"] == "service:orders-api"
    orders = g.by_id()["service:orders-api"]
    assert orders.members[0] == "service:orders-api"
    # The topic edge becomes a dependency on the cluster system; the volume edge disappears.
    assert orders.depends_on == ["kafka-cluster:events", "postgres:orders-db"]


def test_resource_used_by_two_components_is_its_own_system() -> None:
    inv = make_inventory()
    inv.edges.append(Edge(source="service:payments-api", target="volume:orders-api-cache",
                          evidence=[Evidence(path="k8s/base/payments-api.yaml", line=9)]))
    g = group_systems(inv)
    assert g.system_of["volume:orders-api-cache"] == "volume:orders-api-cache"
    assert "volume:orders-api-cache" in g.by_id()["service:payments-api"].depends_on


def test_topic_of_unknown_cluster_with_two_clusters_stands_alone() -> None:
    inv = make_inventory()
    inv.resources.append(Resource(id="kafka-cluster:analytics", kind="kafka-cluster", name="analytics",
                                  evidence=[Evidence(path="k8s/kafka/analytics.yaml", line=1)]))
    inv.resources.append(Resource(id="kafka-topic:clicks", kind="kafka-topic", name="clicks",
                                  evidence=[Evidence(path="k8s/kafka/topics.yaml", line=40)]))
    g = group_systems(inv)
    assert g.system_of["kafka-topic:clicks"] == "kafka-topic:clicks"
    assert g.system_of["kafka-topic:orders-events"] == "kafka-cluster:events"  # label still wins
