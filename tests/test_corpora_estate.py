"""The estate as it is: environments and systems resolved from explicit signals, on real
repositories (../shared/corpora; skipped when absent)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from inventory.model import Inventory
from inventory.scan import scan_paths

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
FLUX = CORPORA / "fluxcd__flux2-kustomize-helm-example"
FLINK = CORPORA / "apache__flink-kubernetes-operator"
SPARK = CORPORA / "kubeflow__spark-operator"
FOUNDATION = CORPORA / "terraform-google-modules__terraform-example-foundation"
NOTIFY = CORPORA / "cds-snc__notification-api"

pytestmark = pytest.mark.corpora


@lru_cache(maxsize=None)
def _scan(root: Path) -> Inventory:
    if not root.is_dir():
        pytest.skip(f"corpus not available: {root}")
    inv, _ = scan_paths([root], use_cache=False, jobs=1)
    return inv


def _ents(inv: Inventory) -> dict:
    return {e.id: e for e in (*inv.components, *inv.resources)}


def test_flux_podinfo_is_a_system_in_production_and_staging() -> None:
    podinfo = _ents(_scan(FLUX))["service:podinfo"]
    assert {"prod", "staging"} <= set(podinfo.environments)
    for env in ("prod", "staging"):
        srcs = [s for s in podinfo.environment_sources if s.environment == env]
        assert srcs and all(s.evidence and s.how for s in srcs), env
    assert any("Flux Kustomization" in s.how for s in podinfo.environment_sources)


def test_flux_infrastructure_controllers_follow_the_cluster_kustomizations() -> None:
    ents = _ents(_scan(FLUX))
    assert set(ents["service:cert-manager"].environments) == {"prod", "staging"}


def test_flink_and_spark_custom_resources_are_systems() -> None:
    flink = [c for c in _scan(FLINK).components if (c.subtype or "").startswith("flink")]
    assert {c.subtype for c in flink} == {"flink-deployment", "flink-session-job"}
    assert any(c.kind == "service" and c.subtype == "flink-deployment" for c in flink)
    spark = {c.id: c for c in _scan(SPARK).components}
    assert spark["job:spark-pi"].subtype == "spark-application"
    assert any(c.kind == "cron-job" and c.subtype == "scheduled-spark-application" for c in spark.values())
