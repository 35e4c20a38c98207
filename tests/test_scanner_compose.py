"""docker-compose scanner: services vs datastores, edges, env references, interpolation."""

from __future__ import annotations

from pathlib import PurePosixPath

from inventory.config import Config
from inventory.scanners.base import Fragment, ScanContext, SourceFile
from inventory.scanners.compose import ComposeScanner, interpolate

COMPOSE = """\
x-common: &common
  restart: always
  labels:
    team: payments
services:
  api:
    <<: *common
    image: ${REGISTRY:-ghcr.io/acme}/api:${TAG}
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
    environment:
      DATABASE_URL: postgresql://app:${DB_PASSWORD:-devpass}@db:5432/app
      REDIS_HOST: cache
      ORDERS_TOPIC: orders-events
      API_TOKEN: abc123-literal-token
    profiles: [backend]
  worker:
    build: ./worker
    depends_on: [api, db]
    environment:
      - KAFKA_BOOTSTRAP_SERVERS=events-kafka-bootstrap:9092
      - LOG_LEVEL=debug
      - EMPTY
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: devpass
  cache:
    image: valkey/valkey:8
  broker:
    image: ${KAFKA_IMAGE:-bitnami/kafka:3.7}
"""


def _scan(text: str, path: str = "docker-compose.yml") -> Fragment:
    return ComposeScanner().scan(SourceFile(path=path, text=text), ScanContext(config=Config()))


def test_matches_compose_names() -> None:
    s = ComposeScanner()
    for name in ("docker-compose.yml", "docker-compose.override.yaml", "compose.yaml", ".devcontainer/docker-compose.yml", "compose.prod.yml"):
        assert s.matches(PurePosixPath(name), ""), name
    for name in ("compose.py", "my-compose.yml", "docker-compose.yml.bak"):
        assert not s.matches(PurePosixPath(name), ""), name


def test_interpolation() -> None:
    assert interpolate("${A:-x}/${B-y}/${C}") == "x/y/${C}"
    assert interpolate("${A:?required}") == "${A:?required}"
    assert interpolate("$$HOME") == "$HOME"
    assert interpolate("${A:-${B:-z}}") == "z"


def test_services_and_datastores() -> None:
    frag = _scan(COMPOSE)
    assert sorted(c.id for c in frag.components) == ["service:api", "service:worker"]
    assert sorted(r.id for r in frag.resources) == ["kafka-cluster:broker", "postgres:db", "redis:cache"]
    api = next(c for c in frag.components if c.id == "service:api")
    assert api.image == "ghcr.io/acme/api:${TAG}"
    assert api.attributes["profiles"] == ["backend"]
    assert api.environments == []  # nothing in the file says dev: the resolve stage decides
    assert frag.extra["compose"]["dev_signals"] == []
    # merged from the x-common anchor
    assert api.owners == ["payments"] and api.labels == {"team": "payments"}
    assert api.evidence[0].line == 6
    db = next(r for r in frag.resources if r.id == "postgres:db")
    assert db.stateful is True and db.subtype == "postgres"
    worker = next(c for c in frag.components if c.id == "service:worker")
    assert worker.attributes["build_context"] == "./worker"


def test_depends_on_list_and_mapping_become_edges() -> None:
    edges = {(e.source, e.target, e.via) for e in _scan(COMPOSE).edges}
    assert edges == {
        ("service:api", "postgres:db", "depends_on"),
        ("service:api", "redis:cache", "depends_on"),
        ("service:worker", "service:api", "depends_on"),
        ("service:worker", "postgres:db", "depends_on"),
    }


def test_env_references_and_secrets() -> None:
    frag = _scan(COMPOSE)
    refs = {(r.source, r.target_name, r.target_kind, r.via, r.evidence.line) for r in frag.references}
    assert refs == {
        ("service:api", "db", "postgres", "DATABASE_URL", 15),
        ("service:api", "cache", None, "REDIS_HOST", 16),
        ("service:api", "orders-events", "kafka-topic", "ORDERS_TOPIC", 17),
        ("service:worker", "events", "kafka-cluster", "KAFKA_BOOTSTRAP_SERVERS", 24),
    }
    lines = {e.line for e in frag.secrets}
    assert lines == {15, 18, 30}  # DSN password, API_TOKEN, POSTGRES_PASSWORD
    dumped = frag.model_dump_json()
    assert "abc123-literal-token" not in dumped and "devpass" not in dumped
    api = next(c for c in frag.components if c.id == "service:api")
    assert api.attributes["env_vars"] == ["API_TOKEN", "DATABASE_URL", "ORDERS_TOPIC", "REDIS_HOST"]


def test_environment_from_file_name() -> None:
    frag = _scan("services:\n  web:\n    image: nginx\n", path="deploy/docker-compose.prod.yml")
    assert frag.components[0].environments == ["prod"]


def test_bad_input_warns() -> None:
    assert _scan("services: [a, b]\n").warnings[0].message == "`services` is not a mapping"
    frag = _scan("services:\n  web: nginx\n  ok:\n    image: nginx\n")
    assert [c.id for c in frag.components] == ["service:ok"]
    assert frag.warnings[0].line == 2
    broken = _scan("services:\n  web:\n    image: [\n")
    assert broken.components == [] and broken.warnings and broken.warnings[0].message.startswith("invalid YAML")
    assert _scan("version: '3'\n").components == []


def test_one_shot_setup_services_are_jobs() -> None:
    frag = _scan("services:\n  kafka-init:\n    image: bitnami/kafka:3.7\n  db-migrate:\n    image: postgres:16\n")
    assert sorted(c.id for c in frag.components) == ["job:db-migrate", "job:kafka-init"]
    assert frag.resources == []
