"""Grouping the inventory into systems."""

from __future__ import annotations

from generators.documents.systems import group_systems
from inventory.model import Component, Edge, Evidence, Resource
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


def _iam(rid: str, name: str, path: str = "terraform/iam.tf") -> Resource:
    return Resource(id=rid, kind="iam", name=name, environments=["prod"], evidence=[Evidence(path=path, line=1)])


def test_iam_and_rbac_for_one_workload_form_one_access_system() -> None:
    inv = make_inventory()
    inv.resources += [
        _iam("iam:role-acme-training-data-export", "acme-training-data-export"),
        _iam("iam:policy-acme-training-data-export", "acme-training-data-export"),
        _iam("iam:role-policy-attachment-training_export", "training_export"),
        _iam("iam:serviceaccount-training-data-export", "serviceaccount/training-data-export", "k8s/base/rbac.yaml"),
        _iam("iam:role-deployer", "deployer"),
    ]
    e = [Evidence(path="terraform/iam.tf", line=50)]
    inv.edges += [
        Edge(source="iam:role-policy-attachment-training_export", target="iam:role-acme-training-data-export", evidence=e),
        Edge(source="iam:role-policy-attachment-training_export", target="iam:policy-acme-training-data-export", evidence=e),
        Edge(source="cron-job:training-data-export", target="iam:serviceaccount-training-data-export", evidence=e),
    ]
    g = group_systems(inv)
    access = g.by_id()["access:training-data-export"]
    assert access.kind == "access" and access.title == "training-data-export access (IAM/RBAC)"
    assert sorted(access.members) == sorted([
        "iam:policy-acme-training-data-export", "iam:role-acme-training-data-export",
        "iam:role-policy-attachment-training_export", "iam:serviceaccount-training-data-export"])
    # An IAM role serving no known workload is its own access system, named after itself.
    assert g.system_of["iam:role-deployer"] == "access:deployer"
    assert "access:training-data-export" in g.by_id()["cron-job:training-data-export"].depends_on


def test_dns_record_joins_the_system_it_points_at() -> None:
    inv = make_inventory()
    inv.resources.append(Resource(id="dns:orders-db-record", kind="dns", name="orders-db", environments=["prod"],
                                  evidence=[Evidence(path="terraform/dns.tf", line=9)]))
    inv.edges.append(Edge(source="dns:orders-db-record", target="postgres:orders-db",
                          evidence=[Evidence(path="terraform/dns.tf", line=14)]))
    inv.resources.append(Resource(id="dns:lonely", kind="dns", name="lonely", environments=["prod"],
                                  evidence=[Evidence(path="terraform/dns.tf", line=20)]))
    g = group_systems(inv)
    assert g.system_of["dns:orders-db-record"] == "postgres:orders-db"
    assert g.system_of["dns:lonely"] == "dns:lonely"


def test_dev_only_entities_form_one_local_dev_system_listed_last() -> None:
    inv = make_inventory()
    dev = [Evidence(path="docker-compose.yml", line=3)]
    inv.resources += [
        Resource(id="postgres:postgres", kind="postgres", name="postgres", environments=["dev"], evidence=dev),
        Resource(id="kafka-cluster:kafka", kind="kafka-cluster", name="kafka", environments=["dev"], evidence=dev),
    ]
    inv.components.append(Component(id="service:mailpit", kind="service", name="mailpit", environments=["dev"],
                                    evidence=dev))
    inv.edges.append(Edge(source="service:orders-api", target="postgres:postgres", evidence=dev))
    g = group_systems(inv)
    assert g.systems[-1].id == "local-dev" and g.systems[-1].kind == "local-dev"
    assert sorted(g.systems[-1].members) == ["kafka-cluster:kafka", "postgres:postgres", "service:mailpit"]
    assert "local-dev" in g.by_id()["service:orders-api"].depends_on
    # A dev-and-prod service stays its own system; topics keep finding the prod cluster.
    assert g.system_of["service:orders-api"] == "service:orders-api"
    assert g.system_of["kafka-topic:orders-events"] == "kafka-cluster:events"


def test_strimzi_labelled_node_pool_joins_its_cluster() -> None:
    inv = make_inventory()
    inv.resources.append(Resource(id="other:events-dual-role", kind="other", name="events/dual-role",
                                  subtype="kafka-node-pool", labels={"strimzi.io/cluster": "events"},
                                  evidence=[Evidence(path="k8s/kafka/kafka-cluster.yaml", line=6)]))
    inv.resources.append(Resource(id="other:orphan", kind="other", name="orphan",
                                  evidence=[Evidence(path="x.yaml", line=1)]))
    g = group_systems(inv)
    assert g.system_of["other:events-dual-role"] == "kafka-cluster:events"
    assert g.system_of["other:orphan"] == "other:orphan"
