"""``InventoryBuilder.build``: every list sorted, every item's evidence sorted and deduped, the
items sorting leaves as they are taken as they are (``builder.by_sorted_key``, in C where built)."""

from __future__ import annotations

import pytest

from inventory import builder as builder_mod
from inventory.builder import InventoryBuilder
from inventory.io import inventory_to_json
from inventory.model import Action, CommandRef, Edge, Evidence


def _ev(line: int, path: str = "runbooks/x.md") -> Evidence:
    return Evidence(path=path, line=line)


def _builder() -> InventoryBuilder:
    b = InventoryBuilder(sources=["."])
    for aid, evs, cmds, flags in [
        ("c/restart", [_ev(1)], ["kubectl rollout restart"], {"n": "x"}),
        ("a/delete", [_ev(9), _ev(2), _ev(9)], ["b", "a"], {"z": "1", "a": "2"}),  # sorted, deduped
        ("b/get", [], [], {}),
    ]:
        b.actions[aid] = Action(id=aid, verb="v", tool="t", command=cmds[0] if cmds else "x", origin="command",
                                commands=[CommandRef(command=c, evidence=_ev(5)) for c in cmds],
                                flags=flags, evidence=evs)
    for src, evs in [("b", [_ev(3), _ev(1)]), ("a", [_ev(1)])]:
        e = Edge(source=src, target="t", kind="uses", evidence=evs)
        b.edges[(src, "t", "uses")] = e
    return b


