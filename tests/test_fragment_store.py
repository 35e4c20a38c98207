"""A file's fragments in their stored form (scan worker -> main process, and the per-file cache).

What loads must be exactly what validating the fragments' JSON gives (the main process did
that before): equal values, the same container types, the same fields set. Anything the form
cannot vouch for goes through that validation; anything it did not write is a cache miss.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from pydantic import BaseModel, Field, PrivateAttr, field_validator

import inventory.scan as scan_mod
import inventory.scanfile as scanfile_mod
from inventory import store
from inventory.config import Config
from inventory.io import inventory_to_json
from inventory.model import Component, Evidence, Inventory, Resource, Warning
from inventory.scan import scan_paths
from inventory.scanners.base import CommandSighting, Fragment, Reference, ScanContext, SourceFile

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
CODEC = scan_mod._FRAGMENT_STORE


@pytest.fixture(params=["c", "python"])
def encoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test using it runs with the C exact encoder (``_cbuild``, where built) and with the
    generated Python one: they must check and write alike."""
    if request.param == "c" and not store._cexact:
        pytest.skip("the _cbuild extension (with its exact encoder) is not built")
    monkeypatch.setattr(store, "_cexact", request.param == "c")
    return request.param


def _example_fragments() -> list[list[Fragment]]:
    """Every example file's fragments, as the scanners made them (one list per scanned file)."""
    matcher = scan_mod._matcher()
    ctx = ScanContext(config=Config())
    out = []
    for path in sorted(EXAMPLE.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(EXAMPLE).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        names = matcher.names(PurePosixPath(rel), text[:2048])
        if names:
            src = SourceFile(path=rel, text=text)
            out.append([scan_mod._scanners_by_name()[name].scan(src, ctx) for name in names])
    return out


def _validated(frags: list[Fragment]) -> list[Fragment]:
    """What the main process made of ``frags`` before: their JSON, validated."""
    return scan_mod._FRAGMENTS.validate_json(scan_mod._FRAGMENTS.dump_json(frags))


def _shape(value: Any) -> Any:
    """``value`` with every container's and model's type spelled out, for an exact comparison."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set), value.__pydantic_extra__, value.__pydantic_private__,
                {k: _shape(v) for k, v in value.__dict__.items()})
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_shape(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(_shape(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _assert_loads_as_validated(frags: list[Fragment]) -> None:
    loaded = CODEC.load_many(scan_mod._fragments_blob(frags))
    expected = _validated(frags)
    assert loaded == expected
    assert [f.model_dump() for f in loaded] == [f.model_dump() for f in expected]
    assert _shape(loaded) == _shape(expected)


def test_real_scanner_output_loads_as_its_validated_json(encoder: str) -> None:
    files = _example_fragments()
    assert len(files) > 20
    kinds = {name for frags in files for f in frags for name, value in f.__dict__.items() if value}
    # The example exercises every kind of field a fragment has.
    assert kinds >= {"components", "resources", "edges", "commands", "references", "owners", "secrets", "extra"}
    for frags in files:
        _assert_loads_as_validated(frags)


class _ViaJson:
    """The transport as it was: the fragments' JSON, validated."""

    def dump_many(self, frags: list[Fragment]) -> bytes:
        return scan_mod._FRAGMENTS.dump_json(frags)

    def load_many(self, blob: bytes) -> list[Fragment]:
        return scan_mod._FRAGMENTS.validate_json(blob)


def test_a_scan_gives_the_inventory_it_gave_from_validated_json(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    via_json = _ViaJson()
    monkeypatch.setattr(scan_mod, "_FRAGMENT_STORE", via_json)
    monkeypatch.setattr(scanfile_mod, "_FRAGMENT_STORE", via_json)  # where the workers store them
    theirs, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    assert inventory_to_json(ours) == inventory_to_json(theirs)


def _fragment(**changes: Any) -> Fragment:
    ev = Evidence(path="k8s/deploy.yaml", line=3)
    frag = Fragment(
        path="k8s/deploy.yaml", scanner="kubernetes",
        components=[Component(id="service:api", kind="service", name="api", replicas=2, stateful=False,
                              labels={"app": "api"}, attributes={"port": 80, "tags": ["a"], "public": True},
                              evidence=[ev])],
        resources=[Resource(id="postgres:db", kind="postgres", name="db", evidence=[ev, Evidence(path="x", line=1)])],
        commands=[CommandSighting(command="kubectl get pods", evidence=ev, section=4)],
        references=[Reference(source="service:api", target_name="db", evidence=ev)],
        secrets=[ev],
        extra={"workloads": [{"name": "api", "ports": [80, 443]}], "ratio": 0.5, "none": None},
    )
    for path, value in changes.items():
        obj: Any = frag
        *parents, name = path.split(".")
        for part in parents:
            obj = obj[int(part)] if isinstance(obj, list) else getattr(obj, part)
        obj.__dict__[name] = value  # as an assignment after construction leaves it: not validated
    return frag


def test_a_fragment_of_exact_values_is_stored_without_json(encoder: str) -> None:
    frag = _fragment()
    loaded = CODEC.load_many(CODEC.dump_many([frag]))
    assert _shape(loaded) == _shape(_validated([frag]))
    # Equal evidence of one file is one object; every container is the model's own.
    assert loaded[0].components[0].evidence[0] is loaded[0].secrets[0]
    assert loaded[0].components[0].environments is not loaded[0].resources[0].environments


class _Name(str):
    pass


@pytest.mark.parametrize("changes", [
    {"extra": {"refs": [("service:api", "db", "main.tf", 3)], "dirs": ("a", "b")}},  # tuples: lists in JSON
    {"extra": {1: "one", "nan": math.nan, "inf": [math.inf]}},  # keys and floats JSON changes
    {"extra": {"set": {"a"}}},
    {"components.0.replicas": "3"},  # validated from JSON: 3
    {"components.0.stateful": 1},  # True
    {"components.0.replicas": True},  # 1
    {"components.0.name": _Name("api")},  # a plain str
    {"components.0.environments": ("prod",)},  # a list
    {"components.0.labels": {"app": _Name("api")}},
    {"components.0.attributes": {"port": 80.0}},  # a float is none of str, int, bool, list[str]: refused
    {"commands.0.section": 4.0},  # 4
    {"components.0.kind": "cronjob"},  # not one of the choices: refused, as validation refuses it
    {"components.0.labels": {1: "api"}},  # "1"
    {"components.0.attributes": {"tags": ("a",)}},  # a list
    {"components.0.attributes": {"tags": ["a", 1]}},  # a list of str is str only: refused
    {"components.0.subtype": 3},  # not a str: refused
    {"components.0.environments": ["prod", None]},  # refused
    {"components": (Component(id="service:api", kind="service", name="api", evidence=[Evidence(path="p", line=1)]),)},
    {"warnings": [Warning.model_construct(path="a", line=True, message="m", scanner="s")]},  # 1
    {"commands.0.evidence": Evidence.model_construct(path="k8s/deploy.yaml", line=0)},  # line >= 1: refused
    {"commands.0.evidence": Evidence.model_construct(path=7, line=3)},  # a str
    {"commands.0.evidence": Evidence.model_construct(path="p", line=True)},  # 1
    {"secrets": (Evidence(path="p", line=1),)},  # a list
    {"components.0.evidence": [Evidence(path="p", line=1), "p:1"]},  # refused
])
@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic says it serialises an unexpected value: so it does
def test_a_value_its_json_would_change_is_validated_through_json(changes: dict[str, Any], encoder: str) -> None:
    frag = _fragment(**changes)
    try:
        expected = _validated([frag])
    except Exception as exc:  # what validation refuses is refused as before, in the worker
        with pytest.raises(type(exc)):
            scan_mod._fragments_blob([frag])
        return
    if set(changes) != {"extra"}:  # (free-form values are carried as their JSON)
        with pytest.raises(TypeError):
            CODEC.dump_many([frag])  # never stored as it is
    loaded = CODEC.load_many(scan_mod._fragments_blob([frag]))
    assert _shape(loaded) == _shape(expected)


def test_a_model_of_another_class_in_a_list_is_validated_through_json(encoder: str) -> None:
    frag = _fragment()
    frag.resources.append(frag.components[0])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CODEC.dump_many([frag])


@pytest.mark.skipif(not store._cexact, reason="the _cbuild extension (with its exact encoder) is not built")
def test_the_c_and_python_exact_encoders_write_the_same_tuples(monkeypatch: pytest.MonkeyPatch) -> None:
    import marshal

    head = len(CODEC._prefixes[True]) + 4
    for frags in [*_example_fragments(), [_fragment()]]:
        written = {}
        for in_c in (True, False):
            monkeypatch.setattr(store, "_cexact", in_c)
            written[in_c] = CODEC.dump_many(frags)
        assert written[True][:head - 4] == written[False][:head - 4]  # the same header (layout)
        assert marshal.loads(written[True][head:]) == marshal.loads(written[False][head:])
        assert _shape(CODEC.load_many(written[True])) == _shape(CODEC.load_many(written[False]))


def test_a_subclassed_model_or_evidence_is_validated_through_json(encoder: str) -> None:
    class Sub(Evidence):
        pass

    for frag in (_fragment(**{"commands.0.evidence": Sub(path="a", line=1)}),
                 _fragment(**{"components.0.facts": [Component(id="x", kind="service", name="x", evidence=[])]})):
        with pytest.raises(TypeError):
            CODEC.dump_many([frag])


def _blob() -> bytes:
    return CODEC.dump_many([_fragment()])


@pytest.mark.parametrize("damage", [
    lambda b: b[:-10],  # cut short
    lambda b: b[:60] + bytes([b[60] ^ 0xFF]) + b[61:],  # a flipped bit
    lambda b: b"",
    lambda b: None,
    lambda b: scan_mod._FRAGMENTS.dump_json([_fragment()]).decode(),  # the JSON text earlier versions stored
    lambda b: scan_mod._FRAGMENTS.dump_json([_fragment()]),
    lambda b: store.dump(Inventory()),  # another kind
    lambda b: scan_mod.FRAGMENTS_MAGIC + b[len(scan_mod.FRAGMENTS_MAGIC):][::-1],  # foreign layout
])
def test_a_damaged_or_foreign_entry_is_a_miss(damage) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(store.StoreError):
        CODEC.load_many(damage(_blob()))  # type: ignore[arg-type]
    assert scan_mod._cached_fragments(damage(_blob())) is None


def test_a_changed_model_layout_is_refused() -> None:
    class Fragment(scan_mod.Fragment):  # the same name, one field more: another layout
        added: str = ""

    with pytest.raises(store.StoreError, match="another version"):
        store.Codec(Fragment, scan_mod.FRAGMENTS_MAGIC, exact=True).load_many(_blob())


def test_a_model_validation_would_change_has_no_stored_form() -> None:
    class Checked(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def lower(cls, v: str) -> str:
            return v.lower()

    class Private(BaseModel):
        name: str
        _seen: int = PrivateAttr(default=0)

    class Constrained(BaseModel):
        evidence: Evidence
        count: int = 0
        limit: int = Field(default=1, ge=1)

    for model in (Checked, Private):
        with pytest.raises(TypeError):
            store.Codec(model, b"x", exact=False).dump_many([])
    with pytest.raises(TypeError):
        store.Codec(Constrained, b"x", exact=True).dump_many([])


def test_every_fragment_field_has_an_exact_stored_form() -> None:
    # A field type the stored form cannot check fails here, not silently in a user's scan.
    assert len(store._layout(Fragment, True, True)) == 16
    kinds = dict((name, kind) for name, kind, _ in store._plan(Fragment, True))
    assert set(kinds) == set(Fragment.model_fields)
    assert kinds["extra"] == store._JSON  # free-form: carried as its JSON


def _fragment_rows(cache: Path, value: Any = None) -> int:
    with sqlite3.connect(cache / "scan.sqlite") as db:
        if value is not None:
            db.execute("UPDATE fragments SET value = ?", (value,))
        return db.execute("SELECT COUNT(*) FROM fragments").fetchone()[0]


@pytest.mark.parametrize("value", [b"garbage", "[]", 7])
def test_damaged_cached_fragments_are_scanned_again_not_an_error(tmp_path: Path, value: Any) -> None:
    root = tmp_path / "acme-platform"
    shutil.copytree(EXAMPLE, root)
    cache = tmp_path / "cache"
    scan_paths([root], Config(), cache_dir=cache, jobs=1)
    assert _fragment_rows(cache) > 20
    _fragment_rows(cache, value)
    for table in ("trees", "inventories"):  # only the per-file entries to go on
        with sqlite3.connect(cache / "scan.sqlite") as db:
            db.execute(f"DELETE FROM {table}")
    again, stats = scan_paths([root], Config(), cache_dir=cache, jobs=1)
    assert stats.cache_hits == 0 and stats.files_scanned > 20
    cold, _ = scan_paths([root], Config(), use_cache=False)
    assert inventory_to_json(again) == inventory_to_json(cold)
    # ...and stored again: the next rescan of a changed tree finds every file.
    with sqlite3.connect(cache / "scan.sqlite") as db:
        db.execute("DELETE FROM trees")
        db.execute("DELETE FROM inventories")
    warm, stats = scan_paths([root], Config(), cache_dir=cache, jobs=1)
    assert stats.cache_hits == stats.files_scanned
    assert inventory_to_json(warm) == inventory_to_json(cold)
