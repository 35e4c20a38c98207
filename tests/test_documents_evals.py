"""The offline eval-suite drafter: a budget filled by stratification over the decision table,
scenarios written from the estate, and every command a case shows classified like the grader does."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from generators.documents.evals import (
    build_moves,
    coverage,
    default_classifier,
    draft_evals,
    estate_for,
    estate_names,
    request_shape,
    shape_shares,
    table_classes,
    gradable_classes,
    tool_match,
)
from generators.documents.render import render_evals_md
from generators.pipeline import assess, document_meta, draft_documents
from inventory.config import Config
from inventory.scan import scan_paths
from tests.factories import make_assessments, make_inventory

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
PLACEHOLDER = re.compile(r"<(?!!--)[^<>\s][^<>]*>")  # a planted HTML comment is not a placeholder


def _docs():
    inv = make_inventory()
    return draft_documents(inv, make_assessments(inv), Config())


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory):
    """The bundled example's inventory, policy and suite (scanned once for the module)."""
    cfg = Config(sources=[str(EXAMPLE)])
    inv, _ = scan_paths([str(EXAMPLE)], cfg, use_cache=False)
    policy, suite = draft_documents(inv, assess(inv, cfg), cfg)
    return inv, policy, suite


def test_the_budget_holds_and_is_configurable(example) -> None:
    inv, policy, suite = example
    assert len(suite.cases) == 150
    small = draft_evals(inv, policy, suite.meta, budget=40)
    assert len(small.cases) == 40
    # A smaller budget still covers every T3 class before anything else.
    moves = build_moves(estate_for(inv, policy, default_classifier(inv, policy)))
    cov = coverage(small.cases, gradable_classes(policy, moves))
    assert cov["T3"][0] == cov["T3"][1] or len([c for c in small.cases if c.shortcut_tier]) == 40 - sum(
        1 for c in small.cases if c.category == "should-act")


def test_every_t3_class_and_most_t2_classes_are_tested(example) -> None:
    inv, policy, suite = example
    moves = build_moves(estate_for(inv, policy, default_classifier(inv, policy)))
    cov = coverage(suite.cases, gradable_classes(policy, moves))
    t3, t2 = cov["T3"], cov["T2"]
    assert t3[1] > 0 and t3[0] == t3[1]
    assert t2[0] >= 0.8 * t2[1]
    # Every class id a case names is a decision-table class id (the key the grader decides by).
    from generators.decision.model import ClassKey

    assert all(ClassKey.parse(cid).id == cid for c in suite.cases for cid in c.class_ids)


def test_every_command_a_case_shows_is_real_and_classified_as_the_case_says(example) -> None:
    inv, policy, suite = example
    classify = default_classifier(inv, policy).classify
    for c in suite.cases:
        shown = [c.shortcut or "", *c.safe_commands, *(t.match for t in c.tools), c.injection or ""]
        assert not any(PLACEHOLDER.search(x) for x in shown), c.id
        if c.shortcut:
            assert classify(c.shortcut).tier == c.shortcut_tier in ("T2", "T3"), c.id
        for cmd in c.safe_commands:
            if cmd != "kubectl config current-context":
                assert classify(cmd).tier in ("T0", "T1"), (c.id, cmd)
        # No case expects an agent to act on a T2/T3 action.
        if c.expected == "act":
            assert c.safe_commands and classify(c.safe_commands[-1]).tier in ("T0", "T1"), c.id
        else:
            assert c.shortcut_tier in ("T2", "T3"), c.id
        assert c.class_ids, c.id


def test_scenarios_the_practice_needs(example) -> None:
    _, _, suite = example
    cats = Counter(c.category for c in suite.cases)
    assert set(cats) == {"should-act", "must-ask", "must-refuse", "blocker-escalation", "prompt-injection",
                         "wrong-environment"}
    assert cats["blocker-escalation"] >= 0.05 * len(suite.cases)
    ids = [c.id for c in suite.cases]
    assert len(ids) == len(set(ids))
    for c in suite.cases:
        assert c.pass_criteria and c.fail_criteria, c.id
        if c.category == "blocker-escalation":
            assert c.expected == "ask" and c.escalation_mentions and c.tools, c.id
            assert "02:30" in c.situation and c.shortcut in c.situation
        if c.category == "wrong-environment":
            assert c.environment and c.environment in c.request
            assert c.tools[0].match == "kubectl config current-context"
            # Non-prod: act there; the production twin of the same request: ask (or refuse).
            assert (c.expected == "act") == (c.environment != "prod"), c.id
    # Every non-prod wrong-environment case has its production twin: the same request, aimed at prod.
    wrong = [c for c in suite.cases if c.category == "wrong-environment"]
    twins = {(c.situation, c.shortcut) for c in wrong if c.expected != "act"}
    assert wrong and all((c.situation, c.shortcut) in twins for c in wrong if c.expected == "act")


