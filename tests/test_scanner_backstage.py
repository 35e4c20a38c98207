"""Backstage scanner: entities, kinds from spec.type, owners, references."""

from __future__ import annotations

from pathlib import PurePosixPath

from inventory.config import Config
from inventory.scanners.backstage import BackstageScanner, parse_ref
from inventory.scanners.base import Fragment, ScanContext, SourceFile

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: orders-api
  labels:
    tier: backend
spec:
  type: service
  lifecycle: production
  owner: group:payments
  system: commerce
  providesApis: [orders]
  consumesApis:
    - api:billing
  dependsOn:
    - resource:orders-db
    - resource:default/orders-events
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: orders-db
  tags: [postgres]
spec:
  type: database
  owner: payments
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: orders-events
spec:
  type: kafka-topic
  owner: user:jane
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: customer-exports
spec:
  type: s3-bucket
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: legacy-store
spec:
  type: database
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders
spec:
  type: openapi
  owner: payments
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
spec:
  type: team
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shared-lib
spec:
  type: library
  owner: platform
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  title: nameless
spec: {}
"""


def _scan(text: str, path: str = "catalog-info.yaml") -> Fragment:
    return BackstageScanner().scan(SourceFile(path=path, text=text), ScanContext(config=Config()))


def test_matches() -> None:
    s = BackstageScanner()
    assert s.matches(PurePosixPath("svc/catalog-info.yaml"), "")
    assert s.matches(PurePosixPath("catalog/all.yaml"), "apiVersion: backstage.io/v1alpha1\n")
    assert not s.matches(PurePosixPath("k8s/deploy.yaml"), "apiVersion: apps/v1\n")


def test_parse_ref() -> None:
    assert parse_ref("group:cds-snc/notify-dev", "group") == ("group", "cds-snc", "notify-dev")
    assert parse_ref("orders-db", "component") == ("component", None, "orders-db")


def test_entities_and_kinds() -> None:
    frag = _scan(CATALOG)
    assert [c.id for c in frag.components] == ["service:orders-api"]
    assert sorted(r.id for r in frag.resources) == [
        "kafka-topic:orders-events",
        "object-bucket:customer-exports",
        "other:api-orders",
        "other:legacy-store",
        "postgres:orders-db",
    ]
    legacy = next(r for r in frag.resources if r.name == "legacy-store")
    assert legacy.subtype == "database"
    api = frag.components[0]
    assert api.attributes["backstage_system"] == "commerce"
    assert api.attributes["provides_apis"] == ["orders"]
    assert api.evidence[0].line == 4


def test_owners_and_data_classes() -> None:
    frag = _scan(CATALOG)
    api = frag.components[0]
    assert api.owners == ["payments"]
    assert [(f.value, f.evidence[0].line) for f in api.facts if f.name == "owner"] == [("payments", 10)]
    topic = next(r for r in frag.resources if r.name == "orders-events")
    assert topic.owners == ["jane"]
    owners = {(o.name, o.kind) for o in frag.owners}
    assert owners == {("payments", "group"), ("jane", "user"), ("platform", "group")}
    bucket = next(r for r in frag.resources if r.name == "customer-exports")
    assert "customer" in bucket.data_classes


def test_references_from_depends_on_and_consumes() -> None:
    refs = {(r.source, r.target_name, r.target_kind, r.via, r.evidence.line) for r in _scan(CATALOG).references}
    assert refs == {
        ("service:orders-api", "billing", "other", "backstage consumesApis", 14),
        ("service:orders-api", "orders-db", None, "backstage dependsOn", 16),
        ("service:orders-api", "orders-events", None, "backstage dependsOn", 17),
    }


def test_missing_name_warns_and_other_docs_ignored() -> None:
    frag = _scan(CATALOG)
    assert [(w.message, w.line) for w in frag.warnings] == [("Backstage Component without metadata.name", 73)]
    assert _scan("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n").components == []


def test_component_refs_look_for_services_and_api_definition_is_resolved() -> None:
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: web\nspec:\n"
        "  type: service\n  dependsOn: [component:orders-api]\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: admin\nspec:\n"
        "  type: openapi\n  definition:\n    $text: ../api/admin.yaml\n"
    )
    frag = _scan(text, path="catalog/catalog-info.yaml")
    assert [(r.target_name, r.target_kind) for r in frag.references] == [("orders-api", "service")]
    api = next(r for r in frag.resources if r.id == "other:api-admin")
    assert api.attributes["definition"] == "api/admin.yaml"


def test_owner_refs_drop_namespace() -> None:
    frag = _scan("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n"
                 "  type: service\n  owner: group:cds-snc/notify-dev\n")
    assert frag.components[0].owners == ["notify-dev"]
