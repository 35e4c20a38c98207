"""Small, hand-built inventories and assessments for document tests.

They mirror the bundled acme example closely enough (names, kinds, edges, runbooks) that the
drafters exercise every branch, without depending on the scanners or the risk model.
"""

from __future__ import annotations

from generators.risk.model import Assessment, Factor, Tier
from inventory.model import Action, CommandRef, Component, Edge, Evidence, Fact, Inventory, Resource

SOURCE = "examples/acme-platform"


def ev(path: str, line: int = 1) -> Evidence:
    return Evidence(path=path, line=line)


def _env_fact(env: str, path: str, line: int = 1) -> Fact:
    return Fact(name="environment", value=env, evidence=[ev(path, line)])


def make_inventory() -> Inventory:
    """An acme-like inventory: two services, a cron job, Kafka, a database, two buckets, runbooks."""
    components = [
        Component(
            id="service:orders-api", kind="service", name="orders-api", namespace="acme-prod",
            environments=["prod", "staging"], owners=["team-orders"], replicas=3,
            facts=[_env_fact("prod", "k8s/overlays/prod/kustomization.yaml", 3),
                   _env_fact("staging", "k8s/overlays/staging/kustomization.yaml", 3)],
            evidence=[ev("k8s/base/orders-api.yaml", 1)],
        ),
        Component(
            id="service:payments-api", kind="service", name="payments-api", namespace="acme-prod",
            environments=["prod"], owners=["team-payments"], data_classes=["payments"],
            evidence=[ev("k8s/base/payments-api.yaml", 1)],
        ),
        Component(
            id="cron-job:training-data-export", kind="cron-job", name="training-data-export",
            namespace="acme-prod", environments=["prod"], owners=["team-ml"],
            evidence=[ev("k8s/base/training-data-export.yaml", 1)],
        ),
        Component(
            id="service:legacy-reporter", kind="service", name="legacy-reporter",
            evidence=[ev("scripts/legacy.sh", 2)],
        ),
    ]
    resources = [
        Resource(id="kafka-cluster:events", kind="kafka-cluster", name="events", subtype="strimzi",
                 namespace="acme-prod", environments=["prod"], stateful=True,
                 evidence=[ev("k8s/kafka/kafka-cluster.yaml", 2)]),
        Resource(id="kafka-topic:orders-events", kind="kafka-topic", name="orders-events",
                 labels={"strimzi.io/cluster": "events"}, environments=["prod"],
                 evidence=[ev("k8s/kafka/topics.yaml", 2)]),
        Resource(id="kafka-topic:payments-events", kind="kafka-topic", name="payments-events",
                 labels={"strimzi.io/cluster": "events"}, environments=["prod"], data_classes=["payments"],
                 evidence=[ev("k8s/kafka/topics.yaml", 14)]),
        Resource(id="postgres:orders-db", kind="postgres", name="orders-db", namespace="acme-prod",
                 environments=["prod"], stateful=True, data_classes=["customer"], owners=["team-orders"],
                 evidence=[ev("k8s/base/orders-db.yaml", 1)]),
        Resource(id="object-bucket:acme-training-data", kind="object-bucket", name="acme-training-data",
                 environments=["prod"], data_classes=["training-data"],
                 evidence=[ev("terraform/envs/prod/s3.tf", 1)]),
        Resource(id="object-bucket:acme-order-exports", kind="object-bucket", name="acme-order-exports",
                 environments=["prod"], data_classes=["customer"],
                 evidence=[ev("terraform/envs/prod/s3.tf", 20)]),
        Resource(id="volume:orders-api-cache", kind="volume", name="orders-api-cache",
                 evidence=[ev("k8s/base/orders-api.yaml", 40)]),
    ]
    edges = [
        Edge(source="service:orders-api", target="postgres:orders-db", via="DATABASE_URL",
             evidence=[ev("k8s/base/orders-api.yaml", 30)]),
        Edge(source="service:orders-api", target="kafka-topic:orders-events", kind="produces",
             evidence=[ev("k8s/base/orders-api.yaml", 32)]),
        Edge(source="service:orders-api", target="volume:orders-api-cache", kind="depends-on",
             evidence=[ev("k8s/base/orders-api.yaml", 40)]),
        Edge(source="service:payments-api", target="kafka-topic:payments-events", kind="produces",
             evidence=[ev("k8s/base/payments-api.yaml", 28)]),
        Edge(source="cron-job:training-data-export", target="object-bucket:acme-training-data", kind="writes",
             evidence=[ev("k8s/base/training-data-export.yaml", 25)]),
        Edge(source="cron-job:training-data-export", target="postgres:orders-db", kind="reads",
             evidence=[ev("k8s/base/training-data-export.yaml", 22)]),
    ]

    def act(aid: str, verb: str, tool: str, target: str | None, command: str, origin: str,
            evidence: list[Evidence], environment: str | None = None, target_name: str | None = None) -> Action:
        refs = [CommandRef(command=command, evidence=e) for e in evidence] if origin == "command" else []
        return Action(id=aid, verb=verb, tool=tool, target=target, target_name=target_name, command=command,
                      origin=origin, environment=environment, commands=refs, evidence=evidence)  # type: ignore[arg-type]

    actions = [
        act("service:orders-api/logs", "logs", "kubectl", "service:orders-api",
            "kubectl logs deploy/orders-api -n acme-prod", "command", [ev("runbooks/orders-api.md", 10)]),
        act("service:orders-api/restart@staging", "restart", "kubectl", "service:orders-api",
            "kubectl rollout restart deploy/orders-api -n acme-staging", "implied",
            [ev("k8s/base/orders-api.yaml", 1)], environment="staging"),
        act("service:orders-api/restart@prod", "restart", "kubectl", "service:orders-api",
            "kubectl rollout restart deploy/orders-api -n acme-prod", "command",
            [ev("runbooks/orders-api.md", 20)], environment="prod"),
        act("service:payments-api/rollback@prod", "rollback", "kubectl", "service:payments-api",
            "kubectl rollout undo deploy/payments-api -n acme-prod", "command",
            [ev("runbooks/payments-rollback.md", 8)], environment="prod"),
        act("cron-job:training-data-export/logs", "logs", "kubectl", "cron-job:training-data-export",
            "kubectl logs job/training-data-export -n acme-prod", "implied",
            [ev("k8s/base/training-data-export.yaml", 1)]),
        act("cron-job:training-data-export/rerun", "rerun", "kubectl", "cron-job:training-data-export",
            "kubectl create job --from=cronjob/training-data-export manual-run -n acme-prod", "command",
            [ev("runbooks/training-export.md", 15)]),
        act("kafka-topic:orders-events/delete", "delete", "kafka-topics", "kafka-topic:orders-events",
            "kafka-topics --delete --topic orders-events", "command", [ev("runbooks/kafka-maintenance.md", 31)]),
        act("kafka-topic:orders-events/reset-offsets", "reset-offsets", "kafka-consumer-groups",
            "kafka-topic:orders-events", "kafka-consumer-groups --reset-offsets --to-earliest --topic orders-events",
            "command", [ev("runbooks/kafka-maintenance.md", 22)]),
        act("kafka-topic:payments-events/describe", "describe", "kafka-topics", "kafka-topic:payments-events",
            "kafka-topics --describe --topic payments-events", "implied", [ev("k8s/kafka/topics.yaml", 14)]),
        act("postgres:orders-db/select", "query-read", "psql", "postgres:orders-db",
            "psql -c 'SELECT count(*) FROM orders'", "command", [ev("runbooks/orders-api.md", 40)]),
        act("postgres:orders-db/drop", "drop", "psql", "postgres:orders-db",
            "psql -c 'DROP TABLE orders_archive'", "command", [ev("runbooks/db-cleanup.md", 12)]),
        act("object-bucket:acme-training-data/list", "list", "aws", "object-bucket:acme-training-data",
            "aws s3 ls s3://acme-training-data/", "implied", [ev("terraform/envs/prod/s3.tf", 1)]),
        act("object-bucket:acme-order-exports/sync", "write", "aws", "object-bucket:acme-order-exports",
            "aws s3 sync ./export s3://acme-order-exports/", "command", [ev("scripts/export.sh", 7)]),
        act("service:legacy-reporter/restart", "restart", "kubectl", "service:legacy-reporter",
            "kubectl rollout restart deploy/legacy-reporter", "implied", [ev("scripts/legacy.sh", 2)]),
        act("cmd:helm/unknown", "unknown", "helm", None, "helm plugin run cleanup | tee out.txt", "command",
            [ev("scripts/legacy.sh", 9)], target_name="cleanup"),
    ]
    return Inventory(sources=[SOURCE], components=components, resources=resources, edges=edges,
                     actions=actions)


