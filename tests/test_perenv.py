"""Per-environment copies of one logical component (``orders-db-prod`` / ``orders-db-stg``)."""

from __future__ import annotations

from pathlib import Path

from inventory.scan import scan_paths

STS = ("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: {name}}}\nspec:\n  template:\n"
       "    spec:\n      containers: [{{name: db, image: postgres:16}}]\n")


def _scan(tmp_path: Path, files: dict[str, str]):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    return {e.id: e for e in (*inv.components, *inv.resources)}


def test_names_differing_by_environment_are_one_component_per_environment(tmp_path: Path) -> None:
    ents = _scan(tmp_path, {"k8s/prod/db.yaml": STS.format(name="orders-db-prod"),
                            "k8s/staging/db.yaml": STS.format(name="orders-db-stg")})
    prod, stg = ents["postgres:orders-db-prod"], ents["postgres:orders-db-stg"]
    assert prod.environments == ["prod"] and stg.environments == ["staging"]
    for ent in (prod, stg):
        assert ent.attributes["logical_name"] == "orders-db"
        assert ent.attributes["per_environment"] == ["prod: postgres:orders-db-prod",
                                                     "staging: postgres:orders-db-stg"]


def test_no_link_when_the_evidence_disagrees_with_the_name(tmp_path: Path) -> None:
    # `orders-db-prod` filed under staging: the name's environment is not where it runs.
    ents = _scan(tmp_path, {"k8s/staging/db.yaml": STS.format(name="orders-db-prod"),
                            "k8s/dev/db.yaml": STS.format(name="orders-db-dev")})
    assert not any("logical_name" in e.attributes for e in ents.values())
