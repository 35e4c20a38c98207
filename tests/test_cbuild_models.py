"""Models made and sorted in C (``_cbuild``) are what the Python steps make.

``commands.model.trusted`` in C: models made without validation end in the inventory, the
stored form and the classifier's verdicts, so the C version must give the same instance
(fields, fields set, extra, private), take the same arguments, and refuse what the Python one
cannot do. ``evidence_sorted``: the build's sorting of evidence lists.
"""

from __future__ import annotations

import pytest

from inventory.commands import model as commands_model
from inventory.commands.model import ParsedCommand
from inventory.model import Action, Evidence

cbuild = pytest.importorskip("inventory._cbuild")
if not hasattr(cbuild, "trusted"):
    pytest.skip("the C helpers are an older build", allow_module_level=True)

EV = Evidence(path="runbooks/x.md", line=3)


def _python_trusted(model, fields, given=None, private=None):  # type: ignore[no-untyped-def]
    """The Python steps of ``commands.model.trusted`` (what it is without the C build)."""
    obj = commands_model._new(model)
    commands_model._set_dict(obj, fields)
    commands_model._set_fields_set(obj, set(fields) if given is None else given)
    commands_model._set_extra(obj, None)
    commands_model._set_private(obj, private)
    return obj


def _state(obj) -> tuple:  # type: ignore[no-untyped-def]
    return (type(obj), obj.__dict__, obj.__pydantic_fields_set__, obj.__pydantic_extra__, obj.__pydantic_private__)


def test_the_module_uses_the_c_version() -> None:
    assert commands_model.trusted is cbuild.trusted


@pytest.mark.parametrize("given_by", ["none", "position", "keyword"])
def test_the_c_version_makes_the_python_versions_instance(given_by: str) -> None:
    fields = {"path": "a/b.yaml", "line": 2}
    given = {"path"}
    if given_by == "none":
        made, expected = cbuild.trusted(Evidence, dict(fields)), _python_trusted(Evidence, dict(fields))
    elif given_by == "position":
        made, expected = cbuild.trusted(Evidence, dict(fields), given), _python_trusted(Evidence, dict(fields), given)
    else:
        made, expected = cbuild.trusted(Evidence, dict(fields), given=given), _python_trusted(Evidence, dict(fields), given)
    assert _state(made) == _state(expected)
    assert made == Evidence(**fields) and hash(made) == hash(Evidence(**fields))
    if given_by != "none":
        assert made.__pydantic_fields_set__ is given  # the caller's set itself (shared sets stay shared)


def test_a_trusted_action_is_the_validated_one_and_private_state_is_kept() -> None:
    fields = {"id": "service:a/restart", "verb": "restart", "tool": "kubectl", "target": "service:a",
              "target_name": "a", "object_kind": "deployment", "environment": None, "flags": {}, "sql_kind": None,
              "command": "kubectl rollout restart deploy/a", "commands": [], "origin": "command",
              "description": None, "evidence": [EV]}
    made = cbuild.trusted(Action, dict(fields))
    assert made == Action.model_validate(fields) and made.model_dump() == Action(**fields).model_dump()
    pc = ParsedCommand.of("kubectl get pods", ["kubectl", "get", "pods"], "kubectl", verb="get")
    copy = cbuild.trusted(ParsedCommand, dict(pc.__dict__), set(pc.model_fields_set), private={"note": 1})
    assert copy.__dict__ == pc.__dict__ and copy.model_fields_set == pc.model_fields_set
    assert copy.__pydantic_private__ == {"note": 1}


@pytest.mark.parametrize("call", [
    lambda: cbuild.trusted(Evidence),
    lambda: cbuild.trusted(Evidence, [("path", "a")]),
    lambda: cbuild.trusted("Evidence", {"path": "a", "line": 1}),
    lambda: cbuild.trusted(Evidence, {"path": "a", "line": 1}, set(), given=set()),
    lambda: cbuild.trusted(Evidence, {"path": "a", "line": 1}, colour="red"),
    lambda: cbuild.trusted(Evidence, {"path": "a", "line": 1}, None, None, None),
])
def test_wrong_arguments_are_a_type_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        call()


def test_evidence_sorted_in_c_is_sorted_set_of_the_list() -> None:
    """``_cbuild.evidence_sorted`` (InventoryBuilder.build's sorting of evidence lists): a new
    list, sorted by (path, line), each equal item once (the first met); anything but a list of
    Evidence goes to the fallback."""
    import random

    rnd = random.Random(3)
    calls: list[object] = []

    def fallback(evs):  # type: ignore[no-untyped-def]
        calls.append(evs)
        return sorted(set(evs), key=lambda e: (e.path, e.line))

    for n in (0, 1, 2, 5, 40):
        evs = [Evidence(path=rnd.choice(["a.yaml", "b/c.md", "a.yaml.bak"]), line=rnd.randint(1, 4)) for _ in range(n)]
        out = cbuild.evidence_sorted(Evidence, fallback, evs)
        assert out == sorted(set(evs), key=lambda e: (e.path, e.line)) and out is not evs
        firsts = {}
        for e in evs:
            firsts.setdefault((e.path, e.line), e)
        assert all(e is firsts[(e.path, e.line)] for e in out)  # the first of equal ones
    assert calls == []

    class Other(Evidence):
        pass

    mixed = [Evidence(path="b", line=1), Other(path="a", line=1)]
    assert cbuild.evidence_sorted(Evidence, fallback, mixed) == [Other(path="a", line=1), Evidence(path="b", line=1)]
    assert calls == [mixed]
    as_tuple = (Evidence(path="b", line=1),)
    assert cbuild.evidence_sorted(Evidence, fallback, as_tuple) == list(as_tuple) and calls[-1] is as_tuple


