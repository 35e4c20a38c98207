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
