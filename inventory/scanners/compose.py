"""docker-compose files: services, the datastores they run, and how they depend on each other.

A service whose image is a known datastore (``postgres:16``, ``redis``, ``bitnami/kafka``) is
a :class:`Resource` of that kind, anything else a ``service`` component. ``depends_on`` and
``links`` become edges; environment variables become name references (connection strings,
hosts, topics) through :func:`inventory.references.references_from_env`. Values are never
kept: only variable names, and secrets' locations.

A compose file is a deployment unless the repository says it is for local development. The
scanner records the signals it can see in the file itself under ``Fragment.extra["compose"]``
(a dev/override file name, a header comment saying "local development", ``dev`` profiles,
source bind-mounted into a dev server); the resolve stage (``inventory/resolve/compose.py``)
decides, also reading what READMEs say. Named volumes are stateful ``volume`` resources.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from inventory.environments import detect_environment
from inventory.kinds import kind_for_image
from inventory.model import Component, Edge, Entity, Fact, Resource, entity_id
from inventory.references import may_reference, references_from_env
from inventory.scanners._common import data_classes, fact, keep, keep_value
from inventory.scanners._yaml import Doc, load_documents
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

_NAME_RE = re.compile(r"^(docker-)?compose([._-][\w.-]+)?\.ya?ml$", re.IGNORECASE)
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}; `$$` is a literal dollar.
_INTERP_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}")
_OWNER_LABELS = ("owner", "team", "com.example.owner", "org.opencontainers.image.vendor")
_ONE_SHOT_RE = re.compile(r"(?:^|[-_])(init|setup|migrate|migrations?|seed|bootstrap|create-topics|provision)(?:$|[-_])")
_DEV_NAME_RE = re.compile(r"(?:^|[._-])(dev|development|local|override|debug)(?:$|[._-])", re.IGNORECASE)
_DEV_COMMENT_RE = re.compile(r"#.*\b(local[ -]development|development (?:stack|environment|setup|only)|for (?:local )?development|dev(?:elopment)? only|local dev)\b",
                             re.IGNORECASE)
_DEV_SERVER_RE = re.compile(r"(npm|yarn|pnpm) (run )?(dev|start:dev|watch)|--reload\b|nodemon|flask run|runserver|rails s(erver)?\b|"
                            r"\bair\b|watchexec|cargo watch|mix phx\.server|webpack(-dev-server| serve)|\bvite\b|--watch\b",
                            re.IGNORECASE)
_SOURCE_MOUNT_RE = re.compile(r"^\.{1,2}(/[\w.-]*)*:/")
_STATEFUL_KINDS = {"postgres", "mysql", "redis", "clickhouse", "search", "document-db", "object-bucket",
                   "queue", "kafka-cluster", "memcached"}


def _runs_as_client(name: str, svc: dict) -> bool:
    """A datastore image run as a client (by its command, or a name that says so)."""
    from inventory.scanners.kubernetes import _CLIENT_CMD_RE, _CLIENT_NAME_RE

    cmd = svc.get("command") or svc.get("entrypoint")
    text = " ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "")
    return bool(_CLIENT_CMD_RE.search(text)) or bool(_CLIENT_NAME_RE.search(name.lower()))


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
    version = 5
    suffixes = (".yaml", ".yml")

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
        # Only the file name states an environment here (`docker-compose.prod.yml`); whether a
        # plain compose file is local development is decided by the resolve stage.
        env = detect_environment(stem, patterns=ctx.config.environments)
        ids: dict[str, str] = {}
        entities: dict[str, Entity] = {}
        signals = self._dev_signals(src, doc, services)
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
        self._volumes(src, frag, doc, services, env)
        frag.extra = {"compose": {"dir": str(src.pure.parent), "dev_signals": signals, "env": env}}
        return frag

    @staticmethod
    def _dev_signals(src: SourceFile, doc: Doc, services: dict) -> list[list]:
        """What in this file says it is for local development: ``[[how, line], ...]``."""
        out: list[list] = []
        stem = src.pure.name.rsplit(".", 1)[0]
        if _DEV_NAME_RE.search(re.sub(r"^(docker-)?compose", "", stem, flags=re.IGNORECASE)):
            out.append([f"the file name {src.pure.name} marks it as a development/override file", 1])
        if ".devcontainer" in src.pure.parts:
            out.append([f"it is the dev container's compose file ({src.pure.parent}/)", 1])
        for i, text in enumerate(src.text.splitlines()[:400], start=1):
            if text.lstrip().startswith("#") and _DEV_COMMENT_RE.search(text):
                out.append([f"its comment says {text.strip().lstrip('#').strip()[:80]!r}", i])
                break
        for name in sorted(services, key=str):
            svc = services[name]
            if not isinstance(svc, dict):
                continue
            base = ("services", name)
            profiles = [p.lower() for p in _names(svc.get("profiles"))]
            if any(p in ("dev", "development", "local", "debug") for p in profiles):
                out.append([f"service {name} is in the {', '.join(profiles)} profile", doc.line_of(base + ("profiles",))])
            mounts = [str(v) for v in svc.get("volumes") or [] if isinstance(v, str)]
            cmd = svc.get("command")
            cmd_text = " ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "")
            if any(_SOURCE_MOUNT_RE.match(m) for m in mounts) and _DEV_SERVER_RE.search(cmd_text):
                out.append([f"service {name} mounts its source and runs a dev server", doc.line_of(base + ("command",))])
        return out

    @staticmethod
    def _volumes(src: SourceFile, frag: Fragment, doc: Doc, services: dict, env: str | None) -> None:
        """Top-level named volumes: the state a compose deployment keeps (written by its users)."""
        vols = doc.data.get("volumes")
        if not isinstance(vols, dict):
            return
        users: dict[str, list[str]] = {}
        for name in sorted(services, key=str):
            svc = services[name]
            for v in (svc.get("volumes") or []) if isinstance(svc, dict) else []:
                source = v.split(":", 1)[0] if isinstance(v, str) else (v.get("source") if isinstance(v, dict) else None)
                if isinstance(source, str) and source in vols:
                    users.setdefault(source, []).append(str(name))
        ids = {str(n): next((e.id for e in (*frag.components, *frag.resources) if e.name == str(n)), None)
               for n in services}
        for vname in sorted(vols, key=str):
            body = vols[vname] if isinstance(vols[vname], dict) else {}
            if body.get("external") is True:
                continue  # managed elsewhere: not this file's to define
            ev = src.evidence(doc.line_of(("volumes", vname)))
            res = Resource(id=entity_id("volume", str(vname)), kind="volume", name=str(vname),
                           subtype="compose-volume", stateful=True, evidence=[ev])
            res.attributes["used_by"] = sorted(users.get(str(vname), []))
            if env:
                res.environments.append(env)
                res.facts.append(Fact(name="environment", value=env, evidence=[ev],
                                      how=f"compose file {src.pure.name} is named for {env}"))
            frag.resources.append(res)
            for user in users.get(str(vname), []):
                if ids.get(user):
                    frag.edges.append(Edge(source=ids[user], target=res.id, kind="writes", via="volume", evidence=[ev]))

    def _entity(self, src: SourceFile, frag: Fragment, doc: Doc, name: str, svc: dict, env: str | None) -> Entity:
        base = ("services", name)
        ev = src.evidence(doc.line_of(base))
        image_raw = svc.get("image")
        image = interpolate(str(image_raw)) if isinstance(image_raw, (str, int, float)) else None
        found = kind_for_image(image) if image else None
        build = svc.get("build")
        ctx_dir = build.get("context") if isinstance(build, dict) else build
        if found is None and isinstance(ctx_dir, str):
            # A locally built image named for its engine (`build: ./postgres`, service `redis`).
            found = kind_for_image(name) or kind_for_image(PurePosixPath(interpolate(ctx_dir)).name or "x")
        if found and _ONE_SHOT_RE.search(name):
            # `kafka-init`, `db-migrate`: a datastore image run once to set things up is a job.
            found = None
        if found and _runs_as_client(name, svc):
            found = None  # the image's client side: a consumer, a toolbox, a backup loop
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
        if env:
            ent.environments.append(env)
            ent.facts.append(Fact(name="environment", value=env, evidence=[ev],
                                  how=f"compose file {src.pure.name} is named for {env}"))
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
            if not key or value is None:
                continue
            value = interpolate(value)
            masked = keep_value(key, value)[1]  # the value is not stored, only where a secret was
            if not masked and not may_reference(key, value):
                continue  # most variables: no line to look up (a walk down the node tree)
            line = doc.line_of(base + ("environment", key)) if isinstance(env_node, dict) else self._list_line(doc, base, key)
            kev = src.evidence(line)
            if masked and kev not in frag.secrets:
                frag.secrets.append(kev)
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
