"""The C encoder (``inventory._cbuild.encode``) writes what the generated Python encoders
(``store._encoder``) and marshal store, refuses what they refuse, shows a seeing dump's caller
what they show, and leaks nothing.

Differential: the same inventory is dumped by both (the C one switched off by setting
``store._cencode`` to None), plainly and seeing (``store.Sight``), and ``marshal.loads`` must
read the same values from both payloads (compared by repr: a NaN is never equal to itself),
with every equal string read as one object (marshal's refs), as from marshal's own bytes. The
seeing calls are recorded: the same (value, key) multiset shown to ``see``, the same strings
given to ``met`` in the same steps.
For a hand-made inventory with every field kind, the example's scanned inventory, seeded
random damage to the models' fields (both must then raise the same exception type, or give
the same bytes), and (marked ``corpora``) the real repositories.
"""

from __future__ import annotations

import enum
import gc
import marshal
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from inventory import scrubjudge, secrets, store
from inventory.config import Config
from inventory.model import Component, Evidence, Fact, Inventory, Owner
from inventory.scan import scan_paths
from tests.test_inventory_store import _inventory
from tests.test_store_cbuild import corpus_inventories

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "acme-platform"

needs_cencode = pytest.mark.skipif(store._cencode is None, reason="the _cbuild extension (with its encoder) is not built")

# Keys more field names than the scrub does, and takes every {name, value} model as a pair:
# every way a plain field is shown is exercised.
WIDE_SIGHT = store.Sight(keyed=lambda name: name in {"labels", "replicas", "command", "value", "settle"},
                         pairs=lambda cls: True)


class Dumped:
    """One dump of an inventory: its payload (or the exception it raised) and what it showed."""

    def __init__(self, inv: Inventory, in_c: bool, sight: store.Sight | None,
                 answer: Callable[[Any, str | None], Any] = lambda v, key: None) -> None:
        self.shown: Counter[tuple[str, str, str | None]] = Counter()
        self.met: list[list[str]] = []
        self.result: bytes | Exception

        def see(v: Any, key: str | None) -> Any:
            self.shown[(type(v).__name__, repr(v), key)] += 1
            return answer(v, key)

        saved = store._cencode
        store._cencode = saved if in_c else None
        try:
            seeing = None if sight is None else (sight, see, self.met.append)
            self.result = store._INVENTORY._payload([inv], False, seeing)
        except Exception as exc:  # noqa: BLE001 - compared below
            self.result = exc
        finally:
            store._cencode = saved


def _same_dump(inv: Inventory, sight: store.Sight | None = None,
               answer: Callable[[Any, str | None], Any] = lambda v, key: None) -> bytes | Exception:
    """The payload of ``inv`` (or the exception raised), the same from C and Python."""
    c, py = Dumped(inv, True, sight, answer), Dumped(inv, False, sight, answer)
    if isinstance(py.result, Exception):
        assert type(c.result) is type(py.result), f"Python raised {py.result!r}, C gave {c.result!r}"
    else:
        assert not isinstance(c.result, Exception), f"C raised {c.result!r}, Python stored it"
        assert repr(marshal.loads(c.result)) == repr(marshal.loads(py.result)), "different values"
    assert c.shown == py.shown, "different values shown"
    assert c.met == py.met, "different strings met"
    return c.result


def _all_ways(inv: Inventory) -> bytes:
    """``inv``'s payload, checked the same from C and Python plainly and with both sights."""
    plain = _same_dump(inv)
    assert isinstance(plain, bytes)
    _strings_shared(marshal.loads(plain))
    for sight in (scrubjudge._sight(), WIDE_SIGHT):
        assert _same_dump(inv, sight) == plain  # seeing changes nothing stored
    return plain


def _strings_shared(loaded: Any) -> None:
    """Every string of a loaded payload is one object per value (each written once, then its ref)."""
    counts = string_objects(loaded)
    assert counts and all(n == 1 for n in counts.values())


def string_objects(loaded: Any) -> dict[str, int]:
    """How many objects hold each string value of ``loaded`` (tuples, lists, dicts, models)."""
    by_value: dict[str, set[int]] = {}
    stack = [loaded]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            by_value.setdefault(x, set()).add(id(x))
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, BaseModel):
            stack.extend(x.__dict__.values())
    return {value: len(ids) for value, ids in by_value.items()}


def _loaded(payload: bytes) -> Inventory:
    return store.load(store._INVENTORY._header(False, payload) + payload)


