"""policy.yaml carries each fact once: per-system rows refer to the table's instances, and
every reader gets the whole rows back."""

from __future__ import annotations

import yaml

from generators.documents.compact import COMPACT, compact_policy, expand_policy
from generators.documents.model import Policy
from generators.documents.render import render_yaml
from generators.pipeline import draft_documents
from inventory import yamlout
from inventory.config import Config
from tests.factories import make_assessments, make_inventory


def _policy() -> Policy:
    inv = make_inventory()
    policy, _ = draft_documents(inv, make_assessments(inv), Config())
    return policy


def test_the_file_reads_back_to_exactly_the_policy_written() -> None:
    policy = _policy()
    text = render_yaml(policy)
    data = yaml.safe_load(text)
    assert data["layout"] == COMPACT and list(data)[:2] == ["kind", "layout"]
    assert Policy.model_validate(data) == policy
    whole = policy.model_dump(mode="json", exclude_none=True)
    assert expand_policy(compact_policy(whole)) == whole
    assert len(text) < len(yamlout.dump(whole))


def test_rows_keep_only_what_their_instance_does_not_say() -> None:
    data = yaml.safe_load(render_yaml(_policy()))
    instances = {i["action"]: i for c in data["table"]["classes"] for i in c["instances"]}
    rows = [a for s in data["systems"] for a in s["actions"]]
    assert rows and {a["id"] for a in rows} == set(instances)
    for row in rows:
        assert {"command", "evidence", "decision", "agent_may", "class_id", "floor"}.isdisjoint(row), row
        # A tier is written only where the row's differs from its instance's.
        assert row.get("tier") != instances[row["id"]]["tier"]
        assert {"id", "title", "verb", "tool", "origin"} <= set(row)
    # An instance's system is its target's, stated once in the target's profile.
    systems = {t["id"]: t.get("system") for t in data["table"]["targets"]}
    with_target = [i for i in instances.values() if i.get("target") in systems and systems[i["target"]]]
    assert with_target and all("system" not in i for i in with_target)
    assert all(i.get("is_command", False) is False for i in instances.values())  # true is the default


def test_a_row_that_differs_from_its_instance_keeps_its_own_values() -> None:
    policy = _policy()
    system = next(s for s in policy.systems if s.actions)
    row = system.actions[0]
    raised = "T3" if row.tier != "T3" else "T2"
    edited = row.model_copy(update={"tier": raised, "note": "break-glass only", "target": None,
                                    "evidence": row.evidence[:0], "flags": ["reviewer-raised"]})
    policy = policy.model_copy(update={"systems": [
        s.model_copy(update={"actions": [edited, *s.actions[1:]]}) if s.id == system.id else s
        for s in policy.systems]})
    data = yaml.safe_load(render_yaml(policy))
    back = Policy.model_validate(data).actions()[row.id]
    assert back == edited
    assert back.tier == raised and back.target is None and back.evidence == [] and back.floor == row.floor


def test_an_instance_whose_system_differs_from_its_target_keeps_it() -> None:
    policy = _policy()
    cls = next(c for c in policy.table.classes if any(i.target and i.system for i in c.instances))
    i = next(i for i in cls.instances if i.target and i.system)
    moved = cls.model_copy(update={"instances": [
        x.model_copy(update={"system": None, "is_command": False}) if x is i else x for x in cls.instances]})
    table = policy.table.model_copy(update={"classes": [moved if c is cls else c for c in policy.table.classes]})
    policy = policy.model_copy(update={"table": table})
    data = yaml.safe_load(render_yaml(policy))
    written = next(x for c in data["table"]["classes"] for x in c["instances"] if x["action"] == i.action)
    assert written["system"] is None and written["is_command"] is False
    assert Policy.model_validate(data) == policy


def test_a_whole_policy_is_read_unchanged() -> None:
    policy = _policy()
    whole = policy.model_dump(mode="json", exclude_none=True)
    assert expand_policy(whole) is whole
    assert Policy.model_validate(whole) == policy


def test_the_streamed_file_is_the_same_bytes() -> None:
    from generators.documents.render import yaml_writer

    policy = _policy()
    parts: list[str] = []
    yaml_writer(policy)(parts.append)
    assert "".join(parts) == render_yaml(policy)
    bare = policy.model_copy(update={"systems": []})
    parts.clear()
    yaml_writer(bare)(parts.append)
    assert "".join(parts) == render_yaml(bare)
