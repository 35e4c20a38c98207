"""``_cbuild.encode_ahead`` writes what ``_cbuild.encode`` writes, byte for byte, though a second
thread writes most of the inventory's longest list (see "encoding ahead" in _cbuild.c).

Differential: each payload is written by both, with chunks of 1 to 64 models (so that small
inventories go through the thread, its chunks, and their putting in place), plainly and
seeing: the same bytes (or the same exception type), the same (value, key) multiset shown to
``see``, the same strings met, the same tables. Values the thread leaves to the caller's
thread (models it is not sure of, numbers beyond 32 bits, text beyond ASCII), a ``see`` that
answers (None, then the store encodes without the thread), seeded damage, repeated runs (a race
would show as different bytes), leaks, the store's choice of encoder, and (``corpora``) the
real repositories.
"""

from __future__ import annotations

import marshal
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inventory import scrubjudge, secrets, store
from inventory.config import Config
from inventory.model import Action, Evidence, Inventory
from inventory.scan import scan_paths
from tests.test_inventory_store import _inventory
from tests.test_store_cbuild import corpus_inventories, leaks_nothing
from tests.test_store_cencode import WIDE_SIGHT, _damaged, _every_kind

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "acme-platform"

needs_ahead = pytest.mark.skipif(store._cencode_ahead is None, reason="the _cbuild extension (with encode_ahead) is not built")

SIZES = (1, 2, 3, 5, 64)


class Run:
    """One payload of ``inv`` by ``encode`` (``size`` None) or ``encode_ahead(size, ...)``: its bytes
    (or the exception raised, or None), its tables, and what it showed."""

    def __init__(self, inv: Inventory, size: int | None, sight: store.Sight | None = None,
                 answer: Callable[[Any, str | None], Any] = lambda v, key: None) -> None:
        self.shown: Counter[tuple[str, str, str | None]] = Counter()
        self.met: set[str] = set()
        self.strings: list[str] = []
        self.evidence: dict[tuple[str, int], int] = {}
        self.result: bytes | Exception | None

        def see(v: Any, key: str | None) -> Any:
            self.shown[(type(v).__name__, repr(v), key)] += 1
            return answer(v, key)

        args: tuple = ()
        plan = store._cencplan(Inventory, sight) if sight is not None else store._cencplan(Inventory)
        if sight is not None:
            args = (see, store._stepper(self.strings, self.evidence, self.met.update), 4)
        try:
            if size is None:
                self.result = store._cencode(plan, inv, False, self.strings, self.evidence, *args)  # type: ignore[misc]
            else:
                self.result = store._cencode_ahead(size, plan, inv, self.strings, self.evidence, *args)  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - compared below
            self.result = exc


def _same(inv: Inventory, sight: store.Sight | None = None, sizes: tuple[int, ...] = SIZES,
          answer: Callable[[Any, str | None], Any] = lambda v, key: None) -> bytes | Exception:
    """``inv``'s payload (or the exception raised), the same from ``encode`` and each ``encode_ahead``."""
    serial = Run(inv, None, sight, answer)
    for size in sizes:
        ahead = Run(inv, size, sight, answer)
        if isinstance(serial.result, Exception):
            assert type(ahead.result) is type(serial.result), f"encode raised {serial.result!r}, ahead gave {ahead.result!r}"
            continue
        assert ahead.result == serial.result, f"different bytes with chunks of {size}"
        assert (ahead.strings, ahead.evidence) == (serial.strings, serial.evidence)
        assert ahead.shown == serial.shown, "different values shown"
        assert ahead.met == serial.met, "different strings met"  # (how often a path is, depends on the steps)
    assert serial.result is not None
    return serial.result


