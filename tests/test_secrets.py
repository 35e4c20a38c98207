"""Secret redaction: no secret, no base64 of it, no part of it survives; ordinary text does."""

from __future__ import annotations

import base64
import re

import pytest

from inventory.model import Action, CommandRef, Component, Evidence, Inventory, Resource
from inventory.secrets import (
    DETECTORS,
    REDACTED,
    RegexDetector,
    is_reference,
    is_secret_key,
    redact_k8s_secret_data,
    redact_lines,
    redact_text,
    redact_value,
    register,
    scrub_data,
    scrub_inventory,
    unregister,
)

# Fake secrets, one per kind. Each is long enough for the 8-character substring check.
PG_PW = "Pg-Secr3t-7781xq"
MYSQL_PW = "My5ql-Hunter22zz"
REDIS_PW = "R3dis-Sup3r-99aa"
AMQP_PW = "Rabb1t-Pw-30kk"
MONGO_PW = "M0ngo-Pw-41bbQ"
TF_PW = "Tf-Rds-Pw-2024xy"
TFVARS_PW = "Tfvars-Pw-8812ab"
ENV_PW = "EnvPair-Pw-5501c"
DOTENV_PW = "DotEnv-Pw-7731d"
STRING_DATA_PW = "StrData-Pw-1919e"
K8S_DATA_PW = "K8sData-Pw-2468f"
PGPASSWORD = "PgEnv-Pw-1357g"
BEARER = "tok_9f8e7d6c5b4a39281706f5e4"
VALUES_API_KEY = "fsk_live_8c1f4e2a9b7d3c6e5f0a"
AWS_KEY_ID = "AKIAQ3EGRTPXAMPLE7ZB"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEK3Y"
GITHUB = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
SLACK = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
OPENAI = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
OPENAI_LEGACY = "sk-AbCdEfGhIjKlMnOpQrStT3BlbkFJAbCdEfGhIjKlMnOpQrSt"
STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFjbWUifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM_BODY = [
    "MIIEowIBAAKCAQEAx7FakeKeyBodyLine01AbCdEfGhIjKlMnOpQrStUvWxYz012",
    "Y2hlY2tzdW1GYWtlS2V5Qm9keUxpbmUwMkFiQ2RFZkdoSWpLbE1uT3BRclN0VXZX",
    "q4/z+9XjfVDHjDvWOQzhQaStvkKVUh4A+yw==",
]
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA PRIVATE KEY-----"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def assert_no_leak(out: str, secret: str) -> None:
    """Neither the secret, nor any 8-char piece of it, nor its base64 (or a 12-char piece) is in ``out``."""
    assert secret not in out
    for i in range(len(secret) - 7):
        piece = secret[i : i + 8]
        assert piece not in out, f"{piece!r} of the secret survived in {out!r}"
    b64 = _b64(secret)
    for i in range(len(b64) - 11):
        assert b64[i : i + 12] not in out, f"base64 piece {b64[i:i + 12]!r} survived"


