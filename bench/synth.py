"""A synthetic platform monorepo for the scan benchmark, deterministic from a seed.

For ``n`` services it writes about ``10 * n`` files (≈ 20k for the default 2,000) of the
kinds the scanners read, with realistic sizes (a few KB each) and realistic wiring:

per service (``services/<domain>/<svc>/``)
    ``k8s/base/deployment.yaml``       Deployment + Service (+ ConfigMap), multi-document
    ``k8s/base/kustomization.yaml``    the base
    ``k8s/overlays/<env>/...``         a Kustomize overlay per environment, for some services
    ``helm/values.yaml``               Helm values; some services ship a whole chart
                                       (``Chart.yaml`` + ``templates/*.yaml``, Go templates)
    ``docker-compose.yaml``            for some
    ``terraform/*.tf``                 for services owning a datastore (postgres / s3 / redis)
    ``docs/runbook.md``                kubectl / psql / kafka commands in fenced blocks
    ``scripts/ops.sh`` or ``Makefile`` for some
    ``api/openapi.yaml``               for some
    ``catalog-info.yaml``              Backstage entity
    ``kafka/topics.yaml``              Strimzi ``KafkaTopic`` resources, for producers
shared (``platform/``)
    the Strimzi Kafka cluster and users, shared Postgres clusters (Terraform), namespaces.

Services reach topics and databases through env vars (``*_TOPIC``, ``DATABASE_URL``,
``REDIS_URL``...) so the inventory has edges. A few files carry fake secrets (AWS-style
keys, passwords in URLs) so secret redaction is exercised too.

Everything comes from one :class:`random.Random` seeded by ``seed``; the same ``(n, seed)``
always yields byte-identical trees (see :func:`tree_hash`).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Bump when the generated content changes, so cached trees under bench/out are rebuilt.
GENERATOR_VERSION = 1

DOMAINS = (
    "orders", "payments", "catalog", "search", "identity", "billing", "shipping", "inventory",
    "pricing", "reviews", "notifications", "analytics", "fraud", "ledger", "recommendations",
    "messaging", "media", "support", "marketing", "loyalty", "partners", "warehouse", "growth",
    "checkout", "accounts", "compliance", "risk", "reporting", "ml-platform", "data-export",
)
ROLES = (
    "api", "worker", "consumer", "gateway", "sync", "indexer", "scheduler", "exporter",
    "aggregator", "router", "cache", "web", "admin", "importer", "notifier", "validator",
)
ENVS = ("dev", "staging", "prod")
DATASTORES = ("postgres", "s3", "redis")
SHARED_DBS = ("core-pg-1", "core-pg-2", "core-pg-3", "reporting-pg", "ledger-pg")
KAFKA_CLUSTER = "events"
KAFKA_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap.kafka:9092"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme"

# Fraction of services that get each optional artifact.
P_OVERLAYS = 0.5
P_CHART = 0.3
P_COMPOSE = 0.3
P_DATASTORE = 0.35
P_SCRIPT = 0.4
P_OPENAPI = 0.3
P_TOPICS = 0.5
SECRET_EVERY = 97  # every Nth service leaks a (fake) secret somewhere


@dataclass
class Service:
    """One generated service and the names other services use to reach it."""

    name: str
    domain: str
    team: str
    namespace: str
    index: int
    topics: list[str] = field(default_factory=list)  # topics it owns and produces
    consumes: list[str] = field(default_factory=list)
    datastore: str | None = None  # postgres | s3 | redis (owned, in its terraform/)
    shared_db: str | None = None  # a shared Postgres cluster it uses
    overlays: bool = False
    chart: bool = False
    compose: bool = False
    script: str | None = None  # "sh" | "make"
    openapi: bool = False
    leaks_secret: bool = False
    replicas: int = 2
    port: int = 8080


def plan_services(n: int, rng: random.Random) -> list[Service]:
    """Decide names and wiring for ``n`` services (no I/O)."""
    services: list[Service] = []
    used: set[str] = set()
    for i in range(n):
        domain = DOMAINS[i % len(DOMAINS)]
        role = rng.choice(ROLES)
        name = f"{domain}-{role}"
        k = 2
        while name in used:
            name = f"{domain}-{role}-{k}"
            k += 1
        used.add(name)
        svc = Service(
            name=name,
            domain=domain,
            team=f"team-{domain}",
            namespace=domain,
            index=i,
            overlays=rng.random() < P_OVERLAYS,
            chart=rng.random() < P_CHART,
            compose=rng.random() < P_COMPOSE,
            openapi=rng.random() < P_OPENAPI,
            leaks_secret=i % SECRET_EVERY == SECRET_EVERY - 1,
            replicas=rng.choice((1, 2, 2, 3, 3, 4, 6)),
            port=rng.choice((8080, 8080, 8000, 3000, 9000)),
        )
        if rng.random() < P_TOPICS:
            svc.topics = [f"{name}-{t}" for t in rng.sample(("events", "changes", "commands", "dlq"), rng.randint(1, 3))]
        if rng.random() < P_DATASTORE:
            svc.datastore = rng.choice(DATASTORES)
        elif rng.random() < 0.4:
            svc.shared_db = rng.choice(SHARED_DBS)
        r = rng.random()
        svc.script = "sh" if r < P_SCRIPT / 2 else "make" if r < P_SCRIPT else None
        services.append(svc)
    producers = [s for s in services if s.topics]
    for svc in services:
        if producers and rng.random() < 0.6:
            for other in rng.sample(producers, min(len(producers), rng.randint(1, 3))):
                if other is not svc:
                    svc.consumes.append(other.topics[0])
    return services


def _fake_key(rng: random.Random) -> str:
    """An AWS-access-key-shaped string; fake, but shaped so secret detectors fire."""
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))


def _fake_password(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20))


def _env_vars(svc: Service) -> list[tuple[str, str]]:
    """The env vars that wire ``svc`` to Kafka topics and databases."""
    env: list[tuple[str, str]] = [("SERVICE_NAME", svc.name), ("LOG_LEVEL", "info")]
    if svc.topics or svc.consumes:
        env.append(("KAFKA_BOOTSTRAP_SERVERS", KAFKA_BOOTSTRAP))
        env.append(("KAFKA_CLIENT_ID", svc.name))
    for t in svc.topics:
        env.append((t.removeprefix(svc.name + "-").upper().replace("-", "_") + "_TOPIC", t))
    for j, t in enumerate(svc.consumes):
        env.append((f"CONSUME_TOPIC_{j + 1}", t))
    if svc.consumes:
        env.append(("KAFKA_CONSUMER_GROUP", svc.name))
    db = svc.name.replace("-", "_")
    if svc.datastore == "postgres":
        env.append(("DATABASE_URL", f"postgresql://{db}_app:$(DB_PASSWORD)@{svc.name}-db:5432/{db}?sslmode=require"))
    elif svc.datastore == "redis":
        env.append(("REDIS_URL", f"redis://{svc.name}-cache:6379/0"))
    elif svc.datastore == "s3":
        env.append(("S3_BUCKET", f"acme-{svc.name}-data"))
    if svc.shared_db:
        env.append(("DATABASE_URL", f"postgresql://{db}_app:$(DB_PASSWORD)@{svc.shared_db}.db.internal:5432/{db}"))
    return env


def _deployment(svc: Service, rng: random.Random) -> str:
    env_lines = "".join(f"            - name: {k}\n              value: \"{v}\"\n" for k, v in _env_vars(svc))
    if svc.datastore == "postgres" or svc.shared_db:
        env_lines += (
            "            - name: DB_PASSWORD\n              valueFrom:\n                secretKeyRef:\n"
            f"                  name: {svc.name}-db-credentials\n                  key: password\n"
        )
    version = f"{rng.randint(0, 4)}.{rng.randint(0, 60)}.{rng.randint(0, 20)}"
    data_class = rng.choice(("internal", "internal", "customer-pii", "payments", "public"))
    return f"""# {svc.name}: {svc.domain} {svc.name.split('-', 1)[1]} service, owned by {svc.team}.
