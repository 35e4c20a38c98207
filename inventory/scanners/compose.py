"""docker-compose files: services, the datastores they run, and how they depend on each other.

A service whose image is a known datastore (``postgres:16``, ``redis``, ``bitnami/kafka``) is
a :class:`Resource` of that kind, anything else a ``service`` component. ``depends_on`` and
``links`` become edges; environment variables become name references (connection strings,
hosts, topics) through :func:`inventory.references.references_from_env`. Values are never
kept: only variable names, and secrets' locations.

Compose describes local development unless the file name says otherwise
(``docker-compose.prod.yml``), so its entities get environment ``dev``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from inventory.environments import detect_environment
from inventory.kinds import kind_for_image
from inventory.model import Component, Edge, Entity, Resource, entity_id
from inventory.references import references_from_env
from inventory.scanners._common import data_classes, fact, keep
from inventory.scanners._yaml import Doc, load_documents
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

_NAME_RE = re.compile(r"^(docker-)?compose([._-][\w.-]+)?\.ya?ml$", re.IGNORECASE)
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}; `$$` is a literal dollar.
_INTERP_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}")
_OWNER_LABELS = ("owner", "team", "com.example.owner", "org.opencontainers.image.vendor")
_ONE_SHOT_RE = re.compile(r"(?:^|[-_])(init|setup|migrate|migrations?|seed|bootstrap|create-topics|provision)(?:$|[-_])")
_STATEFUL_KINDS = {"postgres", "mysql", "redis", "clickhouse", "search", "document-db", "object-bucket",
                   "queue", "kafka-cluster", "memcached"}


def interpolate(value: str) -> str:
    """Compose variable interpolation without an environment.

    ``${VAR:-default}`` / ``${VAR-default}`` → ``default``; ``${VAR}`` and required
    variables stay as written (the value is unknown); ``$$`` → ``$``.
    """

    def sub(m: re.Match[str]) -> str:
        op, arg = m.group(2), m.group(3)
        if op in (":-", "-"):
            return interpolate(arg or "")
        return m.group(0) if not op or "?" in op else ""

    return _INTERP_RE.sub(sub, value).replace("$$", "$")


def _env_pairs(env: Any) -> list[tuple[str, str | None]]:
    """``environment:`` as (key, value) pairs: a mapping or a ``K=V`` list."""
    out: list[tuple[str, str | None]] = []
    if isinstance(env, dict):
        for k, v in env.items():
            out.append((str(k), None if v is None else str(v).lower() if isinstance(v, bool) else str(v)))
    elif isinstance(env, list):
        for item in env:
            if isinstance(item, str):
                k, sep, v = item.partition("=")
                out.append((k.strip(), v if sep else None))
    return out


def _names(value: Any) -> list[str]:
    """``depends_on`` / ``links`` / ``profiles``: a list or a mapping of names."""
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list):
        return [str(v).split(":", 1)[0] for v in value if isinstance(v, (str, int))]
    if isinstance(value, str):
        return [value]
    return []


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return {k: v for k, _, v in (str(i).partition("=") for i in value)}
    return {}


class ComposeScanner(Scanner):
    """docker-compose services and datastores."""

    name = "compose"
    version = 2

    def matches(self, path: PurePosixPath, head: str) -> bool:
        return bool(_NAME_RE.match(path.name))

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        docs = load_documents(src, frag)
        doc = next((d for d in docs if isinstance(d.data, dict)), None)
        if doc is None:
            return frag
        services = doc.data.get("services")
        if services is None:
            return frag
        if not isinstance(services, dict):
            frag.warn("`services` is not a mapping", line=doc.line_of(("services",)))
            return frag
        stem = re.sub(r"^(docker-)?compose", "", src.pure.name.rsplit(".", 1)[0], flags=re.IGNORECASE)
        env = detect_environment(stem, patterns=ctx.config.environments) or "dev"
        ids: dict[str, str] = {}
        entities: dict[str, Entity] = {}
        for name in sorted(services, key=str):
            svc = services[name]
            if not isinstance(svc, dict):
                frag.warn(f"service {name!r} is not a mapping", line=doc.line_of(("services", name)))
                continue
            ent = self._entity(src, frag, doc, str(name), svc, env)
            ids[str(name)] = ent.id
            entities[str(name)] = ent
        for name, ent in entities.items():
            svc = services[name]
            for key in ("depends_on", "links"):
                for dep in _names(svc.get(key)):
                    target = ids.get(dep)
                    if target and target != ent.id:
                        frag.edges.append(Edge(source=ent.id, target=target, kind="depends-on", via=key,
                                               evidence=[src.evidence(doc.line_of(("services", name, key)))]))
            if isinstance(ent, Component):
                frag.components.append(ent)
            else:
                frag.resources.append(ent)  # type: ignore[arg-type]
        return frag

    def _entity(self, src: SourceFile, frag: Fragment, doc: Doc, name: str, svc: dict, env: str) -> Entity:
        base = ("services", name)
        ev = src.evidence(doc.line_of(base))
        image_raw = svc.get("image")
        image = interpolate(str(image_raw)) if isinstance(image_raw, (str, int, float)) else None
        found = kind_for_image(image) if image else None
        if found and _ONE_SHOT_RE.search(name):
            # `kafka-init`, `db-migrate`: a datastore image run once to set things up is a job.
            found = None
        ent: Entity
        if found:
            kind, subtype = found
            ent = Resource(id=entity_id(kind, name), kind=kind, name=name, subtype=subtype, evidence=[ev])
            ent.attributes["image"] = keep(frag, "image", image or "", ev)
        else:
            ckind = "job" if _ONE_SHOT_RE.search(name) else "service"
            ent = Component(id=entity_id(ckind, name), kind=ckind, name=name, subtype="compose",
                            evidence=[ev], image=keep(frag, "image", image, ev) if image else None)
            build = svc.get("build")
            ctx_dir = build.get("context") if isinstance(build, dict) else build
            if isinstance(ctx_dir, str):
                ent.attributes["build_context"] = interpolate(ctx_dir)
        ent.environments.append(env)
        ent.facts.append(fact("environment", env, ev))
        if found and found[0] in _STATEFUL_KINDS:
            ent.stateful = True
        profiles = _names(svc.get("profiles"))
        if profiles:
            ent.attributes["profiles"] = sorted(profiles)
        replicas = (svc.get("deploy") or {}).get("replicas") if isinstance(svc.get("deploy"), dict) else None
        if isinstance(replicas, int) and not isinstance(replicas, bool):
            ent.replicas = replicas
        for k, v in sorted(_labels(svc.get("labels")).items()):
            lev = src.evidence(doc.line_of(base + ("labels",)))
            kept = keep(frag, k, interpolate(v), lev)
            ent.labels[k] = kept
            if k.lower() in _OWNER_LABELS or k.lower().endswith((".owner", ".team")):
                ent.owners.append(kept)
                ent.facts.append(fact("owner", kept, lev))
        env_node = svc.get("environment")
        pairs = _env_pairs(env_node)
        if pairs:
            ent.attributes["env_vars"] = sorted({k for k, _ in pairs if k})
        for key, value in pairs:
            if not key:
                continue
            line = doc.line_of(base + ("environment", key)) if isinstance(env_node, dict) else self._list_line(doc, base, key)
            kev = src.evidence(line)
            if value is None:
                continue
            value = interpolate(value)
            keep(frag, key, value, kev)  # records the secret's location; the value is not stored
            frag.references.extend(references_from_env(ent.id, key, value, kev))
        env_file = svc.get("env_file")
        files = _names(env_file) if not isinstance(env_file, dict) else []
        if files:
            ent.attributes["env_file"] = sorted(files)
        for dc in data_classes(name):
            ent.data_classes.append(dc)
            ent.facts.append(fact("data_class", dc, ev))
        return ent

    @staticmethod
    def _list_line(doc: Doc, base: tuple[str, ...], key: str) -> int:
        items = doc.get(*base, "environment", default=[])
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, str) and item.partition("=")[0].strip() == key:
                return doc.line_of(base + ("environment", i))
        return doc.line_of(base + ("environment",))