def _actions_of_every_kind() -> Inventory:
    """The store tests' inventory with actions (the longest list, the thread's) holding what the
    thread writes itself and what it leaves: text beyond ASCII and beyond 255 characters, a lone
    surrogate, numbers of every size, nested values, an empty dict, a model whose dict is in
    another order, and a model of another class."""
    inv = _inventory()
    base = inv.actions[0]
    actions = []
    for i in range(40):
        a = base.model_copy(update={"id": f"service:x/a{i}", "command": f"kubectl rollout restart deploy/x{i % 7}"},
                            deep=True)
        actions.append(a)
    actions[1].__dict__["description"] = "café ☃ 𝄞 — non-ASCII"
    actions[2].__dict__["description"] = "lone \ud800 surrogate"
    actions[3].__dict__["command"] = "echo " + "x" * 300
    actions[4].__dict__["flags"] = {"replicas": 3, "ratio": 0.5, "dry-run": True, "none": None, "neg": -7,
                                    "edge": 2**31 - 1, "below": -(2**31), "two-digits": 2**40}
    actions[5].__dict__["flags"] = {"big": 2**70}  # marshal's long form: left to the caller's thread
    actions[6].__dict__["flags"] = {"nested": [["a", {"b": [None, 1.5]}], {}], "empty": {}}
    actions[7].__dict__["flags"] = {}
    actions[8].__dict__ = dict(reversed(list(actions[8].__dict__.items())))  # another order: looked up by name
    actions[9] = Action.model_construct(**actions[9].__dict__)
    actions[10].__dict__["evidence"] = [Evidence(path="k8s/base/deploy.yaml", line=100_000), inv.secrets[0]]
    actions[11].__dict__["environment"] = "prod"
    actions[12].__dict__["target_name"] = "ünïcode-2-bytes"
    actions[13].__dict__["target_name"] = "日本語-3-bytes"
    inv.actions = actions
    return inv


class _OtherAction(Action):
    pass


# --- the same bytes ---------------------------------------------------------------------------

@needs_ahead
@pytest.mark.parametrize("make", [_inventory, _every_kind, _actions_of_every_kind])
def test_hand_made_inventories_are_written_the_same(make: Callable[[], Inventory]) -> None:
    plain = _same(make())
    assert isinstance(plain, bytes)
    marshal.loads(plain)
    for sight in (scrubjudge._sight(), WIDE_SIGHT):
        assert _same(make(), sight) == plain


@needs_ahead
def test_the_example_inventory_is_written_the_same() -> None:
    inv, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    assert len(inv.actions) > 20
    plain = _same(inv, sizes=(1, 4, 16, 512))
    assert _same(inv, scrubjudge._sight(), sizes=(1, 16)) == plain


@needs_ahead
def test_a_model_of_another_class_is_shown_whole_and_written_as_its_field_s() -> None:
    # The thread leaves its chunk; the caller's thread shows it (key None) and writes it.
    inv = _actions_of_every_kind()
    inv.actions[20] = _OtherAction.model_construct(**inv.actions[20].__dict__)
    run = Run(inv, 2, WIDE_SIGHT)
    assert any(key is None and kind == "_OtherAction" for kind, _, key in run.shown)
    _same(inv, WIDE_SIGHT)


@needs_ahead
def test_many_runs_give_the_same_bytes() -> None:
    # The two threads meet at a place that depends on timing: the bytes must not.
    inv, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    plan = store._cencplan(Inventory)
    serial = store._cencode(plan, inv, False, [], {})  # type: ignore[misc]
    for i in range(60):
        assert store._cencode_ahead((1, 2, 7)[i % 3], plan, inv, [], {}) == serial  # type: ignore[misc]


# --- what the caller's thread does instead ------------------------------------------------------

def _answer(v: Any, key: str | None) -> Any:
    return {"swapped": key} if isinstance(v, dict) else None


def _slow_to_reach_its_actions() -> Inventory:
    """:func:`_actions_of_every_kind` with thousands of components before its actions: the thread
    writes the actions while the caller's thread writes those."""
    inv = _actions_of_every_kind()
    comp = inv.components[0]
    inv.components = [comp.model_copy(update={"id": f"service:c{i}", "name": f"c{i}"}) for i in range(3000)]
    return inv


