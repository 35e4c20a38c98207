"""The whole-tree steps look things up through indexes; these pin what the lookups must still give."""

from __future__ import annotations

from pathlib import Path

from inventory.builder import InventoryBuilder
from inventory.model import Action, Evidence, Inventory
from tests.estate_support import scan_files as _scan


def _ent(inv: Inventory, ent_id: str):
    return next(e for e in (*inv.components, *inv.resources) if e.id == ent_id)


def _action(aid: str, *evs: Evidence) -> Action:
    return Action(id=aid, verb="get", tool="kubectl", command="kubectl get pods", origin="command", evidence=list(evs))


def test_action_evidence_is_a_union_in_first_seen_order_even_after_the_list_is_replaced() -> None:
    b = InventoryBuilder()
    a, c, d = (Evidence(path=p, line=1) for p in ("a.md", "c.md", "d.md"))
    b.add_action(_action("cmd:kubectl/get", a))
    b.add_action(_action("cmd:kubectl/get", c, a))
    b.add_action(_action("cmd:kubectl/get", c))
    assert b.actions["cmd:kubectl/get"].evidence == [a, c]
    # A later step may replace the list outright: the next union starts from what is there now.
    b.actions["cmd:kubectl/get"].evidence = [d]
    b.add_action(_action("cmd:kubectl/get", a, d))
    assert b.actions["cmd:kubectl/get"].evidence == [d, a]


def test_environment_evidence_is_a_union_and_an_edited_list_is_respected() -> None:
    b = InventoryBuilder()
    a, c = Evidence(path="a.yaml", line=3), Evidence(path="c.yaml", line=1)
    b.add_environment("prod", [a])
    b.add_environment("prod", [a, c])
    b.add_environment("prod", [c])
    assert b.environments["prod"] == [a, c]
    b.environments["prod"].pop()  # edited in place behind the builder's back
    b.add_environment("prod", [c])
    assert b.environments["prod"] == [a, c]


def test_a_service_selects_only_workloads_with_every_label_in_its_namespace(tmp_path: Path) -> None:
    def deploy(name: str, ns: str, labels: str) -> str:
        return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\n"
                f"spec:\n  template:\n    metadata:\n      labels: {{{labels}}}\n"
                f"    spec:\n      containers: [{{name: c, image: acme/{name}:1}}]\n")
    inv = _scan(tmp_path, {
        "k8s/web.yaml": deploy("web", "shop", "app: shop, tier: web"),
        "k8s/worker.yaml": deploy("worker", "shop", "app: shop, tier: worker"),
        "k8s/other-ns.yaml": deploy("web-copy", "elsewhere", "app: shop, tier: web"),
        "k8s/svc.yaml": ("apiVersion: v1\nkind: Service\nmetadata: {name: storefront, namespace: shop}\n"
                         "spec:\n  type: LoadBalancer\n  selector: {app: shop, tier: web}\n  ports: [{port: 80}]\n"),
    })
    assert _ent(inv, "service:web").attributes.get("k8s_service") == "storefront"
    assert "k8s_service" not in _ent(inv, "service:worker").attributes  # lacks tier=web
    assert "k8s_service" not in _ent(inv, "service:web-copy").attributes  # another namespace


def test_a_workspace_command_without_a_directory_places_the_one_module_whose_locals_read_it(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {
        "infra/main.tf": ('locals {\n  suffix = "${terraform.workspace}"\n}\n'
                          'resource "aws_s3_bucket" "exports" {\n  bucket = "acme-exports"\n}\n'),
        "other/main.tf": 'resource "aws_s3_bucket" "logs" {\n  bucket = "acme-logs"\n}\n',
        "docs/runbook.md": "# Deploy\n\n```sh\nterraform workspace select prod\n```\n",
    })
    exports = next(e for e in inv.resources if e.name == "acme-exports")
    logs = next(e for e in inv.resources if e.name == "acme-logs")
    assert exports.environments == ["prod"]
    assert any(s.resolver == "terraform-workspace" for s in exports.environment_sources)
    assert logs.environments == []


def test_a_consuming_build_gives_the_same_inventory_and_leaves_the_builder_empty() -> None:
    from inventory.builder import InventoryBuilder
    from inventory.model import Action, Component, Evidence, Fact

    def filled() -> InventoryBuilder:
        b = InventoryBuilder(sources=["."])
        ev1, ev2 = Evidence(path="b.yaml", line=2), Evidence(path="a.yaml", line=9)
        b.add_entity(Component(id="service:x", kind="service", name="x", environments=["prod", "dev"],
                               facts=[Fact(name="f", value="1", evidence=[ev1, ev2])], evidence=[ev1, ev2]))
        b.add_action(Action(id="service:x/restart", verb="restart", tool="kubectl", command="k", origin="command",
                            flags={"z": True, "a": "1"}, evidence=[ev1, ev2]))
        return b

    copied = filled().build()
    b = filled()
    consumed = b.build(consume=True)
    assert consumed == copied and consumed.model_dump_json() == copied.model_dump_json()
    assert consumed.components[0].evidence[0].path == "a.yaml" and list(consumed.actions[0].flags) == ["a", "z"]
    assert not b.components and not b.actions and b.sources == ["."]
    b.add_entity(Component(id="service:y", kind="service", name="y", evidence=[Evidence(path="c", line=1)]))
    assert [c.id for c in consumed.components] == ["service:x"]


def test_a_built_inventory_is_the_one_validating_its_parts_gives() -> None:
    """build() makes the inventory (and its environments) without validating them again: the
    same values and the same fields counted as set as the models made by validation."""
    from inventory.model import Component, Edge, Environment, Owner

    b = InventoryBuilder(sources=["repo"])
    one, two = Evidence(path="k8s/a.yaml", line=2), Evidence(path="k8s/a.yaml", line=1)
    b.add_entity(Component(id="service:a", kind="service", name="a", evidence=[one, two]))
    b.add_entity(Component(id="service:b", kind="service", name="b", evidence=[one]))
    b.add_edge(Edge(source="service:a", target="service:b", evidence=[one, two]))
    b.add_action(_action("service:a/get", one))
    b.add_owner(Owner(name="team-a", evidence=[two]))
    b.add_environment("prod", [one, two])
    b.secrets.append(two)
    b.warn("k8s/a.yaml", "odd")
    for consume in (False, True):
        inv = b.build(consume=consume)
        again = Inventory(**{name: getattr(inv, name) for name in inv.model_fields_set})
        assert inv.model_dump() == again.model_dump() and inv.environments
        assert inv.model_fields_set == again.model_fields_set
        for env in inv.environments:
            assert type(env) is Environment
            assert env.model_fields_set == Environment(name=env.name, evidence=env.evidence).model_fields_set
