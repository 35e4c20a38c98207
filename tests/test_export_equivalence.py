"""Every export decides like ``classify`` on the equivalence corpus (the bundled example's
commands, compound lines, wrappers, absolute paths, appended flags, evasions and the
classifier's adversarial suite), in-process: one generated example shared by all.

OPA: its Rego, fed the ``opa_input`` facts of a line, gives the same tier as the classifier
for every line, and its own generated tests (one per class and exception) pass in a Rego v1
engine (regorus, from PyPI).

Codex and Claude Code: never weaker than ``classify`` with their static rules alone where
they can express a class and together with their hooks everywhere; the hooks fail closed.
The targets' matching is re-implemented here from their documentation:

* Codex: ``prefix_rule`` matches when argv starts with the pattern (an element may be a list
  of alternatives); the strictest decision wins; a plain ``bash -lc`` script is checked
  command by command. Its ``PreToolUse`` hook's ``deny`` blocks (``ask`` is not enforced).
* Claude Code: ``Bash(prefix *)`` matches the prefix followed by anything; each part of a
  compound command is checked; a hook's ``deny``/``ask`` applies, its ``allow`` does not
  override a deny rule.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generators.classify import Classifier, load_policy
from generators.exporters.opa_input import opa_input
from generators.hook import codex_answer, codex_parts, codex_rules_decision
from tests.enforce_corpus import corpus
from tests.enforce_equivalence import RANK, codex_combined, compare, strictest
from tests.export_fixture import classifier_for, generate_and_export

regorus = pytest.importorskip("regorus", reason="the Rego v1 engine (gordon-to-regorus) is a test dependency")


def engine(opa_dir: Path, *, tests: bool = False):  # noqa: ANN201 - regorus.Engine
    e = regorus.Engine()
    e.add_policy("stackpolicy.rego", (opa_dir / "stackpolicy.rego").read_text())
    if tests:
        e.add_policy("stackpolicy_test.rego", (opa_dir / "stackpolicy_test.rego").read_text())
    e.add_data_json((opa_dir / "data.json").read_text())
    return e


def rego_tier(e, facts: dict) -> tuple[str, str]:  # noqa: ANN001
    e.set_input_json(json.dumps(facts))
    res = e.eval_query("[data.stackpolicy.tier, data.stackpolicy.decision]")
    return tuple(res["result"][0]["expressions"][0]["value"])  # type: ignore[return-value]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_and_export(tmp_path_factory.mktemp("opa"))


@pytest.fixture(scope="module")
def lines(out: Path) -> list[str]:
    return corpus(yaml.safe_load((out / "policy.yaml").read_text()))


def test_generated_rego_tests_cover_every_class_and_pass(out: Path) -> None:
    opa = out / "enforce" / "opa"
    text = (opa / "stackpolicy_test.rego").read_text()
    names = re.findall(r"^(test_\w+) if", text, re.M)
    table = load_policy(out / "policy.yaml")
    assert len([n for n in names if n.startswith("test_class_")]) == len(table.classes)
    assert len([n for n in names if n.startswith("test_exception_")]) == len(table.exceptions)
    res = engine(opa, tests=True).eval_query("data.stackpolicy_test")
    value = res["result"][0]["expressions"][0]["value"]
    assert [n for n in names if value.get(n) is not True] == []


def test_a_wrong_expectation_fails(out: Path, tmp_path: Path) -> None:
    opa = out / "enforce" / "opa"
    for name in ("stackpolicy.rego", "data.json"):
        (tmp_path / name).write_text((opa / name).read_text())
    text = (opa / "stackpolicy_test.rego").read_text()
    # Flip the first class test's expected tier: that test must no longer hold.
    m = re.search(r'(test_class_1 if \{\n\tstackpolicy.tier == )"(T\d)"', text)
    assert m
    wrong = "T0" if m.group(2) != "T0" else "T3"
    (tmp_path / "stackpolicy_test.rego").write_text(text[:m.start(2) - 1] + f'"{wrong}"' + text[m.end(2) + 1:])
    value = engine(tmp_path, tests=True).eval_query("data.stackpolicy_test")["result"][0]["expressions"][0]["value"]
    assert value.get("test_class_1") is not True and value.get("test_class_2") is True


def test_corpus_is_big_enough(lines: list[str]) -> None:
    assert len(lines) >= 300


@pytest.mark.parametrize("source", ["policy", "inventory"])
def test_rego_equals_classify_on_the_corpus(out: Path, lines: list[str], source: str) -> None:
    """``classify --policy`` (the table's estate) and the export's classifier (the inventory)."""
    clf = Classifier(None, None, load_policy(out / "policy.yaml")) if source == "policy" else classifier_for(out)
    e = engine(out / "enforce" / "opa")
    diff = []
    for line in lines:
        c = clf.classify(line)
        got = rego_tier(e, opa_input(c))
        if got != (c.tier, c.decision):
            diff.append((line, c.tier, got))
    assert diff == []


def test_malformed_input_fails_closed(out: Path) -> None:
    e = engine(out / "enforce" / "opa")
    assert rego_tier(e, {})[1] == "ask"
    assert rego_tier(e, {"commands": [{"argv": ["x"]}]})[1] == "ask"
    assert rego_tier(e, {"parse_error": True, "commands": []})[1] == "ask"


CLI = str(Path(sys.executable).parent / "stackpolicy")


@pytest.fixture(scope="module")
def clf(out: Path):  # noqa: ANN201
    return classifier_for(out)


@pytest.fixture(scope="module")
def codex_rules(out: Path) -> list[dict]:
    return json.loads((out / "enforce" / "codex" / "hook-state.json").read_text())["codex_rules"]


def test_codex_rules_file_is_compiled_not_enumerated(out: Path, codex_rules: list[dict]) -> None:
    text = (out / "enforce" / "codex" / "stackpolicy.rules").read_text()
    assert text.count("prefix_rule(") == len(codex_rules) > 100
    # Absolute paths of the tool are alternatives of the first token.
    assert '"/usr/local/bin/kubectl"' in text
    denies = [r for r in codex_rules if r["decision"] == "deny"]
    assert any(r["tokens"] == ["delete", "ns"] and "kubectl" in r["programs"] for r in denies)
    assert any(r["tokens"] == ["destroy"] and "terraform" in r["programs"] for r in denies)
    # No rule is an instance command: each is a shape of the risk rules' verb tables (tool,
    # subcommand), refined at most by an object kind.
    from generators.exporters.prefixes import candidates, kind_tokens
    from generators.risk.rules import load_rules

    rules = load_rules()
    shapes, kinds = candidates(rules), set(kind_tokens(rules))
    for r in codex_rules:
        shape = (r["programs"][0], *r["tokens"])
        assert shape in shapes or (shape[:-1] in shapes and shape[-1] in kinds), shape


def test_codex_split_follows_plain_scripts() -> None:
    assert codex_parts("kubectl logs x && kubectl delete ns p") == [["kubectl", "logs", "x"], ["kubectl", "delete", "ns", "p"]]
    assert codex_parts("echo $(kubectl delete ns p)") == [["bash", "-lc", "echo $(kubectl delete ns p)"]]
    assert codex_parts("ls > out") == [["bash", "-lc", "ls > out"]]


def test_appending_or_chaining_never_escapes_a_codex_deny(codex_rules: list[dict]) -> None:
    for base in ("kubectl delete ns acme-prod", "terraform destroy"):
        assert codex_rules_decision(codex_rules, base) == "deny"
        for line in (f"{base} --wait=false", f"{base} --region us-east-1", f"kubectl get pods && {base}",
                     f"kubectl get pods; {base}", f"/usr/local/bin/{base}"):
            assert codex_rules_decision(codex_rules, line) == "deny", line


def test_codex_allow_rules_are_never_weaker(clf, lines: list[str], codex_rules: list[dict]) -> None:  # noqa: ANN001
    weaker = [(ln, clf.classify(ln).decision) for ln in lines
              if codex_rules_decision(codex_rules, ln) == "allow" and clf.classify(ln).decision != "allow"]
    assert weaker == []


def test_codex_with_its_hook_is_never_weaker(clf, lines: list[str], codex_rules: list[dict]) -> None:  # noqa: ANN001
    def target(line: str) -> str:
        c = clf.classify(line)
        return codex_combined(codex_rules_decision(codex_rules, line), codex_answer(c.decision, "", codex_rules, line))

    rep = compare("codex", lines, lambda ln: clf.classify(ln).decision, target)
    assert rep.weaker == [], rep.summary()
    assert len(rep.equal) > len(rep.stricter)


def test_claude_code_with_its_hook_is_never_weaker(out: Path, clf, lines: list[str]) -> None:  # noqa: ANN001
    from generators.exporters.claude_code import matches_pattern

    settings = json.loads((out / "enforce" / "claude-code" / "settings.json").read_text())
    specs = [d[len("Bash("):-1] for d in settings["permissions"]["deny"]]
    assert specs and not settings["permissions"].get("allow")

    def parts(line: str) -> list[str]:
        argvs = codex_parts(line)
        return [line] if argvs[0][:2] == ["bash", "-lc"] else [shlex.join(a) for a in argvs]

    def target(line: str) -> str:
        rule = "deny" if any(matches_pattern(s, p) for s in specs for p in parts(line)) else None
        return strictest(rule, clf.classify(line).decision)  # the hook answers with the classifier

    rep = compare("claude-code", lines, lambda ln: clf.classify(ln).decision, target)
    assert rep.weaker == []
    assert all(RANK[want] < RANK["deny"] for _, want, _ in rep.stricter)


def _hook(out: Path, agent: str, command: str, cli: str = CLI) -> subprocess.CompletedProcess[str]:
    settings = out / "enforce" / ("claude-code/settings.json" if agent == "claude-code" else "codex/hooks.json")
    cmd = json.loads(settings.read_text())["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    if cli != CLI:
        cmd = cmd.replace(shlex.quote(CLI), shlex.quote(cli)).replace(CLI, cli)
    event = {"tool_name": "Bash", "tool_input": {"command": command}, "cwd": str(out.parent)}
    env = {**os.environ, "STACKPOLICY_HOOK_SERVER": "off", "CLAUDE_PROJECT_DIR": str(out.parent)}
    return subprocess.run(["sh", "-c", cmd], input=json.dumps(event), capture_output=True, text=True, env=env,
                          cwd=out.parent, timeout=120)


@pytest.mark.parametrize("agent", ["claude-code", "codex"])
def test_exported_hook_runs_the_cli_by_absolute_path(out: Path, agent: str) -> None:
    res = _hook(out, agent, "kubectl delete ns acme-prod")
    assert res.returncode == 0, res.stderr
    answer = json.loads(res.stdout)["hookSpecificOutput"]
    assert answer["permissionDecision"] == "deny"


@pytest.mark.parametrize("agent", ["claude-code", "codex"])
def test_exported_hook_blocks_when_the_cli_is_missing(out: Path, agent: str, tmp_path: Path) -> None:
    res = _hook(out, agent, "ls", cli=str(tmp_path / "gone" / "stackpolicy"))
    assert res.returncode == 2
    assert "missing" in res.stderr and "blocked" in res.stderr


def test_codex_hook_answers(out: Path) -> None:
    assert _hook(out, "codex", "kubectl get pods -n acme-prod").stdout.strip() == ""  # T0: the rules decide
    denied = _hook(out, "codex", "kubectl logs x && kubectl delete ns acme-prod")
    assert json.loads(denied.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_guard_with_a_bare_name_blocks_when_it_is_not_on_path(tmp_path: Path) -> None:
    from generators.exporters.base import cli_guard

    cmd = cli_guard("stackpolicy-not-installed", ["hook", "claude-code"])
    res = subprocess.run(["/bin/sh", "-c", cmd], input="{}", capture_output=True, text=True, timeout=30,
                         env={"PATH": str(tmp_path)})
    assert res.returncode == 2 and "blocked" in res.stderr
