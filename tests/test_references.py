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
