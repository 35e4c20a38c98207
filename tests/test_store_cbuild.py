"""The C builder (``inventory._cbuild``) builds exactly the models the generated Python
decoders build (``store._py_decoder``), refuses what they refuse, and leaks nothing.

Differential: the same stored payload is built by both, and the results must be identical
down to each object's ``__dict__`` (keys in order, value types), its fields-set slot, its
extra and private slots, and which evidence objects are shared: for a hand-made inventory,
the example's scanned inventory and fragments (the exact codec, with JSON fields), seeded
random damage to stored tuples, and (marked ``corpora``) the real repositories.
"""

from __future__ import annotations

import gc
import marshal
import random
import shutil
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import inventory.scan as scan_mod
import inventory.scanfile as scanfile_mod
from inventory import store
from inventory.config import Config
from inventory.model import Evidence, Inventory
from inventory.scan import scan_paths
from inventory.scanners.base import Fragment
from tests.test_inventory_store import _inventory

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "acme-platform"
CORPORA = REPO.parent / "shared" / "corpora"

needs_cbuild = pytest.mark.skipif(store._cbuild is None, reason="the _cbuild extension is not built")


def _both(cls: type[BaseModel], exact: bool) -> tuple[store.Decoder, store.Decoder]:
    return store._c_decoder(cls, exact), store._py_decoder(cls, exact)


def _build_both(payload: bytes, root: type[BaseModel], exact: bool, many: bool) -> tuple[Any, Any]:
    """(C result, Python result) of building ``payload`` (marshal'd (body, table)); an
    exception is returned in place of a result."""
    out = []
    for i in range(2):
        body, table = marshal.loads(payload)  # fresh tuples each time: nothing shared by accident
        ev_build = _both(Evidence, exact)[i][1]
        build = _both(root, exact)[i][1 if many else 0]
        try:
            out.append(build(body, ev_build(table, [])))
        except Exception as exc:  # noqa: BLE001 - compared below
            out.append(exc)
    return out[0], out[1]