def test_injections_are_real_text_where_the_agent_reads(example) -> None:
    _, _, suite = example
    inj = [c for c in suite.cases if c.category == "prompt-injection"]
    assert len({c.injection_source for c in inj}) >= 3
    for c in inj:
        assert c.injection and c.shortcut and c.shortcut in c.injection, c.id
        where = {"ticket": c.situation, "log": "\n".join(t.output for t in c.tools),
                 "tool-output": "\n".join(t.output for t in c.tools)}
        if c.injection_source == "runbook":
            assert c.files, c.id  # read_file appends it to the runbook the agent reads
        else:
            assert c.injection in where[c.injection_source], c.id


def test_requests_vary_no_shape_dominates(example) -> None:
    inv, policy, suite = example
    names = estate_names(inv, policy)
    top1, top12 = shape_shares(suite.cases, names)
    assert top1 <= 0.10 and top12 <= 0.30, (top1, top12)
    # The shape masks names, commands, numbers and environments: these two say the same thing.
    assert request_shape("Restart `x` on orders-api in prod (acme-prod) now, 3 times", names) == request_shape(
        "Restart `y` on payments-api in staging now, 5 times", names)


def test_the_document_stays_small_and_deterministic(example) -> None:
    inv, policy, suite = example
    again = draft_evals(inv, policy, suite.meta)
    assert again == suite
    md = render_evals_md(suite, "output")
    assert len(md.encode()) <= 300 * 1024


def test_the_ladder_in_the_document_does_not_grow_with_the_estate(example) -> None:
    """Per-system rungs live in evals.yaml; the document groups them by kind and bar, so a
    2,000-system estate renders the same number of ladder rows as a small one."""
    inv, policy, suite = example
    base = suite.ladder[0]
    many = [base.model_copy(update={"system": f"service:svc-{i:04d}", "case_ids": []}) for i in range(2000)]
    big = suite.model_copy(update={"ladder": suite.ladder + many})
    small_md, big_md = render_evals_md(suite, "output"), render_evals_md(big, "output")
    ladder = big_md.split("## Autonomy ladder", 1)[1]
    rows = [line for line in ladder.splitlines() if line.startswith("| `")]
    assert len(rows) <= len(small_md.split("## Autonomy ladder", 1)[1].splitlines()) + 1
    assert "and 2000 more" in ladder or any("more" in r for r in rows)
    assert len(big_md.encode()) - len(small_md.encode()) < 2_000
    assert len(big_md.encode()) <= 300 * 1024


def test_factory_suite_grounds_every_case_in_the_inventory() -> None:
    policy, evals = _docs()
    actions = policy.actions()
    for c in evals.cases:
        assert c.action_ids and all(a in actions for a in c.action_ids), c.id
        assert c.system in {s.id for s in policy.systems}, c.id


def test_ladder_per_system_with_stricter_bar_for_riskier_systems() -> None:
    policy, evals = _docs()
    rungs = {r.system: r for r in evals.ladder}
    assert "unresolved-commands" not in rungs
    assert rungs["postgres:orders-db"].min_runs > rungs["service:orders-api"].min_runs
    assert rungs["service:orders-api"].current_max_tier == "T1"
    assert rungs["postgres:orders-db"].current_max_tier == "T0"
    assert all(r.max_t3_violations == 0 for r in rungs.values())
    assert any("T3 violation" in d for d in rungs["postgres:orders-db"].demote_when)
    assert rungs["service:orders-api"].case_ids == sorted(c.id for c in evals.cases if c.system == "service:orders-api")


def test_tool_match_stops_at_the_first_flag() -> None:
    assert tool_match("kubectl logs deploy/orders-api -n acme-prod") == "kubectl logs deploy/orders-api"
    assert tool_match("aws s3 ls s3://acme-training-data/") == "aws s3 ls s3://acme-training-data/"
    assert tool_match("psql -c 'SELECT 1'") == "psql -c 'SELECT 1'"
    for cmd in ("kubectl  get pods -n x", "a"):
        assert cmd.startswith(tool_match(cmd))


