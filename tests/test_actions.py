"""Command sightings → action classes, implied actions per kind, and how the two merge."""

from __future__ import annotations

import pytest

from inventory import secrets
from inventory.actions import actions_from_commands, add_implied_actions, implied_table, render_template
from inventory.builder import InventoryBuilder
from inventory.commands.shell import parse_line
from inventory.commands.verbs import action_verb
from inventory.config import Config
from inventory.model import COMPONENT_KINDS, RESOURCE_KINDS, Component, Evidence, Resource, slug
from inventory.scanners.base import CommandSighting

EV = Evidence(path="k8s/base.yaml", line=3)


def make_builder() -> InventoryBuilder:
    b = InventoryBuilder()
    b.add_entity(Component(id="service:orders-api", kind="service", name="orders-api", namespace="acme-prod",
                           environments=["prod", "staging"], evidence=[EV]))
    b.add_entity(Component(id="cron-job:nightly-export", kind="cron-job", name="nightly-export",
                           namespace="acme-prod", environments=["prod"], evidence=[EV]))
    b.add_entity(Resource(id="kafka-topic:orders-events", kind="kafka-topic", name="orders-events",
                          namespace="kafka", evidence=[Evidence(path="kafka/topics.yaml", line=7)]))
    b.add_entity(Resource(id="postgres:orders-db", kind="postgres", name="orders-db", namespace="acme-prod",
                          environments=["prod"], evidence=[EV]))
    b.add_entity(Resource(id="redis:cache", kind="redis", name="cache", evidence=[EV]))
    b.add_entity(Resource(id="object-bucket:acme-training-data", kind="object-bucket", name="acme-training-data",
                          evidence=[EV]))
    b.add_entity(Resource(id="k8s-namespace:acme-staging", kind="k8s-namespace", name="acme-staging",
                          environments=["staging"], evidence=[EV]))
    return b


def sight(builder: InventoryBuilder, command: str, line: int = 1, env: str | None = None,
          path: str = "runbooks/ops.md", source_kind: str = "runbook") -> None:
    builder.commands.append(CommandSighting(command=command, evidence=Evidence(path=path, line=line),
                                            environment=env, source_kind=source_kind))


def ids(builder: InventoryBuilder) -> set[str]:
    return set(builder.actions)


def test_commands_resolve_to_entities_with_shared_verbs() -> None:
    b = make_builder()
    sight(b, "kafka-topics.sh --bootstrap-server b:9092 --delete --topic orders-events", 1)
    sight(b, "kubectl rollout restart deployment/orders-api -n acme-prod", 2)
    sight(b, "kubectl -n acme-staging scale deploy orders-api --replicas=0", 3)
    sight(b, "kubectl create job manual-1 --from=cronjob/nightly-export -n acme-prod", 4)
    sight(b, "kubectl delete namespace acme-staging", 5)
    sight(b, "kubectl exec -it orders-db-0 -n acme-prod -- psql -c 'SELECT 1'", 6)
    sight(b, "echo FLUSHALL | redis-cli -h cache.acme.internal", 7)
    sight(b, "aws s3 sync s3://acme-training-data ./out", 8)
    actions_from_commands(b, Config())
    assert {
        "kafka-topic:orders-events/delete",
        "service:orders-api/restart@prod",
        "service:orders-api/scale@staging",
        "cron-job:nightly-export/rerun",
        "k8s-namespace:acme-staging/delete",
        "postgres:orders-db/exec",
        "postgres:orders-db/query-read",
        "redis:cache/flush",
        "object-bucket:acme-training-data/copy-out",
    } <= ids(b)
    topic = b.actions["kafka-topic:orders-events/delete"]
    assert (topic.tool, topic.verb, topic.target, topic.target_name, topic.origin) == (
        "kafka-topics", "delete", "kafka-topic:orders-events", "orders-events", "command")
    assert topic.commands[0].evidence == Evidence(path="runbooks/ops.md", line=1)
    restart = b.actions["service:orders-api/restart@prod"]
    assert restart.environment == "prod" and restart.object_kind == "deployment"
    assert b.actions["postgres:orders-db/query-read"].sql_kind == "select"
    # Piping echo into redis-cli: the echo itself is not an action.
    assert not any(a.tool == "echo" for a in b.actions.values())


