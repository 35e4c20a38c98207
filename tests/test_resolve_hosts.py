"""Hostnames a command connects to place what it operates: a host label that *is* an
environment word of the configured vocabulary (``api.gprd.example.com``, ``*.staging.*``,
``postgres://db.prod.internal/…``) is an explicit signal, with the line as evidence and a
``how`` naming the host. Words inside a label, the top-level domain and prose never count."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.actions import explicit_environment_signal
from inventory.commands.shell import parse_line
from inventory.config import Config
from inventory.environments import host_environment, url_host
from inventory.scan import scan_paths


@pytest.mark.parametrize(("text", "host", "env"), [
    ("https://api.gprd.example.com/v1/projects", "api.gprd.example.com", "prod"),
    ("*.staging.*", "*.staging.*", "staging"),
    ("postgres://app@db.prod.internal:5432/orders", "db.prod.internal", "prod"),
    ("grafana.stg.example.com:3000", "grafana.stg.example.com", "staging"),
    ("https://prod-reports.example.com", "prod-reports.example.com", None),  # a word inside a label
    ("http://orders.default.svc.cluster.local", "orders.default.svc.cluster.local", None),  # `local` is the TLD
    ("https://ci.example.com/job/1", "ci.example.com", None),  # a CI server, not the test environment
    ("https://api.example.com/test/run", "api.example.com", None),  # the path is not the host
    ("http://10.0.4.7:8080", None, None),
    ("https://<host>/api", None, None),
    ("$API_URL", None, None),
])
def test_host_labels_name_an_environment_only_as_whole_labels(text: str, host: str | None, env: str | None) -> None:
    assert url_host(text) == host
    assert (host_environment(host) if host else None) == env


def test_custom_vocabulary_is_used_for_host_labels() -> None:
    assert host_environment("api.blue.example.com", {"prod": ["blue"]}) == "prod"
    assert host_environment("api.gprd.example.com", {"prod": ["blue"]}) is None


@pytest.mark.parametrize(("line", "env", "what"), [
    ("curl -s https://api.gprd.example.com/v1/health", "prod", "the host api.gprd.example.com"),
    ("argocd app list --server https://argocd.stg.example.com", "staging", "the host argocd.stg.example.com"),
    ("psql postgres://db.prod.internal/orders -c 'select 1'", "prod", "--host db.prod.internal"),
    ("curl https://example.com/staging/report", None, None),
])
def test_a_command_names_the_environment_of_the_host_it_connects_to(line: str, env: str | None,
                                                                    what: str | None) -> None:
    pc = parse_line(line).commands[0]
    found = explicit_environment_signal(pc, Config())
    assert (found[0] if found else None) == env
    assert (found[1] if found else None) == what


def test_a_runbook_made_system_is_placed_by_the_url_host_with_evidence(tmp_path: Path) -> None:
    rb = tmp_path / "runbooks" / "api.md"
    rb.parent.mkdir(parents=True)
    rb.write_text("# API down\n\nSee the staging notes.\n\n```shell\ncurl -sf https://api.gprd.example.com/-/readiness\n"
                  "curl -sf https://status.example.com/\n```\n", encoding="utf-8")
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    ents = {e.id: e for e in (*inv.components, *inv.resources)}
    api = ents["other:api.gprd.example.com"]
    assert api.environments == ["prod"]
    (src,) = api.environment_sources
    assert src.resolver == "runbook-command" and "api.gprd.example.com" in src.how
    assert [str(ev) for ev in src.evidence] == ["runbooks/api.md:6"]
    # A host with no environment label stays unresolved (production's tiers), whatever the prose says.
    status = ents["other:status.example.com"]
    assert status.environments == []
    assert inv.unresolved is not None and status.id in inv.unresolved.entities
