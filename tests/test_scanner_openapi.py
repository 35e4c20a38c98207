"""OpenAPI scanner: operations → actions with stable ids, flags, lines; API resource; targets."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from inventory.config import Config
from inventory.scan import scan_paths
from inventory.scanners.base import Fragment, ScanContext, SourceFile
from inventory.scanners.openapi import OpenApiScanner

SPEC = """\
openapi: 3.0.3
info:
  title: Orders API
  version: 2.1.0
servers:
  - url: https://orders.internal.example.com/v1
security:
  - bearerAuth: []
paths:
  /orders:
    parameters:
      - name: x
        in: query
    get:
      summary: List orders
      operationId: listOrders
    post:
      operationId: createOrder
  /orders/{order_id}:
    delete:
      summary: Delete an order
      deprecated: true
      security:
        - apiKey: []
        - oauth: [admin]
  /health:
    get:
      security: []
      description: |
        Liveness.
        Second line.
"""


def _scan(text: str, path: str = "api/orders.yaml") -> Fragment:
    return OpenApiScanner().scan(SourceFile(path=path, text=text), ScanContext(config=Config()))


def test_matches_specs_by_head() -> None:
    s = OpenApiScanner()
    assert s.matches(PurePosixPath("a/spec.yaml"), "openapi: 3.0.0\n")
    assert s.matches(PurePosixPath("a/spec.json"), '{\n  "swagger": "2.0",')
    assert not s.matches(PurePosixPath("a/values.yaml"), "replicas: 2\n")
    assert not s.matches(PurePosixPath("a/spec.md"), "openapi: 3.0.0\n")


def test_operations_become_actions() -> None:
    frag = _scan(SPEC)
    got = {a.id: (a.verb, a.object_kind, a.command, a.description, a.evidence[0].line) for a in frag.actions}
    assert got == {
        "api:orders-api/get-orders": ("get", "/orders", "GET /orders", "List orders", 14),
        "api:orders-api/post-orders": ("post", "/orders", "POST /orders", "createOrder", 17),
        "api:orders-api/delete-orders-order_id": ("delete", "/orders/{order_id}", "DELETE /orders/{order_id}", "Delete an order", 20),
        "api:orders-api/get-health": ("get", "/health", "GET /health", "Liveness.", 27),
    }
    assert all(a.origin == "openapi" and a.tool == "http" and a.target is None for a in frag.actions)


def test_security_and_deprecation_flags() -> None:
    flags = {a.id: a.flags for a in _scan(SPEC).actions}
    assert flags["api:orders-api/get-orders"] == {"auth": "bearerAuth", "operation_id": "listOrders"}
    assert flags["api:orders-api/delete-orders-order_id"] == {"auth": "apiKey,oauth", "deprecated": True}
    assert flags["api:orders-api/get-health"] == {"auth": "none"}


def test_api_resource() -> None:
    (res,) = _scan(SPEC).resources
    assert res.id == "other:api-orders-api" and res.subtype == "openapi"
    assert res.attributes["operations"] == 4
    assert res.attributes["servers"] == ["https://orders.internal.example.com/v1"]
    assert res.evidence[0].line == 3


def test_swagger_json_with_lines() -> None:
    spec = {"swagger": "2.0", "info": {"title": "Legacy"}, "host": "legacy.example.com", "basePath": "/api",
            "paths": {"/items/{id}": {"put": {"summary": "Replace"}}}}
    frag = _scan(json.dumps(spec, indent=2), path="legacy.json")
    (a,) = frag.actions
    assert a.id == "api:legacy/put-items-id"
    assert a.evidence[0].line == 10
    assert frag.resources[0].attributes["servers"] == ["legacy.example.com/api"]


def test_bad_specs_warn_and_do_not_raise() -> None:
    assert _scan("openapi: 3.0.0\npaths: [1, 2]\n").warnings[0].message == "`paths` is not a mapping"
    assert _scan("openapi: 3.0.0\npaths:\n  /x: [\n").warnings[0].message.startswith("invalid YAML")
    frag = _scan("openapi: 3.0.0\npaths:\n  /x:\n    get: null\n")
    assert [a.id for a in frag.actions] == ["api:orders/get-x"]  # no title: file stem


def test_large_spec_yields_every_operation_with_a_unique_id() -> None:
    paths = {f"/r{i}/{{id}}": {m: {"summary": f"op {i}"} for m in ("get", "put", "delete")} for i in range(3000)}
    text = "openapi: 3.0.0\ninfo: {title: Big}\npaths:\n" + "".join(
        f"  {p}:\n" + "".join(f"    {m}:\n      summary: {o['summary']}\n" for m, o in ops.items()) for p, ops in paths.items()
    )
    frag = _scan(text)
    assert len(frag.actions) == 9000
    assert len({a.id for a in frag.actions}) == 9000


def test_target_resolved_to_catalog_component_of_the_repo(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: orders-svc\nspec:\n  type: service\n"
    )
    (tmp_path / "openapi").mkdir()
    (tmp_path / "openapi" / "orders.yaml").write_text(SPEC)
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    acts = {a.id: a for a in inv.actions}
    assert acts["api:orders-api/get-orders"].target == "service:orders-svc"
    assert inv.entities()["other:api-orders-api"].attributes["served_by"] == "service:orders-svc"


def test_target_from_backstage_api_definition_and_provides(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: orders-api\nspec:\n"
        "  type: service\n  providesApis: [orders-admin]\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: web\nspec:\n  type: service\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders-admin\nspec:\n"
        "  type: openapi\n  definition:\n    $text: ./api/admin.yaml\n"
    )
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "admin.yaml").write_text(SPEC.replace("title: Orders API", "title: Admin things"))
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    acts = {a.id: a for a in inv.actions}
    assert acts["api:admin-things/delete-orders-order_id"].target == "service:orders-api"


def test_server_urls_give_the_api_environments() -> None:
    text = SPEC.replace(
        "servers:\n  - url: https://orders.internal.example.com/v1\n",
        "servers:\n  - url: https://api.prod.example.com\n  - url: https://api.example.com\n    description: staging\n",
    )
    (res,) = _scan(text).resources
    assert res.environments == ["prod", "staging"]
    assert [(f.value, f.evidence[0].line) for f in res.facts] == [("prod", 6), ("staging", 7)]
