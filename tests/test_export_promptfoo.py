"""`stackpolicy export promptfoo`: checked against promptfoo's documented config format; the
exported provider and assertion are imported the way promptfoo's Python runner does and must
grade exactly as `evals run` does. The real promptfoo runs are in tests/ecosystem/."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from generators.exporters import TARGETS, exporter
from generators.documents.render import render_yaml
from generators.evalrun.grader import Grader
from generators.evalrun.interop import transcript_from
from generators.evalrun.setup import grading_classifier
from generators.exporters.base import ExportContext, ExportError
from generators.exporters.promptfoo import AGENT, ASSERT, CASES, CONFIG, PROMPT, quote
from tests.evalrun_support import World, make_world

# https://promptfoo.dev/docs/configuration/reference/ and .../expected-outputs/ (assertion properties)
CONFIG_KEYS = {"description", "tags", "providers", "prompts", "tests", "defaultTest", "outputPath", "evaluateOptions",
               "env", "scenarios", "sharing", "nunjucksFilters", "derivedMetrics", "extensions", "metadata"}
TEST_KEYS = {"description", "vars", "assert", "options", "threshold", "metadata", "provider", "providerOutput"}
ASSERT_KEYS = {"type", "value", "threshold", "weight", "provider", "rubricPrompt", "metric", "transform", "config"}


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def files(world: World) -> dict[str, str]:
    return exporter("promptfoo")(ExportContext(policy=world.policy, evals=world.suite)).files


def _config(files: dict[str, str]) -> dict:
    return yaml.safe_load(files["promptfoo/promptfooconfig.yaml"])


def _test(files: dict[str, str], case_id: str) -> dict:
    return next(t for t in _config(files)["tests"] if t["description"] == case_id)


def test_registered_as_an_export_target() -> None:
    assert TARGETS["promptfoo"] == "generators.exporters.promptfoo"


def test_config_has_the_documented_shape(world: World, files: dict[str, str]) -> None:
    cfg = _config(files)
    assert {"prompts", "providers", "tests"} <= set(cfg) <= CONFIG_KEYS
    assert len(cfg["tests"]) == sum(1 for c in world.suite.cases if not c.disabled)
    for t in cfg["tests"]:
        assert set(t) <= TEST_KEYS
        assert t["metadata"]["tier"] in ("T0", "T1", "T2", "T3")
        assert all(isinstance(v, str) for v in t["metadata"].values())  # --filter-metadata compares strings
    # One deterministic assertion for every test, decided by stackpolicy's grader: no literal strings.
    (check,) = cfg["defaultTest"]["assert"]
    assert set(check) <= ASSERT_KEYS and check["type"] == "python"
    assert check["value"] == "file://stackpolicy_assert.py:get_assert" and "llm-rubric" not in yaml.safe_dump(cfg)
    provider = cfg["providers"][0]
    assert provider["id"] == "file://stackpolicy_agent.py" and provider["config"]["agent"].startswith("openai:")
    assert {CONFIG, PROMPT, CASES, AGENT, ASSERT} == set(files)


def test_prompt_file_is_referenced_and_every_variable_is_provided(files: dict[str, str]) -> None:
    cfg = _config(files)
    assert cfg["prompts"] == ["file://prompt.json"] and PROMPT in files
    messages = json.loads(files[PROMPT])
    assert [m["role"] for m in messages] == ["system", "user"]
    used = set(re.findall(r"{{\s*(\w+)\s*}}", json.dumps(messages)))
    assert used == {"situation", "files", "request"}
    assert all(used | {"case_id"} <= set(t["vars"]) for t in cfg["tests"])


def test_values_with_template_syntax_are_quoted_for_nunjucks() -> None:
    assert quote("plain text") == "plain text"
    wf = "deploy needs ${{ secrets.DEPLOY_TOKEN }} and {% if x %}"
    assert quote(wf) == "{% raw %}" + wf + "{% endraw %}"
    tricky = "a {% endraw %} b {{ c }}"
    assert quote(tricky).count("{% raw %}") == 2
    if shutil.which("node"):
        # Rendered by the real Nunjucks when promptfoo's install is around; else by Jinja2, which
        # shares the raw/endraw semantics for these inputs.
        pass
    import jinja2

    env = jinja2.Environment()
    for text in (wf, tricky, "x }} y {# z"):
        assert env.from_string(quote(text)).render() == text


def test_cases_file_carries_tool_state_and_runbooks(world: World, tmp_path: Path) -> None:
    case = next(c for c in world.suite.cases if c.files)
    p = tmp_path / case.files[0]
    p.parent.mkdir(parents=True)
    p.write_text("1. export PGPASSWORD=Sup3rS3cretPassw0rd\n2. restart\n")
    suite = world.suite.model_copy(update={"meta": world.suite.meta.model_copy(update={"sources": [str(tmp_path)]})})
    data = json.loads(exporter("promptfoo")(ExportContext(policy=world.policy, evals=suite)).files[CASES])
    assert [c["id"] for c in data["cases"]] == [c.id for c in world.suite.cases if not c.disabled]
    assert "restart" in data["files"][case.files[0]] and "Sup3rS3cretPassw0rd" not in data["files"][case.files[0]]
    got = next(c for c in data["cases"] if c["id"] == case.id)
    assert got["tools"] == [t.model_dump() for t in case.tools]


def _bundle(world: World, files: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    """The export written under tmp_path/enforce, with the world's policy two levels up."""
    for rel, text in files.items():
        p = tmp_path / "enforce" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "policy.yaml").write_text(render_yaml(world.policy))
    return tmp_path / "enforce" / "promptfoo", tmp_path / "policy.yaml"


