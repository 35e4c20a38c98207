"""Kustomize scanner: overlays give environments and namespaces to the bases they use."""

from __future__ import annotations

import textwrap
from pathlib import PurePosixPath

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import Inventory
from inventory.scanners.base import Fragment, ScanContext, SourceFile
from inventory.scanners.kubernetes import KubernetesScanner
from inventory.scanners.kustomize import KustomizeScanner

K8S, KUST = KubernetesScanner(), KustomizeScanner()
CTX = ScanContext(config=Config())

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
spec:
  template:
    spec:
      containers: [{name: app, image: acme/orders:1}]
"""


def files() -> dict[str, str]:
    return {
        "apps/orders/base/deployment.yaml": DEPLOY,
        "apps/orders/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "apps/orders/overlays/prod/kustomization.yaml": textwrap.dedent("""\
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            namespace: shop-live
            resources:
              - ../../base
              - https://github.com/acme/remote//base?ref=v1
            replicas:
              - name: orders
                count: 6
            """),
        "apps/orders/overlays/eu-west/kustomization.yaml": "resources:\n  - ../../base\ncomponents:\n  - ../../../../components/qa\n",
        "components/qa/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamespace: shop-qa\n",
        "apps/other/deploy.yaml": DEPLOY.replace("orders", "billing"),
    }


def scan_all(tree: dict[str, str]) -> tuple[list[Fragment], Inventory]:
    frags = []
    for path, text in sorted(tree.items()):
        src = SourceFile(path=path, text=text)
        for scanner in (K8S, KUST):
            if scanner.matches(PurePosixPath(path), text[:2048]):
                frags.append(scanner.scan(src, CTX))
    builder = InventoryBuilder()
    for f in frags:
        builder.add_fragment(f)
    KUST.finalize([f for f in frags if f.scanner == "kustomize"], builder)
    return frags, builder.build()


def test_kustomization_is_recorded_in_extra() -> None:
    frags, _ = scan_all(files())
    rec = [f.extra["kustomization"] for f in frags if f.path == "apps/orders/overlays/prod/kustomization.yaml"][0]
    assert rec["namespace"] == "shop-live"
    assert rec["env"] == "prod"  # `prod` in the overlay path (the namespace says `live`, also prod)
    assert [r["ref"] for r in rec["refs"]] == ["../../base"]  # the remote base is ignored
    assert rec["replicas"] == [{"name": "orders", "count": 6, "line": 8}]


def test_overlays_give_environments_to_base_entities() -> None:
    _, inv = scan_all(files())
    comps = {c.id: c for c in inv.components}
    orders = comps["service:orders"]
    assert orders.environments == ["prod", "test"]  # eu-west names nothing; its qa component → test
    env_facts = {f.value: f.evidence[0] for f in orders.facts if f.name == "environment"}
    assert env_facts["prod"].path == "apps/orders/overlays/prod/kustomization.yaml"
    assert env_facts["prod"].line == 3  # the namespace line
    assert env_facts["test"].path == "components/qa/kustomization.yaml"
    # Two overlays, two namespaces: no single namespace, one attribute per environment.
    assert orders.namespace is None
    assert orders.attributes["namespace.prod"] == "shop-live"
    assert orders.attributes["namespace.test"] == "shop-qa"
    assert orders.attributes["replicas.prod"] == 6
    assert any(f.name == "replicas" and f.value == 6 for f in orders.facts)
    # An entity outside every overlay keeps an unknown environment.
    assert comps["service:billing"].environments == []


def test_single_overlay_sets_namespace() -> None:
    tree = files()
    del tree["apps/orders/overlays/eu-west/kustomization.yaml"]
    _, inv = scan_all(tree)
    assert {c.id: c for c in inv.components}["service:orders"].namespace == "shop-live"


def test_cycles_and_missing_dirs_do_not_hang_or_crash() -> None:
    tree = {
        "a/kustomization.yaml": "resources: [../b, ./missing.yaml]\n",
        "b/kustomization.yaml": "resources: [../a]\nnamespace: team-prod\n",
    }
    _, inv = scan_all(tree)
    assert inv.components == []


def test_malformed_kustomization_warns_with_line() -> None:
    src = SourceFile(path="k/kustomization.yaml", text="resources:\n  - a.yaml\n - [b\n")
    frag = KUST.scan(src, CTX)
    assert len(frag.warnings) == 1 and frag.warnings[0].line >= 2
    assert "kustomization" not in frag.extra
