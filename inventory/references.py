"""Turn one environment variable (or config key) into name references to other systems.

Shared by every scanner that reads env vars: Kubernetes manifests, docker-compose, Helm
values, ``.env`` files. A value is only *parsed* here, never kept: the references carry host
names and topic names, which are not secrets, so a connection string with an embedded
password can be read safely.

Rules, in order:

* a URL with a known scheme (``postgresql://``, ``redis://``, ``amqp://``, ``mongodb://``,
  ``kafka://``, ``http(s)://``...) → its host's first DNS label (``orders-db`` from
  ``orders-db.data.svc.cluster.local``), with a kind hint from the scheme;
* Kafka bootstrap servers (``*BOOTSTRAP*`` keys or a ``<name>-kafka-bootstrap`` host) →
  the Strimzi cluster name ``<name>`` as a ``kafka-cluster``;
* ``*TOPIC*`` keys → each comma-separated value as a ``kafka-topic`` (``produces`` /
  ``consumes`` when the key says which way);
* ``*_HOST`` / ``*_ADDR`` / ``*_SERVER`` / ``*_ENDPOINT`` / ``*_URL`` / ``*_URI`` keys with a
  bare ``host[:port]`` value → the host's first label, any kind.

Loopback hosts, IP addresses and unexpanded templates (``${X}``, ``$(X)``, ``{{ x }}``) are
skipped: they name nothing the inventory could link to.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

from inventory.model import Evidence
from inventory.scanners.base import Reference, reference

# URL scheme → resource kind hint (None: any kind, usually a component).
SCHEME_KINDS: dict[str, str | None] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "postgresql+psycopg2": "postgres",
    "postgresql+psycopg": "postgres",
    "postgresql+asyncpg": "postgres",
    "jdbc:postgresql": "postgres",
    "mysql": "mysql",
    "mysql+pymysql": "mysql",
    "mysql+mysqldb": "mysql",
    "jdbc:mysql": "mysql",
    "mariadb": "mysql",
    "redis": "redis",
    "rediss": "redis",
    "valkey": "redis",
    "memcached": "memcached",
    "amqp": "queue",
    "amqps": "queue",
    "nats": "queue",
    "mongodb": "document-db",
    "mongodb+srv": "document-db",
    "kafka": "kafka-cluster",
    "clickhouse": "clickhouse",
    "http": None,
    "https": None,
    "grpc": None,
    "s3": "object-bucket",
    "gs": "object-bucket",
}

_TEMPLATE_RE = re.compile(r"\$\{|\$\(|\{\{|\}\}|%\(|<%")
_HOST_KEY_RE = re.compile(r"(?i)(?:^|_)(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVERS|ENDPOINT|URL|URI|DSN)$")
_TOPIC_KEY_RE = re.compile(r"(?i)TOPIC")
_BOOTSTRAP_KEY_RE = re.compile(r"(?i)BOOTSTRAP|KAFKA_BROKERS?$|KAFKA_(HOSTS?|SERVERS?)$")
_CONSUME_RE = re.compile(r"(?i)CONSUM|INPUT|SOURCE|SUBSCRI|(?:^|_)IN(?:_|$)|LISTEN")
_PRODUCE_RE = re.compile(r"(?i)PRODUC|OUTPUT|SINK|PUBLISH|(?:^|_)OUT(?:_|$)|DEST")
_BOOTSTRAP_HOST_RE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*?)-kafka-(?:bootstrap|brokers)$")
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$")
_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_NOT_HOSTS = {"true", "false", "yes", "no", "on", "off", "none", "null", "default", "disabled", "enabled"}
_LOOPBACK = {"localhost", "localhost.localdomain", "host.docker.internal", "0.0.0.0"}


def _first_label(host: str) -> str | None:
    """``orders-db.data.svc.cluster.local`` → ``orders-db``; None for IPs/loopback/junk."""
    host = host.strip().strip("[]").lower()
    if not host or host in _LOOPBACK:
        return None
    # Only a text of digits and dots (IPv4) or one with a colon (IPv6) can be an address:
    # a host name is not handed to the parser, whose failure is an exception per name.
    if ":" in host or not host.strip("0123456789."):
        try:
            ipaddress.ip_address(host)
            return None
        except ValueError:
            pass
    label = host.split(".", 1)[0]
    if label.isdigit() or label in _NOT_HOSTS:
        return None
    return label if _LABEL_RE.match(label) else None


def _hosts_of(value: str) -> list[str]:
    """Host names in a ``host:port[,host:port]`` list (no scheme)."""
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part or "/" in part or " " in part:
            continue
        host = part.rsplit(":", 1)[0] if part.count(":") == 1 else part
        out.append(host)
    return out


def _url_target(value: str) -> tuple[str, str | None] | None:
    """``(first host label, kind hint)`` for a URL with a known scheme, else None."""
    text = value.strip()
    if text.startswith("jdbc:"):
        # jdbc:postgresql://host/db → treat the sub-protocol as the scheme.
        text = text[len("jdbc:") :]
    if "://" not in text:
        return None
    scheme = text.split("://", 1)[0].lower()
    if scheme not in SCHEME_KINDS:
        return None
    try:
        parts = urlsplit(text)
        # A multi-host netloc (mongodb://a:1,b:2/db) confuses urlsplit's port parsing.
        netloc = parts.netloc.rsplit("@", 1)[-1]
    except ValueError:
        return None
    hosts = _hosts_of(netloc)
    if not hosts:
        return None
    if scheme in ("s3", "gs"):
        # s3://bucket/key names a bucket, not a host.
        return (hosts[0].lower(), SCHEME_KINDS[scheme]) if _TOPIC_RE.match(hosts[0]) else None
    label = _first_label(hosts[0])
    if label is None:
        return None
    kind = SCHEME_KINDS[scheme]
    m = _BOOTSTRAP_HOST_RE.match(label)
    if m:
        return m.group("name"), "kafka-cluster"
    return label, kind


@lru_cache(maxsize=8192)
def _names_endpoints(key: str) -> bool:
    """Whether ``key`` says its value names topics, brokers or hosts (the rules below without a
    URL). Memoised: an estate's env var and values keys are the same few thousand names."""
    return bool(_TOPIC_KEY_RE.search(key) or _BOOTSTRAP_KEY_RE.search(key) or _HOST_KEY_RE.search(key))