def _every_kind() -> Inventory:
    """The store tests' inventory with a value of every kind a field may hold, valid or not
    for its type (the builder's ``trusted`` models are not validated)."""
    inv = _inventory()
    big = Evidence(path="k8s/base/deploy.yaml", line=100_000)  # an index and a line beyond the small ints
    comp = inv.components[0]
    comp.attributes.update({"ratio": 0.25, "nan": float("nan"), "nothing": None, "deep": [[1, {"k": [None, 2.5]}], {}],
                            "big": 2**70, "empty": [], "flag": True})
    comp.__dict__["labels"] = {1: "one", 2.5: "two", None: "none", True: ["x", 3], "s": {"nested": {"n": -1}}}
    comp.__dict__["owners"] = ["team-a", 7, None, 1.5, ["x"], {"a": "b"}]
    comp.__dict__["replicas"] = 2**64
    comp.facts.append(Fact(name="password", value="hunter2", evidence=[big]))
    comp.facts.append(Fact.model_construct(name=5, value={"name": "api_key", "value": "xyz"}, evidence=[big], how=3))
    inv.actions[0].__dict__["flags"] = {}
    inv.actions[0].__dict__["description"] = ["free", "text", 1]
    inv.owners.append(Owner(name="team-a", evidence=[big, big, inv.secrets[0]]))
    inv.__dict__["sources"] = {"k": "v"}
    inv.warnings[0].__dict__["line"] = 300
    # A model of another class than its field's: shown whole, then encoded as the field's class.
    inv.resources.append(Component.model_construct(**{**comp.__dict__, "kind": "service"}))
    inv.__dict__["secrets"] = (inv.secrets[0], big)  # a tuple where a list is declared
    return inv


# --- the extension itself -------------------------------------------------------------------

@needs_cencode
def test_dumping_uses_the_extension_where_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    cb = store._cbuild
    assert (cb.PLAIN, cb.SEEN, cb.KEYED, cb.PAIR) == (store._PLAIN, store._SEEN, store._KEYED, store._PAIR)  # type: ignore[union-attr]
    calls = []
    for name in ("_cencode", "_cencode_ahead"):
        real = getattr(store, name)
        if real is not None:
            monkeypatch.setattr(store, name, lambda *args, real=real: calls.append(args) or real(*args))
    assert store.load(store.dump(_inventory())) == _inventory()
    assert len(calls) == 1


@needs_cencode
@pytest.mark.parametrize("plan", [None, (), (Inventory, (), b"", (), b"", "x"), (Evidence, ("path",), b"\x00", (None,), b"", -1),
                                  (Evidence, ("path",), b"\x00", (None,), b"\x00", 1),
                                  (Evidence, ("path",), b"\x06", (None,), b"\x00", -1)])
def test_a_malformed_plan_is_refused_not_a_crash(plan: Any) -> None:
    with pytest.raises(TypeError):
        store._cencode(plan, Evidence(path="a", line=1), False, [], {})  # type: ignore[misc]


@needs_cencode
def test_the_tables_must_be_an_empty_list_and_a_dict_and_the_seeing_arguments_callable() -> None:
    plan, ev = store._cencplan(Evidence), Evidence(path="a", line=1)
    for args in [(False, {}, {}), (False, [], []), (False, [], {}, print), (False, [], {}, None, print, 1),
                 (False, [], {}, print, print, 0), (True, [], {}, print, print, 1), (True, [], {}),
                 (False, ["a"], {})]:  # a table with strings in it already: their refs are not this payload's
        with pytest.raises(TypeError):
            store._cencode(plan, ev, *args)  # type: ignore[misc]
    strings: list[str] = []
    assert marshal.loads(store._cencode(plan, ev, False, strings, {})) == (("a", 1), [])  # type: ignore[misc]
    assert strings == ["a"]  # the strings written, by their refs
    assert marshal.loads(store._cencode(plan, [ev, ev], True, [], {})) == ([("a", 1), ("a", 1)], [])  # type: ignore[misc]


# --- the same bytes --------------------------------------------------------------------------

@needs_cencode
def test_a_hand_made_inventory_is_stored_the_same() -> None:
    assert _loaded(_all_ways(_inventory())) == _inventory()


@needs_cencode
def test_every_kind_of_field_value_is_stored_the_same() -> None:
    _all_ways(_every_kind())


