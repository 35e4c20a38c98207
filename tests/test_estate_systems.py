"""Systems from what real estates use: plain YAML service catalogs, Terraform names from
attributes, kinds that are not datastores, and runbook commands resolved by what they name."""

from __future__ import annotations

from pathlib import Path

from inventory.model import Inventory
from inventory.resolve.terraform import render
from inventory.scan import scan_paths

FIX = Path(__file__).parent / "fixtures" / "estate"


def _scan(name: str) -> Inventory:
    inv, _ = scan_paths([FIX / name], use_cache=False, jobs=1)
    return inv


def _ents(inv: Inventory) -> dict:
    return {e.id: e for e in (*inv.components, *inv.resources)}


def test_service_catalog_entries_are_systems_with_owners_and_dependencies() -> None:
    inv = _scan("catalog")
    ents = _ents(inv)
    api = ents["service:api"]
    assert api.owners == ["api-team"] and api.attributes["catalog_tier"] == "sv"
    assert ents["service:patroni"].owners == ["database"]
    assert ents["redis:redis"].owners == ["platform"]  # `type: cache`, `@acme/platform`
    assert not any("templated" in i for i in ents)  # a template is not a name
    edges = {(e.source, e.target) for e in inv.edges}
    assert ("service:api", "service:patroni") in edges and ("service:api", "redis:redis") in edges
    patroni = ents["service:patroni"]
    assert set(patroni.environments) == {"prod", "staging"}
    assert all("service catalog" in s.how for s in patroni.environment_sources)


def test_runbook_commands_resolve_by_host_and_flags() -> None:
    inv = _scan("catalog")
    acts = [a for a in inv.actions if a.origin == "command"]
    by_tool = {a.tool: a for a in acts}
    assert by_tool["gitlab-patronictl"].target == "service:patroni"  # over ssh to patroni-01
    assert by_tool["gitlab-patronictl"].environment == "prod"  # the host names gprd
    restart = next(a for a in acts if a.verb == "restart")
    assert restart.target == "service:api" and restart.environment == "prod"  # --context gprd


def test_terraform_names_come_from_attributes_variables_and_tfvars() -> None:
    inv = _scan("tfnames")
    ents = _ents(inv)
    names = {e.name for e in ents.values()}
    assert not any(n in ("this", "main", "pg", "events") for n in names)  # never a bare label
    assert not any("${" in n or "{" in n for n in names)  # never an unrendered template
    # Same template, different per-environment tfvars: the literal stem, with the names per env.
    search = next(e for e in ents.values() if e.kind == "search")
    assert search.name == "search"
    assert search.attributes["names_by_environment"] == ["prod: search-production", "staging: search-staging"]
    assert set(search.environments) == {"prod", "staging"}
    # Module arguments render the bucket name; the module call puts it in production.
    bucket = ents["object-bucket:acme-prod-orders"]
    assert bucket.environments == ["prod"]
    assert any("module store" in s.how for s in bucket.environment_sources)
    assert ents["postgres:orders-db"].environments == ["prod"]


def test_parameter_groups_and_bigquery_tables_are_not_datastores() -> None:
    ents = _ents(_scan("tfnames"))
    kinds = {e.attributes.get("terraform_address"): e.kind for e in ents.values()}
    assert "aws_db_parameter_group.pg" not in kinds or kinds["aws_db_parameter_group.pg"] != "postgres"
    assert kinds["google_bigquery_dataset.analytics"] == "warehouse-dataset"
    assert kinds.get("google_bigquery_table.events") != "warehouse-dataset"


def test_render_needs_every_slot() -> None:
    values = {"var": {"env": "prod"}, "local": {"name": "${var.env}-db"}}
    assert render("${local.name}", values) == "prod-db"
    assert render("${var.env}-${var.region}", values) is None
    assert render("${upper(var.env)}", values) is None


def test_confluent_for_kubernetes_resources_are_systems() -> None:
    inv = _scan("confluent")
    ents = _ents(inv)
    kafka = ents["kafka-cluster:kafka"]
    assert kafka.subtype == "confluent" and kafka.stateful is True and kafka.replicas == 3
    topic = ents["kafka-topic:orders"]
    assert topic.attributes["cluster"] == "kafka"
    assert ("kafka-topic:orders", "kafka-cluster:kafka", "member-of") in {(e.source, e.target, e.kind) for e in inv.edges}
    assert ents["other:kraftcontroller"].subtype == "kraft-controller"
    assert ents["other:schemaregistry"].subtype == "schema-registry"
    assert ents["iam:orders-writer"].subtype == "confluent-rbac"
    delete = next(a for a in inv.actions if a.id == "kafka-cluster:kafka/delete")
    assert delete.command.startswith("kubectl delete kafka.platform.confluent.io/kafka")
