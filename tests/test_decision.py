"""The decision table: class keys, the one decide function, and a table built from an
inventory that decides every example command exactly as ``classify`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from generators.classify import Classifier
from generators.decision.build import build_table, is_real_command
from generators.decision.decide import Table, decide
from generators.decision.facts import Facts
from generators.decision.model import ActionClass, ClassKey, DecisionTable, TableException, TargetProfile
from generators.risk.rules import load_rules
from inventory.io import load_inventory
from inventory.model import Action, Evidence
from inventory.scan import scan_paths
from inventory.config import Config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


@pytest.fixture(scope="module")
def rules():  # noqa: ANN201
    return load_rules()


@pytest.fixture(scope="module")
def example_table():  # noqa: ANN201
    inv, _ = scan_paths([str(EXAMPLE)], Config(), use_cache=False)
    return inv, *build_table(inv)


@pytest.mark.parametrize("key", [
    ClassKey("delete", "kafka-topic", "prod"),
    ClassKey("export", "postgres", "unknown", "one", True),
    ClassKey("delete", "pod", "dev", "all", False),
    ClassKey("read", "any", "staging", "many", True),
])
def test_class_id_round_trips(key: ClassKey) -> None:
    assert ClassKey.parse(key.id) == key


@pytest.mark.parametrize("bad", ["delete", "delete/topic", "delete@prod", "/x@prod", "delete/x@"])
def test_malformed_class_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="not a class id"):
        ClassKey.parse(bad)


def _facts(key: ClassKey, profile: TargetProfile | None = None) -> Facts:
    return Facts(key, "test", "stated", "one named object", (), profile.id if profile else None, profile)


def test_unresolved_environment_gets_production_tiers(rules) -> None:  # noqa: ANN001
    prod = decide(_facts(ClassKey("restart", "deployment", "prod")), rules)
    unknown = decide(_facts(ClassKey("restart", "deployment", "unknown")), rules)
    staging = decide(_facts(ClassKey("restart", "deployment", "staging")), rules)
    assert prod.tier == unknown.tier == "T2"
    assert staging.tier == "T1"


def test_target_factors_raise_above_the_class(rules) -> None:  # noqa: ANN001
    key = ClassKey("restart", "deployment", "staging")
    hub = TargetProfile(id="service:hub", name="hub", kind="service", fan_in=10)
    assert decide(_facts(key), rules).tier == "T1"
    ruling = decide(_facts(key, hub), rules)
    assert ruling.tier == "T2" and "blast_radius" in ruling.deciding and ruling.class_tier == "T1"


def _row(key: ClassKey, tier: str, floor: str, reviewed: bool = False) -> ActionClass:
    return ActionClass(id=key.id, verb_class=key.verb_class, kind=key.kind, environment=key.environment,
                       tier=tier, floor=floor, reviewed=reviewed, rule="r", rationale="r")


def test_table_edits_raise_always_and_lower_only_when_reviewed(rules) -> None:  # noqa: ANN001
    key = ClassKey("restart", "deployment", "prod")
    assert decide(_facts(key), rules, Table(DecisionTable(classes=[_row(key, "T3", "T2")]))).tier == "T3"
    assert decide(_facts(key), rules, Table(DecisionTable(classes=[_row(key, "T1", "T2")]))).tier == "T2"
    assert decide(_facts(key), rules, Table(DecisionTable(classes=[_row(key, "T1", "T2", True)]))).tier == "T1"


def test_a_reviewed_class_still_takes_its_targets_factors(rules) -> None:  # noqa: ANN001
    key = ClassKey("restart", "deployment", "prod")
    hub = TargetProfile(id="service:hub", name="hub", kind="service", fan_in=10)
    table = Table(DecisionTable(classes=[_row(key, "T1", "T2", True)]))
    assert decide(_facts(key, hub), rules, table).tier == "T2"


def test_exception_only_for_its_target(rules) -> None:  # noqa: ANN001
    key = ClassKey("restart", "deployment", "staging")
    a = TargetProfile(id="service:a", name="a", kind="service")
    b = TargetProfile(id="service:b", name="b", kind="service")
    exc = TableException(id=f"{key.id}!service:a", class_id=key.id, target="service:a", tier="T3", floor="T1",
                         reason="under audit")
    table = Table(DecisionTable(exceptions=[exc]))
    assert decide(_facts(key, a), rules, table).tier == "T3"
    assert decide(_facts(key, b), rules, table).tier == "T1"
    lowered = TableException(id=exc.id, class_id=key.id, target="service:a", tier="T0", floor="T1", reason="x")
    assert decide(_facts(key, a), rules, Table(DecisionTable(exceptions=[lowered]))).tier == "T1"


def test_every_action_is_an_instance_of_exactly_one_class(example_table) -> None:  # noqa: ANN001
    inv, table, assessments = example_table
    seen = [i.action for c in table.classes for i in c.instances]
    assert sorted(seen) == sorted(a.id for a in inv.actions)
    assert len(table.classes) < len(inv.actions) / 1.5  # classes, not instances
    for c in table.classes:
        assert ClassKey.parse(c.id) == c.key
        for i in c.instances:
            assert assessments[i.action].class_id == c.id and assessments[i.action].tier == i.tier


def test_example_commands_classify_to_the_tier_the_table_shows(example_table) -> None:  # noqa: ANN001
    _inv, table, _ = example_table
    clf = Classifier(table=table)  # no inventory: the table's own estate resolves the targets
    shown = [(i.command, i.tier) for c in table.classes for i in c.instances if i.is_command]
    assert len(shown) > 100
    assert [(cmd, t, clf.classify(cmd).tier) for cmd, t in shown if clf.classify(cmd).tier != t] == []


def test_exceptions_are_targets_whose_tier_differs_from_their_class(example_table) -> None:  # noqa: ANN001
    _inv, table, _ = example_table
    classes = table.class_map()
    assert table.exceptions
    for e in table.exceptions:
        assert e.tier != classes[e.class_id].tier
        assert e.target in {t.id for t in table.targets}


def test_table_is_deterministic() -> None:
    inv = load_inventory(Path(__file__).resolve().parents[1] / "output" / "inventory.yaml")
    a, _ = build_table(inv)
    b, _ = build_table(inv)
    assert a.model_dump_json() == b.model_dump_json()


def test_pseudo_commands_are_not_instances_with_a_command() -> None:
    ev = [Evidence(path="x.tf", line=1)]
    words = Action(id="dns:x/delete", verb="delete", tool="aws", command="<delete records or zone>", origin="implied",
                   evidence=ev)
    real = Action(id="dns:x/list", verb="list", tool="aws", command="aws route53 list-hosted-zones", origin="implied",
                  evidence=ev)
    assert not is_real_command(words) and is_real_command(real)


def test_sorted_evidence_dedupes_and_orders_like_a_set_sorted_by_path_and_line() -> None:
    from generators.decision.build import sorted_evidence
    from inventory.model import Evidence

    evs = [Evidence(path="b.md", line=3), Evidence(path="a.yaml", line=10), Evidence(path="a.yaml", line=2),
           Evidence(path="b.md", line=3), Evidence(path="a.yaml", line=10), Evidence(path="a/b.sh", line=1)]
    got = sorted_evidence(iter(evs))
    assert got == sorted(set(evs), key=lambda e: (e.path, e.line))
    assert [str(e) for e in got] == ["a.yaml:2", "a.yaml:10", "a/b.sh:1", "b.md:3"]
    assert sorted_evidence([]) == []
