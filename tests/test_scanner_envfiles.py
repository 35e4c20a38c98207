"""envfiles scanner: parsing, secrets recorded not kept, references attributed in finalize."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from inventory.config import Config
from inventory.scan import scan_paths
from inventory.scanners.base import ScanContext, SourceFile
from inventory.scanners.envfiles import EnvFilesScanner, parse_env

ENV = """\
# local settings
export DATABASE_URL=postgresql://app:sup3r-s3cret@orders-db:5432/orders
REDIS_HOST="cache"   
ORDERS_TOPIC=orders-events # the main topic
API_KEY='abcd-1234-efgh-5678'
EMPTY=
not a line
"""

PROPS = """\
! comment
spring.datasource.url=jdbc:postgresql://billing-db:5432/billing
spring.datasource.password: hunter2hunter2
kafka.topic.orders orders-events
long.value = a,\\
   b
"""


def test_matches() -> None:
    s = EnvFilesScanner()
    for n in (".env", ".env.local", "config/prod.env", "src/main/resources/application.properties"):
        assert s.matches(PurePosixPath(n), ""), n
    for n in (".envrc", "env.py", "environment.yaml"):
        assert not s.matches(PurePosixPath(n), ""), n


def test_parse_env_and_properties() -> None:
    assert parse_env(ENV) == [
        ("DATABASE_URL", "postgresql://app:sup3r-s3cret@orders-db:5432/orders", 2),
        ("REDIS_HOST", "cache", 3),
        ("ORDERS_TOPIC", "orders-events", 4),
        ("API_KEY", "abcd-1234-efgh-5678", 5),
        ("EMPTY", "", 6),
    ]
    assert parse_env(PROPS, properties=True) == [
        ("spring.datasource.url", "jdbc:postgresql://billing-db:5432/billing", 2),
        ("spring.datasource.password", "hunter2hunter2", 3),
        ("kafka.topic.orders", "orders-events", 4),
        ("long.value", "a,b", 5),
    ]


def test_scan_records_secrets_and_references_without_values() -> None:
    frag = EnvFilesScanner().scan(SourceFile(path="svc/.env", text=ENV), ScanContext(config=Config()))
    assert [e.line for e in frag.secrets] == [2, 5]
    dumped = frag.model_dump_json()
    assert "sup3r-s3cret" not in dumped and "abcd-1234" not in dumped
    assert [(r["target_name"], r["target_kind"], r["via"]) for r in frag.extra["refs"]] == [
        ("orders-db", "postgres", "DATABASE_URL"),
        ("cache", None, "REDIS_HOST"),
        ("orders-events", "kafka-topic", "ORDERS_TOPIC"),
    ]
    props = EnvFilesScanner().scan(SourceFile(path="app.properties", text=PROPS), ScanContext(config=Config()))
    assert [e.line for e in props.secrets] == [3]
    assert [(r["target_name"], r["via"]) for r in props.extra["refs"]] == [
        ("billing-db", "spring.datasource.url"),
        ("orders-events", "kafka.topic.orders"),
    ]


def test_environment_from_file_name() -> None:
    frag = EnvFilesScanner().scan(SourceFile(path="x/.env.production", text="A=1\n"), ScanContext(config=Config()))
    assert frag.extra["env"] == "prod"


def test_references_go_to_the_compose_service_that_loads_the_file(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  api:\n    build: .\n    env_file: [.env]\n  worker:\n    build: .\n"
        "  orders-db:\n    image: postgres:16\n"
    )
    (tmp_path / ".env").write_text(ENV)
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    edges = {(e.source, e.target, e.via) for e in inv.edges}
    assert ("service:api", "postgres:orders-db", "DATABASE_URL") in edges
    assert not any(e.source == "service:worker" for e in inv.edges)
    assert {(s.path, s.line) for s in inv.secrets} >= {(".env", 2), (".env", 5)}


def test_lone_env_file_without_component_records_secrets_only(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".env").write_text(ENV)
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert inv.edges == [] and inv.components == []
    assert {(s.path, s.line) for s in inv.secrets} == {("a/.env", 2), ("a/.env", 5)}
