"""Backstage catalog files (``catalog-info.yaml``): components, resources, APIs, owners.

A team's catalog is the most direct statement of what it runs and who owns it:

* ``Component`` → a ``service`` (or ``job`` for batch types) component;
* ``Resource`` → a resource whose kind comes from ``spec.type`` (``database`` refined to
  postgres/mysql when the name, labels or tags say so; ``kafka-topic``, ``s3-bucket``...);
* ``API`` → an ``other`` resource with subtype ``api``;
* ``Group`` / ``User`` and every ``spec.owner`` → :class:`Owner` objects and entity owners;
* ``dependsOn`` / ``consumesApis`` → name references (edges once the targets exist);
  ``providesApis`` and ``system`` are kept as attributes.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from typing import Any

from inventory.model import Component, Entity, Owner, Resource, entity_id
from inventory.scanners._common import data_classes, fact, keep
from inventory.scanners._yaml import Doc, load_documents
from inventory.scanners.base import Fragment, Reference, ScanContext, Scanner, SourceFile

# spec.type of a Resource → inventory kind (lower-case, first match on the whole type).
RESOURCE_TYPES: dict[str, str] = {
    "postgres": "postgres", "postgresql": "postgres", "rds": "postgres", "aurora": "postgres",
    "mysql": "mysql", "mariadb": "mysql",
    "redis": "redis", "valkey": "redis", "cache": "redis", "elasticache": "redis",
    "memcached": "memcached",
    "kafka": "kafka-cluster", "kafka-cluster": "kafka-cluster", "msk": "kafka-cluster",
    "kafka-topic": "kafka-topic", "topic": "kafka-topic",
    "s3": "object-bucket", "s3-bucket": "object-bucket", "bucket": "object-bucket", "gcs-bucket": "object-bucket",
    "storage": "object-bucket", "object-storage": "object-bucket",
    "queue": "queue", "sqs": "queue", "sns": "queue", "pubsub": "queue", "rabbitmq": "queue",
    "elasticsearch": "search", "opensearch": "search", "search": "search",
    "mongodb": "document-db", "dynamodb": "document-db", "documentdb": "document-db",
    "clickhouse": "clickhouse",
    "bigquery": "warehouse-dataset", "redshift": "warehouse-dataset", "snowflake": "warehouse-dataset",
    "warehouse": "warehouse-dataset",
    "kubernetes-cluster": "k8s-cluster", "k8s-cluster": "k8s-cluster", "cluster": "k8s-cluster",
    "namespace": "k8s-namespace",
    "dns": "dns", "iam": "iam", "iam-role": "iam", "kms": "kms-key", "secret": "secret", "vault": "secret",
}
# Words in a database's name/labels/tags that say which engine it is.
_DB_HINTS = (("postgres", "postgres"), ("pg", "postgres"), ("psql", "postgres"), ("mysql", "mysql"),
             ("maria", "mysql"), ("aurora", "postgres"))
# Backstage ref kind → inventory kind for name lookups (None: any resource kind).
_REF_KINDS: dict[str, str | None] = {"api": "other", "component": "service", "resource": None}
_JOB_TYPES = {"job", "batch", "cronjob", "cron-job", "pipeline", "etl"}
_SKIP_COMPONENT_TYPES = {"library", "documentation", "template", "docs"}


def parse_ref(ref: str, default_kind: str) -> tuple[str, str | None, str]:
    """A Backstage entity ref ``[kind:][namespace/]name`` → (kind, namespace, name)."""
    kind, sep, rest = ref.partition(":")
    if not sep:
        kind, rest = default_kind, ref
    ns, sep, name = rest.partition("/")
    return (kind.lower(), ns, name) if sep else (kind.lower(), None, rest)


def _owner_name(ref: str) -> tuple[str, str]:
    """``group:cds-snc/notify-dev`` → (``notify-dev``, ``group``).

    Owners are named by their team slug, without Backstage namespace or GitHub org, so
    ``group:orders`` here and ``@acme/orders`` in CODEOWNERS are the same owner.
    """
    kind, _, name = parse_ref(ref.strip(), "group")
    return name, "user" if kind == "user" else "group" if kind == "group" else "team"


def _refs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if isinstance(v, (str, int))] if isinstance(value, list) else []


def _db_kind(*texts: str) -> str | None:
    words = " ".join(texts).lower().replace("_", "-")
    tokens = set(words.replace("/", "-").replace(".", "-").replace(" ", "-").split("-"))
    for hint, kind in _DB_HINTS:
        if hint in tokens or (len(hint) > 3 and hint in words):
            return kind
    return None


class BackstageScanner(Scanner):
    """Backstage ``catalog-info.yaml`` entities."""

    name = "backstage"
    version = 2
    suffixes = (".yaml", ".yml")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        if path.suffix.lower() not in (".yaml", ".yml"):
            return False
        return path.name.lower().startswith("catalog-info") or "apiVersion: backstage.io/" in head

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        for doc in load_documents(src, frag):
            data = doc.data
            if not isinstance(data, dict) or not str(data.get("apiVersion", "")).startswith("backstage.io/"):
                continue
            kind = str(data.get("kind", ""))
            meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
            name = meta.get("name")
            if not isinstance(name, str) or not name.strip():
                frag.warn(f"Backstage {kind or 'entity'} without metadata.name", line=doc.line)
                continue
            ev = src.evidence(doc.line_of(("metadata", "name")))
            if kind in ("Group", "User"):
                frag.owners.append(Owner(name=name, kind=kind.lower(), evidence=[ev]))
                continue
            ent = self._entity(src, frag, doc, kind, name, meta, spec)
            if ent is None:
                continue
            self._common(src, frag, doc, ent, meta, spec)
            if isinstance(ent, Component):
                frag.components.append(ent)
            else:
                frag.resources.append(ent)  # type: ignore[arg-type]
        return frag

    def _entity(self, src: SourceFile, frag: Fragment, doc: Doc, kind: str, name: str, meta: dict,
                spec: dict) -> Entity | None:
        ev = src.evidence(doc.line_of(("metadata", "name")))
        stype = str(spec.get("type") or "").lower()
        if kind == "Component":
            if stype in _SKIP_COMPONENT_TYPES:
                self._owners_only(src, frag, doc, spec)
                return None
            ckind = "job" if stype in _JOB_TYPES else "service"
            return Component(id=entity_id(ckind, name), kind=ckind, name=name, subtype="backstage", evidence=[ev])
        if kind == "Resource":
            rkind = RESOURCE_TYPES.get(stype)
            labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
            tags = [str(t) for t in meta.get("tags") or [] if isinstance(t, (str, int))]
            if stype in ("database", "db", "rdbms", "sql") or rkind == "postgres":
                rkind = _db_kind(name, stype, *tags, *(f"{k}-{v}" for k, v in labels.items())) or rkind
            subtype = stype or None
            if rkind is None:
                rkind = "other"
            return Resource(id=entity_id(rkind, name), kind=rkind, name=name, subtype=subtype, evidence=[ev])
        if kind == "API":
            res = Resource(id=entity_id("other", f"api-{name}"), kind="other", name=name, subtype="api", evidence=[ev])
            if stype:
                res.attributes["api_type"] = stype
            definition = spec.get("definition")
            ref = definition.get("$text") if isinstance(definition, dict) else None
            if isinstance(ref, str) and "://" not in ref:
                # Relative to the catalog file: lets the OpenAPI scanner find who serves it.
                res.attributes["definition"] = posixpath.normpath(posixpath.join(str(src.pure.parent), ref))
            return res
        if kind == "System":
            self._owners_only(src, frag, doc, spec)
        return None

    def _owners_only(self, src: SourceFile, frag: Fragment, doc: Doc, spec: dict) -> None:
        owner = spec.get("owner")
        if isinstance(owner, str) and owner.strip():
            full, okind = _owner_name(owner)
            frag.owners.append(Owner(name=full, kind=okind, evidence=[src.evidence(doc.line_of(("spec", "owner")))]))

    def _common(self, src: SourceFile, frag: Fragment, doc: Doc, ent: Entity, meta: dict, spec: dict) -> None:
        """Owner, system, lifecycle, labels, data classes and references of one entity."""
        owner = spec.get("owner")
        if isinstance(owner, str) and owner.strip():
            oev = src.evidence(doc.line_of(("spec", "owner")))
            full, okind = _owner_name(owner)
            ent.owners.append(full)
            ent.facts.append(fact("owner", full, oev))
            frag.owners.append(Owner(name=full, kind=okind, evidence=[oev]))
        for key in ("system", "lifecycle", "type"):
            v = spec.get(key)
            if isinstance(v, str) and v.strip():
                ent.attributes[f"backstage_{key}"] = v
        labels = meta.get("labels")
        if isinstance(labels, dict):
            lev = src.evidence(doc.line_of(("metadata", "labels")))
            for k, v in labels.items():
                if isinstance(v, (str, int, float, bool)):
                    ent.labels[str(k)] = keep(frag, str(k), str(v), lev)
        tags = [str(t) for t in meta.get("tags") or [] if isinstance(t, (str, int))] if isinstance(meta.get("tags"), list) else []
        for dc in data_classes(ent.name, *tags, *ent.labels.values()):
            ent.data_classes.append(dc)
            ent.facts.append(fact("data_class", dc, ent.evidence[0]))
        provides = _refs(spec.get("providesApis"))
        if provides:
            ent.attributes["provides_apis"] = sorted(parse_ref(r, "api")[2] for r in provides)
        for key, default_kind in (("dependsOn", "component"), ("consumesApis", "api")):
            for i, ref in enumerate(_refs(spec.get(key))):
                rkind, _, rname = parse_ref(ref, default_kind)
                frag.references.append(
                    Reference(source=ent.id, target_name=rname, target_kind=_REF_KINDS.get(rkind),
                              via=f"backstage {key}", evidence=src.evidence(doc.line_of(("spec", key, i))))
                )
