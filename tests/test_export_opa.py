"""The OPA export decides like ``classify``: its Rego, fed the ``opa_input`` facts of a line,
gives the same tier as the classifier for every line of the equivalence corpus, and its own
generated tests (one per class and exception) pass in a Rego v1 engine (regorus, from PyPI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from generators.classify import Classifier, load_policy
from generators.exporters.opa_input import opa_input
from tests.enforce_corpus import corpus
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
