"""One fixture repository per explicit signal kind the resolve stage reads (the others are in
test_resolve.py and test_estate_systems.py), plus image roles and disabled chart
dependencies."""

from __future__ import annotations

from pathlib import Path

from inventory.model import Inventory
from inventory.scan import scan_paths

FIX = Path(__file__).parent / "fixtures" / "estate"


def _scan(name: str) -> Inventory:
    inv, _ = scan_paths([FIX / name], use_cache=False, jobs=1)
    return inv


def _ents(inv: Inventory) -> dict:
    return {e.id: e for e in (*inv.components, *inv.resources)}


def test_flux_kustomizations_in_cluster_directories_place_what_they_apply() -> None:
    ents = _ents(_scan("flux"))
    web = ents["service:web"]
    assert set(web.environments) == {"prod", "staging"}
    assert {s.resolver for s in web.environment_sources} == {"flux"}
    assert any(str(ev) == "clusters/production/apps.yaml:7" for s in web.environment_sources for ev in s.evidence)
    # A release's `redis: {enabled: true}` brings a Redis with it, in the same places.
    assert set(ents["redis:web-redis"].environments) == {"prod", "staging"}


def test_argocd_destination_places_the_application_and_its_source_path() -> None:
    ents = _ents(_scan("argocd"))
    app = ents["other:payments"]
    assert app.environments == ["prod"] and "payments-prod" in app.environment_sources[0].how
    api = ents["service:payments-api"]
    assert api.environments == ["prod"] and "apps/payments" in api.environment_sources[0].how


def test_images_are_typed_by_role() -> None:
    ents = _ents(_scan("roles"))
    assert "service:events-reader" in ents and "kafka-cluster:events-reader" not in ents  # a client
    assert ents["kafka-cluster:kafka"].kind == "kafka-cluster"  # the server
    assert ents["postgres:db"].kind == "postgres"  # built locally, named for its engine
    assert ents["redis:redis"].kind == "redis"
    assert "service:cache" in ents  # a name alone that is no engine's stays a service
    assert "service:toolbox" in ents and "postgres:toolbox" not in ents  # postgres image, client use


def test_disabled_chart_dependencies_are_not_systems() -> None:
    ents = _ents(_scan("chartdeps"))
    assert "postgres:postgresql" in ents
    assert not any(e.kind == "redis" for e in ents.values())


def test_helmfile_environments_place_their_releases() -> None:
    ents = _ents(_scan("helmfile"))
    assert set(ents["service:storefront"].environments) == {"prod", "staging"}
    assert ents["postgres:orders-db"].namespace == "shop"
    assert "service:legacy" not in ents  # installed: false
    how = {s.how for s in ents["service:storefront"].environment_sources}
    assert "helmfile environment production deploys its releases" in how