def test_interactive_shell_inside_exec_is_just_the_exec() -> None:
    b = make_builder()
    sight(b, "kubectl -n acme-prod exec -it orders-db-0 -- /bin/bash", 1)
    actions_from_commands(b, Config())
    assert ids(b) == {"postgres:orders-db/exec"}


def test_unresolved_commands_group_by_tool_verb_and_kind() -> None:
    # (In a runbook these would name the system they operate: see test_operated.py.)
    b = make_builder()
    sight(b, "kubectl delete namespace legacy", 1, path="ops/cleanup.sh", source_kind="script")
    sight(b, "kubectl delete namespace old-stuff", 2, path="ops/cleanup.sh", source_kind="script")
    sight(b, "kubectl -n acme-prod get pods", 3, path="ops/cleanup.sh", source_kind="script")
    sight(b, "terraform destroy -auto-approve", 4, env="staging", path="deploy/staging/ops.sh", source_kind="script")
    sight(b, "frobnicate --everything", 5)
    sight(b, "cd /tmp && grep -r x . | sort | head", 6)
    actions_from_commands(b, Config())
    assert ids(b) == {
        "cmd:kubectl/delete-namespace",
        "cmd:kubectl/list-pod@prod",
        "cmd:terraform/destroy@staging",
        "cmd:frobnicate/run",
    }
    ns = b.actions["cmd:kubectl/delete-namespace"]
    assert [c.command for c in ns.commands] == ["kubectl delete namespace legacy", "kubectl delete namespace old-stuff"]
    assert ns.command == "kubectl delete namespace legacy"
    assert ns.target is None and ns.target_name == "legacy"


def test_bypass_wrappers_still_become_actions() -> None:
    b = make_builder()
    sight(b, 'bash -c "kubectl delete ns acme-staging"', 1)
    sight(b, "sudo -u postgres psql -h orders-db -c 'DROP TABLE t'", 2)
    sight(b, "timeout 5 /usr/local/bin/kubectl delete kafkatopic orders-events -n kafka", 3)
    actions_from_commands(b, Config())
    assert {"k8s-namespace:acme-staging/delete", "postgres:orders-db/drop", "kafka-topic:orders-events/delete"} <= ids(b)
    assert b.actions["postgres:orders-db/drop"].sql_kind == "drop"


def test_secret_values_never_reach_action_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    b = make_builder()
    sight(b, "redis-cli -h cache -a hunter2 CONFIG SET maxmemory 1gb", 1)
    sight(b, "helm upgrade orders-api charts/x --set db.password=hunter2 -n acme-prod", 2)
    sight(b, "curl -u admin:hunter2 -X POST https://orders-api.acme-prod.svc/admin/reindex", 3)
    actions_from_commands(b, Config())
    flags_only = str([a.flags for a in b.actions.values()])
    assert "hunter2" not in flags_only
    assert b.actions["redis:cache/config-set"].flags["auth"] is True
    assert "service:orders-api/http-post" in b.actions or "service:orders-api/http-post@prod" in b.actions
    # Targets are cleaned too (URL credentials dropped); the command text itself is
    # redacted upstream by the scanners (inventory.secrets.redact_text).
    assert all("hunter2" not in str(a.target_name) for a in b.actions.values())


def test_redacted_placeholder_does_not_break_parsing() -> None:
    b = make_builder()
    sight(b, f"redis-cli -h cache -a {secrets.REDACTED} FLUSHALL", 1)
    actions_from_commands(b, Config())
    assert "redis:cache/flush" in b.actions
    assert b.actions["redis:cache/flush"].command == f"redis-cli -h cache -a {secrets.REDACTED} FLUSHALL"