def may_reference(key: str, value: object) -> bool:
    """False when :func:`references_from_env` of ``key`` and ``value`` is certainly empty (most
    values): a caller can then skip working out the evidence it would need."""
    if not isinstance(value, str) or ("://" not in value and not _names_endpoints(key)):
        return False  # the cheap tests first: most values are neither URLs nor under such a key
    return bool(value.strip()) and not _TEMPLATE_RE.search(value)


def references_from_env(source_id: str, key: str, value: object, evidence: Evidence) -> list[Reference]:
    """References from ``source_id`` revealed by env var ``key`` with ``value``.

    ``value`` may hold a secret (a DSN with a password); it is parsed here and dropped, only
    host and topic names are returned. Non-string values yield nothing.
    """
    if not may_reference(key, value):
        return []  # what follows reads nothing else
    val = value.strip().strip("'\"")  # type: ignore[union-attr]  # a str: may_reference says so
    refs: list[Reference] = []

    def add(name: str, kind: str | None, edge_kind: str = "depends-on") -> None:
        ref = reference(source_id, name, kind, edge_kind, key, evidence=evidence)
        if ref not in refs:
            refs.append(ref)

    if _TOPIC_KEY_RE.search(key) and "://" not in val:
        edge = "consumes" if _CONSUME_RE.search(key) else "produces" if _PRODUCE_RE.search(key) else "depends-on"
        for topic in (t.strip() for t in re.split(r"[,\s]+", val)):
            if topic and _TOPIC_RE.match(topic) and not topic.isdigit():
                add(topic, "kafka-topic", edge)
        return refs

    if "://" in val:
        for piece in re.split(r"[,\s]+(?=[a-z][a-z0-9+.:-]*://)", val):
            target = _url_target(piece)
            if target:
                add(target[0], target[1])
        return refs

    if _BOOTSTRAP_KEY_RE.search(key) or _HOST_KEY_RE.search(key):
        for host in _hosts_of(val):
            label = _first_label(host)
            if label is None:
                continue
            m = _BOOTSTRAP_HOST_RE.match(label)
            add(m.group("name") if m else label, "kafka-cluster" if m else None)
    return refs
