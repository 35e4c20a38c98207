"""Kubernetes scanner: entities, facts, references and evidence from manifests."""

from __future__ import annotations

import textwrap
from pathlib import PurePosixPath

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.dataclasses import data_classes_for
from inventory.model import Inventory
from inventory.scanners.base import Fragment, ScanContext, SourceFile
from inventory.scanners.kubernetes import KubernetesScanner

SCANNER = KubernetesScanner()
CTX = ScanContext(config=Config())


def scan(path: str, text: str) -> Fragment:
    return SCANNER.scan(SourceFile(path=path, text=textwrap.dedent(text)), CTX)


def build(*frags: Fragment) -> Inventory:
    builder = InventoryBuilder()
    for f in frags:
        builder.add_fragment(f)
    SCANNER.finalize(list(frags), builder)
    builder.resolve_references()
    return builder.build()


ORDERS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
  namespace: acme-prod
  labels:
    team: payments-team
spec:
  replicas: 3
  selector:
    matchLabels: {app: orders-api}
  template:
    metadata:
      labels: {app: orders-api}
    spec:
      serviceAccountName: orders
      containers:
        - name: app
          image: registry.acme.io/orders-api:1.4
          env:
            - name: DATABASE_URL
              value: postgres://orders:hunter2@orders-db.acme-prod.svc.cluster.local:5432/orders
            - name: CACHE_HOST
              value: cache
            - name: ORDERS_TOPIC
              value: orders-events
            - name: PAYMENTS_CONSUMER_TOPIC
              value: payments-events
            - name: KAFKA_BOOTSTRAP_SERVERS
              value: main-kafka-bootstrap:9092
            - name: API_TOKEN
              valueFrom:
                secretKeyRef: {name: orders-secrets, key: token}
          envFrom:
            - configMapRef: {name: orders-config}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: orders-db
  namespace: acme-prod
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: pg
          image: postgres:16
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        storageClassName: retained-ssd
        resources: {requests: {storage: 50Gi}}
---
apiVersion: v1
kind: Service
metadata:
  name: orders
  namespace: acme-prod
spec:
  type: LoadBalancer
  selector: {app: orders-api}
  ports:
    - port: 443
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: orders-config
  namespace: acme-prod
data:
  LEDGER_URL: http://ledger:8080/api
  ADMIN_PASSWORD: s3cr3t-in-configmap
"""

OTHERS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: retained-ssd
reclaimPolicy: Retain
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: acme-prod}
spec:
  template:
    spec:
      containers: [{name: l, image: acme/ledger:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache, namespace: acme-prod}
spec:
  template:
    spec:
      containers: [{name: r, image: "redis:7"}]
---
apiVersion: v1
kind: Secret
metadata: {name: orders-secrets, namespace: acme-prod}
stringData:
  token: do-not-leak-me
"""


def test_matches_manifests_but_not_helm_templates_or_kustomizations() -> None:
    head = "apiVersion: v1\nkind: Service\n"
    assert SCANNER.matches(PurePosixPath("k8s/svc.yaml"), head)
    assert not SCANNER.matches(PurePosixPath("k8s/kustomization.yaml"), head)
    assert not SCANNER.matches(PurePosixPath("chart/templates/svc.yaml"), head + "name: {{ .Release.Name }}\n")
    assert not SCANNER.matches(PurePosixPath("k8s/svc.json"), head)
    assert not SCANNER.matches(PurePosixPath("ci.yaml"), "on: push\njobs: {}\n")


def test_deployment_is_a_service_with_facts_and_evidence() -> None:
    frag = scan("deploy/prod/orders.yaml", ORDERS)
    comp = {c.id: c for c in frag.components}["service:orders-api"]
    assert comp.replicas == 3
    assert comp.namespace == "acme-prod"
    assert comp.environments == ["prod"]
    assert comp.owners == ["payments-team"]
    assert comp.image == "registry.acme.io/orders-api:1.4"
    assert comp.evidence[0].line == 4  # metadata.name line
    env_fact = [f for f in comp.facts if f.name == "environment"][0]
    assert env_fact.value == "prod" and env_fact.evidence[0].line == 5  # the namespace line
    assert {f.name for f in comp.facts} >= {"environment", "replicas", "owner"}


def test_statefulset_with_datastore_image_is_a_resource_with_volume() -> None:
    frag = scan("deploy/orders.yaml", ORDERS)
    res = {r.id: r for r in frag.resources}
    db = res["postgres:orders-db"]
    assert (db.stateful, db.replicas, db.subtype) == (True, 2, "postgres")
    vol = res["volume:data-orders-db"]
    assert vol.attributes["storage_class"] == "retained-ssd"
    assert vol.attributes["size"] == "50Gi"
    assert any(e.source == db.id and e.target == vol.id for e in frag.edges)


