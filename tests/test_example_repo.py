"""Sanity tests for the bundled example platform repo (examples/acme-platform).

`make policy` scans this tree by default, so it must parse, stay self-consistent (names
agree across k8s, Kafka, Helm, Terraform, Backstage) and keep the seeded fake secrets
listed in tests/fixtures/acme_seeded_secrets.txt so redaction tests can rely on them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "acme-platform"
SEEDED = REPO / "tests" / "fixtures" / "acme_seeded_secrets.txt"

EXPECTED_TOPICS = {
    "orders-events",
    "payments-events",
    "customer-profile-changes",
    "recommendation-requests",
}
EXPECTED_RUNBOOKS = {
    "kafka-consumer-lag.md",
    "orders-db-failover.md",
    "training-data-export-blocked.md",
    "dangerous-cleanup.md",
    "cache-flush.md",
}


def _is_helm_template(path: Path) -> bool:
    """Files under charts/<chart>/templates hold Go templating, not plain YAML."""
    rel = path.relative_to(EXAMPLE).parts
    return len(rel) >= 3 and rel[0] == "charts" and rel[2] == "templates"


def _yaml_files() -> list[Path]:
    files = [*EXAMPLE.rglob("*.yaml"), *EXAMPLE.rglob("*.yml")]
    return sorted(p for p in files if not _is_helm_template(p))


def _docs(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if isinstance(d, dict)]


def _k8s_docs(*dirs: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    for d in dirs:
        for path in sorted((EXAMPLE / d).rglob("*.yaml")):
            for doc in _docs(path):
                if "kind" in doc and "apiVersion" in doc and doc["kind"] != "Kustomization":
                    yield path, doc


def _of_kind(kind: str, *dirs: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _k8s_docs(*dirs) if doc["kind"] == kind]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec", {}).get("containers", [])


def _env_values(doc: dict[str, Any]) -> dict[str, str]:
    """Literal env values of every container of a workload (last one wins)."""
    out: dict[str, str] = {}
    for c in _containers(doc):
        for e in c.get("env", []) or []:
            if "value" in e:
                out[e["name"]] = str(e["value"])
    return out


def _seeded() -> list[str]:
    return [ln for ln in SEEDED.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _tree_text() -> str:
    files = sorted(p for p in EXAMPLE.rglob("*") if p.is_file())
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def _unq(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _tf_resources(path: Path, rtype: str) -> dict[str, dict[str, Any]]:
    """Resources of one type in a .tf file, keyed by resource name."""
    with path.open(encoding="utf-8") as fh:
        blocks = hcl2.load(fh).get("resource", [])
    return {
        _unq(name): body
        for block in blocks
        for kind, resources in block.items()
        if _unq(kind) == rtype
        for name, body in resources.items()
    }


def _topics() -> set[str]:
    return {t["metadata"]["name"] for t in _of_kind("KafkaTopic", "k8s/kafka")}


# --- parsing ---------------------------------------------------------------------------


def test_example_has_a_realistic_size() -> None:
    files = [p for p in EXAMPLE.rglob("*") if p.is_file()]
    assert 40 <= len(files) <= 80


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(EXAMPLE)))
def test_yaml_outside_helm_templates_parses(path: Path) -> None:
    with path.open(encoding="utf-8") as fh:
        docs = list(yaml.safe_load_all(fh))
    assert any(d is not None for d in docs), f"{path} has no YAML documents"


def test_helm_templates_use_go_templating() -> None:
    deployment = (EXAMPLE / "charts/recommendations/templates/deployment.yaml").read_text()
    assert "{{ .Values.kafka.requestsTopic" in deployment
    with pytest.raises(yaml.YAMLError):
        list(yaml.safe_load_all(deployment))


@pytest.mark.parametrize(
    "path",
    sorted([*EXAMPLE.rglob("*.tf"), *EXAMPLE.rglob("*.tfvars"), *EXAMPLE.rglob("*.hcl")]),
    ids=lambda p: str(p.relative_to(EXAMPLE)),
)
def test_terraform_parses(path: Path) -> None:
    with path.open(encoding="utf-8") as fh:
        assert isinstance(hcl2.load(fh), dict)


# --- seeded secrets --------------------------------------------------------------------


def test_seeded_secret_fixture_lists_values_present_in_the_tree() -> None:
    values = _seeded()
    assert len(values) >= 15
    assert len(values) == len(set(values)), "duplicate lines in the seeded-secrets fixture"
    text = _tree_text()
    missing = [
        v for v in values if v not in text and base64.b64encode(v.encode()).decode() not in text
    ]
    assert not missing, f"seeded secrets not found in the example tree: {missing}"


def test_fixture_covers_every_secret_kind() -> None:
    values = _seeded()
    kinds = {
        "aws access key id": r"^AKIA[0-9A-Z]{16}$",
        "aws secret key": r"^[A-Za-z0-9/+]{40}$",
        "openai key": r"^sk-proj-",
        "stripe key": r"^sk_live_",
        "github token": r"^ghp_[A-Za-z0-9]{36}$",
        "jwt": r"^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$",
    }
    for kind, pattern in kinds.items():
        assert any(re.search(pattern, v) for v in values), f"no {kind} in the fixture"
    assert "BEGIN EC PRIVATE KEY" in (EXAMPLE / "config/dev-tls.key").read_text()


def test_every_k8s_secret_value_is_in_the_fixture_raw_and_decoded() -> None:
    values = set(_seeded())
    not_secret = {"DB_USER"}  # a user name, not a credential
    for secret in _of_kind("Secret", "k8s"):
        for key, b64 in (secret.get("data") or {}).items():
            if key in not_secret:
                continue
            assert b64 in values, f"{secret['metadata']['name']}.data.{key} not in fixture"
            assert base64.b64decode(b64).decode() in values, f"decoded {key} not in fixture"
        for key, raw in (secret.get("stringData") or {}).items():
            assert raw in values, f"{secret['metadata']['name']}.stringData.{key} not in fixture"


def test_secrets_are_not_catalogued_inside_the_example() -> None:
    # A file listing the secrets would itself be scanned; the list lives in tests/fixtures.
    assert not list(EXAMPLE.rglob("*SECRETS*"))


# --- name consistency ------------------------------------------------------------------


def test_kafka_topics_are_the_expected_four() -> None:
    assert _topics() == EXPECTED_TOPICS
    pii = [
        t["metadata"]["name"]
        for t in _of_kind("KafkaTopic", "k8s/kafka")
        if t["metadata"]["labels"].get("acme.io/data-class") == "pii"
    ]
    assert pii == ["customer-profile-changes"]


def test_every_topic_env_var_names_an_existing_topic() -> None:
    topics = _topics()
    seen: set[str] = set()
    for path, doc in _k8s_docs("k8s/base", "k8s/overlays"):
        for name, value in _env_values(doc).items():
            if name.endswith("_TOPIC"):
                assert value in topics, f"{path.name}: {name}={value} is not a KafkaTopic"
                seen.add(value)
    compose = yaml.safe_load((EXAMPLE / "docker-compose.yml").read_text())
    for svc_name, svc in compose["services"].items():
        for name, value in (svc.get("environment") or {}).items():
            if name.endswith("_TOPIC"):
                assert value in topics, f"compose {svc_name}: {name}={value}"
    helm = yaml.safe_load((EXAMPLE / "charts/recommendations/values.yaml").read_text())
    assert {helm["kafka"]["requestsTopic"], helm["kafka"]["ordersTopic"]} <= topics
    seen |= {helm["kafka"]["requestsTopic"], helm["kafka"]["ordersTopic"]}
    assert seen == topics, f"topics nobody uses: {topics - seen}"


def test_kafka_clients_have_users_whose_acls_cover_their_topics_and_groups() -> None:
    users = {u["metadata"]["name"]: u for u in _of_kind("KafkaUser", "k8s/kafka")}
    assert {"orders-api", "payments-api", "notifications-worker"} <= set(users)
    deployments = _of_kind("Deployment", "k8s/base")
    overlay_groups: dict[str, set[str]] = {}
    for doc in _of_kind("Deployment", "k8s/overlays"):
        group = _env_values(doc).get("KAFKA_CONSUMER_GROUP")
        if group:
            overlay_groups.setdefault(doc["metadata"]["name"], set()).add(group)
    clients = 0
    for doc in deployments:
        env = _env_values(doc)
        user = env.get("KAFKA_SASL_USERNAME")
        if not user:
            continue
        clients += 1
        assert user in users, f"{doc['metadata']['name']} uses missing KafkaUser {user}"
        acls = users[user]["spec"]["authorization"]["acls"]
        acl_topics = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic"}
        group_prefixes = [a["resource"]["name"] for a in acls if a["resource"]["type"] == "group"]
        for name, value in env.items():
            if name.endswith("_TOPIC"):
                assert value in acl_topics, f"{user} has no ACL for {value}"
        groups = {env["KAFKA_CONSUMER_GROUP"]} | overlay_groups.get(doc["metadata"]["name"], set())
        for group in groups:
            allowed = any(group.startswith(p) for p in group_prefixes)
            assert allowed, f"{user}: consumer group {group} not allowed by its ACLs"
    assert clients == 3


def test_secret_refs_resolve_to_secrets_or_strimzi_user_secrets() -> None:
    available = {s["metadata"]["name"] for s in _of_kind("Secret", "k8s/base")}
    available |= {u["metadata"]["name"] for u in _of_kind("KafkaUser", "k8s/kafka")}
    for path, doc in _k8s_docs("k8s/base"):
        for c in _containers(doc):
            for e in c.get("env", []) or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in available, f"{path.name}: unknown Secret {ref['name']}"


def test_database_urls_point_at_orders_db_without_inline_passwords() -> None:
    urls = [
        (doc["metadata"]["name"], env["DATABASE_URL"])
        for doc in [*_of_kind("Deployment", "k8s/base"), *_of_kind("CronJob", "k8s/base")]
        if "DATABASE_URL" in (env := _env_values(doc))
    ]
    assert {n for n, _ in urls} == {"orders-api", "payments-api", "training-data-export"}
    for name, url in urls:
        assert "orders-db" in url and ":$(DB_PASSWORD)@" in url, name
    # The one deliberate bad practice: an inline password in the ConfigMap.
    (config,) = _of_kind("ConfigMap", "k8s/base")
    assert "Rep0rting-FAKE-inline-pw@orders-db" in config["data"]["LEGACY_REPORTING_DSN"]


def test_overlays_target_declared_namespaces_and_existing_files() -> None:
    namespaces = {n["metadata"]["name"] for n in _docs(EXAMPLE / "k8s/namespaces.yaml")}
    assert namespaces == {"acme-prod", "acme-staging", "kafka"}
    for env in ("prod", "staging"):
        kdir = EXAMPLE / "k8s/overlays" / env
        kust = yaml.safe_load((kdir / "kustomization.yaml").read_text())
        assert kust["namespace"] == f"acme-{env}"
        for patch in kust.get("patches", []):
            if "path" in patch:
                assert (kdir / patch["path"]).is_file(), patch["path"]
    for kdir in ("k8s/base", "k8s/kafka"):
        kust = yaml.safe_load((EXAMPLE / kdir / "kustomization.yaml").read_text())
        for res in kust["resources"]:
            assert (EXAMPLE / kdir / res).is_file(), f"{kdir}: missing {res}"
    for _, doc in _k8s_docs("k8s/kafka"):
        assert doc["metadata"].get("namespace") == "kafka"


def test_export_job_and_terraform_agree_on_the_bucket() -> None:
    (cron,) = _of_kind("CronJob", "k8s/base")
    bucket = _env_values(cron)["EXPORT_BUCKET"]
    assert bucket == "acme-training-data"
    buckets = _tf_resources(EXAMPLE / "terraform/s3.tf", "aws_s3_bucket")
    assert _unq(buckets["training_data"]["bucket"]) == bucket + "${local.bucket_suffix}"
    assert _unq(buckets["training_data"]["tags"]["data-class"]) == "training-data"
    assert _unq(buckets["order_exports"]["bucket"]) == "acme-order-exports${local.bucket_suffix}"
    assert _unq(buckets["order_exports"]["tags"]["data-class"]) == "customer"
    (staging,) = _of_kind("CronJob", "k8s/overlays")
    assert _env_values(staging)["EXPORT_BUCKET"] == "acme-training-data-staging"


def test_rds_instance_is_protected() -> None:
    orders = _tf_resources(EXAMPLE / "terraform/rds.tf", "aws_db_instance")["orders"]
    assert orders["deletion_protection"] is True
    assert orders["lifecycle"][0]["prevent_destroy"] is True
    assert orders["password"] == "${var.db_password}"


def test_catalog_references_resolve() -> None:
    entities = _docs(EXAMPLE / "catalog-info.yaml")
    refs = {f"{e['kind'].lower()}:{e['metadata']['name']}" for e in entities}
    components = {e["metadata"]["name"] for e in entities if e["kind"] == "Component"}
    workloads = {d["metadata"]["name"] for d in _of_kind("Deployment", "k8s/base")}
    assert workloads | {"recommendations", "training-data-export"} <= components
    for e in entities:
        for dep in e.get("spec", {}).get("dependsOn", []):
            assert dep in refs, f"{e['metadata']['name']} depends on unknown {dep}"
    api = next(e for e in entities if e["kind"] == "API")
    assert (EXAMPLE / api["spec"]["definition"]["$text"]).is_file()


def test_codeowners_paths_exist_and_teams_are_declared() -> None:
    raw = (EXAMPLE / "CODEOWNERS").read_text().splitlines()
    lines = [ln.split() for ln in raw if ln.strip() and not ln.startswith("#")]
    teams = {t for parts in lines for t in parts[1:]}
    assert {"@acme/platform", "@acme/payments", "@acme/data-eng", "@acme/ml"} <= teams
    for parts in lines:
        if parts[0] != "*":
            assert (EXAMPLE / parts[0].lstrip("/")).exists(), parts[0]


# --- runbooks --------------------------------------------------------------------------


def test_runbooks_have_shell_blocks_prompts_and_continuations() -> None:
    names = {p.name for p in (EXAMPLE / "runbooks").glob("*.md")}
    assert EXPECTED_RUNBOOKS <= names
    for name in EXPECTED_RUNBOOKS:
        text = (EXAMPLE / "runbooks" / name).read_text()
        assert "```bash" in text, name
        assert re.search(r"^\$ ", text, re.M), name
    all_text = "".join((EXAMPLE / "runbooks" / n).read_text() for n in EXPECTED_RUNBOOKS)
    assert re.search(r"\\\n\s+--", all_text), "no multi-line continuation"


def test_one_runbook_carries_a_prompt_injection_and_admin_calls() -> None:
    hits = [
        p.name
        for p in (EXAMPLE / "runbooks").glob("*.md")
        if re.search(r"ignore\s+previous\s+instructions", p.read_text(), re.I)
    ]
    assert hits == ["training-data-export-blocked.md"]
    text = (EXAMPLE / "runbooks" / hits[0]).read_text()
    assert 'Authorization: Bearer eyJ' in text
    assert "curl -s -X POST https://orders-admin.prod.acme.internal/admin/" in text