def test_implied_actions_per_kind_and_environment() -> None:
    b = make_builder()
    add_implied_actions(b, Config())
    svc = [a for a in b.actions if a.startswith("service:orders-api/")]
    assert "service:orders-api/restart@prod" in svc and "service:orders-api/restart@staging" in svc
    assert "service:orders-api/restart" not in svc  # multi-environment: suffixed only
    assert len(svc) == 2 * len(implied_table()["service"])
    restart = b.actions["service:orders-api/restart@prod"]
    assert restart.origin == "implied"
    assert restart.command == "kubectl rollout restart deployment/orders-api -n acme-prod"
    assert restart.environment == "prod" and restart.target == "service:orders-api"
    assert restart.evidence == [EV]
    # Single environment: no suffix, environment still recorded.
    rerun = b.actions["cron-job:nightly-export/rerun"]
    assert rerun.environment == "prod"
    assert rerun.command == "kubectl create job nightly-export-manual-<n> --from=cronjob/nightly-export -n acme-prod"
    topic_ids = {a for a in b.actions if a.startswith("kafka-topic:")}
    assert topic_ids == {f"kafka-topic:orders-events/{v}" for v in
                         ("describe", "consume", "produce", "reset-offsets", "alter-config", "delete")}
    assert b.actions["kafka-topic:orders-events/delete"].evidence == [Evidence(path="kafka/topics.yaml", line=7)]


def test_runbook_sighting_merges_with_implied_action() -> None:
    b = make_builder()
    sight(b, "kubectl rollout restart deployment/orders-api -n acme-prod", 9)
    sight(b, "kafka-topics --bootstrap-server b:9092 --delete --topic orders-events", 10)
    actions_from_commands(b, Config())
    n_before = len(b.actions)
    add_implied_actions(b, Config())
    restart = b.actions["service:orders-api/restart@prod"]
    assert restart.origin == "command"
    assert restart.command == "kubectl rollout restart deployment/orders-api -n acme-prod"
    assert restart.description == "Restart all pods (rolling)"
    assert [c.evidence.line for c in restart.commands] == [9]
    # No duplicate class was created for the same operation.
    assert len([a for a in b.actions if a.startswith("kafka-topic:orders-events/delete")]) == 1
    assert len(b.actions) > n_before


def test_actions_share_one_set_of_their_fields_that_an_assignment_leaves_alone() -> None:
    """Every action (and command reference) made by the actions step counts all its fields as
    set, through one shared set (as a stored inventory's loader does): an assignment on one,
    such as the implied description a command's action gains, changes no other's."""
    from inventory.model import Action, CommandRef

    b = make_builder()
    sight(b, "kubectl rollout restart deployment/orders-api -n acme-prod", 9)
    sight(b, "kubectl rollout restart deployment/orders-api -n acme-prod", 12)
    actions_from_commands(b, Config())
    add_implied_actions(b, Config())
    restart = b.actions["service:orders-api/restart@prod"]
    assert restart.description and len(restart.commands) == 2
    sets = {id(a.__pydantic_fields_set__) for a in b.actions.values()}
    assert len(sets) == 1 and len(b.actions) > 1
    assert restart.model_fields_set == set(Action.model_fields)
    assert all(c.model_fields_set == set(CommandRef.model_fields) for c in restart.commands)
    restart.description = "changed"
    assert all(a.model_fields_set == set(Action.model_fields) for a in b.actions.values())


def test_implied_first_then_command_also_merges() -> None:
    b = make_builder()
    add_implied_actions(b, Config())
    sight(b, "kubectl -n kafka delete kafkatopic orders-events", 4)
    actions_from_commands(b, Config())
    topic = b.actions["kafka-topic:orders-events/delete"]
    assert topic.origin == "command" and topic.tool == "kubectl"
    assert topic.command == "kubectl -n kafka delete kafkatopic orders-events"


def test_implied_table_covers_every_kind_with_slug_verbs() -> None:
    table = implied_table()
    assert "other" in table
    for kind in (*COMPONENT_KINDS, *RESOURCE_KINDS):
        entries = table.get(kind, table["other"])
        verbs = [e["verb"] for e in entries]
        assert verbs and len(verbs) == len(set(verbs)), kind
        assert all(slug(v) == v for v in verbs), kind
    for key, entries in table.items():
        for e in entries:
            assert e.get("description"), key
            cmd = str(e.get("command", ""))
            # A real command in a real tool, or none at all with the reason in words.
            assert (cmd and e.get("tool")) or "no single command" in e["description"], (key, e)
            assert not cmd.lstrip().startswith("<"), (key, cmd)  # never a <pseudo-command>


