"""The offline policy drafter."""

from __future__ import annotations

from generators.documents.model import DocumentMeta
from generators.documents.policy import draft_policy, is_runbook_path
from generators.documents.systems import UNRESOLVED_SYSTEM_ID
from generators.documents.tiers import tier_definitions_for
from generators.pipeline import draft_documents
from generators.risk.model import tier_index
from inventory.config import Config
from inventory.model import Fact
from tests.factories import assert_grounded, ev, make_assessments, make_inventory


def _policy(inv=None, assessments=None):
    inv = inv or make_inventory()
    meta = DocumentMeta(generator_version="0.1.0", inventory_digest=inv.digest())
    return draft_policy(inv, make_assessments(inv) if assessments is None else assessments,
                        tier_definitions_for(None), meta)


def test_policy_is_grounded_in_the_inventory() -> None:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    assert_grounded(inv, policy, evals)


def test_rows_sorted_by_tier_then_id_and_tiers_are_the_floor() -> None:
    policy = _policy()
    assessments = make_assessments()
    for s in policy.systems:
        keys = [(tier_index(a.tier), a.id) for a in s.actions]
        assert keys == sorted(keys), s.id
        for a in s.actions:
            assert a.tier == a.floor == assessments[a.id].tier
            assert a.rationale == assessments[a.id].rationale
    events = next(s for s in policy.systems if s.id == "kafka-cluster:events")
    assert [a.tier for a in events.actions] == ["T0", "T2", "T3"]
    assert events.highest_tier == "T3"


def test_approvers_come_from_owners_and_agent_may_names_them() -> None:
    rows = _policy().actions()
    restart = rows["service:orders-api/restart@prod"]
    assert restart.approver == "team-orders"
    assert "team-orders approves" in restart.agent_may
    assert rows["service:orders-api/logs"].approver is None  # T0: nobody approves reads
    assert rows["postgres:orders-db/drop"].decision == "deny"


def test_unresolved_commands_have_their_own_section() -> None:
    policy = _policy()
    last = policy.systems[-1]
    assert last.id == UNRESOLVED_SYSTEM_ID
    assert [a.id for a in last.actions] == ["cmd:helm/unknown"]


def test_unassessed_action_is_held_at_t2_and_asked_about() -> None:
    inv = make_inventory()
    assessments = make_assessments(inv)
    del assessments["service:orders-api/logs"]
    policy = _policy(inv, assessments)
    row = policy.actions()["service:orders-api/logs"]
    assert row.tier == "T2" and row.decision == "ask"
    q = next(q for q in policy.questions if q.id == "unassessed")
    assert "service:orders-api/logs" in q.question and q.systems == ["service:orders-api"]


def test_questions_cover_unknown_env_unparsed_runbook_t3_and_conflicts() -> None:
    inv = make_inventory()
    # payments-api: two files disagree on its environment and its actions are not split per env.
    pay = next(c for c in inv.components if c.name == "payments-api")
    pay.facts = [Fact(name="environment", value="prod", evidence=[ev("k8s/overlays/prod/kustomization.yaml", 3)]),
                 Fact(name="environment", value="staging", evidence=[ev("k8s/base/payments-api.yaml", 4)])]
    for a in inv.actions:
        if a.target == "service:payments-api":
            a.environment = None
    questions = {q.id: q for q in _policy(inv).questions}
    # One question per distinct uncertainty, each listing what its answer settles.
    assert set(questions) == {"unknown-environment", "unparsed-command", "runbook-t3", "conflicting-environment",
                              "no-approver"}
    assert "legacy-reporter" in questions["unknown-environment"].question
    assert "service:legacy-reporter" in questions["unknown-environment"].systems
    assert "helm" in questions["unparsed-command"].question
    rb = questions["runbook-t3"]
    assert len(rb.class_ids) == 2 and all(cid in policy_classes(inv) for cid in rb.class_ids)
    assert rb.systems == ["kafka-cluster:events", "postgres:orders-db"]
    # A T3 action seen only in a script is not a runbook question.
    assert "acme-order-exports" not in rb.question
    conflict = questions["conflicting-environment"]
    assert "`payments-api` (prod, staging)" in conflict.question
    # orders-api is in prod and staging too, but its actions are split per environment.
    assert "`orders-api`" not in conflict.question
    # Ordered by blast radius: nothing below is worth more than anything above.
    blasts = [q.blast for q in _policy(inv).questions]
    assert blasts == sorted(blasts, reverse=True)


def policy_classes(inv) -> set[str]:
    return {c.id for c in _policy(inv).table.classes}


def test_summary_counts_and_offline_statement() -> None:
    policy = _policy()
    text = "\n".join(policy.summary)
    counts = {t: sum(c.tier == t for c in policy.table.classes) for t in ("T0", "T1", "T2", "T3")}
    assert f"15 actions were found" in text and f"{len(policy.table.classes)} action classes" in text
    assert (f"{counts['T0']} T0 (observe), {counts['T1']} T1 (operate), {counts['T2']} T2 (change), "
            f"{counts['T3']} T3 (forbidden)") in text
    assert f"{len(policy.table.exceptions)} targets are exceptions" in text
    assert "offline" in text
    assert {r.id for r in policy.rules} >= {"rate-limits", "audit-logging", "change-windows", "break-glass",
                                            "unknown-actions"}