_TIERS: dict[str, tuple[Tier, str, str]] = {
    # action id: (tier, verb class, rationale)
    "service:orders-api/logs": ("T0", "read", "read-only: logs change nothing"),
    "service:orders-api/restart@staging": ("T1", "mutate", "bounded and reversible outside prod"),
    "service:orders-api/restart@prod": ("T2", "mutate", "environment prod: a restart drops in-flight requests"),
    "service:payments-api/rollback@prod": ("T2", "mutate", "deploy/rollback in prod needs approval"),
    "cron-job:training-data-export/logs": ("T0", "read", "read-only"),
    "cron-job:training-data-export/rerun": ("T1", "mutate", "rerun of an idempotent job"),
    "kafka-topic:orders-events/delete": ("T3", "delete", "irreversible delete of shared infrastructure"),
    "kafka-topic:orders-events/reset-offsets": ("T2", "mutate", "consumers reprocess or skip events"),
    "kafka-topic:payments-events/describe": ("T0", "read", "read-only"),
    "postgres:orders-db/select": ("T0", "read", "SELECT reads only"),
    "postgres:orders-db/drop": ("T3", "delete", "drop table | irreversible, customer data"),
    "object-bucket:acme-training-data/list": ("T0", "read", "read-only"),
    "object-bucket:acme-order-exports/sync": ("T3", "export", "bulk copy of customer data"),
    "service:legacy-reporter/restart": ("T2", "mutate", "unknown environment counts as prod"),
    "cmd:helm/unknown": ("T2", "unknown", "unknown command: assumed to change something"),
}