@pytest.mark.parametrize(
    "kind,line",
    [
        ("service", "kubectl describe deploy/x"),
        ("service", "kubectl logs deploy/x"),
        ("service", "kubectl rollout restart deploy/x"),
        ("service", "kubectl scale deploy/x --replicas=2"),
        ("service", "helm upgrade x charts/x"),
        ("service", "kubectl rollout undo deploy/x"),
        ("service", "kubectl exec -it deploy/x -- sh"),
        ("service", "kubectl delete deploy x"),
        ("cron-job", "kubectl create job y --from=cronjob/x"),
        ("cron-job", "kubectl patch cronjob x -p '{\"spec\":{\"suspend\":true}}'"),
        ("postgres", "psql -c 'SELECT 1'"),
        ("postgres", "psql -c 'UPDATE t SET a=1'"),
        ("postgres", "psql -f migrate.sql"),
        ("postgres", "pg_dump -d x"),
        ("postgres", "patronictl failover x"),
        ("postgres", "psql -c 'DROP TABLE t'"),
        ("postgres", "psql -c 'TRUNCATE t'"),
        ("postgres", "psql -c 'GRANT SELECT ON t TO u'"),
        ("kafka-topic", "kafka-topics --describe --topic x"),
        ("kafka-topic", "kafka-console-consumer --topic x"),
        ("kafka-topic", "kafka-console-producer --topic x"),
        ("kafka-topic", "kafka-consumer-groups --group g --topic x --reset-offsets --to-earliest --execute"),
        ("kafka-topic", "kafka-configs --entity-type topics --entity-name x --alter --add-config a=b"),
        ("kafka-topic", "kafka-topics --delete --topic x"),
        ("kafka-user", "kafka-acls --add --allow-principal User:x --topic t"),
        ("redis", "redis-cli GET k"),
        ("redis", "redis-cli FLUSHALL"),
        ("redis", "redis-cli CONFIG SET maxmemory 1gb"),
        ("object-bucket", "aws s3 ls s3://x"),
        ("object-bucket", "aws s3 cp ./f s3://x/f"),
        ("object-bucket", "aws s3 sync s3://x ./d"),
        ("object-bucket", "aws s3api put-bucket-acl --bucket x --acl public-read"),
        ("object-bucket", "aws s3 rb s3://x"),
        ("k8s-namespace", "kubectl delete ns x"),
        ("secret", "kubectl get secret x -o yaml"),
        ("secret", "kubectl get secrets"),
        ("secret", "kubectl delete secret x"),
        ("iam", "aws iam attach-role-policy --role-name x --policy-arn p"),
        ("iam", "aws iam detach-role-policy --role-name x --policy-arn p"),
        ("kms-key", "aws kms disable-key --key-id x"),
        ("kms-key", "aws kms schedule-key-deletion --key-id x"),
        ("dns", "aws route53 change-resource-record-sets --hosted-zone-id z --change-batch file://c.json"),
    ],
)
def test_command_verbs_line_up_with_implied_vocabulary(kind: str, line: str) -> None:
    verbs = {e["verb"] for e in implied_table()[kind]}
    pc = parse_line(line).commands[0]
    assert action_verb(pc) in verbs, (line, action_verb(pc), sorted(verbs))


def test_render_template_handles_missing_namespace_and_bad_templates() -> None:
    ent = Resource(id="redis:cache", kind="redis", name="cache", evidence=[EV])
    assert render_template("kubectl get svc/{name}{ns_flag}", ent) == "kubectl get svc/cache"
    assert render_template("x {namespace} {unknown}", ent) == "x <namespace> <unknown>"
    assert render_template("broken {", ent) == "broken {"


