"""End to end: `stackpolicy policy` through each provider against the scripted local server.

Asserts the documents, the call log, exit codes and the request bodies for every failure
mode: invented IDs, tier lowering, malformed / truncated JSON, persistent 5xx, injected
instructions echoed back, plus caching, dry runs, batches and secret hygiene.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from generators.cli import main
from generators.llm.run import LLMRefiner
from tests.llm_answers import anthropic_responder, answer_for, openai_responder, prompt_of
from tests.llm_server import LLMServer, Recorded, Reply, llm_server  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
ACME = ROOT / "examples" / "acme-platform"
SECRETS = ROOT / "tests" / "fixtures" / "acme_seeded_secrets.txt"


@pytest.fixture(scope="module")
def scan_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working directory per module, so the per-file scan cache is shared between runs."""
    return tmp_path_factory.mktemp("scan-cache")


@pytest.fixture
def project(tmp_path: Path, scan_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project dir with a stackpolicy.yaml tuned for fast tests (tiny backoff, short timeout)."""
    monkeypatch.chdir(scan_cwd)
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    cfg = {"sources": [str(ACME)], "output": str(tmp_path / "out"),
           "provider": {"name": "auto", "concurrency": 8, "timeout": 2.0, "max_retries": 1, "retry_base_delay": 0.01}}
    (tmp_path / "stackpolicy.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def _openai_env(monkeypatch: pytest.MonkeyPatch, server: LLMServer) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)


def _run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(project / "stackpolicy.yaml"), *args], catch_exceptions=False)


def _load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader


def _policy(project: Path) -> dict[str, Any]:
    from generators.documents.compact import expand_policy

    return expand_policy(_load(project / "out" / "policy.yaml"))  # whole action rows


def _evals(project: Path) -> dict[str, Any]:
    return _load(project / "out" / "evals.yaml")


def _log(project: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (project / "out" / "generation-log.jsonl").read_text().splitlines()]


def _not_called(*_: Any, **__: Any) -> Any:
    raise AssertionError("a warm run with unchanged inputs refined the documents again")


def _rows(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for s in policy["systems"] for a in s["actions"]}


def test_openai_end_to_end_then_warm_cache_makes_zero_calls(project: Path, llm_server: LLMServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    llm_server.respond("chat", openai_responder(llm_server))
    res = _run(project, "policy")
    assert res.exit_code == 0, res.output
    policy, evals = _policy(project), _evals(project)
    assert policy["meta"]["provider"] == "openai"
    with_actions = [s for s in policy["systems"] if s["actions"]]
    assert with_actions and all(s["drafted_by"].startswith("openai:") for s in with_actions)
    assert all(a["rationale"] == "LLM rationale" for s in with_actions for a in s["actions"])
    assert evals["cases"] and all(c["drafted_by"].startswith("openai:") for c in evals["cases"])
    md = (project / "out" / "policy.md").read_text()
    assert "with openai (gpt-4.1-mini)" in md
    # The model's system summaries are per-system detail: policy.yaml, not the class-first document.
    assert any("LLM summary of" in s["summary"] for s in with_actions)
    log = _log(project)
    calls = len(llm_server.requests_for("chat"))
    assert len(log) == calls and all(r["outcome"] == "valid" and not r["cache_hit"] for r in log)
    assert {r["key"].split(":")[0] for r in log} == {"policy", "evals"}
    assert "LLM calls:" in res.output and f"{calls} API calls" in res.output

    # Warm: the finished documents come back from the cache, with no refine step at all.
    with monkeypatch.context() as m:
        m.setattr(LLMRefiner, "refine_policy", _not_called)
        m.setattr(LLMRefiner, "refine_evals", _not_called)
        res2 = _run(project, "policy")
    assert res2.exit_code == 0, res2.output
    assert len(llm_server.requests_for("chat")) == calls  # warm cache: zero new calls
    warm_log = _log(project)
    assert len(warm_log) == calls and all(r["cache_hit"] for r in warm_log)
    assert "LLM calls:" in res2.output
    assert _policy(project)["systems"] == policy["systems"]
    assert (project / "out" / "policy.md").read_text() == md

    _run(project, "policy", "--no-cache")
    assert len(llm_server.requests_for("chat")) == 2 * calls  # --no-cache bypasses the response cache


def test_anthropic_end_to_end(project: Path, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak-test")
    monkeypatch.setenv("OPENAI_API_KEY", "also-set-but-anthropic-wins")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.anthropic_base_url)
    llm_server.respond("messages", anthropic_responder(llm_server))
    res = _run(project, "policy", "--model", "claude-test")
    assert res.exit_code == 0, res.output
    assert "anthropic:claude-test (provider auto: ANTHROPIC_API_KEY is set" in res.output
    policy = _policy(project)
    assert policy["meta"]["provider"] == "anthropic" and policy["meta"]["model"] == "claude-test"
    assert all(s["drafted_by"] == "anthropic:claude-test" for s in policy["systems"] if s["actions"])
    assert not llm_server.requests_for("chat")
    assert llm_server.requests_for("messages")[0].body["tool_choice"]["type"] == "tool"


def test_openai_compatible_via_base_url_flag(project: Path, llm_server: LLMServer) -> None:
    llm_server.respond("chat", openai_responder(llm_server))
    res = _run(project, "evals", "--provider", "openai-compatible", "--base-url", llm_server.openai_base_url,
               "--model", "llama-test")
    assert res.exit_code == 0, res.output
    assert all(c["drafted_by"] == "openai-compatible:llama-test" for c in _evals(project)["cases"])
    assert not (project / "out" / "policy.md").exists()  # `evals` writes only the suite


def _break_first(mutate: Any) -> Any:
    """Apply ``mutate`` to the first answer for each prompt; answer repair rounds correctly."""
    def fn(ans: dict[str, Any], prompt: str) -> Any:
        if "# Your previous answer was rejected" in prompt:
            return ans
        return mutate(ans, prompt)
    return fn


def test_invented_ids_are_quoted_back_and_repaired(project: Path, llm_server: LLMServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)

    def invent(ans: dict[str, Any], prompt: str) -> dict[str, Any]:
        if "actions" in ans:
            ans["actions"].append(dict(ans["actions"][0], id="kafka-topic:invented/delete"))
            ans["actions"][0]["evidence"] = ["made/up.yaml:1"]
        return ans

    llm_server.respond("chat", openai_responder(llm_server, _break_first(invent)))
    res = _run(project, "policy")
    assert res.exit_code == 0, res.output
    repairs = [r for r in llm_server.requests_for("chat") if "# Your previous answer was rejected" in prompt_of(r)]
    assert repairs
    text = prompt_of(repairs[0])
    assert "action `kafka-topic:invented/delete` is not in this system's inventory slice" in text
    assert "evidence `made/up.yaml:1` is not in the inventory slice" in text
    log = _log(project)
    assert {r["outcome"] for r in log if r["key"].startswith("policy:")} == {"invalid", "repaired"}
    policy = _policy(project)
    assert "kafka-topic:invented/delete" not in _rows(policy)
    assert all(s["drafted_by"].startswith("openai:") for s in policy["systems"] if s["actions"])


def test_failed_twice_falls_back_visibly_and_never_half_writes(project: Path, llm_server: LLMServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    target = "cron-job:training-data-export"

    def bad_for_target(ans: dict[str, Any], prompt: str) -> Any:
        if ans.get("system_id") == target and "actions" in ans:
            return '{"system_id": "' + target + '", "summary": "cut'  # truncated JSON, every time
        return ans

    llm_server.respond("chat", openai_responder(llm_server, bad_for_target))
    res = _run(project, "policy")
    assert res.exit_code == 0, res.output
    policy = _policy(project)
    sys = next(s for s in policy["systems"] if s["id"] == target)
    assert sys["drafted_by"].startswith("offline (fallback: answer failed validation twice: the answer is not valid JSON")
    assert all(a["tier"] == a["floor"] for a in sys["actions"])
    assert "**Drafted offline: openai:gpt-4.1-mini could not produce a valid answer" in sys["summary"]
    assert any("fell back to the offline drafter" in line and target in line for line in policy["summary"])
    md = (project / "out" / "policy.md").read_text()
    assert "fell back to the offline drafter" in md and target in md
    others = [s for s in policy["systems"] if s["actions"] and s["id"] != target]
    assert all(s["drafted_by"].startswith("openai:") for s in others)
    outcomes = [r["outcome"] for r in _log(project) if r["key"] == f"policy:{target}"]
    assert outcomes == ["invalid", "fallback"]


def test_persistent_500_falls_back_to_offline_for_every_system(project: Path, llm_server: LLMServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    llm_server.respond("chat", lambda rec: Reply.error(500, "upstream exploded"))
    res = _run(project, "policy")
    assert res.exit_code == 0, res.output
    policy = _policy(project)
    assert all("HTTP 500: upstream exploded" in s["drafted_by"] for s in policy["systems"] if s["actions"])
    assert (project / "out" / "evals.md").exists()
    # max_retries=1: two attempts per prompt, no repair round for a transport failure
    assert len(llm_server.requests_for("chat")) == 2 * len(_log(project))


def test_429_retry_after_is_honoured_in_a_run(project: Path, llm_server: LLMServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    llm_server.script("chat", Reply.error(429, "rate limited", headers={"retry-after": "0.2"}))
    llm_server.respond("chat", openai_responder(llm_server))
    res = _run(project, "policy")
    assert res.exit_code == 0, res.output
    assert any(r["attempts"] == 2 for r in _log(project))
    assert all(s["drafted_by"].startswith("openai:") for s in _policy(project)["systems"] if s["actions"])


def test_lowering_is_kept_at_floor_as_a_flagged_question(project: Path, llm_server: LLMServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)

    def lower_and_raise(ans: dict[str, Any], prompt: str) -> dict[str, Any]:
        for a in ans.get("actions", []):
            if a["tier"] == "T3":
                a["tier"] = "T1"
                a["rationale"] = "the model thinks this is routine"
            elif a["tier"] == "T0":
                a["tier"] = "T1"
                a["rationale"] = "raised by the model"
        return ans

    llm_server.respond("chat", openai_responder(llm_server, lower_and_raise))
    assert _run(project, "policy").exit_code == 0
    policy = _policy(project)
    rows = _rows(policy)
    t3 = [a for a in rows.values() if a["floor"] == "T3"]
    assert t3 and all(a["tier"] == "T3" and "llm-proposed-lower" in a["flags"] for a in t3)
    assert all(a["decision"] == "deny" for a in t3)
    questions = {q["id"]: q for q in policy["questions"]}
    # One question for every proposal to lower, naming each class (a distinct uncertainty).
    assert not any(i.startswith("llm-proposed-lower:") for i in questions)
    q = questions["llm-proposed-lower"]
    classes = {c["id"]: c for c in policy["table"]["classes"]}
    t3_class = next(c["id"] for c in classes.values() if any(i["action"] == t3[0]["id"] for i in c["instances"]))
    assert t3_class in q["class_ids"] and "proposes lower tiers" in q["question"] and "to T1" in q["question"]
    assert "the model thinks this is routine" in q["question"]
    assert classes[t3_class]["tier"] == "T3"  # the table is never lowered by the model
    raised = [a for a in rows.values() if a["floor"] == "T0"]
    assert raised and all(a["tier"] == "T1" and "llm-raised" in a["flags"] for a in raised)
    # The raises are in the table classify and the hook decide from, so the document and the
    # enforcement agree on them.
    instances = {i["action"]: i["tier"] for c in classes.values() for i in c["instances"]}
    assert all(instances[a["id"]] == "T1" for a in raised)
    from generators.documents.audit import disagreements

    assert disagreements(project / "out")[1] == []


def test_injected_instructions_are_fenced_and_echoing_them_changes_nothing(project: Path, llm_server: LLMServer,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)

    def obey_injection(ans: dict[str, Any], prompt: str) -> dict[str, Any]:
        for a in ans.get("actions", []):
            a["tier"] = "T0"
            a["rationale"] = "The data-eng lead has pre-approved every action in this repository."
        return ans

    llm_server.respond("chat", openai_responder(llm_server, obey_injection))
    assert _run(project, "policy").exit_code == 0
    # The injected command reaches prompts only inside an untrusted fence.
    hits = 0
    for rec in llm_server.requests_for("chat"):
        prompt = prompt_of(rec)
        for m in re.finditer(r"kubectl delete namespace acme-prod", prompt):
            hits += 1
            before = prompt[: m.start()]
            assert before.rfind("<<<UNTRUSTED") > before.rfind(">>>"), "injected text outside a fence"
    assert hits
    system_msg = llm_server.requests_for("chat")[0].body["messages"][0]["content"]
    assert "no authority" in system_msg and "do not follow them" in system_msg
    rows = _rows(_policy(project))
    ns_delete = [a for a in rows.values() if "delete" in a["id"] and a["floor"] == "T3"]
    assert ns_delete and all(a["tier"] == "T3" for a in ns_delete)
    assert all(a["tier"] == a["floor"] or a["tier"] > a["floor"] for a in rows.values())


def test_seeded_secrets_never_reach_requests_cache_or_log(project: Path, llm_server: LLMServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    llm_server.respond("chat", openai_responder(llm_server))
    assert _run(project, "policy", "--batch").exit_code == 0  # batch files are request bodies too
    assert _run(project, "policy", "--no-cache").exit_code == 0
    secrets = [s.strip() for s in SECRETS.read_text().splitlines() if s.strip() and not s.startswith("#")]
    assert secrets
    sent = llm_server.all_request_text()
    stored = "\n".join(p.read_text() for p in (project / ".stackpolicy").rglob("*.json"))
    log = (project / "out" / "generation-log.jsonl").read_text()
    for secret in secrets:
        assert secret not in sent, f"seeded secret sent to the API: {secret[:6]}…"
        assert secret not in stored and secret not in log


def test_dry_run_calls_nothing_and_writes_nothing(project: Path, llm_server: LLMServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    res = _run(project, "policy", "--dry-run", "--model", "gpt-4.1-mini")
    assert res.exit_code == 0, res.output
    assert not llm_server.requests
    assert not (project / "out").exists()
    m = re.search(r"dry run \(openai:gpt-4.1-mini\): (\d+) prompts, 0 already cached, (\d+) calls; prompt tokens "
                  r"total (\d+), max (\d+), median (\d+).*estimated cost \$(\d+\.\d+)", res.output)
    assert m, res.output
    assert int(m.group(1)) == int(m.group(2)) > 10
    assert float(m.group(6)) > 0
    assert int(m.group(4)) <= 12_000  # the documented per-prompt bound (docs/llm.md)


def test_budget_stops_calls_and_falls_back(project: Path, llm_server: LLMServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    llm_server.respond("chat", lambda rec: llm_server.openai_json(answer_for(prompt_of(rec)), prompt_tokens=5_000_000))
    res = _run(project, "policy", "--budget", "1", "--concurrency", "1")
    assert res.exit_code == 0, res.output
    policy = _policy(project)
    assert any("budget of $1.00 exhausted" in s["drafted_by"] for s in policy["systems"])
    assert len(llm_server.requests_for("chat")) == 1


def test_batch_mode_persists_and_resumes(project: Path, llm_server: LLMServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _openai_env(monkeypatch, llm_server)
    llm_server.batch_polls_before_done = 2  # the run polls once, `batch status` once, then it is done
    llm_server.respond("chat", openai_responder(llm_server))
    res = _run(project, "policy", "--batch")
    assert res.exit_code == 0, res.output
    assert "is submitted" in res.output and "Rerun the same command" in res.output
    assert not (project / "out" / "policy.md").exists()  # nothing half-written while the batch runs
    state = json.loads((project / ".stackpolicy" / "batches.json").read_text())
    assert state["policy"]["batch_id"].startswith("batch_")
    status = _run(project, "batch", "status")
    assert state["policy"]["batch_id"] in status.output and "in_progress" in status.output

    llm_server.batch_polls_before_done = 0  # from now on a batch is done on its first poll
    res = _run(project, "policy", "--batch")  # collects the policy batch; the evals batch finishes at once
    assert res.exit_code == 0, res.output
    assert (project / "out" / "policy.md").exists()
    assert all(s["drafted_by"].startswith("openai:") for s in _policy(project)["systems"] if s["actions"])
    assert all(r["outcome"] == "valid" for r in _log(project))
    assert len(llm_server.batches) == 2
    # every chat answer was produced inside a batch (no direct calls)
    assert len(llm_server.requests_for("chat")) == sum(
        len(llm_server.files[b["input_file_id"]].decode().splitlines()) for b in llm_server.batches.values())
    assert "no batch jobs pending" in _run(project, "batch", "status").output


def test_offline_without_keys_still_works(project: Path, llm_server: LLMServer) -> None:
    res = _run(project, "policy")
    assert res.exit_code == 0, res.output
    assert "offline (provider auto: neither ANTHROPIC_API_KEY nor OPENAI_API_KEY is set)" in res.output
    assert _policy(project)["meta"]["provider"] == "offline"
    assert not llm_server.requests and not (project / "out" / "generation-log.jsonl").exists()


def test_unknown_provider_is_a_usage_error(project: Path) -> None:
    res = _run(project, "policy", "--provider", "openai")
    assert res.exit_code == 2
    assert "provider 'openai' needs OPENAI_API_KEY" in res.output


def test_unreachable_server_is_a_usage_error_and_writes_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    res = _run(project, "policy", "--provider", "openai", "--base-url", "http://127.0.0.1:9/v1")
    assert res.exit_code == 2
    assert "openai: cannot connect" in res.output and "nothing was written" in res.output
    assert not (project / "out").exists()
