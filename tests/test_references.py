"""references_from_env: env vars → name references (hosts, topics, Kafka clusters)."""

from __future__ import annotations

from inventory.model import Evidence
from inventory.references import references_from_env

EV = Evidence(path="x.yaml", line=3)


def _targets(key: str, value: object) -> list[tuple[str, str | None, str]]:
    return [(r.target_name, r.target_kind, r.edge_kind) for r in references_from_env("service:api", key, value, EV)]


def test_postgres_dsn_with_password_yields_host_only() -> None:
    refs = references_from_env("service:api", "DATABASE_URL", "postgresql://app:hunter2@orders-db.data.svc:5432/orders", EV)
    assert [(r.target_name, r.target_kind, r.via) for r in refs] == [("orders-db", "postgres", "DATABASE_URL")]
    assert "hunter2" not in repr(refs)


def test_url_schemes_map_to_kinds() -> None:
    assert _targets("REDIS_URL", "rediss://cache.internal:6380/0") == [("cache", "redis", "depends-on")]
    assert _targets("BROKER", "amqp://guest:guest@rabbit:5672//") == [("rabbit", "queue", "depends-on")]
    assert _targets("MONGO", "mongodb://a-db:27017,b-db:27017/app") == [("a-db", "document-db", "depends-on")]
    assert _targets("DB", "jdbc:postgresql://pg-main:5432/app") == [("pg-main", "postgres", "depends-on")]
    assert _targets("API_URL", "https://billing.example.com/v1") == [("billing", None, "depends-on")]


def test_kafka_bootstrap_names_the_strimzi_cluster() -> None:
    assert _targets("KAFKA_BOOTSTRAP_SERVERS", "events-kafka-bootstrap.kafka.svc:9092") == [
        ("events", "kafka-cluster", "depends-on")
    ]
    assert _targets("KAFKA_BROKERS", "broker-1:9092,broker-2:9092") == [
        ("broker-1", None, "depends-on"),
        ("broker-2", None, "depends-on"),
    ]


def test_topic_keys_give_topics_with_direction() -> None:
    assert _targets("ORDERS_TOPIC", "orders-events") == [("orders-events", "kafka-topic", "depends-on")]
    assert _targets("CONSUMER_TOPICS", "a.events, b.events") == [
        ("a.events", "kafka-topic", "consumes"),
        ("b.events", "kafka-topic", "consumes"),
    ]
    assert _targets("OUTPUT_TOPIC", "enriched") == [("enriched", "kafka-topic", "produces")]


def test_host_keys_and_things_that_name_nothing() -> None:
    assert _targets("POSTGRES_HOST", "orders-db") == [("orders-db", None, "depends-on")]
    assert _targets("REDIS_ADDR", "cache:6379") == [("cache", None, "depends-on")]
    assert _targets("DB_HOST", "localhost") == []
    assert _targets("DB_HOST", "10.0.0.4") == []
    assert _targets("DB_HOST", "${DB_HOST}") == []
    assert _targets("DB_URL", "$(DB_URL)") == []
    assert _targets("LOG_LEVEL", "debug") == []
    assert _targets("PORT", 8080) == []
    assert _targets("USE_SERVER", "true") == []


def test_references_become_edges_and_repeats_merge_into_one() -> None:
    """The linker: one edge per (source, target, kind), its evidence every reference's (first
    seen first), its ``via`` the first one given; no edge to itself, from an unknown source,
    or to a name that is not exactly one entity."""
    from inventory.builder import InventoryBuilder
    from inventory.model import Component, Resource
    from inventory.scanners.base import Reference

    b = InventoryBuilder(sources=["repo"])
    for ent in (Component(id="service:api", kind="service", name="api", evidence=[EV]),
                Component(id="service:web", kind="service", name="web", evidence=[EV]),
                Resource(id="postgres:orders", kind="postgres", name="orders", evidence=[EV]),
                Resource(id="redis:cache", kind="redis", name="cache", evidence=[EV]),
                Component(id="service:cache", kind="service", name="cache", evidence=[EV])):
        b.add_entity(ent)
    one, two, three = (Evidence(path=f"k8s/{n}.yaml", line=n) for n in (1, 2, 3))
    b.references += [
        Reference(source="service:api", target_name="orders", evidence=one),
        Reference(source="service:api", target_name="orders", via="DATABASE_URL", evidence=two),
        Reference(source="service:api", target_name="orders", via="OTHER", evidence=one),
        Reference(source="service:api", target_name="orders", edge_kind="reads", evidence=three),
        Reference(source="service:api", target_name="api", evidence=one),  # itself
        Reference(source="service:gone", target_name="orders", evidence=one),  # no such source
        Reference(source="service:web", target_name="nothing", evidence=one),  # no such target
        Reference(source="service:web", target_name="cache", evidence=two),  # the resource of two
        Reference(source="service:web", target_name="cache", target_kind="service", evidence=three),
    ]
    b.resolve_references()
    edges = {key: (e.via, e.evidence) for key, e in b.edges.items()}
    assert edges == {
        ("service:api", "postgres:orders", "depends-on"): ("DATABASE_URL", [one, two]),
        ("service:api", "postgres:orders", "reads"): (None, [three]),
        ("service:web", "redis:cache", "depends-on"): (None, [two]),
        ("service:web", "service:cache", "depends-on"): (None, [three]),
    }