def test_env_vars_become_references_and_values_are_not_kept() -> None:
    frag = scan("deploy/orders.yaml", ORDERS)
    refs = {(r.target_name, r.target_kind, r.edge_kind) for r in frag.references if r.source == "service:orders-api"}
    assert ("orders-db", "postgres", "depends-on") in refs
    assert ("cache", None, "depends-on") in refs
    assert ("orders-events", "kafka-topic", "depends-on") in refs or ("orders-events", "kafka-topic", "produces") in refs
    assert ("payments-events", "kafka-topic", "consumes") in refs
    assert ("main", "kafka-cluster", "depends-on") in refs
    assert ("orders-secrets", "secret", "reads") in refs
    assert ("serviceaccount/orders", "iam", "depends-on") in refs
    dumped = frag.model_dump_json()
    assert "hunter2" not in dumped and "s3cr3t-in-configmap" not in dumped


def test_env_values_are_kept_only_redacted() -> None:
    frag = scan("deploy/orders.yaml", ORDERS)
    env = {c.id: c for c in frag.components}["service:orders-api"].attributes["env"]
    assert "CACHE_HOST=cache" in env
    assert "API_TOKEN=<from secretKeyRef:orders-secrets>" in env
    dsn = [e for e in env if e.startswith("DATABASE_URL=")][0]
    assert "orders-db.acme-prod" in dsn and "hunter2" not in dsn and "<redacted>" in dsn
    # The DSN's password line is recorded as secret evidence.
    assert 22 in [ev.line for ev in frag.secrets]


def test_configmap_secret_values_are_recorded_as_secret_evidence() -> None:
    frag = scan("deploy/orders.yaml", ORDERS)
    assert any(ev.line == ORDERS.splitlines().index("  ADMIN_PASSWORD: s3cr3t-in-configmap") + 1 for ev in frag.secrets)


def test_finalize_links_configmaps_services_storage_classes() -> None:
    inv = build(scan("deploy/orders.yaml", ORDERS), scan("deploy/others.yaml", OTHERS))
    edges = {(e.source, e.target, e.kind) for e in inv.edges}
    assert ("service:orders-api", "postgres:orders-db", "depends-on") in edges
    assert ("service:orders-api", "redis:cache", "depends-on") in edges  # redis Deployment is a datastore
    assert ("service:orders-api", "service:ledger", "depends-on") in edges  # via the ConfigMap
    assert ("service:orders-api", "secret:orders-secrets", "reads") in edges
    api = {c.id: c for c in inv.components}["service:orders-api"]
    assert api.attributes["service_type"] == "LoadBalancer"
    assert api.attributes["ports"] == ["443/TCP"]
    vol = {r.id: r for r in inv.resources}["volume:data-orders-db"]
    assert vol.deletion_protection is True
    assert any(f.name == "deletion_protection" and f.evidence[0].path == "deploy/others.yaml" for f in vol.facts)
    secret = {r.id: r for r in inv.resources}["secret:orders-secrets"]
    assert secret.attributes["keys"] == ["token"]
    assert "do-not-leak-me" not in inv.model_dump_json()


def test_jobs_cronjobs_daemonsets_namespaces_rbac() -> None:
    frag = scan("k8s/misc.yaml", """\
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly-export, labels: {env: staging}}
        spec:
          schedule: "0 3 * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  containers: [{name: x, image: acme/export:1}]
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: migrate}
        spec: {template: {spec: {containers: [{name: m, image: acme/migrate:1}]}}}
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: log-agent}
        spec: {template: {spec: {containers: [{name: a, image: fluent-bit, securityContext: {privileged: true}}]}}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: payments-prod}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: ci-admin}
        roleRef: {kind: ClusterRole, name: cluster-admin}
        subjects: [{kind: ServiceAccount, name: ci, namespace: ci}]
        """)
    comps = {c.id: c for c in frag.components}
    assert comps["cron-job:nightly-export"].attributes["schedule"] == "0 3 * * *"
    assert comps["cron-job:nightly-export"].environments == ["staging"]
    assert comps["job:migrate"].kind == "job"
    assert comps["daemon:log-agent"].attributes["privileged"] is True
    res = {r.id: r for r in frag.resources}
    assert res["k8s-namespace:payments-prod"].environments == ["prod"]
    assert "payments" in res["k8s-namespace:payments-prod"].data_classes
    binding = res["iam:clusterrolebinding-ci-admin"]
    assert binding.attributes["cluster_admin"] is True
    assert binding.attributes["subjects"] == ["ServiceAccount/ci"]


STRIMZI = """\
apiVersion: kafka.strimzi.io/v1
kind: Kafka
metadata: {name: main}
spec:
  kafka: {version: 3.9.0, listeners: [{name: tls, port: 9093}]}
---
apiVersion: kafka.strimzi.io/v1
kind: KafkaNodePool
metadata:
  name: brokers
  labels: {strimzi.io/cluster: main}
spec: {replicas: 3, roles: [broker]}
---
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata:
  name: orders-events-topic
  labels:
    strimzi.io/cluster: main
spec:
  topicName: orders-events
  partitions: 12
  replicas: 3
  config:
    retention.ms: 604800000
---
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata:
  name: billing
  labels: {strimzi.io/cluster: main}
spec:
  authentication: {type: tls}
  authorization:
    type: simple
    acls:
      - resource: {type: topic, name: orders-events, patternType: literal}
        operations: [Read, Describe]
      - resource: {type: topic, name: audit-, patternType: prefix}
        operations: [Write]
"""


