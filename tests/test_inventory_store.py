"""The stored form of a built inventory: loads back equal, and refuses anything it did not write."""

from __future__ import annotations

import gc
import sqlite3
import zlib
from pathlib import Path

import pytest

from inventory import store
from inventory.config import Config
from inventory.io import inventory_to_json, inventory_to_yaml
from inventory.model import (
    Action,
    CommandRef,
    Component,
    Edge,
    EnvironmentSource,
    Evidence,
    Fact,
    Inventory,
    Resource,
    UnresolvedEnvironments,
    Warning,
)
from inventory.scan import scan_paths
from tests.scan_cache_support import count_models

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
EV = Evidence(path="k8s/base/deploy.yaml", line=3)


def _inventory() -> Inventory:
    ev2 = Evidence(path="runbooks/orders.md", line=12)
    return Inventory(
        sources=["."],
        components=[Component(
            id="service:orders-api", kind="service", name="orders-api", namespace="acme-prod", environments=["prod"],
            environment_sources=[EnvironmentSource(environment="prod", how="namespace acme-prod", resolver="stated",
                                                   evidence=[EV])],
            replicas=3, stateful=False, labels={"app": "orders-api"},
            attributes={"port": 8080, "aliases": ["job:orders"], "public": True, "note": "ünïcode ✓"},
            facts=[Fact(name="replicas", value=3, evidence=[EV]), Fact(name="tags", value=["a", "b"], evidence=[ev2])],
            evidence=[EV, ev2], image="ghcr.io/acme/orders-api:v1")],
        resources=[Resource(id="postgres:orders-db", kind="postgres", name="orders-db", evidence=[EV])],
        edges=[Edge(source="service:orders-api", target="postgres:orders-db", via="DATABASE_URL", evidence=[EV])],
        actions=[Action(id="service:orders-api/restart", verb="restart", tool="kubectl", target="service:orders-api",
                        flags={"namespace": "acme-prod", "force": False}, command="kubectl rollout restart deploy/orders-api",
                        commands=[CommandRef(command="kubectl rollout restart deploy/orders-api", evidence=ev2)],
                        origin="command", evidence=[ev2])],
        unresolved=UnresolvedEnvironments(entities=["postgres:orders-db"], environments_found=["prod"], signals_seen=[],
                                          settle=["environment_paths:"], question="Which environment?"),
        secrets=[ev2],
        warnings=[Warning(path="x.yaml", line=2, message="bad", scanner="k8s")],
    )


def test_a_stored_inventory_loads_back_equal() -> None:
    inv = _inventory()
    back = store.load(store.dump(inv))
    assert back == inv
    assert back.model_dump_json() == inv.model_dump_json()
    assert back.digest() == inv.digest()


def test_equal_evidence_and_strings_are_stored_once_and_loaded_as_separate_containers() -> None:
    # Equal but distinct Evidence objects share one table entry; lists and dicts come back fresh.
    inv = _inventory()
    twin = Evidence(path=EV.path, line=EV.line)
    inv.edges[0].evidence = [twin]
    blob = store.dump(inv)
    assert store.dump(_inventory()) == blob  # the same table: `twin` is EV's entry
    back = store.load(blob)
    assert back.edges[0].evidence[0] is back.components[0].evidence[0]  # one loaded Evidence
    assert back.components[0].labels is not back.components[0].attributes
    back.components[0].labels["x"] = "y"
    assert store.load(blob).components[0].labels == {"app": "orders-api"}


@pytest.mark.parametrize("bad", [object(), b"bytes", ("a", "tuple"), {"a": {1.5j}}, [["nested", object()]]])
def test_a_value_the_stored_form_cannot_hold_is_refused_not_stored(bad: object) -> None:
    # Actions are built without validation (`trusted`): a stray value is refused with TypeError,
    # which the scan cache treats as "not stored", never written in some other shape.
    inv = _inventory()
    inv.actions[0].__dict__["flags"] = {"namespace": bad}
    with pytest.raises(TypeError):
        store.dump(inv)
    inv.actions[0].__dict__["flags"] = bad
    with pytest.raises(TypeError):
        store.dump(inv)


def test_loaded_models_are_ordinary_models() -> None:
    back = store.load(store.dump(_inventory()))
    comp = back.components[0]
    assert isinstance(comp, Component) and isinstance(comp.evidence[0], Evidence)
    # Each model owns its containers: editing one never edits another loaded alongside it.
    comp.environments.append("staging")
    comp.attributes["aliases"].append("x")
    assert back.resources[0].environments == [] and store.load(store.dump(_inventory())).components[0].environments == ["prod"]
    comp.replicas = 5  # assignment works as on any model
    assert comp.model_dump()["replicas"] == 5
    with pytest.raises(Exception):
        comp.evidence[0].line = 9  # Evidence stays frozen
    assert Inventory.model_validate_json(back.model_dump_json()) == back