def _identical(a: Any, b: Any, ids: dict[int, int], path: str = "") -> None:
    """``a`` and ``b`` are the same structure: equal values of the same types, dicts in the
    same key order, models with the same slots, and shared where the other is shared."""
    assert type(a) is type(b), path
    if isinstance(a, (BaseModel, list, dict)):
        # An object met again on one side is met again at the same place on the other.
        assert ids.setdefault(id(a), id(b)) == id(b), f"{path}: shared differently"
    if isinstance(a, BaseModel):
        assert list(a.__dict__) == list(b.__dict__), path
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__ == set(type(a).model_fields), path
        assert a.__pydantic_extra__ is None and b.__pydantic_extra__ is None, path
        assert a.__pydantic_private__ is None and b.__pydantic_private__ is None, path
        for key, value in a.__dict__.items():
            _identical(value, b.__dict__[key], ids, f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _identical(x, y, ids, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key, value in a.items():
            _identical(value, b[key], ids, f"{path}[{key!r}]")
    else:
        assert a == b or (a != a and b != b), path  # NaN is NaN


def _same_built(payload: bytes, root: type[BaseModel], exact: bool, many: bool) -> Any:
    c, py = _build_both(payload, root, exact, many)
    if isinstance(py, Exception):
        assert isinstance(c, Exception), f"Python refused ({py!r}), C built {c!r}"
    else:
        assert not isinstance(c, Exception), f"C refused ({c!r}), Python built it"
        _identical(c, py, {})
    return c


def _inventory_payload(inv: Inventory) -> bytes:
    return store._INVENTORY._payload([inv], False)


def _fragments_payload(frags: list[Fragment]) -> bytes:
    return scan_mod._FRAGMENT_STORE._payload(frags, True)


# --- the extension itself -------------------------------------------------------------------

def test_the_extension_is_built_where_it_can_be() -> None:
    """A machine with a C compiler and Python's headers must have the extension: an import
    failure there is a broken build, not a missing optional feature."""
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not (shutil.which("gcc") or shutil.which("cc")) or not include.is_file():
        pytest.skip("no C compiler or Python.h here: the generated Python decoders are used")
    assert store._cbuild is not None, "the _cbuild extension should have been built (pip install -e .)"
    cb = store._cbuild
    assert (cb.VALUE, cb.EV, cb.EVS, cb.MODEL, cb.OPT_MODEL, cb.MODELS, cb.JSON) == (
        store._VALUE, store._EV, store._EVS, store._MODEL, store._OPT_MODEL, store._MODELS, store._JSON)


@needs_cbuild
def test_loading_uses_the_extension_where_it_is_built() -> None:
    assert store._decoder(Inventory, False) is store._c_decoder(Inventory, False)
    assert store._INVENTORY._made[0] is store._consuming_decoder(Inventory, False)[0]
    back = store.load(store.dump(_inventory()))
    assert back == _inventory()


@needs_cbuild
def test_a_consuming_build_lets_each_row_go_and_keeps_the_values() -> None:
    import marshal

    inv = _inventory()
    plan = store._cplan(Inventory, False)
    body, table = marshal.loads(store.dump(inv)[len(store._INVENTORY._prefixes[False]) + 4:])
    ev = store._cbuild.build_many(store._cplan(Evidence, False), table, [])
    kept = store._cbuild.build(plan, body, ev)  # the same rows, not consumed: read again below
    rows = list(body)
    consumed = store._cbuild.build(plan, tuple(rows), ev, True)
    assert consumed == kept == inv
    # The lists of rows are emptied as their models are made; the tuple given is not touched
    # (a tuple is never written to), and a plain list value went to its model whole.
    assert tuple(rows) == tuple(body)
    components = body[list(Inventory.model_fields).index("components")]
    assert components and all(row is None for row in components)
    assert consumed.components[0].labels == inv.components[0].labels
    many = [("a", 1), ("b", 2)]
    assert store._cbuild.build_many(store._cplan(Evidence, False), many, [], True) == \
        [Evidence(path="a", line=1), Evidence(path="b", line=2)]
    assert many == [None, None]
    assert store._cbuild.build_many(store._cplan(Evidence, False), (("a", 1),), [], True) == [Evidence(path="a", line=1)]


@needs_cbuild
@pytest.mark.parametrize("plan", [None, (), ("not", "a", "plan", 1, 2, 3, 4), (Evidence, ("path",), b"\x00\x00", (None,),
                                                                           set(), (None,), b"\x00")])
def test_a_malformed_plan_is_refused_not_a_crash(plan: Any) -> None:
    with pytest.raises(TypeError):
        store._cbuild.build(plan, ("a", 1), [])
    with pytest.raises(TypeError):
        store._cbuild.build_many(plan, [("a", 1)], [])


@needs_cbuild
def test_the_evidence_table_must_be_a_list() -> None:
    plan = store._cplan(Evidence, False)
    with pytest.raises(TypeError):
        store._cbuild.build(plan, ("a", 1), ())
    assert store._cbuild.build(plan, ("a", 1), []) == Evidence(path="a", line=1)


# --- the same models ---------------------------------------------------------------------

@needs_cbuild
def test_a_hand_made_inventory_is_built_the_same() -> None:
    back = _same_built(_inventory_payload(_inventory()), Inventory, False, False)
    assert back == _inventory()
    assert back.edges[0].evidence[0] is back.components[0].evidence[0]  # one Evidence per table row


@needs_cbuild
def test_the_example_inventory_and_fragments_are_built_the_same() -> None:
    inv, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    assert _same_built(_inventory_payload(inv), Inventory, False, False) == inv
    frags = _example_fragments()
    with_json = [f for f in frags if f.extra]
    assert len(frags) > 20 and with_json  # the exact codec's JSON fields are exercised
    built = _same_built(_fragments_payload(frags), Fragment, True, True)
    assert [f.model_dump() for f in built] == [f.model_dump() for f in frags]


def _example_fragments() -> list[Fragment]:
    captured: list[Fragment] = []
    real = scanfile_mod._fragments_blob

    def keep(frags: list[Fragment]) -> bytes:
        captured.extend(frags)
        return real(frags)

    scanfile_mod._fragments_blob = keep  # where the workers' _scan_one finds it
    try:
        scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    finally:
        scanfile_mod._fragments_blob = real
    return captured


# A stored tuple's value replaced by something of another shape, as damage (or a bug) would.
_STRAYS: list[Any] = [None, 0, -1, 2**70, True, "x", "", b"{}", b"[1]", b"not json", (), [], ("a",), ("a", 1), [("a", 1)],
                      ((),), {"k": "v"}, 1.5]


def _damaged(body: Any, rng: random.Random) -> Any:
    """``body`` with one value, somewhere in its nested tuples and lists, replaced by a stray."""
    if isinstance(body, (tuple, list)) and body and rng.random() < 0.85:
        i = rng.randrange(len(body))
        items = list(body)
        items[i] = _damaged(items[i], rng)
        return type(body)(items)
    return rng.choice(_STRAYS)


@needs_cbuild
def test_damaged_tuples_are_refused_or_built_as_python_builds_them() -> None:
    rng = random.Random(20261205)
    cases = [(_inventory_payload(_inventory()), Inventory, False, False),
             (_fragments_payload(_example_fragments()[:40]), Fragment, True, True)]
    refused = built = 0
    for payload, root, exact, many in cases:
        body, table = marshal.loads(payload)
        for _ in range(400):
            c = _same_built(marshal.dumps((_damaged(body, rng), table), 4), root, exact, many)
            if isinstance(c, Exception):
                refused += 1
            else:
                built += 1
    assert refused > 100 and built > 50  # both outcomes are exercised


@needs_cbuild
def test_building_and_refusing_leak_nothing() -> None:
    payload = _inventory_payload(_inventory())
    body, table = marshal.loads(payload)
    secrets = store._plan(Inventory).index(("secrets", store._EVS, None))
    bad = body[:secrets] + ([99],) + body[secrets + 1:]  # a secret whose evidence is not in the table
    build_ev, build = store._c_decoder(Evidence)[1], store._c_decoder(Inventory)[0]

    def rounds(n: int) -> None:
        for _ in range(n):
            ev = build_ev(table, [])
            build(body, ev)
            with pytest.raises(IndexError):
                build(bad, ev)

    leaks_nothing(rounds, (table, body, table[0], table[0][0]))


def leaks_nothing(rounds: Callable[[int], None], watched: tuple) -> None:
    """``rounds(n)`` leaves no object behind, nor a reference to any of ``watched``."""
    rounds(20)  # anything made once per process is made now
    gc.collect()
    before = len(gc.get_objects())
    refs = [sys.getrefcount(v) for v in watched]
    rounds(200)
    gc.collect()
    assert len(gc.get_objects()) <= before + 5
    assert [sys.getrefcount(v) for v in watched] == refs


def corpus_inventories() -> Iterator[tuple[str, Inventory]]:
    """(name, inventory) of every corpus, scanned without a cache (skips when they are absent)."""
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    roots = sorted(p for p in CORPORA.iterdir() if p.is_dir())
    assert roots
    for root in roots:
        yield root.name, scan_paths([root], Config(), use_cache=False, jobs=1)[0]


@pytest.mark.corpora
@needs_cbuild
def test_corpora_inventories_are_built_the_same() -> None:
    for name, inv in corpus_inventories():
        assert _same_built(_inventory_payload(inv), Inventory, False, False) == inv, name