@pytest.mark.parametrize("behaviour", ["safe", "reckless", "over-cautious"])
def test_provider_and_assertion_grade_like_evals_run(world: World, files: dict[str, str], tmp_path: Path,
                                                      behaviour: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exported provider and assertion files, imported as promptfoo would, grade each case
    exactly as ``evals run``'s grader does for the same scripted agent."""
    import importlib.util

    pf, policy = _bundle(world, files, tmp_path)
    monkeypatch.setenv("STACKPOLICY_GRADE_SERVER", "off")  # in-process: no background grader in unit tests

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, pf / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        return mod

    agent, check = load("stackpolicy_agent"), load("stackpolicy_assert")
    grader = Grader(grading_classifier(policy))
    cfg = _config(files)
    for t in cfg["tests"]:
        case = world.case(t["vars"]["case_id"])
        ctx = {"vars": t["vars"]}
        out = agent.call_api("prompt", {"config": {"agent": f"scripted:{behaviour}", "cases": "cases.json"}}, ctx)
        assert "output" in out, out
        got = check.get_assert(out["output"], {"vars": t["vars"], "config": cfg["defaultTest"]["assert"][0]["config"]})
        want = grader.grade(case, transcript_from(case.id, out["output"])).outcome == "pass"
        assert got["pass"] is want, (case.id, got["reason"])
    # An unknown case never passes.
    assert check.get_assert("[]", {"vars": {"case_id": "nope"}, "config": {}})["pass"] is False


def test_assertion_grades_promptfoo_native_tool_calls(world: World, files: dict[str, str], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain promptfoo provider returns the model's tool calls: the first move is graded too."""
    from generators.evalrun.grade_client import grade

    _, policy = _bundle(world, files, tmp_path)
    monkeypatch.setenv("STACKPOLICY_GRADE_SERVER", "off")
    cases = tmp_path / "enforce" / "promptfoo" / "cases.json"
    refuse = next(c for c in world.suite.cases if c.category == "must-refuse")
    call = {"id": "c1", "type": "function", "function": {"name": "run_command",
                                                           "arguments": json.dumps({"command": refuse.shortcut})}}
    assert grade(str(policy), str(cases), refuse.id, [call])["pass"] is False
    wrapped = {"tool_calls": [{**call, "function": {**call["function"], "arguments": json.dumps(
        {"command": f"sudo bash -c '{refuse.shortcut}'"})}}]}
    assert "t3-attempt" in grade(str(policy), str(cases), refuse.id, wrapped)["reason"]
    assert grade(str(policy), str(cases), refuse.id, "No: that is forbidden for agents.")["pass"] is True


def test_the_warm_grader_answers_like_the_in_process_one(world: World, files: dict[str, str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from generators.evalrun.grade_client import grade

    _, policy = _bundle(world, files, tmp_path)
    cases = tmp_path / "enforce" / "promptfoo" / "cases.json"
    import tempfile

    # A short private directory: a UNIX socket path must fit in 108 bytes.
    sockets = Path(tempfile.mkdtemp(prefix="sp-grade-"))
    monkeypatch.setenv("STACKPOLICY_HOOK_SOCKET_DIR", str(sockets))
    monkeypatch.setenv("STACKPOLICY_GRADE_IDLE", "20")
    refuse = next(c for c in world.suite.cases if c.category == "must-refuse")
    bad = json.dumps({"messages": [{"role": "user", "text": "x"}, {"role": "assistant", "tool_calls": [
        {"id": "a", "name": "run_command", "arguments": {"command": refuse.shortcut}}]}]})
    warm = grade(str(policy), str(cases), refuse.id, bad)
    monkeypatch.setenv("STACKPOLICY_GRADE_SERVER", "off")
    cold = grade(str(policy), str(cases), refuse.id, bad)
    assert warm == cold and warm["pass"] is False
    monkeypatch.setenv("STACKPOLICY_GRADE_SERVER", "on")
    try:
        assert list(sockets.glob("grade-*.sock"))  # the server stays up for the next assertion
    finally:
        _stop_servers(sockets)


def _stop_servers(directory: Path) -> None:
    """End the grader this test started (its pid is in the socket's lock file)."""
    import os
    import signal

    for lock in directory.glob("grade-*.sock.lock"):
        text = lock.read_text().strip()
        if text.isdigit():
            try:
                os.kill(int(text), signal.SIGTERM)
            except ProcessLookupError:
                pass


def test_export_is_deterministic_and_needs_a_suite(world: World, files: dict[str, str]) -> None:
    again = exporter("promptfoo")(ExportContext(policy=world.policy, evals=world.suite)).files
    assert again == files
    with pytest.raises(ExportError, match="no eval suite"):
        exporter("promptfoo")(ExportContext(policy=world.policy, evals=None))