# Generated by bench/synth.py (synthetic benchmark data).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {svc.name}
  namespace: {svc.namespace}
  labels:
    app.kubernetes.io/name: {svc.name}
    app.kubernetes.io/part-of: {svc.domain}
    acme.io/team: {svc.team}
    acme.io/data-class: {data_class}
spec:
  replicas: {svc.replicas}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {svc.name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {svc.name}
        app.kubernetes.io/part-of: {svc.domain}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "9090"
    spec:
      serviceAccountName: {svc.name}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
      containers:
        - name: {svc.name}
          image: {REGISTRY}/{svc.name}:{version}
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: {svc.port}
            - name: metrics
              containerPort: 9090
          envFrom:
            - configMapRef:
                name: {svc.name}-config
          env:
{env_lines}          resources:
            requests:
              cpu: {rng.choice(('100m', '250m', '500m'))}
              memory: {rng.choice(('128Mi', '256Mi', '512Mi'))}
            limits:
              cpu: {rng.choice(('500m', '1', '2'))}
              memory: {rng.choice(('512Mi', '1Gi', '2Gi'))}
          readinessProbe:
            httpGet:
              path: /healthz/ready
              port: http
            periodSeconds: 10
            failureThreshold: 3
          livenessProbe:
            httpGet:
              path: /healthz/live
              port: http
            initialDelaySeconds: 15
            periodSeconds: 20
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
---
apiVersion: v1
kind: Service
metadata:
  name: {svc.name}
  namespace: {svc.namespace}
  labels:
    app.kubernetes.io/name: {svc.name}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {svc.name}
  ports:
    - name: http
      port: 80
      targetPort: http
    - name: metrics
      port: 9090
      targetPort: metrics
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {svc.name}-config
  namespace: {svc.namespace}
data:
  HTTP_PORT: "{svc.port}"
  METRICS_PORT: "9090"
  FEATURE_FLAGS: "{','.join(rng.sample(('beta-ui', 'fast-path', 'shadow-writes', 'new-pricing', 'bulk-api'), 2))}"
  TIMEOUT_MS: "{rng.choice((500, 1000, 2500, 5000))}"
"""


def _kustomization_base() -> str:
    return """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
"""


def _overlay(svc: Service, env: str, rng: random.Random) -> dict[str, str]:
    replicas = {"dev": 1, "staging": max(1, svc.replicas // 2), "prod": svc.replicas * 2}[env]
    kust = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {svc.namespace}-{env}
resources:
  - ../../base
labels:
  - pairs:
      acme.io/environment: {env}
images:
  - name: {REGISTRY}/{svc.name}
    newTag: "{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
replicas:
  - name: {svc.name}
    count: {replicas}
patches:
  - path: patch.yaml
"""
    patch = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {svc.name}
spec:
  template:
    spec:
      containers:
        - name: {svc.name}
          env:
            - name: ENVIRONMENT
              value: {env}
            - name: LOG_LEVEL
              value: {"warn" if env == "prod" else "debug"}
"""
    return {"kustomization.yaml": kust, "patch.yaml": patch}


def _helm_values(svc: Service, rng: random.Random) -> str:
    env = "".join(f"  {k}: \"{v}\"\n" for k, v in _env_vars(svc))
    secret = ""
    if svc.leaks_secret:
        secret = f"  AWS_ACCESS_KEY_ID: \"{_fake_key(rng)}\"\n  AWS_SECRET_ACCESS_KEY: \"{_fake_password(rng)}{_fake_password(rng)}\"\n"
    return f"""# Default values for {svc.name}.
replicaCount: {svc.replicas}
image:
  repository: {REGISTRY}/{svc.name}
  tag: ""
  pullPolicy: IfNotPresent
serviceAccount:
  create: true
  name: {svc.name}
service:
  type: ClusterIP
  port: 80
  targetPort: {svc.port}
ingress:
  enabled: {str(rng.random() < 0.3).lower()}
  className: nginx
  hosts:
    - host: {svc.name}.{svc.domain}.acme.internal
      paths:
        - path: /
          pathType: Prefix
resources:
  requests:
    cpu: 250m
    memory: 256Mi
  limits:
    cpu: "1"
    memory: 1Gi
autoscaling:
  enabled: true
  minReplicas: {svc.replicas}
  maxReplicas: {svc.replicas * 4}
  targetCPUUtilizationPercentage: 70
podDisruptionBudget:
  minAvailable: 1
env:
{env}{secret}nodeSelector: {{}}
tolerations: []
affinity: {{}}
"""


def _chart_files(svc: Service) -> dict[str, str]:
    chart = f"""apiVersion: v2
name: {svc.name}
description: Helm chart for {svc.name}
type: application
version: 0.1.0
appVersion: "1.0.0"
"""
    # A real Helm template: Go-template syntax, *not* valid YAML before rendering.
    template = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "app.selectorLabels" . | nindent 6 }}
  template:
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          env:
            {{- range $k, $v := .Values.env }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
"""
    return {"Chart.yaml": chart, "templates/deployment.yaml": template}


def _compose(svc: Service, rng: random.Random) -> str:
    env = "".join(f"      {k}: \"{v}\"\n" for k, v in _env_vars(svc) if "$(" not in v)
    if svc.leaks_secret:
        env += f"      DB_PASSWORD: \"{_fake_password(rng)}\"\n"
    deps = ""
    extra = ""
    if svc.datastore == "postgres":
        deps = "    depends_on:\n      - db\n"
        extra = f"""  db:
    image: postgres:16
    environment:
      POSTGRES_DB: {svc.name.replace('-', '_')}
      POSTGRES_PASSWORD: localdev
    volumes:
      - pgdata:/var/lib/postgresql/data
volumes:
  pgdata: {{}}
"""
    elif svc.datastore == "redis":
        deps = "    depends_on:\n      - cache\n"
        extra = "  cache:\n    image: redis:7-alpine\n    ports:\n      - \"6379:6379\"\n"
    return f"""# Local development stack for {svc.name}.
services:
  {svc.name}:
    build: .
    image: {svc.name}:dev
    ports:
      - "{svc.port}:{svc.port}"
    environment:
{env}{deps}{extra}"""


def _terraform(svc: Service, rng: random.Random) -> dict[str, str]:
    db = svc.name.replace("-", "_")
    if svc.datastore == "postgres":
        main = f"""resource "aws_db_instance" "{db}" {{
  identifier              = "{svc.name}-db"
  engine                  = "postgres"
  engine_version          = "16.3"
  instance_class          = "db.{rng.choice(('t3.medium', 'r6g.large', 'r6g.xlarge'))}"
  allocated_storage       = {rng.choice((50, 100, 200, 500))}
  db_name                 = "{db}"
  username                = "{db}_admin"
  password                = var.db_password
  multi_az                = true
  backup_retention_period = 14
  deletion_protection     = {str(rng.random() < 0.7).lower()}
  storage_encrypted       = true
  tags = {{
    team        = "{svc.team}"
    service     = "{svc.name}"
    data-class  = "customer"
  }}
}}
"""
    elif svc.datastore == "redis":
        main = f"""resource "aws_elasticache_replication_group" "{db}" {{
  replication_group_id       = "{svc.name}-cache"
  description                = "cache for {svc.name}"
  engine                     = "redis"
  node_type                  = "cache.{rng.choice(('t4g.small', 'r6g.large'))}"
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  at_rest_encryption_enabled = true
  tags = {{
    team    = "{svc.team}"
    service = "{svc.name}"
  }}
}}
"""
    else:
        main = f"""resource "aws_s3_bucket" "{db}" {{
  bucket = "acme-{svc.name}-data"
  tags = {{
    team    = "{svc.team}"
    service = "{svc.name}"
  }}
}}

resource "aws_s3_bucket_versioning" "{db}" {{
  bucket = aws_s3_bucket.{db}.id
  versioning_configuration {{
    status = "Enabled"
  }}
}}

resource "aws_s3_bucket_public_access_block" "{db}" {{
  bucket                  = aws_s3_bucket.{db}.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}}
"""
    variables = f"""variable "environment" {{
  type        = string
  description = "Deployment environment (dev, staging, prod)."
  default     = "prod"
}}

variable "db_password" {{
  type      = string
  sensitive = true
  default   = null
}}

output "{db}_id" {{
  value = {'aws_db_instance' if svc.datastore == 'postgres' else 'aws_elasticache_replication_group' if svc.datastore == 'redis' else 'aws_s3_bucket'}.{db}.id
}}
"""
    return {"main.tf": main, "variables.tf": variables}


def _runbook(svc: Service, rng: random.Random) -> str:
    ns = f"{svc.namespace}-prod"
    parts = [f"""# {svc.name} runbook

Owner: {svc.team}. Pager: #{svc.domain}-oncall. Dashboards: grafana/d/{svc.name}.

{svc.name} serves the {svc.domain} domain. This page covers the checks and fixes the on-call
engineer runs most often. Read the whole section before acting on production.

## Health checks

```bash
kubectl -n {ns} get pods -l app.kubernetes.io/name={svc.name}
kubectl -n {ns} describe deployment {svc.name}
kubectl -n {ns} logs deploy/{svc.name} --since=15m | grep -i error
```

## Restart a stuck pod

Only if a single pod is failing readiness for more than 10 minutes.

```bash
kubectl -n {ns} delete pod <pod-name>
kubectl -n {ns} rollout restart deployment/{svc.name}
kubectl -n {ns} rollout status deployment/{svc.name}
```

## Scale

```bash
kubectl -n {ns} scale deployment/{svc.name} --replicas={svc.replicas * 2}
```

## Roll back a bad release

```bash
kubectl -n {ns} rollout history deployment/{svc.name}
kubectl -n {ns} rollout undo deployment/{svc.name}
```
"""]
    if svc.topics or svc.consumes:
        topic = (svc.topics or svc.consumes)[0]
        parts.append(f"""
## Kafka

Consumer lag above 100k for 15 minutes pages the on-call.

```bash
kafka-consumer-groups.sh --bootstrap-server {KAFKA_BOOTSTRAP} --describe --group {svc.name}
kafka-topics.sh --bootstrap-server {KAFKA_BOOTSTRAP} --describe --topic {topic}
```

Resetting offsets skips or replays messages: get approval from the topic owner first.

```bash
kafka-consumer-groups.sh --bootstrap-server {KAFKA_BOOTSTRAP} --group {svc.name} --topic {topic} --reset-offsets --to-latest --execute
```
""")
        if svc.topics and rng.random() < 0.3:
            parts.append(f"""
Never run this outside a decommission ticket:

```bash
kafka-topics.sh --bootstrap-server {KAFKA_BOOTSTRAP} --delete --topic {svc.topics[-1]}
```
""")
    if svc.datastore == "postgres" or svc.shared_db:
        host = f"{svc.name}-db" if svc.datastore == "postgres" else f"{svc.shared_db}.db.internal"
        db = svc.name.replace("-", "_")
        parts.append(f"""
## Database

Read-only checks go to the replica.

```bash
psql -h {host}-replica -U {db}_ro -d {db} -c "SELECT count(*) FROM jobs WHERE state = 'stuck';"
psql -h {host} -U {db}_admin -d {db} -c "UPDATE jobs SET state = 'queued' WHERE state = 'stuck';"
```

```sql
SELECT pid, state, query_start, query FROM pg_stat_activity WHERE datname = '{db}';
VACUUM ANALYZE jobs;
```
""")
        if svc.leaks_secret:
            parts.append(f"""
Break-glass connection (rotate after use):

```bash
psql "postgresql://{db}_admin:{_fake_password(rng)}@{host}:5432/{db}"
```
""")
    if svc.datastore == "s3":
        parts.append(f"""
## Bucket

```bash
aws s3 ls s3://acme-{svc.name}-data/exports/ --recursive --summarize
aws s3 cp s3://acme-{svc.name}-data/exports/latest.parquet /tmp/
```
""")
    parts.append(f"""
## Escalation

If none of the above helps within 30 minutes, page {svc.team} and post in #incidents with the
output of the health checks. Do not change shared infrastructure (Kafka, shared databases)
without the platform team.
""")
    return "".join(parts)


def _script(svc: Service) -> tuple[str, str]:
    ns = f"{svc.namespace}-prod"
    if svc.script == "sh":
        return "scripts/ops.sh", f"""#!/usr/bin/env bash
# Operational helpers for {svc.name}.
set -euo pipefail

NAMESPACE="${{NAMESPACE:-{ns}}}"

status() {{
  kubectl -n "$NAMESPACE" get deploy,pods -l app.kubernetes.io/name={svc.name}
}}

restart() {{
  kubectl -n "$NAMESPACE" rollout restart deployment/{svc.name}
  kubectl -n "$NAMESPACE" rollout status deployment/{svc.name} --timeout=5m
}}

deploy() {{
  helm upgrade --install {svc.name} ./helm -n "$NAMESPACE" -f helm/values.yaml --wait
}}

case "${{1:-status}}" in
  status) status ;;
  restart) restart ;;
  deploy) deploy ;;
  *) echo "usage: $0 status|restart|deploy" >&2; exit 2 ;;
esac
"""
    return "Makefile", f"""# {svc.name} developer and operator targets.
NAMESPACE ?= {ns}
IMAGE ?= {REGISTRY}/{svc.name}

.PHONY: build push deploy status rollback

build:
\tdocker build -t $(IMAGE):$(TAG) .

push: build
\tdocker push $(IMAGE):$(TAG)

deploy:
\tkubectl apply -k k8s/overlays/prod

status:
\tkubectl -n $(NAMESPACE) get pods -l app.kubernetes.io/name={svc.name}

rollback:
\tkubectl -n $(NAMESPACE) rollout undo deployment/{svc.name}
"""


def _openapi(svc: Service, rng: random.Random) -> str:
    noun = rng.choice(("orders", "items", "accounts", "jobs", "records", "events"))
    return f"""openapi: 3.0.3
info:
  title: {svc.name} API
  version: 1.{rng.randint(0, 30)}.0
  description: Internal API of {svc.name} ({svc.team}).
servers:
  - url: https://{svc.name}.{svc.domain}.acme.internal
paths:
  /v1/{noun}:
    get:
      operationId: list{noun.capitalize()}
      summary: List {noun}
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
            maximum: 500
      responses:
        "200":
          description: A page of {noun}
    post:
      operationId: create{noun.capitalize()}
      summary: Create one of {noun}
      responses:
        "201":
          description: Created
  /v1/{noun}/{{id}}:
    get:
      operationId: get{noun.capitalize()}
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
      responses:
        "200":
          description: Found
    delete:
      operationId: delete{noun.capitalize()}
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
      responses:
        "204":
          description: Deleted
  /admin/reindex:
    post:
      operationId: reindexAll
      summary: Rebuild every index (slow, locks writes)
      responses:
        "202":
          description: Accepted
"""


def _catalog(svc: Service) -> str:
    deps = [f"resource:{svc.name}-db"] if svc.datastore == "postgres" else []
    deps += [f"resource:{svc.shared_db}"] if svc.shared_db else []
    dep_lines = "".join(f"    - {d}\n" for d in deps)
    return f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {svc.name}
  description: {svc.domain} {svc.name.split('-', 1)[1]} service
  annotations:
    github.com/project-slug: acme/{svc.name}
    backstage.io/kubernetes-id: {svc.name}
  tags:
    - {svc.domain}
    - python
spec:
  type: service
  lifecycle: production
  owner: {svc.team}
  system: {svc.domain}
{"  dependsOn:" + chr(10) + dep_lines if dep_lines else ""}"""


def _topics(svc: Service, rng: random.Random) -> str:
    docs = []
    for t in svc.topics:
        dlq = t.endswith("-dlq")
        docs.append(f"""apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaTopic
metadata:
  name: {t}
  namespace: kafka
  labels:
    strimzi.io/cluster: {KAFKA_CLUSTER}
    acme.io/owner: {svc.team}
spec:
  partitions: {rng.choice((3, 6, 12, 24))}
  replicas: 3
  config:
    retention.ms: {604800000 if not dlq else 2419200000}
    cleanup.policy: delete
    min.insync.replicas: 2
""")
    return "---\n".join(docs)


def _shared(services: list[Service], rng: random.Random) -> dict[str, str]:
    """Platform-owned files: the Kafka cluster, users, shared databases, namespaces."""
    out: dict[str, str] = {}
    out["platform/kafka/kafka-cluster.yaml"] = f"""apiVersion: kafka.strimzi.io/v1beta2
kind: Kafka
metadata:
  name: {KAFKA_CLUSTER}
  namespace: kafka
  labels:
    acme.io/team: team-platform
spec:
  kafka:
    version: 3.7.0
    replicas: 5
    listeners:
      - name: tls
        port: 9093
        type: internal
        tls: true
        authentication:
          type: scram-sha-512
    config:
      offsets.topic.replication.factor: 3
      default.replication.factor: 3
      min.insync.replicas: 2
      auto.create.topics.enable: false
    storage:
      type: persistent-claim
      size: 2Ti
      deleteClaim: false
  zookeeper:
    replicas: 3
    storage:
      type: persistent-claim
      size: 100Gi
  entityOperator:
    topicOperator: {{}}
    userOperator: {{}}
"""
    users = []
    for svc in services:
        if not (svc.topics or svc.consumes):
            continue
        acls = "".join(
            f"""      - resource:
          type: topic
          name: {t}
        operations: [Write, Describe]
""" for t in svc.topics
        ) + "".join(
            f"""      - resource:
          type: topic
          name: {t}
        operations: [Read, Describe]
""" for t in svc.consumes
        )
        users.append(f"""apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaUser
metadata:
  name: {svc.name}
  namespace: kafka
  labels:
    strimzi.io/cluster: {KAFKA_CLUSTER}
spec:
  authentication:
    type: scram-sha-512
  authorization:
    type: simple
    acls:
{acls}""")
    # Split users across files of ~50 so no single file is huge.
    for i in range(0, len(users), 50):
        out[f"platform/kafka/users-{i // 50:03d}.yaml"] = "---\n".join(users[i : i + 50])
    dbs = []
    for name in SHARED_DBS:
        ident = name.replace("-", "_")
        dbs.append(f"""resource "aws_rds_cluster" "{ident}" {{
  cluster_identifier      = "{name}"
  engine                  = "aurora-postgresql"
  engine_version          = "15.4"
  master_username         = "platform_admin"
  master_password         = var.{ident}_password
  backup_retention_period = 30
  deletion_protection     = true
  storage_encrypted       = true
  tags = {{
    team       = "team-platform"
    shared     = "true"
    data-class = "customer"
  }}
}}

variable "{ident}_password" {{
  type      = string
  sensitive = true
}}
""")
    out["platform/databases/main.tf"] = "\n".join(dbs)
    out["platform/databases/providers.tf"] = """terraform {
  required_version = ">= 1.6"
  backend "s3" {
    bucket = "acme-terraform-state"
    key    = "platform/databases.tfstate"
    region = "us-east-1"
  }
}

provider "aws" {
  region = "us-east-1"
}
"""
    ns_docs = [
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {d}-{env}\n  labels:\n    acme.io/environment: {env}\n"
        for d in sorted({s.namespace for s in services}) for env in ENVS
    ]
    out["platform/k8s/namespaces.yaml"] = "---\n".join(ns_docs)
    owners = "".join(f"/services/{d}/ @acme/team-{d}\n" for d in sorted({s.domain for s in services}))
    out["CODEOWNERS"] = "# Code owners by domain.\n* @acme/team-platform\n" + owners
    return out


def generate_files(n: int, seed: int = 42) -> dict[str, str]:
    """The whole tree as ``{relative posix path: text}``, in memory (deterministic)."""
    rng = random.Random(seed)
    services = plan_services(n, rng)
    files: dict[str, str] = {}
    for svc in services:
        base = f"services/{svc.domain}/{svc.name}"
        files[f"{base}/k8s/base/deployment.yaml"] = _deployment(svc, rng)
        files[f"{base}/k8s/base/kustomization.yaml"] = _kustomization_base()
        if svc.overlays:
            for env in ("staging", "prod"):
                for fname, text in _overlay(svc, env, rng).items():
                    files[f"{base}/k8s/overlays/{env}/{fname}"] = text
        files[f"{base}/helm/values.yaml"] = _helm_values(svc, rng)
        if svc.chart:
            for fname, text in _chart_files(svc).items():
                files[f"{base}/helm/{fname}"] = text
        if svc.compose:
            files[f"{base}/docker-compose.yaml"] = _compose(svc, rng)
        if svc.datastore:
            for fname, text in _terraform(svc, rng).items():
                files[f"{base}/terraform/{fname}"] = text
        files[f"{base}/docs/runbook.md"] = _runbook(svc, rng)
        if svc.script:
            fname, text = _script(svc)
            files[f"{base}/{fname}"] = text
        if svc.openapi:
            files[f"{base}/api/openapi.yaml"] = _openapi(svc, rng)
        files[f"{base}/catalog-info.yaml"] = _catalog(svc)
        if svc.topics:
            files[f"{base}/kafka/topics.yaml"] = _topics(svc, rng)
    files.update(_shared(services, rng))
    return dict(sorted(files.items()))


def is_helm_template(relpath: str) -> bool:
    """Whether ``relpath`` is a Helm Go template (not YAML until rendered)."""
    return "/templates/" in f"/{relpath}"


def tree_hash(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes under ``root``, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def files_hash(files: dict[str, str]) -> str:
    """The :func:`tree_hash` the in-memory tree ``files`` will have once written."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + files[rel].encode() + b"\0")
    return h.hexdigest()


def write_tree(files: dict[str, str], root: Path) -> None:
    """Write ``files`` under ``root`` atomically: build a sibling directory, then rename."""
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    made: set[str] = set()
    for rel, text in files.items():
        path = tmp / rel
        parent = str(path.parent)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        path.write_text(text, encoding="utf-8")
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)


