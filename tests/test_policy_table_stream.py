"""``load_decision_table``: the decision table of a policy file read as a stream of YAML events
(only the table, classes without their instances) decides exactly as the fully loaded policy,
and every file the stream reader leaves alone is read (or refused) by :func:`load_policy`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from generators.classify import Classifier, PolicyError, load_decision_table, load_policy
from generators.decision.model import DecisionTable

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "output" / "policy.yaml"


def _without_instances(table: DecisionTable) -> DecisionTable:
    return table.model_copy(update={"classes": [c.model_copy(update={"instances": []}) for c in table.classes]})


def _lines() -> list[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from test_classify_fast_paths import suite_lines
    finally:
        del sys.path[0]
    return suite_lines()


def test_the_generated_policy_reads_as_the_full_loader_reads_it() -> None:
    full = load_policy(POLICY)
    assert any(c.instances for c in full.classes)  # the example has instances to leave out
    assert load_decision_table(POLICY) == _without_instances(full)


def test_decisions_equal_the_fully_loaded_policy() -> None:
    streamed, full = Classifier(table=load_decision_table(POLICY)), Classifier(table=load_policy(POLICY))
    for line in _lines():
        assert streamed.classify(line).model_dump_json() == full.classify(line).model_dump_json(), line


def test_expanded_layout_bare_tables_and_documents_with_a_table(tmp_path: Path) -> None:
    """The same table written without the compact layout, as a bare table, under `table:` of a
    document that is not a policy, and with YAML the stream reader hands back (an alias, a merge
    key, a tag, a duplicate key): each reads as load_policy reads it."""
    full = load_policy(POLICY)
    table = full.model_dump(mode="json")
    from generators.documents.model import Policy

    expanded = Policy.model_validate(yaml.safe_load(POLICY.read_text(encoding="utf-8"))).model_dump(mode="json")
    variants = {
        "expanded.yaml": yaml.safe_dump(expanded, sort_keys=False),
        "bare.yaml": yaml.safe_dump(table, sort_keys=False),
        "doc.yaml": yaml.safe_dump({"note": "x", "table": table}, sort_keys=False),
        "alias.yaml": "base: &b {rules_digest: ''}\n" + yaml.safe_dump({"table": table}, sort_keys=False).replace(
            "table:\n", "table:\n  <<: *b\n", 1),
        "tagged.yaml": yaml.safe_dump({"table": table}, sort_keys=False).replace(
            "table:\n", "table: !!map\n", 1),
    }
    for name, text in variants.items():
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        assert load_decision_table(p) == _without_instances(load_policy(p)), name


@pytest.mark.parametrize("text, message", [
    ("table:\n  classes:\n    - {id: a, tier: T9}\n", r"invalid decision table at classes.0"),
    ("actions:\n  - {id: a/restart, tier: T3}\n", "not a stackpolicy policy"),
    ("kind: policy\nsystems: []\n", "not a stackpolicy policy"),
    ("- a\n- b\n", "not a stackpolicy policy"),
    ("table: {classes: []}\n---\ntable: {classes: []}\n", "cannot read policy"),
    ("table: [unclosed\n", "cannot read policy"),
    ("kind: policy\ntable:\n  classes: []\n  surprise: 1\n", "invalid policy at"),
])
def test_broken_files_fail_as_load_policy_fails(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(p)
    with pytest.raises(PolicyError, match=message):
        load_decision_table(p)
    with pytest.raises(PolicyError, match="no such file"):
        load_decision_table(tmp_path / "missing.yaml")
