"""``_cbuild.sort_ahead``: the build's ``by_sorted_key`` of its actions and edges, worked out on
another thread while the build normalises the entities, gives exactly ``by_sorted_key``'s
answer, in every case, and the thread does answer for the models a build holds."""

from __future__ import annotations

import random

import pytest

from inventory import builder as builder_mod
from inventory.builder import InventoryBuilder
from inventory.commands.model import trusted
from inventory.io import inventory_to_json
from inventory.model import Action, CommandRef, Edge, Evidence

cbuild = pytest.importorskip("inventory._cbuild")
if not hasattr(cbuild, "sort_ahead"):
    pytest.skip("the C helpers are an older build", allow_module_level=True)

ACTION_FIELDS = ("evidence", "commands", "flags")
# Code points of every width (one, two and four bytes a character), and what sorts near them.
ALPHABET = ["a", "b", "z", "A", "-", "/", ":", "@", "é", "ß", "ÿ", "Ā", "中", "😀", "\U0010ffff", "0"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))


def _action(aid: str, rng: random.Random) -> Action:
    return trusted(Action, {
        "id": aid, "verb": "v", "tool": "t", "target": None, "target_name": None, "object_kind": None,
        "environment": None, "flags": {str(i): "x" for i in range(rng.randint(0, 3))}, "sql_kind": None,
        "command": "c", "commands": [CommandRef(command="c", evidence=Evidence(path="p", line=1))
                                     for _ in range(rng.randint(0, 2))],
        "origin": "implied", "description": None,
        "evidence": [Evidence(path=_text(rng) or "p", line=rng.randint(1, 3)) for _ in range(rng.randint(0, 3))],
    }, set(Action.model_fields))


def _tables(rng: random.Random) -> tuple[dict, dict]:
    actions = {}
    for _ in range(rng.randint(0, 80)):
        aid = _text(rng)
        actions[aid] = _action(aid, rng)
    edges = {}
    for _ in range(rng.randint(0, 50)):
        key = (_text(rng), _text(rng), rng.choice(["uses", "deploys", ""]))
        edges[key] = Edge(source=key[0] or "s", target=key[1] or "t", kind="uses",
                          evidence=[Evidence(path="p", line=i + 1) for i in range(rng.randint(0, 2))])
    return actions, edges


def test_the_answers_are_by_sorted_keys_for_any_keys_and_values() -> None:
    rng = random.Random(7)
    for _ in range(200):
        actions, edges = _tables(rng)
        job = cbuild.sort_ahead(((actions, ACTION_FIELDS), (edges, ("evidence",))))
        got_actions, got_edges = cbuild.sorted_ahead(job, 0), cbuild.sorted_ahead(job, 1)
        want_actions, want_edges = cbuild.by_sorted_key(actions, ACTION_FIELDS), cbuild.by_sorted_key(edges, ("evidence",))
        assert got_actions == want_actions and got_edges == want_edges
        assert all(x is y for x, y in zip(got_actions[0], want_actions[0]))
        assert [a.id for a in got_actions[0]] == sorted(actions)  # Python's order of str, code point by code point
        assert cbuild.ahead_answered(job) == (True, True)  # worked out by the thread, not when asked


def test_a_table_changed_since_gets_the_answer_of_now() -> None:
    rng = random.Random(1)
    actions = {k: _action(k, rng) for k in ("b", "c")}
    job = cbuild.sort_ahead(((actions, ACTION_FIELDS),))
    cbuild.ahead_answered(job)  # the thread is done: its answer is of the table as it was
    actions["a"] = _action("a", rng)
    values, _ = cbuild.sorted_ahead(job, 0)
    assert [a.id for a in values] == ["a", "b", "c"]
    job = cbuild.sort_ahead(((actions, ACTION_FIELDS),))
    cbuild.ahead_answered(job)
    actions["b"] = _action("b", rng)  # the same size, another value
    assert cbuild.sorted_ahead(job, 0)[0][1] is actions["b"]


@pytest.mark.parametrize("table, fields, error", [
    ({1: "x", "a": "y"}, ("evidence",), TypeError),   # keys that do not sort
    ({"a": 3}, ("evidence",), AttributeError),          # a value with no __dict__
    ({"a": Evidence(path="p", line=1)}, ("evidence",), KeyError),  # no such field
])
def test_what_the_thread_cannot_answer_fails_as_by_sorted_key_fails(table: dict, fields: tuple, error: type) -> None:
    job = cbuild.sort_ahead(((table, fields),))
    assert cbuild.ahead_answered(job) == (False,)
    with pytest.raises(error):
        cbuild.sorted_ahead(job, 0)
    with pytest.raises(error):
        cbuild.by_sorted_key(table, fields)


def test_values_of_mixed_classes_or_lengths_it_cannot_read_are_left_to_by_sorted_key() -> None:
    rng = random.Random(3)
    mixed = {"a": _action("a", rng), "b": Edge(source="s", target="t", kind="uses", evidence=[])}
    odd = _action("c", rng)
    odd.__dict__.update(evidence=[], commands=[], flags=range(3))  # a length only Python can tell
    for table, fields in [(mixed, ("evidence",)), ({"c": odd}, ACTION_FIELDS)]:
        job = cbuild.sort_ahead(((table, fields),))
        assert cbuild.ahead_answered(job) == (False,)
        assert cbuild.sorted_ahead(job, 0) == cbuild.by_sorted_key(table, fields)


def test_arguments_are_checked_and_an_unasked_job_is_let_go() -> None:
    with pytest.raises(TypeError):
        cbuild.sort_ahead([({}, ())])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cbuild.sort_ahead((({}, ()), ([], ())))
    with pytest.raises(TypeError):
        cbuild.sorted_ahead(object(), 0)
    job = cbuild.sort_ahead((({}, ("evidence",)),))
    assert cbuild.sorted_ahead(job, 0) == ([], [])
    with pytest.raises(IndexError):
        cbuild.sorted_ahead(job, 1)
    rng = random.Random(5)
    for _ in range(20):  # dropped while the thread may still run: joined, nothing leaked or freed early
        actions, edges = _tables(rng)
        cbuild.sort_ahead(((actions, ACTION_FIELDS), (edges, ("evidence",))))


def test_a_build_sorting_ahead_builds_what_by_sorted_key_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    def built() -> str:
        rng = random.Random(11)
        b = InventoryBuilder(sources=["."])
        b.actions, b.edges = _tables(rng)
        return inventory_to_json(b.build(consume=True))

    started = []
    real = builder_mod._c_sort_ahead
    monkeypatch.setattr(builder_mod, "_c_sort_ahead", lambda tables: started.append(1) or real(tables))
    ahead = built()
    assert started  # the build did sort ahead
    monkeypatch.setattr(builder_mod, "_c_sort_ahead", None)
    assert ahead == built()