def ensure_repo(n: int, seed: int, out_dir: Path) -> tuple[Path, int, bool]:
    """The synthetic repo for ``(n, seed)`` under ``out_dir``, generated only if missing or stale.

    Returns ``(root, file count, regenerated)``. A stamp file next to the tree (never inside
    it, so it is not scanned) records the generator version and the tree hash.
    """
    root = out_dir / f"repo-n{n}-s{seed}"
    stamp = out_dir / f"repo-n{n}-s{seed}.stamp"
    files = generate_files(n, seed)
    want = f"v{GENERATOR_VERSION} {files_hash(files)} {len(files)}"
    if root.is_dir() and stamp.is_file() and stamp.read_text().strip() == want:
        return root, len(files), False
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tree(files, root)
    stamp.write_text(want + "\n")
    return root, len(files), True


def artifact_type(relpath: str) -> str:
    """The artifact type of a generated file, from its path (used by the report and tests)."""
    parts = relpath.split("/")
    name = parts[-1]
    checks: Iterable[tuple[bool, str]] = (
        (is_helm_template(relpath), "helm-template"),
        (name == "Chart.yaml", "helm-chart"),
        (name == "values.yaml", "helm-values"),
        ("overlays" in parts, "kustomize-overlay"),
        (name == "kustomization.yaml", "kustomize-base"),
        (name == "deployment.yaml", "k8s-manifest"),
        (name == "docker-compose.yaml", "docker-compose"),
        (name.endswith(".tf"), "terraform"),
        (name.endswith(".md"), "runbook"),
        (name.endswith(".sh"), "shell-script"),
        (name == "Makefile", "makefile"),
        (name == "openapi.yaml", "openapi"),
        (name == "catalog-info.yaml", "backstage-catalog"),
        (name == "topics.yaml", "kafka-topics"),
        ("platform" == parts[0] and "kafka" in parts, "kafka-platform"),
        (name == "namespaces.yaml", "k8s-namespaces"),
        (name == "CODEOWNERS", "codeowners"),
    )
    for hit, kind in checks:
        if hit:
            return kind
    return "other"