def make_assessments(inv: Inventory | None = None) -> dict[str, Assessment]:
    """Assessments for :func:`make_inventory`'s actions (the risk model's shape, fixed tiers)."""
    inv = inv or make_inventory()
    out: dict[str, Assessment] = {}
    for a in inv.actions:
        tier, verb_class, why = _TIERS[a.id]
        out[a.id] = Assessment(
            action_id=a.id, tier=tier, verb_class=verb_class,
            factors=[Factor(name="verb_class", value=verb_class, tier=tier, reason=why, evidence=a.evidence[:1])],
            deciding=["verb_class"], rationale=why,
        )
    return out


def assert_grounded(inv: Inventory, policy, evals) -> None:  # noqa: ANN001 - Policy, EvalSuite
    """Every system, action and evidence item the documents name exists in ``inv``."""
    from generators.documents.systems import ACCESS_KIND, LOCAL_DEV_SYSTEM_ID, UNRESOLVED_SYSTEM_ID

    entities = inv.entities()
    actions = {a.id: a for a in inv.actions}
    known_ev = {e for ent in entities.values() for e in ent.evidence}
    known_ev |= {e for ent in entities.values() for f in ent.facts for e in f.evidence}
    known_ev |= {e for a in inv.actions for e in a.evidence} | {c.evidence for a in inv.actions for c in a.commands}
    known_ev |= {e for edge in inv.edges for e in edge.evidence}
    system_ids = {s.id for s in policy.systems}
    for s in policy.systems:
        # A group system (access, local dev) has no entity of its own: its members ground it.
        grouped = s.id == LOCAL_DEV_SYSTEM_ID or s.id.startswith(ACCESS_KIND + ":")
        assert s.id == UNRESOLVED_SYSTEM_ID or s.id in entities or (grouped and s.resources), s.id
        assert all(r in entities for r in s.resources), s.id
        assert all(d in system_ids for d in s.depends_on), s.id
        assert set(s.evidence) <= known_ev, s.id
        for a in s.actions:
            assert a.id in actions, a.id
            assert set(a.evidence) <= known_ev, a.id
    # Every inventory action is in exactly one table.
    rows = [a.id for s in policy.systems for a in s.actions]
    assert sorted(rows) == sorted(actions)
    for q in policy.questions:
        assert q.system is None or q.system in system_ids, q.id
        assert q.action_id is None or q.action_id in actions, q.id
        assert set(q.evidence) <= known_ev, q.id
    for c in evals.cases:
        assert c.system in system_ids, c.id
        assert c.action_ids and all(i in actions for i in c.action_ids), c.id
        assert set(c.evidence) <= known_ev, c.id
        assert all(any(e.path == f for e in known_ev) for f in c.files), c.id
    for r in evals.ladder:
        assert r.system in system_ids
        assert set(r.case_ids) <= {c.id for c in evals.cases}