@needs_ahead
def test_a_true_answer_for_a_value_the_thread_wrote_gives_none() -> None:
    inv = _slow_to_reach_its_actions()
    serial = Run(inv, None, WIDE_SIGHT, _answer).result
    assert isinstance(serial, bytes) and b"swapped" in serial
    results = [Run(inv, 2, WIDE_SIGHT, _answer).result for _ in range(5)]
    # None: then encode it without the thread. (Bytes only when this thread wrote every chunk
    # with a value answered itself: then what encode writes.)
    assert None in results
    assert all(r is None or r == serial for r in results)


@needs_ahead
def test_the_store_encodes_again_without_the_thread_when_see_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "AHEAD_MODELS", 2)
    inv = _slow_to_reach_its_actions()
    shown: list[Any] = []

    def see(v: Any, key: str | None) -> Any:
        shown.append(v)
        return {"swapped": key} if isinstance(v, dict) else None

    see.reads_only = True  # type: ignore[attr-defined]
    got = store._INVENTORY._payload([inv], False, (WIDE_SIGHT, see, [].extend))
    assert got == Run(inv, None, WIDE_SIGHT, _answer).result
    assert b"swapped" in got


@needs_ahead
def test_the_store_uses_the_thread_only_for_a_see_that_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("_cencode", "_cencode_ahead"):
        real = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *args, real=real, name=name: calls.append(name) or real(*args))
    inv = _inventory()
    free, keyed, scrub_see = secrets._judging_beside_table()
    assert scrub_see.reads_only  # type: ignore[attr-defined]
    a = store.dump_parts(inv, (scrubjudge._sight(), scrub_see, [].extend))
    b = store.dump_parts(inv, (scrubjudge._sight(), lambda v, key: None, [].extend))
    c = store.dump_parts(inv)
    assert calls == ["_cencode_ahead", "_cencode", "_cencode_ahead"]
    assert a == b == c


@needs_ahead
def test_damaged_lists_are_refused_or_written_the_same() -> None:
    rng = random.Random(20261206)
    outcomes: Counter[str] = Counter()
    for i in range(300):
        sight = (None, scrubjudge._sight(), WIDE_SIGHT)[i % 3]
        result = _same(_damaged(rng), sight, sizes=(1, 3))
        outcomes[type(result).__name__] += 1
    assert outcomes["bytes"] > 30 and outcomes["TypeError"] > 25, outcomes


@needs_ahead
def test_encoding_ahead_leaks_nothing() -> None:
    inv, bad = _actions_of_every_kind(), _actions_of_every_kind()
    bad.actions[30].__dict__["flags"] = {"k": object()}
    plan, seen_plan = store._cencplan(Inventory), store._cencplan(Inventory, WIDE_SIGHT)

    answering = _answer

    def rounds(n: int) -> None:
        for _ in range(n):
            for p in (plan, seen_plan):
                args = () if p is plan else (lambda v, key: None, lambda: None, 2)
                store._cencode_ahead(2, p, inv, [], {}, *args)  # type: ignore[misc]
                with pytest.raises(TypeError):
                    store._cencode_ahead(2, p, bad, [], {}, *args)  # type: ignore[misc]
            answered = store._cencode_ahead(2, seen_plan, inv, [], {}, answering, lambda: None, 2)  # type: ignore[misc]
            assert answered is None or isinstance(answered, bytes)

    leaks_nothing(rounds, (inv, inv.actions[4], inv.actions[4].flags, inv.actions[1].description, inv.actions[10].evidence[0]))


@needs_ahead
def test_bad_arguments_are_refused() -> None:
    plan = store._cencplan(Inventory)
    inv = _inventory()
    for args in [(), ("x", plan, inv, [], {}), (2, plan, inv, [], []), (2, plan, inv, {}, {}), (2, plan, inv, [], {}, print)]:
        with pytest.raises(TypeError):
            store._cencode_ahead(*args)  # type: ignore[misc]
    assert store._cencode_ahead(0, plan, inv, [], {}) == store._cencode(plan, inv, False, [], {})  # type: ignore[misc]


@pytest.mark.corpora
@needs_ahead
def test_corpora_inventories_are_written_the_same() -> None:
    for _, inv in corpus_inventories():
        plain = _same(inv, sizes=(7, 64, 512))
        assert _same(inv, scrubjudge._sight(), sizes=(64,)) == plain