@pytest.mark.parametrize("impl", ["c", "python"])
def test_build_sorts_and_takes_what_sorting_leaves_as_it_is(impl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if impl == "c" and builder_mod._c_by_sorted_key is None:
        pytest.skip("the _cbuild extension (with by_sorted_key) is not built")
    monkeypatch.setattr(builder_mod, "by_sorted_key",
                        builder_mod._c_by_sorted_key if impl == "c" else builder_mod._py_by_sorted_key)
    b = _builder()
    as_is = b.actions["c/restart"]
    inv = b.build(consume=True)
    assert [a.id for a in inv.actions] == ["a/delete", "b/get", "c/restart"]
    assert inv.actions[2] is as_is  # one evidence, command and flag: not copied
    delete = inv.actions[0]
    assert [e.line for e in delete.evidence] == [2, 9]
    assert [c.command for c in delete.commands] == ["a", "b"] and list(delete.flags) == ["a", "z"]
    assert [e.source for e in inv.edges] == ["a", "b"] and [e.line for e in inv.edges[1].evidence] == [1, 3]


def test_the_c_and_python_tables_agree() -> None:
    if builder_mod._c_by_sorted_key is None:
        pytest.skip("the _cbuild extension (with by_sorted_key) is not built")
    for fields in [("evidence", "commands", "flags"), ("evidence",), ()]:
        b = _builder()
        c = builder_mod._c_by_sorted_key(b.actions, fields)
        py = builder_mod._py_by_sorted_key(b.actions, fields)
        assert c[0] == py[0] and all(x is y for x, y in zip(c[0], py[0])) and c[1] == py[1]
    assert builder_mod._c_by_sorted_key({}, ("evidence",)) == ([], [])
    with pytest.raises(KeyError):
        builder_mod._c_by_sorted_key({"k": Evidence(path="p", line=1)}, ("evidence",))  # no such field
    with pytest.raises(TypeError):
        builder_mod._c_by_sorted_key([], ("evidence",))  # type: ignore[arg-type]


def test_both_build_the_same_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    if builder_mod._c_by_sorted_key is None:
        pytest.skip("the _cbuild extension (with by_sorted_key) is not built")
    out = []
    for impl in (builder_mod._c_by_sorted_key, builder_mod._py_by_sorted_key):
        monkeypatch.setattr(builder_mod, "by_sorted_key", impl)
        out.append(inventory_to_json(_builder().build()))
    assert out[0] == out[1]


# --- an entity's norm, in C where built (``_cbuild.norm_entity``) ------------------------------

class _OtherEvidence(Evidence):
    """Evidence of another class: equal to no Evidence, so never deduplicated with one."""


def _entities_builder() -> InventoryBuilder:
    """Entities holding every case build()'s norm() handles: duplicates and disorder in each
    list, evidence met twice (the first object kept), facts sorted by name then str(value),
    an IAM binding's data classes turned into ``grants_access_to``, evidence of another class."""
    from inventory.model import Component, EnvironmentSource, Fact, Resource

    b = InventoryBuilder(sources=["."])
    twice = _ev(4)
    b.components["service:a"] = Component(
        id="service:a", kind="service", name="a",
        environments=["prod", "dev", "prod"], data_classes=["pii", "auth", "pii"], owners=["z", "a", "z"],
        labels={"tier": "web", "app": "a"}, attributes={"zeta": 1, "alpha": ["b", "a"], "mid": True},
        environment_sources=[
            EnvironmentSource(environment="prod", how="b", resolver="r", evidence=[_ev(9), _ev(3), _ev(9)]),
            EnvironmentSource(environment="dev", how="a", resolver="r", evidence=[_ev(1)]),
            EnvironmentSource(environment="prod", how="a", resolver="r", evidence=[]),
        ],
        facts=[Fact(name="replicas", value=3, evidence=[_ev(7), _ev(2)]),
               Fact(name="replicas", value=10, evidence=[_ev(1)]),  # "10" < "3": by str(value)
               Fact(name="data_class", value="pii", evidence=[_ev(5, "b.yaml"), _ev(5, "a.yaml")])],
        evidence=[_ev(8), twice, _ev(2, "a.yaml"), _ev(4), _ev(8)])
    b.resources["iam:binding"] = Resource(
        id="iam:binding", kind="iam", name="binding", data_classes=["secrets", "pii"],
        attributes={"role": "admin", "grants_access_to": ["old"]},
        facts=[Fact(name="data_class", value="pii", evidence=[_ev(1)]), Fact(name="role", value="admin", evidence=[])],
        evidence=[_ev(3)])
    b.resources["bucket:b"] = Resource(
        id="bucket:b", kind="bucket", name="b",
        evidence=[_OtherEvidence(path="x", line=2), _ev(2, "x"), _ev(1, "x")])
    b.resources["bucket:twice"] = Resource(id="bucket:twice", kind="bucket", name="twice", evidence=[twice, _ev(4)])
    return b


def _built(monkeypatch: pytest.MonkeyPatch, in_c: bool) -> tuple[str, object]:
    monkeypatch.setattr(builder_mod, "_c_norm_entity", builder_mod._c_norm_entity if in_c else None)
    b = _entities_builder()
    kept = b.resources["bucket:twice"].evidence[0]
    inv = b.build(consume=True)
    twice = next(r for r in inv.resources if r.id == "bucket:twice")
    assert twice.evidence == [_ev(4)] and twice.evidence[0] is kept  # the first of equal ones
    return inventory_to_json(inv), inv


def test_an_entity_is_normalised_the_same_in_c_and_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    if builder_mod._c_norm_entity is None:
        pytest.skip("the _cbuild extension (with norm_entity) is not built")
    in_c, inv = _built(monkeypatch, True)
    in_python, _ = _built(monkeypatch, False)
    assert in_c == in_python
    a = inv.components[0]
    assert a.environments == ["dev", "prod"] and a.data_classes == ["auth", "pii"] and a.owners == ["a", "z"]
    assert list(a.labels) == ["app", "tier"] and list(a.attributes) == ["alpha", "mid", "zeta"]
    assert [(s.environment, s.how) for s in a.environment_sources] == [("dev", "a"), ("prod", "a"), ("prod", "b")]
    assert [e.line for e in a.environment_sources[2].evidence] == [3, 9]
    assert [(f.name, f.value) for f in a.facts] == [("data_class", "pii"), ("replicas", 10), ("replicas", 3)]
    assert [e.path for e in a.facts[0].evidence] == ["a.yaml", "b.yaml"]
    assert [(e.path, e.line) for e in a.evidence] == [("a.yaml", 2), ("runbooks/x.md", 4), ("runbooks/x.md", 8)]
    iam = next(r for r in inv.resources if r.id == "iam:binding")
    assert iam.data_classes == [] and iam.attributes == {"grants_access_to": ["pii", "secrets"], "role": "admin"}
    assert [f.name for f in iam.facts] == ["role"]
    other = next(r for r in inv.resources if r.id == "bucket:b")
    # Kept apart, as set() keeps them (in Python: a list holding another class is its to sort).
    assert [e.line for e in other.evidence] == [1, 2, 2] and {type(e) for e in other.evidence} == {Evidence,
                                                                                                    _OtherEvidence}


def test_the_c_norm_fails_where_python_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    if builder_mod._c_norm_entity is None:
        pytest.skip("the _cbuild extension (with norm_entity) is not built")
    from inventory.model import Component

    for in_c in (True, False):
        monkeypatch.setattr(builder_mod, "_c_norm_entity", builder_mod._c_norm_entity if in_c else None)
        b = InventoryBuilder()
        ent = Component(id="service:a", kind="service", name="a", evidence=[])
        ent.__dict__["labels"] = {1: "one", "x": "two"}  # keys that do not sort
        b.components[ent.id] = ent
        with pytest.raises(TypeError):
            b.build(consume=True)
    with pytest.raises(TypeError):
        builder_mod._c_norm_entity(ent, Evidence, builder_mod.NO_DATA_KINDS)  # type: ignore[misc]
