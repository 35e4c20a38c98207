"""Helm scanner: Chart.yaml dependencies, values files, tolerated templates."""

from __future__ import annotations

import textwrap
from pathlib import PurePosixPath

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import Inventory
from inventory.scanners.base import Fragment, ScanContext, SourceFile
from inventory.scanners.helm import HelmScanner

SCANNER = HelmScanner()
CTX = ScanContext(config=Config())

CHART = """\
apiVersion: v2
name: orders
version: 1.2.0
appVersion: "4.1"
dependencies:
  - name: redis
    version: 18.x
    repository: https://charts.bitnami.com/bitnami
  - name: postgresql
    alias: orders-db
    version: 15.x
    repository: oci://registry-1.docker.io/bitnamicharts
  - name: common
    version: 2.x
    repository: https://charts.bitnami.com/bitnami
"""

VALUES_PROD = """\
replicaCount: 4
image:
  repository: acme/orders
  tag: "4.1"
env:
  - name: LEDGER_URL
    value: http://ledger.acme-prod.svc:8080
  - name: EVENTS_TOPIC
    value: orders-events
postgresql:
  auth:
    password: "pg-prod-password-123"
metrics:
  exporter:
    image:
      repository: bitnami/redis
      tag: "7.2"
"""

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "orders.fullname" . }}
spec:
  replicas: {{ .Values.replicaCount }}
{{- if .Values.serviceAccount.create }}
---
kind: ServiceAccount
{{- end }}
"""


def scan(path: str, text: str) -> Fragment:
    return SCANNER.scan(SourceFile(path=path, text=textwrap.dedent(text)), CTX)


def build(*frags: Fragment) -> Inventory:
    builder = InventoryBuilder()
    for f in frags:
        builder.add_fragment(f)
    SCANNER.finalize(list(frags), builder)
    builder.resolve_references()
    return builder.build()


def test_matches_chart_files() -> None:
    assert SCANNER.matches(PurePosixPath("charts/orders/Chart.yaml"), "")
    assert SCANNER.matches(PurePosixPath("charts/orders/values-prod.yaml"), "")
    assert SCANNER.matches(PurePosixPath("charts/orders/values.yaml"), "")
    assert SCANNER.matches(PurePosixPath("charts/orders/templates/deploy.yaml"), "{{ x }}")
    assert not SCANNER.matches(PurePosixPath("k8s/deploy.yaml"), "apiVersion: v1")


def test_chart_dependencies_become_resources_with_repository() -> None:
    frag = scan("charts/orders/Chart.yaml", CHART)
    res = {r.id: r for r in frag.resources}
    assert set(res) == {"redis:redis", "postgres:orders-db"}  # `common` is not a known technology
    assert res["redis:redis"].attributes["repository"] == "https://charts.bitnami.com/bitnami"
    assert res["redis:redis"].subtype == "helm"
    assert res["postgres:orders-db"].evidence[0].line == 9  # the dependency's list item


def test_templates_are_not_parsed_and_never_warn() -> None:
    frag = scan("charts/orders/templates/deployment.yaml", TEMPLATE)
    assert frag.warnings == []
    assert frag.extra["template"] == {"chart_dir": "charts/orders", "kinds": ["Deployment", "ServiceAccount"]}


def test_chart_with_deployment_template_is_a_component_with_edges() -> None:
    inv = build(
        scan("charts/orders/Chart.yaml", CHART),
        scan("charts/orders/templates/deployment.yaml", TEMPLATE),
        scan("charts/orders/values-prod.yaml", VALUES_PROD),
    )
    comps = {c.id: c for c in inv.components}
    orders = comps["service:orders"]
    assert orders.attributes["chart_version"] == "1.2.0"
    assert orders.attributes["deploys"] == ["Deployment", "ServiceAccount"]
    assert orders.environments == ["prod"]  # from values-prod.yaml
    assert orders.attributes["replicas.prod"] == 4
    edges = {(e.source, e.target) for e in inv.edges}
    assert ("service:orders", "redis:redis") in edges
    assert ("service:orders", "postgres:orders-db") in edges
    # An image of a datastore inside values is a resource of that kind.
    exporter = {r.id: r for r in inv.resources}["redis:exporter"]
    assert exporter.environments == ["prod"]


def test_values_secrets_are_evidence_only_and_refs_are_names() -> None:
    frag = scan("charts/orders/values-prod.yaml", VALUES_PROD)
    assert [ev.line for ev in frag.secrets] == [12]
    assert "pg-prod-password-123" not in frag.model_dump_json()
    targets = {(r["target_name"], r["target_kind"]) for r in frag.extra["values"]["refs"]}
    assert ("ledger", None) in targets
    assert ("orders-events", "kafka-topic") in targets


def test_chart_without_workload_templates_is_not_a_component() -> None:
    inv = build(scan("charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\ntype: library\nversion: 0.1.0\n"))
    assert inv.components == []


def test_broken_chart_yaml_warns_with_line() -> None:
    frag = scan("charts/x/Chart.yaml", "apiVersion: v2\nname: [x\n")
    assert len(frag.warnings) == 1 and frag.warnings[0].line >= 2
