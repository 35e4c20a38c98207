"""The risk model: rules loading and overrides, factors, tiers and rationales for inventory actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from generators.risk.assess import (
    FlagView,
    Subject,
    assess_action,
    assess_inventory,
    assess_subject,
    build_index,
    classify_verb,
    target_names,
)
from generators.risk.rules import RulesError, load_rules, merge_rules, rules_from_config
from inventory.config import load_config
from inventory.model import Action, Evidence, Inventory, Resource
from tests.test_classify import small_inventory


@pytest.fixture(scope="module")
def rules():
    return load_rules()


# ---------------------------------------------------------------------------------------
# Rules: the data file and overrides


def test_default_tiers_have_names_and_agent_may(rules) -> None:
    assert [rules.tiers[t].name for t in ("T0", "T1", "T2", "T3")] == ["observe", "operate", "change", "forbidden"]
    assert rules.tiers["T0"].agent_may == "act alone"
    assert "human approves" in rules.tiers["T2"].agent_may
    assert rules.tiers["T3"].agent_may.startswith("never")


def test_unknown_class_is_ask_by_default(rules) -> None:
    assert rules.classes["unknown"].tier == "T2"


def test_config_overrides_merge_key_by_key(rules) -> None:
    custom = load_rules(
        {"classes": {"restart": {"prod": "T1"}}, "kinds": {"deployment": {"delete": "T3"}}},
        {"T1": {"name": "act"}},
    )
    assert custom.classes["restart"].prod == "T1"
    assert custom.classes["restart"].tier == rules.classes["restart"].tier  # untouched fields kept
    assert custom.kinds["deployment"].delete == "T3"
    assert custom.tiers["T1"].name == "act"
    assert custom.tiers["T1"].agent_may == rules.tiers["T1"].agent_may
    assert load_rules() is rules  # defaults are cached and never mutated by an override
    assert rules.classes["restart"].prod == "T2"


def test_team_tool_rules_are_tried_first(rules) -> None:
    custom = load_rules({"tools": {"kubectl": [{"verb": "get", "kind": ["configmap"], "class": "secret-read"}]}})
    s = Subject(tool="kubectl", verb="get", object_kind="configmap", target="app-config")
    assert classify_verb(s, custom).cls == "secret-read"
    assert classify_verb(s, rules).cls == "read"
    # the built-in rules still apply to everything else
    assert classify_verb(Subject(tool="kubectl", verb="delete", object_kind="pod"), custom).cls == "restart-one"


def test_bad_override_names_the_key() -> None:
    with pytest.raises(RulesError, match=r"classes\.restart\.tier"):
        load_rules({"classes": {"restart": {"tier": "T9"}}})
    with pytest.raises(RulesError, match=r"tools\.kubectl\[0\]: unknown verb class 'nonsense'"):
        load_rules({"tools": {"kubectl": [{"verb": "get", "class": "nonsense"}]}})


def test_merge_rules_does_not_touch_its_inputs() -> None:
    base = {"a": {"b": 1, "c": [1]}, "tools": {"x": [{"verb": "y"}]}}
    out = merge_rules(base, {"a": {"b": 2}, "tools": {"x": [{"verb": "z"}]}})
    assert out == {"a": {"b": 2, "c": [1]}, "tools": {"x": [{"verb": "z"}, {"verb": "y"}]}}
    assert base == {"a": {"b": 1, "c": [1]}, "tools": {"x": [{"verb": "y"}]}}


def test_rules_from_stackpolicy_yaml(tmp_path: Path) -> None:
    cfg_file = tmp_path / "stackpolicy.yaml"
    cfg_file.write_text("rules:\n  classes:\n    deploy: {prod: T3}\ntiers:\n  T3: {name: never}\n")
    custom = rules_from_config(load_config(cfg_file))
    assert custom.classes["deploy"].prod == "T3"
    assert custom.tier_label("T3") == "T3 never"
    out = assess_subject(Subject(tool="helm", verb="upgrade", namespace="prod"), custom)
    assert out.tier == "T3" and out.rationale.startswith("T3 never:")
    bad = tmp_path / "bad" / "stackpolicy.yaml"
    bad.parent.mkdir()
    bad.write_text("rules:\n  blast_radius: {high_fan_in: 0}\n")
    with pytest.raises(RulesError, match=r"stackpolicy.yaml.*blast_radius\.high_fan_in"):
        rules_from_config(load_config(bad))


# ---------------------------------------------------------------------------------------
# Building blocks


def test_flag_view_reads_parser_flags_and_argv() -> None:
    fv = FlagView({"dry-run": False, "output": "yaml"}, ["rm", "-rf", "x"])
    assert not fv.has("dry-run")  # the parser's explicit False is absence
    assert fv.value("output") == "yaml"
    assert fv.has("r") and fv.has("f")
    fv2 = FlagView({}, ["kubectl", "get", "secret", "-oyaml", "--selector=app=x"])
    assert fv2.value("o") == "yaml"
    assert fv2.value("selector") == "app=x"
    assert not fv2.has("A")


def test_target_names() -> None:
    assert target_names("deployment/orders-api") == ["orders-api"]
    assert target_names("s3://acme-prod-data/x/y") == ["acme-prod-data"]
    assert target_names("orders-api-7d9f8b6c5-x2k4q")[:2] == ["orders-api-7d9f8b6c5-x2k4q", "orders-api"]
    assert "orders-db" in target_names("orders-db-0")
    assert target_names("postgres://u@orders-db.prod:5432/orders") == ["orders", "orders-db"]
    assert target_names(None) == []


# ---------------------------------------------------------------------------------------
# Factors → tier → rationale


def test_every_factor_carries_its_own_tier_and_the_max_wins(rules) -> None:
    out = assess_subject(Subject(tool="kubectl", verb="rollout restart", object_kind="deployment", target="api",
                                 namespace="prod"), rules)
    by = {f.name: f for f in out.factors}
    assert by["verb_class"].tier == "T1"
    assert by["environment"].tier == "T2" and by["environment"].value == "prod"
    assert out.tier == "T2"
    assert out.deciding == ["environment"]
    assert out.rationale.startswith("T2 change: prod (namespace prod)")


def test_unknown_environment_counts_as_prod(rules) -> None:
    out = assess_subject(Subject(tool="kubectl", verb="rollout restart", object_kind="deployment", target="api"), rules)
    assert out.environment == "unknown"
    assert out.tier == "T2"
    assert "unknown environment counts as prod" in out.rationale


def test_target_name_can_only_raise_the_environment(rules) -> None:
    # `qa-tools` must not make a restart look like a test-environment one
    out = assess_subject(Subject(tool="kubectl", verb="rollout restart", target="qa-tools"), rules)
    assert out.environment == "unknown" and out.tier == "T2"
    prod = assess_subject(Subject(tool="aws", verb="s3 cp", target="s3://acme-prod-data/x",
                                  argv=("aws", "s3", "cp", "./x", "s3://acme-prod-data/x")), rules)
    assert prod.environment == "prod"


def test_data_class_hints_escalate_exports(rules) -> None:
    s = Subject(tool="aws", verb="s3 cp", object_kind="bucket", target="acme-customer-exports",
                flags={"direction": "copy"}, argv=("aws", "s3", "cp", "s3://acme-customer-exports/", "s3://x/"))
    out = assess_subject(s, rules)
    assert out.verb_class == "data-export"
    assert out.tier == "T3"
    assert "data_class" in out.deciding


def test_scope_all_on_delete_is_forbidden(rules) -> None:
    s = Subject(tool="kubectl", verb="delete", object_kind="deployment", namespace="dev", flags={"all": True})
    out = assess_subject(s, rules)
    assert out.tier == "T3"
    assert out.deciding == ["scope"]


def test_unparseable_subject_is_unknown(rules) -> None:
    out = assess_subject(Subject(tool="kubectl", verb="get", parse_error="unbalanced quote"), rules)
    assert out.verb_class == "unknown" and out.tier == "T2"
    assert "could not be parsed" in out.rationale


# ---------------------------------------------------------------------------------------
# Inventory actions


def test_assess_inventory_covers_every_action_in_order(rules) -> None:
    inv = small_inventory()
    result = assess_inventory(inv, rules)
    assert list(result) == sorted(a.id for a in inv.actions)
    assert set(result) == {a.id for a in inv.actions}
    again = assess_inventory(inv, rules)
    assert [a.model_dump() for a in result.values()] == [a.model_dump() for a in again.values()]


def test_inventory_action_tiers(rules) -> None:
    result = assess_inventory(small_inventory(), rules)
    assert result["service:orders-api/restart@prod"].tier == "T2"
    assert result["service:orders-api-staging/restart@staging"].tier == "T1"
    assert result["kafka-topic:orders-events/delete"].tier == "T3"
    export = result["object-bucket:ml-features/copy-out"]
    assert export.tier == "T3"
    assert export.target == "object-bucket:ml-features"
    assert "data_class" in export.deciding and "training-data" in export.rationale
    read = result["postgres:orders-db/query-read"]
    assert read.tier == "T1"  # pii rows: logged, never silent
    assert read.verb_class == "read-data"


def test_action_class_is_the_verb_not_one_sighting(rules) -> None:
    """A runbook that only shows a dry run does not make the reset-offsets class a read."""
    act = Action(id="kafka-topic:orders-events/reset-offsets", verb="reset-offsets", tool="kafka-consumer-groups",
                 target="kafka-topic:orders-events", flags={"dry-run": True},
                 command="kafka-consumer-groups --group g --reset-offsets --to-earliest --topic orders-events --dry-run",
                 origin="command", evidence=[Evidence(path="runbooks/kafka.md", line=12)])
    inv = small_inventory()
    a = assess_action(act, build_index(inv), rules)
    assert a.tier == "T2" and a.verb_class == "reset-offsets"
    assert a.factors[0].evidence == [Evidence(path="runbooks/kafka.md", line=12)]


def test_deletion_protection_and_statefulness(rules) -> None:
    inv = small_inventory()
    act = Action(id="postgres:orders-db/delete@prod", verb="delete", tool="aws", target="postgres:orders-db",
                 environment="prod", command="delete the database", origin="implied",
                 evidence=[Evidence(path="tf/db.tf", line=3)])
    a = assess_action(act, build_index(inv), rules)
    names = {f.name: f.tier for f in a.factors}
    assert names["deletion_protection"] == "T3"
    assert names["object_kind"] == "T3"
    assert names["stateful"] == "T2"
    assert a.tier == "T3"
    assert a.decision == "deny"


def test_high_fan_in_escalates_a_mutation(rules) -> None:
    inv = small_inventory()
    act = Action(id="service:core-config/alter-config", verb="alter-config", tool="kubectl",
                 target="service:core-config", command="change its config", origin="implied",
                 evidence=[Evidence(path="k8s/app.yaml", line=11)])
    a = assess_action(act, build_index(inv), rules)
    assert a.environment == "dev"
    assert a.tier == "T2"
    assert a.deciding == ["blast_radius"]
    assert "fan-in 4" in a.rationale


def test_unresolved_target_still_gets_an_assessment(rules) -> None:
    inv = Inventory(
        resources=[Resource(id="dns:acme-com", kind="dns", name="acme.com", evidence=[Evidence(path="dns.tf", line=1)])],
        actions=[
            Action(id="dns:acme-com/change", verb="change", tool="aws", target="dns:acme-com", command="change records",
                   origin="implied", evidence=[Evidence(path="dns.tf", line=1)]),
            Action(id="cmd:mystery/run", verb="run", tool="mystery", command="mystery --go", origin="command",
                   evidence=[Evidence(path="README.md", line=4)]),
        ],
    )
    result = assess_inventory(inv, rules)
    assert result["dns:acme-com/change"].tier == "T2"  # shared infrastructure
    assert "shared infrastructure (dns)" in result["dns:acme-com/change"].rationale
    assert result["cmd:mystery/run"].tier == "T2"
    assert result["cmd:mystery/run"].verb_class == "unknown"


def test_env_detector_agrees_with_detect_environment() -> None:
    from generators.risk.assess import EnvDetector
    from inventory.environments import detect_environment

    detect = EnvDetector()
    samples = ["prod", "shop-prod", "product-api", "pre-prod", "preprod-eu", "staging", "acme-stg-1", "dev",
               "/dev/null", "qa-tools", "ci", "kafka-prod:9092", "orders-db.prod.svc", "PRODUCTION", "live-eu",
               "sandbox", "uat", "nothing-here", "", "gprd-main", "test_runner"]
    for text in samples:
        assert detect(text) == detect_environment(text), text
    custom = {"prod": ["prd", "eu-main"], "dev": ["play"]}
    detect_custom = EnvDetector(custom)
    for text in ["eu-main-1", "x-eu-main", "eu-mainland", "play-1", "prd"]:
        assert detect_custom(text) == detect_environment(text, patterns=custom), text