def test_strimzi_cluster_topic_user() -> None:
    frag = scan("kafka/main.yaml", STRIMZI)
    inv = build(frag)
    res = {r.id: r for r in inv.resources}
    assert res["kafka-cluster:main"].replicas == 3  # from the broker node pool
    topic = res["kafka-topic:orders-events"]
    assert topic.attributes["partitions"] == 12
    assert topic.attributes["config.retention.ms"] == "604800000"
    assert topic.evidence[0].line == 17  # metadata.name line of the KafkaTopic
    user = res["kafka-user:billing"]
    assert user.attributes["acl_read_topics"] == ["orders-events"]
    assert user.attributes["acl_write_topics"] == ["audit-*"]
    edges = {(e.source, e.target, e.kind) for e in inv.edges}
    assert ("kafka-topic:orders-events", "kafka-cluster:main", "member-of") in edges
    assert ("kafka-user:billing", "kafka-topic:orders-events", "consumes") in edges
    assert ("kafka-user:billing", "kafka-cluster:main", "member-of") in edges


def test_malformed_and_nameless_documents_warn_with_lines() -> None:
    frag = scan("k8s/bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\nkind: [\n")
    messages = {(w.line, w.message.split(":")[0]) for w in frag.warnings}
    assert (6, "ConfigMap without metadata.name, skipped") in messages
    assert any(m.startswith("invalid YAML") and line >= 9 for line, m in messages)


def test_templated_file_in_templates_dir_is_ignored_silently() -> None:
    frag = scan("chart/templates/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n")
    assert frag.components == [] and frag.warnings == []


def test_data_classes_helper_is_token_based() -> None:
    assert data_classes_for("customer-db") == ["customer", "pii"]
    assert data_classes_for("billing-worker") == ["payments"]
    assert data_classes_for("ml-data-export") == ["training-data"]
    assert data_classes_for("db-credentials") == ["credentials"]
    assert data_classes_for("userspace-proxy", "cardinality", "discard", None) == []
    assert data_classes_for("UserProfiles") == ["customer", "pii"]


def test_ingress_networkpolicy_pv_list_and_backstage_owner() -> None:
    frag = scan("k8s/edge.yaml", """\
        apiVersion: v1
        kind: List
        items:
          - apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: shop
              annotations: {backstage.io/owner: team-storefront}
            spec:
              rules:
                - host: shop.example.com
                  http:
                    paths:
                      - path: /
                        backend: {service: {name: storefront, port: {number: 80}}}
          - apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-all}
            spec: {policyTypes: [Ingress, Egress]}
          - apiVersion: v1
            kind: PersistentVolume
            metadata: {name: pg-data-0}
            spec: {persistentVolumeReclaimPolicy: Retain, storageClassName: ssd}
        """)
    res = {r.id: r for r in frag.resources}
    dns = res["dns:shop.example.com"]
    assert dns.owners == ["team-storefront"]
    assert dns.evidence[0].line == 11  # the host line inside the List item
    assert ("storefront", None) in {(r.target_name, r.target_kind) for r in frag.references if r.source == dns.id}
    assert res["network:deny-all"].attributes["policy_types"] == ["Ingress", "Egress"]
    pv = res["volume:pg-data-0"]
    assert pv.deletion_protection is True
    assert any(f.name == "deletion_protection" and f.value is True for f in pv.facts)


def test_workload_patch_without_image_sets_env_replicas_not_a_new_entity() -> None:
    patch = scan("k8s/overlays/prod/orders-db-patch.yaml", """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: orders-db}
        spec:
          replicas: 5
          template:
            spec:
              containers: [{name: pg, resources: {requests: {cpu: "4"}}}]
          volumeClaimTemplates:
            - metadata: {name: data}
              spec: {storageClassName: retained-ssd}
        """)
    assert patch.components == [] and patch.resources == []
    inv = build(scan("k8s/base/orders.yaml", ORDERS), scan("k8s/base/sc.yaml", OTHERS), patch)
    db = {r.id: r for r in inv.resources}["postgres:orders-db"]
    assert db.replicas == 2  # the base value
    assert db.attributes["replicas.prod"] == 5
    assert any(f.name == "replicas" and f.value == 5 and f.evidence[0].line == 5 for f in db.facts)
    vol = {r.id: r for r in inv.resources}["volume:data-orders-db"]
    assert vol.attributes["storage_class.prod"] == "retained-ssd"
    assert {c.id for c in inv.components}.isdisjoint({"service:orders-db"})
