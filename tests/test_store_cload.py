"""The C reader (``inventory._cbuild.load``) builds, straight from a stored inventory's
payload (or a scanned file's fragments'), exactly the models that ``marshal.loads`` and the
builders make of it; leaves to them (answers None) every payload it does not read whole;
never crashes; leaks nothing.

Differential: each payload is read both ways and the results must be identical down to each
object's ``__dict__`` (keys in order, value types), its slots, and which objects are shared
(``test_store_cbuild._identical``): a hand-made inventory, one with a value of every kind a
field may hold, seeing dumps whose ``see`` answers are stored in place of values, the
example's scanned inventory and each of its files' fragments (the exact codec: fields carried
as JSON), payloads the Python encoders wrote through marshal, seeded random damage to the
bytes, and (marked ``corpora``) the real repositories.
"""

from __future__ import annotations

import marshal
import random
from pathlib import Path
from typing import Any

import pytest

import inventory.scan as scan_mod
from inventory import scrubjudge, store
from inventory.config import Config
from inventory.model import Evidence, Inventory
from inventory.scan import scan_paths
from inventory.scanners.base import Fragment
from tests.test_inventory_store import _inventory
from tests.test_store_cbuild import _example_fragments, _fragments_payload, _identical, corpus_inventories, leaks_nothing
from tests.test_store_cencode import WIDE_SIGHT, _every_kind, string_objects

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "acme-platform"

needs_cload = pytest.mark.skipif(store._cload is None, reason="the _cbuild extension (with its reader) is not built")


def _payload(inv: Inventory, sight: store.Sight | None = None, answer: Any = None, in_c: bool = True) -> bytes:
    """``inv``'s payload as the C encoder (or, not ``in_c``, the Python encoders) write it."""
    saved = store._cencode
    store._cencode = saved if in_c else None
    try:
        seeing = None if sight is None else (sight, answer or (lambda v, key: None), lambda strings: None)
        return store._INVENTORY._payload([inv], False, seeing)
    finally:
        store._cencode = saved


def _marshal_read(payload: bytes | memoryview, root: type = Inventory, many: bool = False) -> Any:
    """What marshal and the builders make of ``payload`` (an inventory's, or with ``root``
    Fragment and ``many`` a file's fragments): the result, or the exception raised."""
    exact = root is not Inventory
    try:
        body, table = marshal.loads(payload)
        return store._c_decoder(root, exact)[1 if many else 0](body, store._c_decoder(Evidence, exact)[1](table, []))
    except Exception as exc:  # noqa: BLE001 - compared by the caller
        return exc


def _read(payload: bytes | memoryview, root: type = Inventory, many: bool = False) -> Any:
    exact = root is not Inventory
    return store._cload(store._cplan(root, exact), store._cplan(Evidence, exact), payload, many)  # type: ignore[misc]


def _same_read(payload: bytes | memoryview, *, taken: bool, root: type = Inventory, many: bool = False) -> Any:
    """The C reader's result of ``payload``, identical to marshal's, strings shared alike (None
    when it left the payload to marshal); ``taken``: it must have read it."""
    direct = _read(payload, root, many)
    if taken:
        assert direct is not None, "the C reader left a payload the C encoder wrote to marshal"
    if direct is not None:
        other = _marshal_read(payload, root, many)
        assert not isinstance(other, Exception), f"marshal refused ({other!r}), the C reader built it"
        _identical(direct, other, {})
        assert string_objects(direct) == string_objects(other)
    return direct


def _no_large_ints(inv: Inventory) -> Inventory:
    """``_every_kind()`` without its ints beyond 32 bits (which the encoders leave to marshal)."""
    for comp in (inv.components[0], inv.resources[-1]):  # (the second, a copy of the first's fields)
        comp.attributes.pop("big", None)
        comp.__dict__["replicas"] = 3
    return inv


# --- what it reads -----------------------------------------------------------------------------

@needs_cload
def test_loading_an_inventory_goes_through_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = store._cload

    def spy(*args: Any) -> Any:
        calls.append(real(*args))  # type: ignore[misc]
        return calls[-1]

    monkeypatch.setattr(store, "_cload", spy)
    back = store.load(store.dump(_inventory()))
    assert back == _inventory() and len(calls) == 1 and calls[0] is back
    # And each scanned file's fragments (the exact codec, with fields carried as JSON).
    frags = _example_fragments()[:5]
    calls.clear()
    back = scan_mod._FRAGMENT_STORE.load_many(scan_mod._FRAGMENT_STORE.dump_many(frags))
    assert [f.model_dump() for f in back] == [f.model_dump() for f in frags] and calls == [back]


@needs_cload
def test_a_hand_made_inventory_is_read_the_same() -> None:
    back = _same_read(_payload(_inventory()), taken=True)
    assert back == _inventory()
    assert back.edges[0].evidence[0] is back.components[0].evidence[0]  # one Evidence per table row