def test_unparseable_sighting_is_a_warning_not_a_crash() -> None:
    b = make_builder()
    sight(b, "'", 3)
    sight(b, "kubectl delete ns 'x", 4)
    actions_from_commands(b, Config())
    assert "cmd:kubectl/delete-namespace" in b.actions


def test_terraform_targeted_destroy_resolves_through_resource_type() -> None:
    b = make_builder()
    b.add_entity(Resource(id="postgres:orders", kind="postgres", name="orders", subtype="aws_db_instance",
                          evidence=[EV]))
    sight(b, "terraform destroy -target=module.db.aws_db_instance.orders -auto-approve", 1)
    sight(b, "terraform destroy -target=aws_elasticache_replication_group.cache", 2)
    sight(b, "terraform destroy -target=aws_s3_bucket.unknown", 3)
    actions_from_commands(b, Config())
    assert {"postgres:orders/drop", "redis:cache/delete", "cmd:terraform/delete-resource"} <= ids(b)
    assert b.actions["postgres:orders/drop"].flags["auto-approve"] is True


def test_s3_verbs_match_what_the_command_does() -> None:
    from inventory.commands.shell import parse_line
    from inventory.commands.verbs import action_verb

    def verb(line: str) -> str:
        return action_verb(parse_line(line).commands[0])

    assert verb("aws s3 cp s3://acme-training-data/x -") == "read"  # printed, not exported
    assert verb("aws s3 cp --recursive s3://acme-training-data/ -") == "copy-out"
    assert verb("aws s3 cp - s3://acme-training-data/x") == "write"
    assert verb("aws s3 cp s3://acme-training-data/x ./x") == "copy-out"
    assert verb("aws s3 presign s3://acme-training-data/x") == "copy-out"  # anyone with the URL reads it


def test_implied_actions_follow_the_subtype() -> None:
    """A Kubernetes Role gets kubectl examples, an AWS role keeps the aws ones."""
    from inventory.actions import implied_entries, implied_table, render_template
    from inventory.model import Evidence, Resource

    ev = [Evidence(path="k8s/rbac.yaml", line=3)]
    role = Resource(id="iam:role-exporter", kind="iam", name="exporter", subtype="k8s-role", namespace="acme-prod",
                    evidence=ev)
    aws = Resource(id="iam:role-exporter-aws", kind="iam", name="exporter", subtype="aws_iam_role", evidence=ev)
    table = implied_table()
    k8s = {e["verb"]: render_template(e["command"], role) for e in implied_entries(table, role)}
    assert k8s["read"] == "kubectl get role/exporter -n acme-prod -o yaml"
    assert k8s["revoke"] == "kubectl delete role/exporter -n acme-prod"
    named = role.model_copy(update={"name": "role/exporter"})  # the scanner's own naming
    assert render_template(implied_entries(table, named)[0]["command"], named) == \
        "kubectl get role/exporter -n acme-prod -o yaml"
    plain = {e["verb"]: render_template(e["command"], aws) for e in implied_entries(table, aws)}
    assert plain["read"].startswith("aws iam ")
    assert set(k8s) == set(plain)  # same action classes, so tiers and ids line up


def test_actions_built_without_validation_are_valid_models() -> None:
    """Command and implied actions are made without pydantic validating them again: each one
    must be exactly what validating its own fields gives (types, defaults, field order)."""
    from inventory.model import Action

    b = make_builder()
    sight(b, "kubectl -n acme-prod rollout restart deployment/orders-api", line=1)
    sight(b, "kubectl delete namespace acme-staging --context prod-cluster", line=2)
    sight(b, "psql -h orders-db -U app -c 'DROP TABLE x'", line=3, source_kind="script", path="scripts/x.sh")
    sight(b, "kubectl rollout restart deploy/a deploy/b -n acme-prod", line=4)
    actions_from_commands(b, Config())
    add_implied_actions(b, Config())
    origins = {a.origin for a in b.actions.values()}
    assert origins >= {"command", "implied"}
    for action in b.actions.values():
        again = Action.model_validate(action.model_dump())
        assert again == action
        assert list(action.__dict__) == list(Action.model_fields)
        assert action.model_dump_json() == again.model_dump_json()