@needs_cencode
def test_what_see_returns_is_stored_the_same() -> None:
    # ``see(v, key) or value(v)``: a true answer takes the value's place, in both.
    def answer(v: Any, key: str | None) -> Any:
        return {"swapped": key} if isinstance(v, dict) or v is None else 0

    for sight in (scrubjudge._sight(), WIDE_SIGHT):
        assert isinstance(_same_dump(_every_kind(), sight, answer), bytes)


@needs_cencode
def test_the_scrub_judges_the_same_strings() -> None:
    # What PendingScrub's own ``see`` collects, with its sight, from either dump.
    judged = []
    for in_c in (True, False):
        free, keyed, see = secrets._judging_beside_table()
        met: list[str] = []
        saved = store._cencode
        store._cencode = saved if in_c else None
        try:
            store.dump_parts(_every_kind(), (scrubjudge._sight(), see, met.extend))
        finally:
            store._cencode = saved
        judged.append((met, free, keyed))
    assert judged[0] == judged[1]
    assert ("password", "hunter2") in judged[0][2] and ("api_key", "xyz") in judged[0][2]


def _tricky_under_known_keys() -> Inventory:
    """:func:`_every_kind` with values under keys the scrub has judged already: plain ones it
    may skip, and ones it must still be shown (a secret's key, a nested dict, a pair, a list
    with a dict in it)."""
    inv = _every_kind()
    comp = inv.components[0]
    comp.attributes.update({"team": "payments", "zones": ["a", None, "b"], "port": 8080, "on": False,
                            "token": "s3cr3t-value", "auth_token": ["t1", "t2"],
                            "mixed": ["a", {"password": "pw"}], "inner": {"api_key": "k"},
                            "pair": {"name": "db_password", "value": "v"}})
    comp.__dict__["labels"] = {"app": "orders", "tier": ["web", None], "secret": "in-a-label", "n": 3}
    inv.actions[0].__dict__["flags"] = {"namespace": "prod", "password": "hunter3", "dry-run": True}
    return inv


@needs_cencode
@pytest.mark.parametrize("warm", [False, True])
def test_keys_judged_already_skip_only_what_the_scrub_ignores(warm: bool) -> None:
    # A see with judged_keys is not shown what those answers say it ignores: the scrub still
    # collects what a see shown everything collects, whether the answers were there before
    # the dump (warm) or filled in by it as it goes.
    inv = _tricky_under_known_keys()
    free, keyed, see = secrets._judging_beside_table()
    if warm:
        store.dump_parts(inv, (scrubjudge._sight(), see, [].extend))
        keyed.clear()  # (``free`` keeps the field names judged once, up front)
    shown: list[Any] = []

    def counted(v: Any, key: str | None) -> None:
        shown.append(v)
        see(v, key)

    counted.judged_keys = see.judged_keys  # type: ignore[attr-defined]
    met: list[str] = []
    parts = store.dump_parts(inv, (scrubjudge._sight(), counted, met.extend))
    free_all, keyed_all, see_all = secrets._judging_beside_table()
    met_all: list[str] = []
    shown_all: list[Any] = []
    assert parts == store.dump_parts(inv, (scrubjudge._sight(), lambda v, k: shown_all.append(v) or see_all(v, k),
                                           met_all.extend))
    assert (met, keyed) == (met_all, keyed_all)
    assert free <= free_all and free_all - free <= set(met)  # what is skipped is in the string table
    assert {("token", "s3cr3t-value"), ("auth_token", "t1"), ("secret", "in-a-label"), ("password", "hunter3"),
            ("password", "pw"), ("api_key", "k"), ("db_password", "v")} <= keyed
    assert len(shown) < len(shown_all)
    # Never skipped, however the keys were judged: the values the scrub must walk.
    for value in ({"name": "db_password", "value": "v"}, {"api_key": "k"}):
        assert any(v == value or (isinstance(v, dict) and value in v.values()) for v in shown)


@needs_cencode
def test_known_keys_must_be_a_dict() -> None:
    plan = store._cencplan(Evidence, scrubjudge._sight())
    ev = Evidence(path="a", line=1)
    for known in ([], "x", {"a"}):
        with pytest.raises(TypeError):
            store._cencode(plan, ev, False, [], {}, lambda v, k: None, lambda: None, 1, known)  # type: ignore[misc]
    assert store._cencode(plan, ev, False, [], {}, lambda v, k: None, lambda: None, 1, None)  # type: ignore[misc]