# (what, text, secrets it carries)
SEEDED: list[tuple[str, str, list[str]]] = [
    (
        "k8s Secret data (base64) and stringData",
        f"""apiVersion: v1
kind: Secret
metadata:
  name: orders-db
type: Opaque
data:
  username: {_b64("orders-app")}
  DB_PASSWORD: {_b64(K8S_DATA_PW)}
stringData:
  password: {STRING_DATA_PW}
  config.json: '{{"user": "app", "pass": "{STRING_DATA_PW}"}}'
""",
        [K8S_DATA_PW, STRING_DATA_PW, "orders-app"],
    ),
    (
        "k8s env pair",
        f"""containers:
  - name: api
    env:
      - name: DB_PASSWORD
        value: "{ENV_PW}"
      - name: LOG_LEVEL
        value: info
""",
        [ENV_PW],
    ),
    ("compose env list", f"    environment:\n      - POSTGRES_PASSWORD={ENV_PW}\n", [ENV_PW]),
    (".env file", f"# app settings\nLOG_LEVEL=info\nDB_PASSWORD='{DOTENV_PW}'\nexport API_TOKEN={BEARER}\n", [DOTENV_PW, BEARER]),
    ("tfvars", f'region      = "eu-west-1"\ndb_password = "{TFVARS_PW}"\n', [TFVARS_PW]),
    (
        "terraform password attribute",
        f'resource "aws_db_instance" "orders" {{\n  username = "app"\n  password = "{TF_PW}"\n}}\n',
        [TF_PW],
    ),
    ("postgres URL", f"DATABASE_URL=postgres://app:{PG_PW}@orders-db.acme.internal:5432/orders", [PG_PW]),
    ("postgresql URL in YAML", f"  dsn: postgresql://app:{PG_PW}@db:5432/orders?sslmode=require", [PG_PW]),
    ("mysql URL", f"jdbc:mysql://root:{MYSQL_PW}@mysql.acme.internal:3306/shop", [MYSQL_PW]),
    ("redis URL without user", f"REDIS_URL=redis://:{REDIS_PW}@redis-master:6379/0", [REDIS_PW]),
    ("amqp URL", f"broker: amqp://orders:{AMQP_PW}@rabbitmq:5672/vhost", [AMQP_PW]),
    ("mongodb+srv URL", f'uri = "mongodb+srv://admin:{MONGO_PW}@cluster0.abcde.mongodb.net/db?retryWrites=true"', [MONGO_PW]),
    ("libpq keyword DSN", f'psql "host=db user=app password={PG_PW} dbname=orders"', [PG_PW]),
    ("ADO connection string", f"Server=tcp:db,1433;User Id=sa;Password={MYSQL_PW};Encrypt=true", [MYSQL_PW]),
    ("curl bearer", f"curl -sf -H 'Authorization: Bearer {BEARER}' https://api.acme.io/v1/orders", [BEARER]),
    ("curl bearer JWT", f'curl -H "Authorization: Bearer {JWT}" https://api.acme.io/v1/orders', [JWT]),
    ("PGPASSWORD", f"PGPASSWORD={PGPASSWORD} psql -h orders-db -U app -c 'select 1'", [PGPASSWORD]),
    ("MYSQL_PWD", f"MYSQL_PWD={MYSQL_PW} mysqldump shop > /tmp/shop.sql", [MYSQL_PW]),
    ("mysql -pSECRET", f"mysql -h mysql.acme.internal -u root -p{MYSQL_PW} shop", [MYSQL_PW]),
    ("mysql -p'SECRET'", f"mysql -u root -p'{MYSQL_PW}' -e 'show databases'", [MYSQL_PW]),
    ("redis-cli -a", f"redis-cli -h redis-master -a {REDIS_PW} FLUSHALL", [REDIS_PW]),
    ("--password flag", f"helm install pg bitnami/postgresql --password {PG_PW} --namespace data", [PG_PW]),
    ("--password= flag", f"vault login --password={PG_PW}", [PG_PW]),
    ("helm --set", f"helm upgrade orders ./chart --set image.tag=1.2.3 --set db.password={PG_PW}", [PG_PW]),
    (
        "kubectl create secret --from-literal",
        f"kubectl create secret generic db -n data --from-literal=user=app --from-literal=pw={PG_PW}",
        [PG_PW],
    ),
    ("curl -u", f"curl -u admin:{REDIS_PW} https://grafana.acme.io/api/health", [REDIS_PW]),
    (
        "values file API keys",
        f"""featureStore:
  apiKey: "{VALUES_API_KEY}"
  endpoint: https://fs.acme.io
payments:
  stripeSecretKey: {STRIPE}
  webhookSecret: whsec_{BEARER}
""",
        [VALUES_API_KEY, STRIPE, BEARER],
    ),
    ("PEM private key", f"tls:\n  key: |\n    " + PEM.replace("\n", "\n    ") + "\n  crt: cert.pem\n", PEM_BODY),
    ("PEM in JSON", '{"private_key": "' + PEM.replace("\n", "\\n") + '\\n", "id": "svc"}', PEM_BODY),
    ("bare JWT in prose", f"The session cookie was {JWT} when it failed.", [JWT]),
    ("AWS key pair", f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n", [AWS_KEY_ID, AWS_SECRET]),
    ("AWS configure", f"aws configure set aws_secret_access_key {AWS_SECRET} --profile prod", [AWS_SECRET]),
    ("AWS key id in prose", f"rotated key {AWS_KEY_ID} yesterday", [AWS_KEY_ID]),
    ("GitHub token in prose", f"clone with {GITHUB} then push", [GITHUB]),
    ("Slack token", f"notify via {SLACK}.", [SLACK]),
    ("OpenAI project key", f"export OPENAI_KEY={OPENAI}", [OPENAI]),
    ("OpenAI project key in prose", f"the key {OPENAI} leaked", [OPENAI]),
    ("OpenAI legacy key", f"client = OpenAI({OPENAI_LEGACY})", [OPENAI_LEGACY]),
    ("Stripe live key", f"charge with {STRIPE} in prod", [STRIPE]),
    ("YAML block scalar secret", f"auth:\n  password: |\n    {PG_PW}\n    {MYSQL_PW}\n  user: app\n", [PG_PW, MYSQL_PW]),
    ("JSON secret", f'{{"client_secret": "{BEARER}", "client_id": "orders"}}', [BEARER]),
    ("placeholder is masked too", "  password: changeme-please", ["changeme-please"]),
]


@pytest.mark.parametrize("what,text,secrets", SEEDED, ids=[s[0] for s in SEEDED])
def test_seeded_secret_never_survives(what: str, text: str, secrets: list[str]) -> None:
    out, n = redact_text(text)
    assert n >= 1
    assert REDACTED in out
    for secret in secrets:
        assert_no_leak(out, secret)


@pytest.mark.parametrize("what,text,secrets", SEEDED, ids=[s[0] for s in SEEDED])
def test_redaction_is_idempotent(what: str, text: str, secrets: list[str]) -> None:
    once, _ = redact_text(text)
    twice, n = redact_text(once)
    assert twice == once
    assert n == 0


@pytest.mark.parametrize("what,text,secrets", SEEDED, ids=[s[0] for s in SEEDED])
def test_line_count_is_preserved(what: str, text: str, secrets: list[str]) -> None:
    # Scanners cite path:line after redacting a whole file; masking must not shift lines.
    assert redact_text(text)[0].count("\n") == text.count("\n")


def test_masking_keeps_the_useful_parts() -> None:
    out, _ = redact_text(f"DATABASE_URL=postgres://app:{PG_PW}@orders-db.acme.internal:5432/orders")
    assert out == f"DATABASE_URL=postgres://app:{REDACTED}@orders-db.acme.internal:5432/orders"
    out, _ = redact_text(f"PGPASSWORD={PGPASSWORD} psql -h orders-db -U app")
    assert out == f"PGPASSWORD={REDACTED} psql -h orders-db -U app"
    out, _ = redact_text(f"mysql -u root -p{MYSQL_PW} shop")
    assert out == f"mysql -u root -p{REDACTED} shop"
    out, _ = redact_text(f"curl -H 'X-Api-Key: {BEARER}' https://api.acme.io/x")
    assert out == f"curl -H 'X-Api-Key: {REDACTED}' https://api.acme.io/x"


UNCHANGED = [
    "kubectl get pods -n acme-prod",
    "kubectl -n acme-prod rollout restart deployment/orders-api",
    "kafka-topics.sh --describe --topic orders-events --bootstrap-server kafka:9092",
    "kafka-consumer-groups.sh --reset-offsets --group orders --topic orders-events --to-earliest --execute",
    "psql -h orders-db.acme.internal -U app -d orders -c 'SELECT count(*) FROM orders'",
    "mysql -h mysql -u root -p shop",  # -p alone prompts for the password
    "mysql -h mysql -P 3306 -u root shop",
    "docker run -p 8080:80 nginx:1.25",
    "ssh -p 2222 bastion.acme.io",
    "redis-cli -h redis-master INFO replication",
    "https://grafana.acme.io/d/abc123/orders?orgId=1&from=now-1h",
    "postgres://orders-db.acme.internal:5432/orders",
    "image: ghcr.io/acme/orders-api:v1.42.0",
    "image: registry.acme.io/orders@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    "git checkout 3f2a9c1d4e5b6a7980fedcba0123456789abcdef",
    "terraform apply -target=module.orders_db -var-file=envs/prod.tfvars",
    "password = var.db_password",
    "password = random_password.db.result",
    'password = "${var.db_password}"',
    "DB_PASSWORD=${DB_PASSWORD}",
    "  password: {{ .Values.db.password }}",
    "  token: ${{ secrets.GITHUB_TOKEN }}",
    'curl -H "Authorization: Bearer $API_TOKEN" https://api.acme.io/v1/orders',
    "password_file: /run/secrets/db-password",
    "DB_PASSWORD_FILE=/run/secrets/db_password",
    "secretName: orders-db-credentials",
    "existingSecret: orders-db",
    "token_url: https://auth.acme.io/oauth/token",
    "password_length: 32",
    "  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: orders-db\n        key: password\n",
    "authentication:\n  type: scram-sha-512\n",
    "permissions:\n  id-token: write\n  contents: read\n",
    "      - key: jwtRS256.key.pub\n        path: publickey\n",
    '        message: "Invalid token: Enter your full API key"',
    "The bearer token should be rotated every 90 days.",
    "kafka-topic:orders-events/delete@prod",
    "examples/acme-platform/k8s/base/secrets.yaml",
    "kubectl create secret generic db --from-file=password.txt",
    "docker run --user 1000:1000 -u 1000:1000 busybox  # then curl it",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFake\n-----END CERTIFICATE-----",
    "",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == (text, 0)


@pytest.mark.parametrize(
    "name",
    [
        "password", "DB_PASSWORD", "dbPassword", "db-passwd", "MYSQL_PWD", "PGPASSWORD", "api_key",
        "apiKey", "X-Api-Key", "access_key", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
        "private_key", "privateKey", "client_secret", "clientSecret", "GITHUB_TOKEN", "auth_token",
        "credentials", "Authorization", "webhookSecret", "signing_key", "passphrase", "session_secret",
        "basic_auth", "authToken",
    ],
)
def test_secret_key_names(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "secretName", "secret_name", "secretKeyRef", "secretRef", "existingSecret", "tlsSecret",
        "token_url", "tokenUrl", "password_file", "DB_PASSWORD_FILE", "passwordPath", "password_length",
        "token_ttl", "TOKEN_EXPIRY_SECONDS", "auth_type", "authentication", "username", "key",
        "partition_key", "routing_key", "public_key", "kms_key_id", "secrets", "image", "name",
        "client_id", "bypass", "", "compass_url", "auth",
    ],
)
def test_not_secret_key_names(name: str) -> None:
    assert not is_secret_key(name)


def test_redact_value_masks_whole_value_under_secret_key() -> None:
    assert redact_value("DB_PASSWORD", ENV_PW) == (REDACTED, True)
    assert redact_value("apiKey", "short") == (REDACTED, True)
    assert redact_value("password", "changeme") == (REDACTED, True)  # placeholders may be real
    assert redact_value("PASSWORD", "12345678") == (REDACTED, True)


@pytest.mark.parametrize(
    "value",
    ["${DB_PASSWORD}", "$(DB_PASSWORD)", "$DB_PASSWORD", "{{ .Values.db.password }}", "${{ secrets.X }}",
     "var.db_password", "", "  ", REDACTED, "vault:secret/data/orders#password", "/run/secrets/db"],
)
def test_redact_value_keeps_references(value: str) -> None:
    assert is_reference(value)
    assert redact_value("DB_PASSWORD", value) == (value, False)


def test_redact_value_scans_other_keys_as_text() -> None:
    url = f"postgres://app:{PG_PW}@orders-db:5432/orders"
    out, changed = redact_value("DATABASE_URL", url)
    assert changed and out == f"postgres://app:{REDACTED}@orders-db:5432/orders"
    assert redact_value("LOG_LEVEL", "info") == ("info", False)
    assert redact_value(None, f"token {GITHUB}") == (f"token {REDACTED}", True)
    # A loosely secret-ish key masks random-looking values only.
    assert redact_value("STRIPE_KEY", "rk_test_51HqLyjWDarjtT1zdp7dcQx") == (REDACTED, True)
    assert redact_value("cache_key", "orders-v2") == ("orders-v2", False)
    # ``auth`` names a scheme in OpenAPI but holds base64(user:pass) in docker's config.json.
    assert redact_value("auth", "bearerAuth") == ("bearerAuth", False)
    assert redact_value("auth", _b64("deploy:" + REDIS_PW)) == (REDACTED, True)


def test_redact_k8s_secret_data_keeps_keys_only() -> None:
    data = {"password": _b64(K8S_DATA_PW), "username": _b64("orders-app"), "ca.crt": _b64("cert")}
    out = redact_k8s_secret_data(data)
    assert list(out) == ["ca.crt", "password", "username"]
    assert set(out.values()) == {REDACTED}
    assert redact_k8s_secret_data(None) == {}


def test_redact_lines_masks_a_multi_line_key_and_reports_lines() -> None:
    lines = ["apiVersion: v1", "tls.key: |", *("  " + ln for ln in PEM.split("\n")), "LOG_LEVEL=info", f"TOKEN={BEARER}"]
    out, hit = redact_lines(lines)
    assert len(out) == len(lines)
    assert hit == [3, 4, 5, 6, 7, 9]
    joined = "\n".join(out)
    for piece in [*PEM_BODY, BEARER]:
        assert_no_leak(joined, piece)
    assert out[0] == "apiVersion: v1" and out[7] == "LOG_LEVEL=info"
    assert redact_lines(["kubectl get pods"]) == (["kubectl get pods"], [])


def test_pem_without_end_masks_to_the_end() -> None:
    out, _ = redact_text("-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY[0] + "\n")
    assert_no_leak(out, PEM_BODY[0])


def _inventory() -> Inventory:
    ev = Evidence(path="runbooks/orders.md", line=12)
    return Inventory(
        sources=["examples/acme-platform"],
        components=[
            Component(
                id="service:orders-api",
                kind="service",
                name="orders-api",
                image="ghcr.io/acme/orders-api@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
                attributes={"DB_PASSWORD": ENV_PW, "replicas_hint": 3, "db_url": f"postgres://app:{PG_PW}@orders-db/orders"},
                labels={"app": "orders-api"},
                evidence=[ev],
            )
        ],
        resources=[Resource(id="postgres:orders-db", kind="postgres", name="orders-db", evidence=[ev])],
        actions=[
            Action(
                id="postgres:orders-db/query@prod",
                verb="query",
                tool="psql",
                target="postgres:orders-db",
                command=f"PGPASSWORD={PGPASSWORD} psql -h orders-db -U app -c 'select 1'",
                commands=[CommandRef(command=f"redis-cli -a {REDIS_PW} INFO", evidence=ev)],
                flags={"password": MYSQL_PW, "host": "orders-db"},
                origin="command",
                evidence=[ev],
            ),
            Action(
                id="kafka-topic:orders-events/describe",
                verb="describe",
                tool="kafka-topics",
                command="kafka-topics.sh --describe --topic orders-events",
                origin="command",
                evidence=[ev],
            ),
        ],
        secrets=[ev],
    )


def test_scrub_inventory_masks_secrets_and_keeps_the_rest() -> None:
    inv = _inventory()
    out = scrub_inventory(inv)
    dumped = out.model_dump_json()
    for secret in (ENV_PW, PG_PW, PGPASSWORD, REDIS_PW, MYSQL_PW):
        assert_no_leak(dumped, secret)
    comp = out.components[0]
    assert comp.attributes["DB_PASSWORD"] == REDACTED
    assert comp.attributes["replicas_hint"] == 3
    assert comp.attributes["db_url"] == f"postgres://app:{REDACTED}@orders-db/orders"
    assert comp.image == inv.components[0].image
    act = out.actions[0]
    assert act.command == f"PGPASSWORD={REDACTED} psql -h orders-db -U app -c 'select 1'"
    assert act.commands[0].command == f"redis-cli -a {REDACTED} INFO"
    assert act.flags == {"password": REDACTED, "host": "orders-db"}
    # Everything that was not secret is byte-for-byte the same.
    assert [a.id for a in out.actions] == [a.id for a in inv.actions]
    assert out.actions[1] == inv.actions[1]
    assert out.resources == inv.resources and out.secrets == inv.secrets
    assert scrub_inventory(out).model_dump() == out.model_dump()


def test_scrub_inventory_returns_the_same_object_when_clean() -> None:
    inv = Inventory(
        actions=[
            Action(
                id="k8s-namespace:acme-prod/get",
                verb="get",
                tool="kubectl",
                command="kubectl get pods -n acme-prod",
                origin="command",
                evidence=[Evidence(path="runbooks/a.md", line=1)],
            )
        ]
    )
    assert scrub_inventory(inv) is inv


def test_scrub_inventory_returns_a_clean_large_inventory_untouched() -> None:
    ev = Evidence(path="k8s/base/deploy.yaml", line=3)
    comps = [
        Component(id=f"service:svc-{i}", kind="service", name=f"svc-{i}", labels={"app": f"svc-{i}", "tier": "web"},
                  attributes={"port": 8080, "image_tag": f"v1.{i}.0"}, evidence=[ev])
        for i in range(2000)
    ]
    inv = Inventory(components=comps)
    # Speed is measured in `make bench`; here only that nothing is rebuilt or masked.
    assert scrub_inventory(inv) is inv


def test_redact_text_leaves_ordinary_lines_alone() -> None:
    lines = [
        "kubectl -n acme-prod get pods -l app=orders-api -o wide",
        "  image: ghcr.io/acme/orders-api:v1.42.0",
        "    - containerPort: 8080",
        "resource \"aws_s3_bucket\" \"exports\" {",
        "  key: orders/config.yaml",
    ] * 4000
    assert all(redact_text(line) == (line, 0) for line in lines)


def test_scrub_data_handles_any_json_like_structure() -> None:
    data = {
        "prompt": f"run PGPASSWORD={PGPASSWORD} psql",
        "env": [{"name": "API_TOKEN", "value": BEARER}, {"name": "LOG_LEVEL", "value": "debug"}],
        "nested": {"client_secret": STRIPE, "count": 3, "ok": True, "items": ("a", f"key {GITHUB}")},
    }
    out = scrub_data(data)
    assert out["env"][0] == {"name": "API_TOKEN", "value": REDACTED}
    assert out["env"][1] == {"name": "LOG_LEVEL", "value": "debug"}
    assert out["nested"]["client_secret"] == REDACTED
    assert out["nested"]["count"] == 3 and out["nested"]["ok"] is True
    assert out["nested"]["items"] == ("a", f"key {REDACTED}")
    text = repr(out)
    for secret in (PGPASSWORD, BEARER, STRIPE, GITHUB):
        assert_no_leak(text, secret)
    assert data["env"][0]["value"] == BEARER  # the input is not modified


def test_register_adds_a_detector() -> None:
    det = RegexDetector("acme-internal", ("acme_tok_",), re.compile(r"(acme_tok_[0-9a-f]{16})"))
    before = len(DETECTORS)
    register(det)
    try:
        assert redact_text("use acme_tok_0123456789abcdef now") == (f"use {REDACTED} now", 1)
    finally:
        unregister("acme-internal")
    assert len(DETECTORS) == before
    assert redact_text("use acme_tok_0123456789abcdef now")[1] == 0


def _ungated_spans(text: str) -> list[tuple[int, int]]:
    """What the detectors find in ``text`` when every one whose keyword occurs runs (no prefilter pattern)."""
    low = text.lower()
    spans = [s for d in DETECTORS if any(k in low for k in d.keywords) for s in d.spans(text)]
    return sorted(set(spans))


MAILCHIMP = "0123456789abcdef0123456789abcdef-us14"
# Texts that wake a detector with a prefilter pattern, some with a secret it finds.
GATED = [
    "kafka-user:orders-api/delete", "kubectl -n risk-prod logs deploy/risk-importer", "sk-", "-us",
    "risk-" + "a" * 40, "desk_" + "b" * 30, f"mailchimp key {MAILCHIMP} here", f"x{MAILCHIMP}",
    f"OPENAI_API_KEY={OPENAI}", f"the key {OPENAI} leaked", f"({OPENAI})", "rk_live_" + "c" * 24,
    "sk_test_" + "d" * 24, "pk_live_" + "e" * 24, "https://orders.acme.internal/health",
    f"postgresql://app:{PG_PW}@db.internal:5432/orders", "redis://:" + REDIS_PW + "@cache:6379",
    "x://İİİİ:" + "y" * 20 + "@h", "DATABASE_URL=postgresql://app:$(DB_PASSWORD)@db:5432/x",
    "İsk-" + "f" * 30, "\u212aSK-" + "g" * 30, "a-us1", "ǅsk-" + "h" * 25,
]


@pytest.mark.parametrize("text", GATED)
def test_prefilter_patterns_change_nothing_found(text: str) -> None:
    """A detector's prefilter pattern only spares running it where it would find nothing:
    redaction is what running every detector whose keyword occurs gives."""
    from inventory.secrets import _chunk_masks_any, _find_spans

    assert _find_spans(text) == [s for s in _find_spans_reference(text)]
    assert _chunk_masks_any([text, "kafka-user:x"]) == bool(_find_spans_reference(text))


def _find_spans_reference(text: str) -> list[tuple[int, int]]:
    """``_find_spans`` without prefilter patterns: merged spans of every woken detector, earlier masks kept."""
    from inventory.secrets import _merge

    masks = [(m.start(), m.end()) for m in re.finditer(re.escape(REDACTED), text)]
    return [(s, e) for s, e in _merge(_ungated_spans(text)) if not any(ms <= s and e <= me for ms, me in masks)]


def test_gated_detectors_still_find_their_secrets() -> None:
    for text, secret in [(f"key {MAILCHIMP} here", MAILCHIMP), (f"the key {OPENAI} leaked", OPENAI),
                         (f"postgresql://app:{PG_PW}@db.internal:5432/orders", PG_PW)]:
        out, n = redact_text(text)
        assert n >= 1 and secret not in out
    # Their keywords alone, in ordinary names, wake nothing.
    assert redact_text("kafka-user:risk-exporter/delete") == ("kafka-user:risk-exporter/delete", 0)


def test_the_scanners_memo_of_clean_values_follows_the_detectors_and_never_holds_a_secret() -> None:
    from inventory.scanners import _common

    value = "see acme_tok_0123456789abcdef"
    assert _common.keep_value("note", value) == (value, False)  # clean to today's detectors: remembered
    assert ("note", value) in _common._CLEAN_PAIRS
    register(RegexDetector("acme-internal", ("acme_tok_",), re.compile(r"(acme_tok_[0-9a-f]{16})")))
    try:
        assert not _common._CLEAN_PAIRS  # a new detector empties what the old ones judged
        kept, masked = _common.keep_value("note", value)
        assert masked and kept == f"see {REDACTED}"
        assert ("note", value) not in _common._CLEAN_PAIRS  # a masked value is not remembered
        assert _common.keep_value("note", value) == (kept, masked)
    finally:
        unregister("acme-internal")
    assert _common.keep_value("note", value) == (value, False)


def test_the_option_memo_of_actions_follows_the_detectors() -> None:
    from inventory import actions

    flags = {"token-file": "acme_tok_0123456789abcdef"}
    assert actions._safe_flags(flags) == flags  # clean to today's detectors
    register(RegexDetector("acme-internal", ("acme_tok_",), re.compile(r"(acme_tok_[0-9a-f]{16})")))
    try:
        assert actions._safe_flags(flags) == {}  # the new detector masks it: the option is dropped
        assert ("token-file", flags["token-file"]) not in actions._CLEAN_FLAGS
    finally:
        unregister("acme-internal")
    assert actions._safe_flags(flags) == flags
