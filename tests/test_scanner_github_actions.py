"""GitHub Actions scanner: workflow component, triggers, environments, run-step sightings."""

from __future__ import annotations

from pathlib import PurePosixPath

from inventory.config import Config
from inventory.scanners.base import Fragment, ScanContext, SourceFile
from inventory.scanners.github_actions import GithubActionsScanner

WORKFLOW = """\
name: Deploy
on:
  workflow_dispatch:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
  deploy:
    runs-on: ubuntu-latest
    environment:
      name: production
      url: https://example.com
    env:
      API_TOKEN: literal-token-value-123
      OTHER_TOKEN: ${{ secrets.OTHER }}
    steps:
      - name: Apply
        run: |
          # comment lines are skipped
          kubectl apply -f k8s/ \\
            --namespace payments
          if [ -n "$X" ]; then
            helm upgrade --install api ./chart
          fi
      - uses: azure/k8s-deploy@v5
        with:
          manifests: k8s/
  smoke-staging:
    runs-on: ubuntu-latest
    steps:
      - run: curl -fsS https://staging.example.com/health
"""


def _scan(text: str, path: str = ".github/workflows/deploy.yml") -> Fragment:
    return GithubActionsScanner().scan(SourceFile(path=path, text=text), ScanContext(config=Config()))


def test_matches_workflow_files_only() -> None:
    s = GithubActionsScanner()
    assert s.matches(PurePosixPath(".github/workflows/ci.yml"), "")
    assert s.matches(PurePosixPath("sub/repo/.github/workflows/ci.yaml"), "")
    assert not s.matches(PurePosixPath(".github/dependabot.yml"), "")
    assert not s.matches(PurePosixPath("workflows/ci.yml"), "")


def test_workflow_component_with_triggers_and_environments() -> None:
    frag = _scan(WORKFLOW)
    (comp,) = frag.components
    assert comp.id == "job:gha-deploy" and comp.kind == "job" and comp.name == "Deploy"
    assert comp.attributes["triggers"] == ["push", "workflow_dispatch"]
    assert comp.attributes["workflow_dispatch"] is True
    assert comp.attributes["deploy_environments"] == ["production"]
    assert comp.attributes["deploy_actions"] == ["azure/k8s-deploy"]
    assert comp.environments == ["prod", "staging"]
    env_facts = {(f.value, f.evidence[0].line) for f in comp.facts if f.name == "environment"}
    assert env_facts == {("prod", 14), ("staging", 32)}


def test_run_lines_become_workflow_sightings() -> None:
    frag = _scan(WORKFLOW)
    got = [(c.command, c.evidence.line, c.environment, c.source_kind) for c in frag.commands]
    assert got == [
        ("make test", 11, None, "workflow"),
        ("kubectl apply -f k8s/ --namespace payments", 24, "prod", "workflow"),
        ('if [ -n "$X" ]; then', 26, "prod", "workflow"),
        ("helm upgrade --install api ./chart", 27, "prod", "workflow"),
        ("curl -fsS https://staging.example.com/health", 35, "staging", "workflow"),
    ]


def test_literal_secret_env_recorded_and_not_kept() -> None:
    frag = _scan(WORKFLOW)
    assert [e.line for e in frag.secrets] == [18]
    assert "literal-token-value-123" not in frag.model_dump_json()


def test_bare_on_string_and_list_triggers() -> None:
    frag = _scan("on: push\njobs:\n  a:\n    runs-on: x\n    steps: []\n", path=".github/workflows/a.yml")
    assert frag.components[0].attributes["triggers"] == ["push"]
    frag = _scan("on: [push, pull_request]\njobs: {}\n", path=".github/workflows/b.yml")
    assert frag.components[0].attributes["triggers"] == ["pull_request", "push"]
    assert frag.components[0].name == "b"


def test_bad_workflows_warn() -> None:
    assert _scan("name: x\njobs: [1]\n").warnings[0].message == "`jobs` is not a mapping"
    frag = _scan("jobs:\n  a: 3\n")
    assert frag.warnings[0].line == 2
    assert _scan("jobs: [\n").warnings[0].message.startswith("invalid YAML")


def test_test_job_names_are_not_environments() -> None:
    frag = _scan("on: push\njobs:\n  test:\n    runs-on: x\n    steps:\n      - run: pytest\n")
    # Not from the name: the workflow is placed on CI because all it does is run tests.
    comp = frag.components[0]
    env_facts = [f for f in comp.facts if f.name == "environment"]
    assert comp.environments == ["test"] and env_facts[0].how.startswith("the workflow only runs tests")
    assert frag.commands[0].environment is None
    frag = _scan("on: push\njobs:\n  test:\n    runs-on: x\n    steps:\n      - run: ./deploy.sh\n")
    assert frag.components[0].environments == []
