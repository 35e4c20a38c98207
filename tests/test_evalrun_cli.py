"""`stackpolicy evals run` / `evals diff` end to end: documents on disk, the real OpenAI SDK
against the local server, an injected clock, reports written and exit codes."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generators.cli import main
from generators.pipeline import assess, draft_documents, write_documents
from inventory.config import Config
from tests.evalrun_support import deleter, first_case, good_agent, make_world, serve, write_sources
from tests.factories import make_inventory
from tests.llm_server import LLMServer, Reply, llm_server  # noqa: F401 - fixture

STAMP = "20260127T053416Z"
CLOCK = lambda: datetime(2026, 1, 27, 5, 34, 16, tzinfo=timezone.utc)  # noqa: E731


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The factory platform's documents in <tmp>/output, runbooks in <tmp>/src; cwd is <tmp>."""
    inv = make_inventory()
    # The same documents the scripted agents were written against (tests.evalrun_support).
    policy, evals = draft_documents(inv, assess(inv, Config()), Config())
    write_documents(policy, evals, tmp_path / "output", inv=inv)
    write_sources(tmp_path / "src", evals)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return tmp_path


def _run(server: LLMServer, *args: str) -> Result:
    base = ["evals", "run", "--provider", "openai", "--model", "gpt-test", "--base-url", server.openai_base_url,
            "--sources", "src"]
    return CliRunner().invoke(main, [*base, *args], obj={"clock": CLOCK}, catch_exceptions=False)


def test_run_writes_reports_a_lead_can_act_on(project: Path, llm_server: LLMServer) -> None:
    world = make_world()
    serve(llm_server, world.suite, good_agent(world))
    res = _run(llm_server)
    assert res.exit_code == 0, res.output
    out = project / "output" / "eval-results"
    md = (out / f"{STAMP}.md").read_text()
    assert md.startswith(f"# Eval run {STAMP}: openai:gpt-test")
    assert "## Verdicts" in md and "| **hold** |" in md and "run with --repeat" in md
    data = json.loads((out / f"{STAMP}.json").read_text())
    assert data["kind"] == "eval-run" and data["overall"]["passed"] == data["overall"]["runs"] == len(world.suite.cases)
    lines = (out / f"{STAMP}.transcripts.jsonl").read_text().splitlines()
    assert len(lines) == len(world.suite.cases) and json.loads(lines[0])["case_id"] == world.suite.cases[0].id
    # The console says where the reports went and gives one line per system.
    assert f"{STAMP}.md" in res.output and "hold" in res.output


def test_a_demotion_exits_1_and_diff_shows_what_got_worse(project: Path, llm_server: LLMServer) -> None:
    world = make_world()
    serve(llm_server, world.suite, good_agent(world))
    assert _run(llm_server, "--results-dir", "before", "--no-cache").exit_code == 0
    serve(llm_server, world.suite, deleter(world))
    res = _run(llm_server, "--results-dir", "after", "--no-cache")
    assert res.exit_code == 1
    assert "demote" in (project / "after" / f"{STAMP}.md").read_text()
    diff = CliRunner().invoke(main, ["evals", "diff", f"before/{STAMP}.json", f"after/{STAMP}.md"])
    assert diff.exit_code == 0, diff.output
    case = first_case(world, "must-refuse", "kafka-topics --delete")
    assert f"- {case.id}: t3-attempt" in diff.output
    assert "| kafka-cluster:events |" in diff.output and "hold → demote" in diff.output
    as_json = json.loads(CliRunner().invoke(main, ["evals", "diff", f"before/{STAMP}.json", f"after/{STAMP}.json",
                                                   "--json"]).output)
    assert as_json["fixed_violations"] == [] and len(as_json["new_violations"]) == 1


def test_second_run_is_served_from_the_cache(project: Path, llm_server: LLMServer) -> None:
    world = make_world()
    serve(llm_server, world.suite, good_agent(world))
    first = _run(llm_server)
    calls = len(llm_server.requests)
    md = (project / "output" / "eval-results" / f"{STAMP}.md").read_bytes()
    second = _run(llm_server)
    assert first.exit_code == second.exit_code == 0
    assert len(llm_server.requests) == calls
    assert f"({len(world.suite.cases)} attempts from cache)" in second.output
    assert (project / "output" / "eval-results" / f"{STAMP}.md").read_bytes() == md


def test_dry_run_estimates_without_calling(project: Path, llm_server: LLMServer) -> None:
    res = _run(llm_server, "--dry-run", "--repeat", "3")
    assert res.exit_code == 0, res.output
    n = len(make_world().suite.cases) * 3
    assert f"{n} attempts (0 cached)" in res.output and "estimated $" in res.output
    assert llm_server.requests == []
    assert not (project / "output" / "eval-results").exists()
    # No API key is needed to estimate; the price table knows the default models.
    res = CliRunner().invoke(main, ["evals", "run", "--provider", "anthropic", "--dry-run"],
                             env={"ANTHROPIC_API_KEY": ""})
    assert res.exit_code == 0, res.output
    assert "at anthropic:claude-" in res.output and "estimated $0.00" not in res.output


def test_a_provider_that_fails_every_call_is_a_usage_error(project: Path, llm_server: LLMServer) -> None:
    llm_server.respond("chat", lambda rec: Reply.error(401, "invalid api key", kind="authentication_error"))
    res = _run(llm_server, "--case", "must-ask:*")
    assert res.exit_code == 2 and "every attempt failed at the provider" in res.output and "HTTP 401" in res.output
    assert not (project / "output" / "eval-results").exists()


def test_bad_input_is_a_clear_usage_error(project: Path, llm_server: LLMServer) -> None:
    res = _run(llm_server, "--suite", "nope/evals.yaml")
    assert res.exit_code == 2 and "nope/evals.yaml: no eval suite" in res.output
    (project / "broken.yaml").write_text("kind: evals\ncases: [1]\n")
    res = _run(llm_server, "--suite", "broken.yaml")
    assert res.exit_code == 2 and "broken.yaml: not a valid eval suite" in res.output
    res = CliRunner().invoke(main, ["evals", "run", "--provider", "openai"], env={"OPENAI_API_KEY": ""})
    assert res.exit_code == 2 and "OPENAI_API_KEY" in res.output
    res = CliRunner().invoke(main, ["evals", "diff", "a.json", "b.json"])
    assert res.exit_code == 2 and "a.json: no such results file" in res.output


def test_evals_without_subcommand_still_generates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["evals", "--help"])
    assert res.exit_code == 0 and "run" in res.output and "diff" in res.output and "--sources" in res.output
    repo = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
    res = CliRunner().invoke(main, ["evals", "--sources", str(repo), "--output", "out", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "evals.yaml").is_file() and not (tmp_path / "out" / "policy.md").exists()
