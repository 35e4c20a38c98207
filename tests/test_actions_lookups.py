"""The actions stage remembers what names resolve to and merges repeated commands without building
them again; these pin that it still gives what looking everything up afresh gives."""

from __future__ import annotations

from inventory.actions import actions_from_commands
from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import Action, CommandRef, Component, Evidence
from inventory.scanners.base import CommandSighting


def _service(name: str, **more: object) -> Component:
    return Component(id=f"service:{name}", kind="service", name=name, evidence=[Evidence(path="k8s.yaml", line=1)],
                     **more)


def test_find_memo_is_emptied_whenever_find_may_answer_otherwise() -> None:
    b = InventoryBuilder()
    b.add_entity(_service("orders"))
    memo = b.find_memo()
    memo["orders"] = "remembered"
    assert b.find_memo() is memo  # nothing changed
    b.add_entity(_service("orders"))  # merged: the same names
    assert b.find_memo() == {"orders": "remembered"}
    b.add_entity(_service("billing"))  # a new name
    assert b.find_memo() == {}
    b.find_memo()["billing"] = "remembered"
    b.add_entity(_service("orders", attributes={"aliases": ["compose:orders-api"]}))  # alias names come over
    assert b.find_memo() == {}
    b.find_memo()["orders-api"] = "remembered"
    b.invalidate_index()
    assert b.find_memo() == {}


def test_a_system_an_earlier_runbook_line_made_is_what_a_later_script_line_targets() -> None:
    """The runbook's line makes ``service:cart`` (nothing in the inventory had that name when it
    was first looked up); the script's line, later in the stage, resolves to it."""
    b = InventoryBuilder()
    b.commands.extend([
        CommandSighting(command="kubectl -n shop scale deployment/cart --replicas=3",
                        evidence=Evidence(path="docs/cart.md", line=3)),
        CommandSighting(command="kubectl -n shop rollout restart deployment/cart",
                        evidence=Evidence(path="scripts/restart.sh", line=2), source_kind="script"),
    ])
    actions_from_commands(b, Config())
    assert "service:cart" in b.components
    assert {a.id for a in b.actions.values()} >= {"service:cart/scale", "service:cart/restart"}


def test_add_sighting_merges_as_add_action_does() -> None:
    a, c = Evidence(path="a.md", line=1), Evidence(path="c.md", line=4)

    def action(command: str, origin: str, *evs: Evidence) -> Action:
        return Action(id="service:x/restart", verb="restart", tool="kubectl" if origin == "command" else "systemctl",
                      command=command, origin=origin, evidence=list(evs),
                      commands=[CommandRef(command=command, evidence=ev) for ev in evs])

    by_action, by_sighting = InventoryBuilder(), InventoryBuilder()
    for b in (by_action, by_sighting):
        b.add_action(action("systemctl restart x", "implied", a))
    by_action.add_action(action("kubectl rollout restart deploy/x", "command", c, a))
    new = action("kubectl rollout restart deploy/x", "command", c, a)
    by_sighting.add_sighting(by_sighting.actions[new.id], new.commands, new.evidence, new.origin, new.command, new.tool)
    assert by_sighting.actions[new.id] == by_action.actions[new.id]
    assert by_sighting.actions[new.id].origin == "command" and by_sighting.actions[new.id].evidence == [a, c]