@needs_cload
def test_every_kind_of_value_is_read_the_same() -> None:
    # Floats (a NaN too), None, booleans, nested lists and dicts with keys of every plain type,
    # a tuple where a list is declared, evidence beyond the small ints.
    _same_read(_payload(_no_large_ints(_every_kind())), taken=True)
    # An int beyond 32 bits is written as marshal writes it: left to marshal, read the same.
    assert _read(_payload(_every_kind())) is None
    _identical(store.load(store.dump(_every_kind())), _marshal_read(_payload(_every_kind())), {})


@needs_cload
def test_what_see_returned_in_place_of_a_value_is_read_the_same() -> None:
    def answer(v: Any, key: str | None) -> Any:  # stored as marshal writes it (version 2: no refs)
        return {"swapped": key, "n": [1, 2.5, None, "ü"]} if isinstance(v, dict) or v is None else "seen"

    for sight in (scrubjudge._sight(), WIDE_SIGHT):
        _same_read(_payload(_no_large_ints(_every_kind()), sight, answer), taken=True)


@needs_cload
def test_the_example_inventory_is_read_the_same() -> None:
    inv, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    assert _same_read(_payload(inv), taken=True) == inv


@needs_cload
def test_each_files_fragments_are_read_the_same() -> None:
    frags = _example_fragments()
    assert any(f.extra for f in frags)  # fields carried as JSON, a dict's "{}" among them
    by_file: dict[str, list[Fragment]] = {}
    for f in frags:
        by_file.setdefault(f.path, []).append(f)
    for group in [frags, *by_file.values()]:
        back = _same_read(_fragments_payload(group), taken=True, root=Fragment, many=True)
        assert [f.model_dump() for f in back] == [f.model_dump() for f in group]
    # Through the codec, as the scan loads them.
    blob = scan_mod._FRAGMENT_STORE.dump_many(frags)
    assert [f.model_dump() for f in scan_mod._FRAGMENT_STORE.load_many(blob)] == [f.model_dump() for f in frags]


@needs_cload
def test_a_payload_the_python_encoders_wrote_is_read_the_same_either_way() -> None:
    # marshal itself writes refs to ints and lists it meets twice: read by marshal then.
    for inv in (_inventory(), _every_kind()):
        payload = _payload(inv, in_c=False)
        _same_read(payload, taken=False)
        _identical(store.load(store._INVENTORY._header(False, payload) + payload), _marshal_read(payload), {})


@needs_cload
def test_what_it_does_not_read_is_left_to_marshal() -> None:
    good = _payload(_inventory())
    plan, evplan = store._cplan(Inventory, False), store._cplan(Evidence, False)
    body, table = marshal.loads(good)
    for other in (b"", b")", b")\x02", marshal.dumps((body, table), 2), marshal.dumps([body, table], 4),
                  marshal.dumps((body, table, 1), 4), good[:-1], good[: len(good) // 2]):
        assert store._cload(plan, evplan, other) is None
    with pytest.raises(TypeError):
        store._cload(None, evplan, good)
    with pytest.raises(TypeError):
        store._cload(plan, evplan, "not bytes")
    assert store._cload(plan, evplan, memoryview(good)) == _inventory()


def _mutations(payload: bytes, rng: random.Random, n: int) -> list[bytes]:
    """``payload`` cut short, or with a byte (a few bytes) changed, ``n`` ways."""
    out = []
    for _ in range(n):
        b = bytearray(payload)
        roll = rng.random()
        if roll < 0.3:
            del b[rng.randrange(len(b)):]
        else:
            for _ in range(1 if roll < 0.8 else rng.randint(2, 4)):
                b[rng.randrange(len(b))] = rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF, ord("i"), ord("r"), ord("["), ord("{"),
                                                       ord(")"), ord("z"), ord("N"), ord("0"), rng.randrange(256)))
        out.append(bytes(b))
    return out


@needs_cload
def test_damaged_bytes_are_left_to_marshal_or_read_as_marshal_reads_them() -> None:
    rng = random.Random(20261206)
    cases = [(_payload(_inventory()), Inventory, False), (_payload(_no_large_ints(_every_kind())), Inventory, False),
             (_fragments_payload(_example_fragments()[:60]), Fragment, True)]
    for payload, root, many in cases:
        read = left = 0
        for damaged in _mutations(payload, rng, 3000):
            if _same_read(damaged, taken=False, root=root, many=many) is None:
                left += 1
            else:
                read += 1
        assert read > 300 and left > 300  # both outcomes are exercised


@needs_cload
def test_reading_and_leaving_leak_nothing() -> None:
    good = _payload(_no_large_ints(_every_kind()))
    bad = [good[:-3], good[: len(good) // 3], _payload(_every_kind())]

    def rounds(n: int) -> None:
        for _ in range(n):
            assert _read(good) is not None
            for b in bad:
                assert _read(b) is None

    leaks_nothing(rounds, (good, True, "swapped"))


@pytest.mark.corpora
@needs_cload
def test_corpora_inventories_are_read_the_same() -> None:
    for name, inv in corpus_inventories():
        assert _same_read(_payload(inv), taken=True) == inv, name
