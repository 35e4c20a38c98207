"""The alias pass: weak sightings (Backstage catalog, compose components) fold into the real entity."""

from __future__ import annotations

from pathlib import Path

from inventory.aliases import name_key
from inventory.config import Config
from inventory.model import Action, Component, Edge, Evidence, Resource
from inventory.scan import build_inventory, scan_paths
from inventory.scanners.base import Fragment, Reference

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


def _ev(path: str, line: int = 1) -> Evidence:
    return Evidence(path=path, line=line)


def _catalog(*resources: Resource, components: tuple[Component, ...] = (),
             references: tuple[Reference, ...] = ()) -> Fragment:
    return Fragment(path="catalog-info.yaml", scanner="backstage", resources=list(resources),
                    components=list(components), references=list(references))


def _system_resource() -> Resource:
    # The Backstage System's owner gives the organisation prefix `acme`.
    return Resource(id="other:acme-marker", kind="other", name="acme-marker", subtype="thing",
                    attributes={"backstage_system": "acme-commerce"}, evidence=[_ev("catalog-info.yaml", 90)])


def _build(*frags: Fragment):
    return build_inventory(list(frags), [], Config(), ["."])


def test_catalog_kafka_resource_merges_into_the_strimzi_cluster_keeping_evidence_and_owner() -> None:
    strimzi = Fragment(path="k8s/kafka/kafka-cluster.yaml", scanner="kubernetes", resources=[
        Resource(id="kafka-cluster:events", kind="kafka-cluster", name="events", subtype="strimzi",
                 evidence=[_ev("k8s/kafka/kafka-cluster.yaml", 4)])])
    catalog = _catalog(
        Resource(id="kafka-cluster:events-kafka", kind="kafka-cluster", name="events-kafka", subtype="kafka-cluster",
                 owners=["platform"], attributes={"backstage_type": "kafka-cluster"},
                 evidence=[_ev("catalog-info.yaml", 130)]),
        components=(Component(id="service:orders-api", kind="service", name="orders-api", subtype="backstage",
                              evidence=[_ev("catalog-info.yaml", 14)]),),
        references=(Reference(source="service:orders-api", target_name="events-kafka",
                              evidence=_ev("catalog-info.yaml", 28)),),
    )
    inv = _build(catalog, strimzi)
    ids = {r.id for r in inv.resources}
    assert "kafka-cluster:events-kafka" not in ids
    events = next(r for r in inv.resources if r.id == "kafka-cluster:events")
    assert events.name == "events" and events.subtype == "strimzi"
    assert events.owners == ["platform"]
    assert {str(e) for e in events.evidence} == {"catalog-info.yaml:130", "k8s/kafka/kafka-cluster.yaml:4"}
    assert events.attributes["aliases"] == ["kafka-cluster:events-kafka"]
    # The catalog's dependsOn by the old name still becomes an edge, to the kept id.
    assert [(e.source, e.target) for e in inv.edges] == [("service:orders-api", "kafka-cluster:events")]


def test_organisation_prefix_and_compatible_kind_are_required() -> None:
    tf = Fragment(path="terraform/elasticache.tf", scanner="terraform", resources=[
        Resource(id="redis:cache", kind="redis", name="cache", evidence=[_ev("terraform/elasticache.tf", 7)]),
        Resource(id="postgres:orders", kind="postgres", name="orders", evidence=[_ev("terraform/rds.tf", 1)])])
    catalog = _catalog(
        _system_resource(),
        Resource(id="redis:acme-cache", kind="redis", name="acme-cache", subtype="cache",
                 attributes={"backstage_type": "cache"}, evidence=[_ev("catalog-info.yaml", 140)]),
        # Same core name, different kind: a bucket called orders is not the orders database.
        Resource(id="object-bucket:acme-orders", kind="object-bucket", name="acme-orders", subtype="s3-bucket",
                 attributes={"backstage_type": "s3-bucket"}, evidence=[_ev("catalog-info.yaml", 150)]),
    )
    inv = _build(catalog, tf)
    ids = {r.id for r in inv.resources}
    assert "redis:acme-cache" not in ids and "redis:cache" in ids
    assert "object-bucket:acme-orders" in ids and "postgres:orders" in ids