def test_tier_renames_from_config_reach_the_document() -> None:
    cfg = Config(tiers={"T3": {"name": "never"}})
    inv = make_inventory()
    policy, _ = draft_documents(inv, make_assessments(inv), cfg)
    assert policy.tiers[3].name == "never"
    assert "T3 (never)" in "\n".join(policy.summary)
    assert next(r for r in policy.rules if r.id == "break-glass").text.startswith("T3 (never)")


def test_runbook_paths() -> None:
    assert is_runbook_path("runbooks/kafka.md")
    assert is_runbook_path("docs/ops/restart.md")
    assert not is_runbook_path("scripts/export.sh")
    assert not is_runbook_path("k8s/base/orders-api.yaml")


def test_titles_name_the_target_environment_and_api_operation() -> None:
    from generators.documents.policy import action_title
    from inventory.model import Action

    inv = make_inventory()
    ents = inv.entities()
    restart = next(a for a in inv.actions if a.id == "service:orders-api/restart@prod")
    assert action_title(restart, ents) == "restart orders-api in prod"
    api = Action(id="service:orders-api/post-admin-refund", verb="post", tool="http", target="service:orders-api",
                 command="POST /admin/orders/{id}/refund", origin="openapi", evidence=[ev("api/admin.yaml", 44)])
    assert action_title(api, ents) == "POST /admin/orders/{id}/refund on orders-api"
    unknown = next(a for a in inv.actions if a.id == "cmd:helm/unknown")
    assert action_title(unknown, ents) == "unrecognised helm command on cleanup"


def test_summary_names_the_systems_with_forbidden_actions() -> None:
    text = "\n".join(_policy().summary)
    assert "3 systems have forbidden (T3) actions; the most: events (1), acme-order-exports (1), orders-db (1)." in text


def _with_dev_and_access():  # -> (Inventory, assessments)
    from generators.risk.model import Assessment
    from inventory.model import Action, Edge, Resource

    inv = make_inventory()
    dev = [ev("docker-compose.yml", 5)]
    inv.resources.append(Resource(id="postgres:postgres", kind="postgres", name="postgres", environments=["dev"],
                                  evidence=dev))
    inv.resources.append(Resource(id="iam:serviceaccount-training-data-export", kind="iam",
                                  name="serviceaccount/training-data-export", environments=["prod"],
                                  attributes={"grants_access_to": ["training-data"]},
                                  evidence=[ev("k8s/base/rbac.yaml", 3)]))
    inv.edges.append(Edge(source="cron-job:training-data-export", target="iam:serviceaccount-training-data-export",
                          evidence=[ev("k8s/base/training-data-export.yaml", 12)]))
    extra = [("postgres:postgres/drop", "drop", "postgres:postgres", None, "T3", dev),
             ("iam:serviceaccount-training-data-export/grant@prod", "grant",
              "iam:serviceaccount-training-data-export", "prod", "T3", [ev("k8s/base/rbac.yaml", 3)])]
    assessments = make_assessments(inv)
    for aid, verb, target, env, tier, evs in extra:
        inv.actions.append(Action(id=aid, verb=verb, tool="psql", target=target, environment=env,
                                  command=f"{verb} it", origin="implied", evidence=evs))
        assessments[aid] = Assessment(action_id=aid, tier=tier, verb_class=verb, rationale=f"{tier}: {verb}",
                                      deciding=["verb_class"], factors=[])
    inv.actions.sort(key=lambda a: a.id)
    return inv, assessments


def test_local_dev_and_access_systems_are_grounded_and_dev_stays_out_of_the_t3_summary() -> None:
    inv, assessments = _with_dev_and_access()
    policy, evals = draft_documents(inv, assessments, Config())
    assert_grounded(inv, policy, evals)
    by_id = {s.id: s for s in policy.systems}
    local = by_id["local-dev"]
    assert local.kind == "local-dev" and local.resources == ["postgres:postgres"]
    assert "exist only in local development" in local.summary
    access = by_id["access:training-data-export"]
    assert access.name == "training-data-export access (IAM/RBAC)" and access.highest_tier == "T3"
    assert "grants access to training-data data" in access.summary
    t3_line = next(line for line in policy.summary if "forbidden (T3) actions" in line)
    assert "training-data-export access" in t3_line and "Local development" not in t3_line
    assert "postgres:postgres/drop" not in " ".join(policy.summary)
    assert any(line.startswith("Local development (postgres) is dev-only") for line in policy.summary)
    assert policy.summary[0].startswith(f"{len(policy.systems) - 2} systems (plus local development: 1 ")


def test_one_environment_question_per_system_names_its_members() -> None:
    inv = make_inventory()
    for r in inv.resources:
        if r.id in ("kafka-cluster:events", "kafka-topic:orders-events", "kafka-topic:payments-events"):
            r.environments, r.facts = [], [f for f in r.facts if f.name != "environment"]
    for a in inv.actions:
        if a.target in ("kafka-cluster:events", "kafka-topic:orders-events", "kafka-topic:payments-events"):
            a.environment = None
    policy = _policy(inv)
    env_qs = [q for q in policy.questions if q.id.startswith("unknown-environment")]
    # One question for the whole estate, naming each system once (a cluster with its topics is one).
    assert [q.id for q in env_qs] == ["unknown-environment"]
    q = env_qs[0]
    assert q.systems.count("kafka-cluster:events") == 1 and "`events`" in q.question
    # It says how to settle it: the stackpolicy.yaml lines.
    assert q.settle and "overrides:" in q.settle and "kafka-topic:orders-events: {environment: prod}" in q.settle