def test_a_loaded_inventory_is_left_out_of_the_cyclic_collector_and_still_freed() -> None:
    blob = store.dump(_inventory())
    enabled = gc.isenabled()
    before = gc.get_freeze_count()
    try:
        back = store.load(blob)
        n = count_models(back)
        assert n > 10
        # Its objects are frozen (the collector never walks them again)...
        assert gc.get_freeze_count() - before >= n
        assert gc.isenabled() == enabled  # and the collector runs as it did
        frozen = gc.get_freeze_count()
        # ...yet go as soon as nothing refers to them.
        del back
        assert frozen - gc.get_freeze_count() >= n
    finally:
        gc.unfreeze()


def test_storing_leaves_no_garbage_for_the_cyclic_collector() -> None:
    # The stored form is written at the scan's peak: its string and evidence tables must go
    # when it is written, not stay held by the generated encoders until a collection runs.
    inv = _inventory()
    store.dump(inv)  # anything made once per process is made now
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        store.dump(inv)
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.parametrize("damage", [
    lambda b: b[:-10],
    lambda b: b[:60] + bytes([b[60] ^ 0xFF]) + b[61:],
    lambda b: b"x" + b[1:],
    lambda b: b"",
    lambda b: zlib.compress(b'{"version": 1}'),
])
def test_a_damaged_entry_is_refused(damage) -> None:
    with pytest.raises(store.StoreError):
        store.load(damage(store.dump(_inventory())))


@pytest.mark.parametrize("body", [
    (1, "stackpolicy", []),  # an inventory cut short
    (1, "stackpolicy", [], [(1,)], [], [], [], [], [], None, [], []),  # a component of the wrong shape
    (1, "stackpolicy", [], [], [], [], [], [], [], None, [7], []),  # evidence that is not in the table
])
def test_a_payload_of_the_wrong_shape_is_refused(body) -> None:
    import marshal

    payload = marshal.dumps((body, [("a", 1)]), 4)
    blob = store.MAGIC + store._layout() + zlib.crc32(payload).to_bytes(4, "big") + payload
    with pytest.raises(store.StoreError):
        store.load(blob)


def _cache_rows(cache: Path, table: str, value: bytes | None = None) -> int:
    with sqlite3.connect(cache / "scan.sqlite") as db:
        if value is not None:
            db.execute(f"UPDATE {table} SET value = ?", (value,))
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_a_damaged_cached_inventory_means_a_rebuild_not_an_error(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "acme-platform"
    shutil.copytree(EXAMPLE, root)
    cache = tmp_path / "cache"
    cold, _ = scan_paths([root], Config(), use_cache=False)
    scan_paths([root], Config(), cache_dir=cache)
    assert _cache_rows(cache, "trees") == 1
    for table in ("trees", "inventories"):
        _cache_rows(cache, table, b"garbage")
    again, stats = scan_paths([root], Config(), cache_dir=cache)
    assert inventory_to_yaml(again) == inventory_to_yaml(cold)
    assert stats.cache_hits == stats.files_scanned  # the files still came from the cache
    warm, _ = scan_paths([root], Config(), cache_dir=cache)  # the rebuilt entry was stored again
    assert inventory_to_json(warm) == inventory_to_json(cold)


def test_every_model_field_has_a_stored_form() -> None:
    # A field type the store cannot hold fails here, not silently in a user's cache.
    assert len(store._layout()) == 16
    names = {name for name, _, _ in store._plan(Inventory)}
    assert names == set(Inventory.model_fields)


def _one_shot_digest(inv: Inventory) -> str:
    """The digest as defined: sha256 of the whole inventory's JSON without warnings."""
    import hashlib

    return "sha256:" + hashlib.sha256(inv.model_dump_json(exclude={"warnings"}).encode()).hexdigest()[:16]


def test_the_digest_is_the_hash_of_the_whole_json_fed_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    import inventory.model as model

    inv = _inventory()
    assert inv.digest() == _one_shot_digest(inv)
    # Lists longer than a slice, an empty list and a missing `unresolved` are fed the same way.
    monkeypatch.setattr(model, "_DIGEST_SLICE", 2)
    inv.actions = [inv.actions[0].model_copy(update={"id": f"service:orders-api/restart-{i}"}) for i in range(5)]
    inv.edges, inv.unresolved = [], None
    assert inv.digest() == _one_shot_digest(inv)
    # and it still sees every change (and ignores warnings, as documents expect)
    before = inv.digest()
    inv.warnings = []
    assert inv.digest() == before
    inv.actions[3].verb = "scale"
    assert inv.digest() != before and inv.digest() == _one_shot_digest(inv)


def test_the_digest_of_a_scanned_estate_is_its_whole_json_hash(tmp_path: Path) -> None:
    inv, _ = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)
    assert inv.digest() == _one_shot_digest(inv)