def test_ambiguous_or_dev_only_targets_are_not_merged() -> None:
    k8s = Fragment(path="k8s/kafka.yaml", scanner="kubernetes", resources=[
        Resource(id="kafka-cluster:events", kind="kafka-cluster", name="events", evidence=[_ev("k8s/kafka.yaml", 1)]),
        Resource(id="kafka-cluster:events-cluster", kind="kafka-cluster", name="events-cluster",
                 evidence=[_ev("k8s/kafka.yaml", 20)])])
    compose = Fragment(path="docker-compose.yml", scanner="compose", resources=[
        Resource(id="postgres:orders", kind="postgres", name="orders", environments=["dev"],
                 evidence=[_ev("docker-compose.yml", 3)])])
    catalog = _catalog(
        Resource(id="kafka-cluster:events-kafka", kind="kafka-cluster", name="events-kafka",
                 attributes={"backstage_type": "kafka"}, evidence=[_ev("catalog-info.yaml", 1)]),
        Resource(id="postgres:orders-db", kind="postgres", name="orders-db",
                 attributes={"backstage_type": "database"}, evidence=[_ev("catalog-info.yaml", 9)]),
    )
    ids = {r.id for r in _build(catalog, k8s, compose).resources}
    # Two clusters reduce to `events`: no guess. A local dev postgres is not the catalog's database.
    assert {"kafka-cluster:events-kafka", "kafka-cluster:events", "kafka-cluster:events-cluster"} <= ids
    assert {"postgres:orders-db", "postgres:orders"} <= ids


def test_catalog_job_and_compose_service_join_the_cronjob_and_actions_follow() -> None:
    k8s = Fragment(path="k8s/base/export.yaml", scanner="kubernetes", components=[
        Component(id="cron-job:export", kind="cron-job", name="export", environments=["prod"],
                  evidence=[_ev("k8s/base/export.yaml", 2)])])
    compose = Fragment(path="docker-compose.yml", scanner="compose", components=[
        Component(id="service:export", kind="service", name="export", subtype="compose", environments=["dev"],
                  image="acme/export:dev", evidence=[_ev("docker-compose.yml", 40)])],
        edges=[Edge(source="service:export", target="cron-job:export", evidence=[_ev("docker-compose.yml", 41)])],
        actions=[Action(id="service:export/restart@dev", verb="restart", tool="docker", target="service:export",
                        environment="dev", command="docker compose restart export", origin="command",
                        evidence=[_ev("docker-compose.yml", 40)])])
    catalog = _catalog(components=(Component(id="job:export", kind="job", name="export", subtype="backstage",
                                             owners=["data-eng"], evidence=[_ev("catalog-info.yaml", 70)]),))
    inv = _build(catalog, compose, k8s)
    assert [c.id for c in inv.components] == ["cron-job:export"]
    job = inv.components[0]
    assert job.environments == ["dev", "prod"] and job.owners == ["data-eng"] and job.image == "acme/export:dev"
    assert job.attributes["aliases"] == ["job:export", "service:export"]
    assert inv.edges == []  # the compose→cronjob edge became a self-edge and was dropped
    restart = next(a for a in inv.actions if a.verb == "restart")
    assert restart.id == "cron-job:export/restart@dev" and restart.target == "cron-job:export"


def test_name_key_drops_prefix_and_one_suffix() -> None:
    assert name_key("acme-cache", {"acme"}) == "cache"
    assert name_key("events-kafka", {"acme"}) == "events"
    assert name_key("orders-db", set()) == "orders"
    assert name_key("acme", {"acme"}) == "acme"  # a bare prefix is a name, not a prefix
    assert name_key("kafka", set()) == "kafka"


def test_bundled_example_has_one_id_per_thing() -> None:
    inv, _ = scan_paths([str(EXAMPLE)], Config(), use_cache=False)
    ids = {e.id for e in [*inv.components, *inv.resources]}
    for gone in ("kafka-cluster:events-kafka", "redis:acme-cache", "job:training-data-export",
                 "service:training-data-export", "other:api-orders-admin-api"):
        assert gone not in ids, gone
    # Real, distinct things stay apart: the compose dev kafka, the RDS migration target.
    assert {"kafka-cluster:events", "kafka-cluster:kafka", "postgres:orders", "postgres:orders-db",
            "cron-job:training-data-export", "other:api-orders-api-admin-api"} <= ids


def test_iam_names_say_what_they_grant_not_what_they_hold() -> None:
    tf = Fragment(path="terraform/iam.tf", scanner="terraform", resources=[
        Resource(id="iam:role-export", kind="iam", name="training-data-export", data_classes=["training-data"],
                 evidence=[_ev("terraform/iam.tf", 3)]),
        Resource(id="object-bucket:training-data", kind="object-bucket", name="training-data",
                 data_classes=["training-data"], evidence=[_ev("terraform/s3.tf", 3)])])
    res = {r.id: r for r in _build(tf).resources}
    assert res["iam:role-export"].data_classes == []
    assert res["iam:role-export"].attributes["grants_access_to"] == ["training-data"]
    assert res["object-bucket:training-data"].data_classes == ["training-data"]
