"""The non-Kubernetes scanners on a real repository: cds-snc/notification-api.

Skipped when ../shared/corpora is absent. Facts below were read from the corpus files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.config import Config
from inventory.model import Inventory
from inventory.scan import scan_paths
from inventory.scanners.base import ScanContext, SourceFile
from inventory.scanners.github_actions import GithubActionsScanner

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
NOTIFY = CORPORA / "cds-snc__notification-api"

pytestmark = [
    pytest.mark.corpora,
    pytest.mark.skipif(not NOTIFY.is_dir(), reason="corpora not available"),
]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    inventory, _ = scan_paths([NOTIFY], use_cache=False, jobs=1)
    return inventory


def test_openapi_operations_are_actions_targeting_the_catalog_service(inv: Inventory) -> None:
    acts = {a.id: a for a in inv.actions if a.origin == "openapi"}
    get_list = acts["api:notifications-api-v2/get-v2-notifications"]
    assert (get_list.verb, get_list.object_kind, get_list.command) == ("get", "/v2/notifications", "GET /v2/notifications")
    assert str(get_list.evidence[0]) == "openapi/v2-notifications-api-en.yaml:22"
    assert get_list.target == "service:notification-api-service"
    assert get_list.flags["auth"] == "apiKey"
    email = acts["api:notifications-api-v2/post-v2-notifications-email"]
    assert email.description == "Send an email notification"
    archive = acts["api:notifications-api-v2/delete-v2-manage-template-template-id"]
    assert str(archive.evidence[0]) == "openapi/v2-notifications-api-en.yaml:945"
    # 12 operations in each of the English and French specs
    assert sum(1 for a in acts if a.startswith("api:notifications-api-v2/")) == 12
    assert inv.entities()["other:api-notifications-api-v2"].attributes["operations"] == 12


def test_catalog_entity_and_owner(inv: Inventory) -> None:
    svc = inv.entities()["service:notification-api-service"]
    assert svc.owners == ["notify-dev"]
    assert svc.attributes["backstage_system"] == "gc-notification"
    owner = next(o for o in inv.owners if o.name == "notify-dev")
    assert owner.kind == "group" and str(owner.evidence[0]) == "catalog-info.yaml:17"


def test_devcontainer_compose_datastores_and_edges(inv: Inventory) -> None:
    ents = inv.entities()
    db, redis = ents["postgres:db"], ents["redis:redis"]
    assert db.environments == ["dev"] and redis.environments == ["dev"]
    assert str(db.evidence[0]) == ".devcontainer/docker-compose.yml:22"
    edges = {(e.source, e.target) for e in inv.edges}
    assert {("service:notify-api", "postgres:db"), ("service:notify-api", "redis:redis")} <= edges
    secret_lines = {(s.path, s.line) for s in inv.secrets}
    assert (".devcontainer/docker-compose.yml", 33) in secret_lines  # POSTGRES_PASSWORD
    assert "chummy" not in inv.model_dump_json()


def test_workflows(inv: Inventory) -> None:
    backup = inv.entities()["job:gha-s3-backup"]
    assert backup.attributes["workflow_dispatch"] is True
    assert backup.attributes["schedule"] == ["0 6 * * *"]
    path = NOTIFY / ".github" / "workflows" / "s3-backup.yml"
    frag = GithubActionsScanner().scan(
        SourceFile(path=".github/workflows/s3-backup.yml", text=path.read_text()), ScanContext(config=Config())
    )
    sightings = {(c.evidence.line, c.command.split()[0]) for c in frag.commands}
    assert {(38, "zip"), (39, "aws"), (45, "curl")} <= sightings
    assert all(c.source_kind == "workflow" for c in frag.commands)


def test_no_scanner_warnings_from_these_scanners(inv: Inventory) -> None:
    mine = {"terraform", "compose", "github-actions", "backstage", "codeowners", "openapi", "envfiles"}
    assert [w for w in inv.warnings if w.scanner in mine] == []