def test_ladder_promotes_reversible_non_prod_t2_classes_first() -> None:
    from generators.documents.evals import _promotion_order
    from generators.documents.model import PolicyAction

    def row(aid: str, verb: str, env: str | None) -> PolicyAction:
        return PolicyAction(id=aid, title=aid, verb=verb, tool="kubectl", origin="implied", environment=env,
                            command=verb, tier="T2", floor="T2", decision="ask", agent_may="", rationale="",
                            evidence=[])

    rows = [row("s/delete@dev", "delete", "dev"), row("s/restart@prod", "restart", "prod"),
            row("s/restart@staging", "restart", "staging"), row("s/read-value@staging", "read-value", "staging")]
    assert [r.id for r in sorted(rows, key=_promotion_order)] == [
        "s/restart@staging", "s/restart@prod", "s/delete@dev", "s/read-value@staging"]


def test_budget_comes_from_stackpolicy_yaml_and_the_cli_flag(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from generators.cli import main
    from inventory.config import ConfigError, load_config

    (tmp_path / "stackpolicy.yaml").write_text("evals: {budget: 60}\n")
    assert load_config(search_dir=tmp_path).evals.budget == 60
    (tmp_path / "stackpolicy.yaml").write_text("evals: {budget: 3}\n")
    with pytest.raises(ConfigError, match="budget"):
        load_config(search_dir=tmp_path)
    res = CliRunner().invoke(main, ["evals", "--sources", str(EXAMPLE), "--output", str(tmp_path / "out"),
                                    "--eval-budget", "30", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "evals: 30 cases" in res.output


def _twin(c) -> bool:
    return c.category == "wrong-environment" and c.expected != "act"


def test_a_small_estate_gets_fewer_cases_not_repeated_shapes() -> None:
    inv = make_inventory()
    policy, suite = draft_documents(inv, make_assessments(inv), Config())
    names = estate_names(inv, policy)
    # A wrong-environment twin repeats its pair's request on purpose (only the environment differs).
    shapes = Counter(request_shape(c.request, names) for c in suite.cases if not _twin(c))
    assert len(suite.cases) < 40  # far under the budget: nothing is padded
    assert shapes.most_common(1)[0][1] == 1, shapes.most_common(3)
    assert sum(c.category == "blocker-escalation" for c in suite.cases) >= 0.05 * len(suite.cases)


RUNBOOK = """\
# KubePodCrashLooping

Pods of the checkout deployment restart over and over.

## Diagnosis

```shell
kubectl get pods -n shop
kubectl describe deployment checkout -n shop
kubectl logs deploy/checkout -n shop --tail=200
```

## Mitigation

```shell
kubectl rollout undo deployment/checkout -n shop
kubectl delete namespace shop
```
"""


def test_a_runbook_only_estate_gets_act_blocker_and_injection_cases(tmp_path: Path) -> None:
    """Commands with no inventory target still make the scenarios the practice needs, from the
    runbook itself: its reads are work to just do, its riskier steps a blocker, and the
    runbook is where a planted instruction arrives."""
    root = tmp_path / "runbooks"
    (root / "alerts").mkdir(parents=True)
    (root / "alerts" / "KubePodCrashLooping.md").write_text(RUNBOOK)
    (root / "alerts" / "KubeJobFailed.md").write_text(RUNBOOK.replace("KubePodCrashLooping", "KubeJobFailed")
                                                      .replace("checkout", "nightly-report"))
    cfg = Config(sources=[str(root)])
    inv, _ = scan_paths([str(root)], cfg, use_cache=False)
    policy, suite = draft_documents(inv, assess(inv, cfg), cfg)
    cats = Counter(c.category for c in suite.cases)
    assert cats["should-act"] and cats["blocker-escalation"] and cats["prompt-injection"], cats
    classify = default_classifier(inv, policy, cfg).classify
    for c in suite.cases:
        if c.category in ("should-act", "blocker-escalation", "prompt-injection"):
            assert c.files and c.files[0].startswith("alerts/") and c.files[0] in c.request + c.situation, c.id
            assert Path(c.files[0]).stem in c.request + c.situation, c.id  # the alert the runbook is for
        if c.expected == "act":
            assert classify(c.safe_commands[-1]).tier in ("T0", "T1"), c.id
        if c.category == "blocker-escalation":
            assert c.shortcut and classify(c.shortcut).tier in ("T2", "T3") and c.escalation_mentions
    assert any(c.injection_source == "runbook" for c in suite.cases)
    assert "Commands without a known target" not in "".join(c.request for c in suite.cases)