# -- slotted: commands.reading's objects ---------------------------------------------------------


def test_slotted_makes_what_new_and_one_assignment_per_slot_make() -> None:
    import marshal
    from dataclasses import fields

    from inventory.commands import reading
    from inventory.commands.shell import parse_line

    row = reading.line_row(parse_line("kubectl -n prod rollout restart deploy/a deploy/b && psql -c 'drop table x'"))
    raw, rows, operators, parse_error = marshal.loads(row)
    for r in rows:
        made = cbuild.slotted(reading.CommandReading, r)
        assert type(made) is reading.CommandReading
        assert [getattr(made, f) for f in reading.CommandReading.__slots__] == list(r)
        assert made == reading._command_of_row(r)  # the Python steps' object
    line = reading.reading_of_row(row)
    assert type(line) is reading.LineReading and [f.name for f in fields(line)] == list(reading.LineReading.__slots__)
    assert (line.raw, line.operators, line.parse_error) == (raw, operators, parse_error)
    assert line.commands == [reading._command_of_row(r) for r in rows]
    assert reading.reading_of_row is not None and reading._slotted is cbuild.slotted  # the module uses it


def test_slotted_refuses_what_it_cannot_make() -> None:
    from inventory.commands.reading import CommandReading, LineReading

    with pytest.raises(TypeError):
        cbuild.slotted(LineReading, ("raw", [], []))  # one value short
    with pytest.raises(TypeError):
        cbuild.slotted(LineReading, "abcd")  # not a tuple or list
    with pytest.raises(TypeError):
        cbuild.slotted(Evidence, ("x", 1))  # a pydantic model: not a class of plain slots

    class Plain:
        pass

    with pytest.raises(TypeError):
        cbuild.slotted(Plain, ())  # has a __dict__
    made = cbuild.slotted(CommandReading, ["kubectl get pods", ["kubectl", "get", "pods"], "kubectl", "get", "pods",
                                           None, None, {}, [], None, [], None, None, None])  # a list will do
    assert made.tool == "kubectl" and made.derived is None


def test_slotted_serves_more_classes_than_it_keeps_offsets_for() -> None:
    from dataclasses import dataclass

    made = []
    for i in range(8):  # past the few classes whose slots' offsets it keeps
        cls = dataclass(slots=True)(type(f"C{i}", (), {"__annotations__": {"a": int, "b": str}}))
        obj = cbuild.slotted(cls, (i, f"b{i}"))
        made.append((type(obj), obj.a, obj.b))
        assert cbuild.slotted(cls, [i, "again"]).b == "again"  # and again, whether kept or not
    assert [(t.__name__, a, b) for t, a, b in made] == [(f"C{i}", i, f"b{i}") for i in range(8)]


# --- plain attribute reads (``commands.model.plain_reads``) ----------------------------------

def test_the_scans_models_read_attributes_as_plain_objects_and_fail_as_pydantic_does() -> None:
    from pydantic import BaseModel

    from inventory import config, model
    from inventory.scanners import base

    if not hasattr(cbuild, "plain_reads"):
        pytest.skip("the C helpers are an older build")
    classes = [model.Evidence, model.Action, model.Component, model.Inventory, base.CommandSighting, base.Fragment,
               config.Config, ParsedCommand]
    # Each of them qualifies (nothing a pydantic hook would add), so the modules changed them.
    assert commands_model.plain_reads(*classes) == classes
    ev = Evidence(path="p", line=2)
    assert (ev.path, ev.line, ev.model_fields_set) == ("p", 2, {"path", "line"})
    for obj, name in [(ev, "nope"), (model.Action(id="a", verb="v", tool="t", command="c", origin="command", evidence=[]), "x")]:
        with pytest.raises(AttributeError, match=f"'{type(obj).__name__}' object has no attribute '{name}'"):
            getattr(obj, name)
        assert not hasattr(obj, name)
        assert getattr(obj, name, "default") == "default"


def test_models_that_need_pydantics_hook_keep_it() -> None:
    from pydantic import BaseModel, ConfigDict, PrivateAttr

    class Private(BaseModel):
        x: int = 1
        _p: int = PrivateAttr(default=5)

    class Extra(BaseModel):
        model_config = ConfigDict(extra="allow")

    class Own(BaseModel):
        y: int = 2

        def __getattr__(self, item: str) -> str:
            return f"computed {item}"

    class Plain(BaseModel):
        y: int = 2

    assert commands_model.plain_reads(Private, Extra, Own, Plain) == ([Plain] if hasattr(cbuild, "plain_reads") else [])
    assert Private()._p == 5 and Extra(z=3).z == 3 and Own().anything == "computed anything" and Plain().y == 2

    class Later(Plain):  # a subclass works its reads out afresh: BaseModel's hook, which it keeps
        pass

    assert Later().y == 2
    Plain.__getattr__ = lambda self, item: "set later"  # type: ignore[method-assign]
    assert Plain().whatever == "set later"  # a __getattr__ given later is used again