@needs_cencode
def test_the_steps_come_every_step_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "STEP", 3)
    inv = _inventory()
    inv.actions = [inv.actions[0].model_copy(update={"id": f"a{i}", "command": f"c{i}"}) for i in range(10)]
    steps = Dumped(inv, True, scrubjudge._sight()).met
    assert len(steps) > 4  # the actions' four steps, and the other lists'
    _same_dump(inv, scrubjudge._sight())


@needs_cencode
def test_the_example_inventory_is_stored_the_same() -> None:
    inv, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    assert len(inv.actions) > 20
    assert _loaded(_all_ways(inv)) == inv


# --- damage ------------------------------------------------------------------------------------

class _Str(str):
    pass


class _Level(enum.IntEnum):
    HIGH = 3


def _strays() -> list[Any]:
    """Values a model's field may be left holding (built without validation), valid or not."""
    ev = Evidence(path="x.yaml", line=400)
    return [None, 0, -1, 2**70, True, 1.5, "x", "", _Str("sub"), _Level.HIGH, b"bytes", ("a",), (ev,), [], [ev], [ev, "x"],
            [1, [2, {"k": None}]], {"k": "v"}, {1: "a", 2.5: [True]}, {("t",): 1}, {"name": "password", "value": "s3"},
            {"a": {1.5j}}, {"a": object()}, ev, Fact(name="n", value=1, evidence=[ev]), Owner(name="o", evidence=[]),
            [Owner(name="o", evidence=[ev])], [Fact(name="token", value="v", evidence=[ev])], object(), {ev, 1}, {}, [[[["deep"]]]]]


def _models(obj: Any) -> Iterator[BaseModel]:
    if isinstance(obj, BaseModel):
        yield obj
        for value in obj.__dict__.values():
            yield from _models(value)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _models(x)


def _damaged(rng: random.Random) -> Inventory:
    """A fresh hand-made inventory with one to three fields somewhere replaced by a stray, or gone."""
    # A deep copy: the store tests' inventory shares its Evidence objects with other tests.
    inv = (_every_kind() if rng.random() < 0.5 else _inventory()).model_copy(deep=True)
    models = [m for m in _models(inv) if m.__dict__]
    for _ in range(rng.randint(1, 3)):
        obj = rng.choice(models)
        name = rng.choice(list(obj.__dict__))
        if rng.random() < 0.05:
            del obj.__dict__[name]
        else:
            obj.__dict__[name] = rng.choice(_strays())
    return inv


@needs_cencode
def test_damaged_models_are_refused_or_stored_as_python_stores_them() -> None:
    rng = random.Random(20261205)
    outcomes: Counter[str] = Counter()
    for i in range(600):
        sight = (None, scrubjudge._sight(), WIDE_SIGHT)[i % 3]
        result = _same_dump(_damaged(rng), sight)
        outcomes[type(result).__name__] += 1
    assert outcomes["bytes"] > 60 and outcomes["TypeError"] > 50 and outcomes["AttributeError"] > 10, outcomes


@needs_cencode
def test_encoding_and_refusing_leak_nothing() -> None:
    inv, bad = _every_kind(), _every_kind()
    # Evidence indices past the small ints: each is an allocation of its own, as a leak would be.
    many = [Evidence(path="many.yaml", line=i) for i in range(1, 400)]
    inv.owners.append(Owner(name="many", evidence=many + many))
    bad.actions[0].__dict__["flags"] = {"k": object()}
    plan, seen_plan = store._cencplan(Inventory), store._cencplan(Inventory, WIDE_SIGHT)
    probes = (inv, inv.components[0], inv.components[0].name, inv.components[0].replicas, inv.components[0].evidence[0],
              inv.components[0].attributes)

    def rounds(n: int) -> None:
        for _ in range(n):
            for p in (plan, seen_plan):
                args = () if p is plan else (lambda v, key: None, lambda: None, 2)
                store._cencode(p, inv, False, [], {}, *args)  # type: ignore[misc]
                with pytest.raises(TypeError):
                    store._cencode(p, bad, False, [], {}, *args)  # type: ignore[misc]

    rounds(5)  # anything made once per process is made now
    gc.collect()
    before = len(gc.get_objects())
    refs = [sys.getrefcount(p) for p in probes]
    blocks = sys.getallocatedblocks()
    rounds(100)
    gc.collect()
    assert len(gc.get_objects()) <= before + 5
    assert sys.getallocatedblocks() <= blocks + 100
    assert [sys.getrefcount(p) for p in probes] == refs


@pytest.mark.corpora
@needs_cencode
def test_corpora_inventories_are_stored_the_same() -> None:
    for _, inv in corpus_inventories():
        _all_ways(inv)
