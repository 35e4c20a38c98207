"""CODEOWNERS scanner: parsing, gitignore-style matching, owners applied in finalize."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import Component, Evidence, Resource
from inventory.scan import scan_paths
from inventory.scanners.base import ScanContext, SourceFile
from inventory.scanners.codeowners import CodeownersScanner, owners_for, parse_codeowners, pattern_regex

RULES = """\
# default owners
*                 @acme/platform
/terraform/       @acme/infra
k8s/**/kafka*.yaml @acme/streaming jane@example.com
docs/*            @acme/docs # trailing comment
*.sql             @dba
[Section]
/apps/billing     @acme/payments not-an-owner
"""


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("*", "a/b/c.txt", True),
        ("*.sql", "db/migrations/1.sql", True),
        ("*.sql", "db/migrations/1.sqlx", False),
        ("/terraform/", "terraform/envs/prod/main.tf", True),
        ("/terraform/", "modules/terraform/main.tf", False),
        ("terraform/", "modules/terraform/main.tf", True),  # a trailing slash alone does not anchor
        ("apps", "services/apps/x.py", True),  # no slash: any depth, directory covers children
        ("docs/*", "docs/a.md", True),
        ("docs/*", "docs/sub/a.md", False),
        ("k8s/**/kafka*.yaml", "k8s/base/strimzi/kafka-cluster.yaml", True),
        ("k8s/**/kafka*.yaml", "k8s/kafka.yaml", True),
        ("/apps/billing", "apps/billing/src/main.py", True),
        ("/apps/billing", "apps/billing-v2/x", False),
    ],
)
def test_pattern_matching(pattern: str, path: str, hit: bool) -> None:
    assert bool(pattern_regex(pattern).match(path)) is hit


def test_parse_and_last_rule_wins() -> None:
    rules, problems = parse_codeowners(RULES)
    assert rules[0] == ("*", ["@acme/platform"], 2)
    assert rules[2] == ("k8s/**/kafka*.yaml", ["@acme/streaming", "jane@example.com"], 4)
    assert problems == [(8, "CODEOWNERS: 'not-an-owner' is not an @owner or e-mail; ignored")]
    assert owners_for("terraform/main.tf", rules) == (["@acme/infra"], 3)
    assert owners_for("k8s/overlays/prod/kafka.yaml", rules) == (["@acme/streaming", "jane@example.com"], 4)
    assert owners_for("terraform/schema.sql", rules) == (["@dba"], 6)
    assert owners_for("README.md", rules) == (["@acme/platform"], 2)


def test_scan_records_owners_and_rules() -> None:
    s = CodeownersScanner()
    assert s.matches(PurePosixPath(".github/CODEOWNERS"), "") and not s.matches(PurePosixPath("OWNERS"), "")
    frag = s.scan(SourceFile(path=".github/CODEOWNERS", text=RULES), ScanContext(config=Config()))
    assert frag.extra["base"] == "" and frag.extra["precedence"] == 0
    # Teams are named by slug (no org) so they meet Backstage's group names.
    assert {(o.name, o.kind) for o in frag.owners} == {
        ("platform", "team"), ("infra", "team"), ("streaming", "team"),
        ("jane@example.com", "user"), ("docs", "team"), ("dba", "user"), ("payments", "team"),
    }
    assert frag.warnings[0].line == 8


def test_finalize_assigns_owners_by_evidence_path() -> None:
    s = CodeownersScanner()
    frag = s.scan(SourceFile(path="repo/CODEOWNERS", text=RULES), ScanContext(config=Config()))
    assert frag.extra["base"] == "repo"
    b = InventoryBuilder()
    b.add_entity(Resource(id="postgres:orders", kind="postgres", name="orders",
                          evidence=[Evidence(path="repo/terraform/rds.tf", line=3)]))
    b.add_entity(Component(id="service:api", kind="service", name="api",
                           evidence=[Evidence(path="repo/apps/billing/deploy.yaml", line=1)]))
    b.add_entity(Component(id="service:other", kind="service", name="other",
                           evidence=[Evidence(path="elsewhere/x.yaml", line=1)]))
    s.finalize([frag], b)
    assert b.components["service:api"].owners == ["payments"]
    orders = b.resources["postgres:orders"]
    assert orders.owners == ["infra"]
    assert [(f.name, f.value, str(f.evidence[0])) for f in orders.facts] == [("owner", "infra", "repo/CODEOWNERS:3")]
    assert b.components["service:other"].owners == []


def test_whole_scan_gives_compose_service_its_owner(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "CODEOWNERS").write_text("* @acme/platform\n/dev/ @acme/devex\n")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "docker-compose.yml").write_text("services:\n  web:\n    image: nginx\n")
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert inv.entities()["service:web"].owners == ["devex"]
