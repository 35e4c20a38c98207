"""Kubernetes manifests: workloads, datastores, volumes, secrets, RBAC, ingress, operator CRs.

One YAML file may hold many documents; each document with ``apiVersion`` and ``kind``
becomes at most a few entities. What needs other files (a ConfigMap's connection strings
reaching the workloads that load it with ``envFrom``, a Service attaching its ports to the
workload it selects, a StorageClass's reclaim policy reaching volumes) is recorded in
``Fragment.extra`` and joined in :meth:`KubernetesScanner.finalize`.

Values are never kept: env vars and ConfigMap entries are only parsed for host and topic
names (:func:`inventory.references.references_from_env`), and Secret data is reduced to
key names plus secret-evidence lines.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from inventory.commands.model import copy_with
from inventory.dataclasses import data_classes_for
from inventory.environments import detect_environment, environment_of_path
from inventory.kinds import kind_for_chart, kind_for_crd, kind_for_image
from inventory.model import Component, Edge, Entity, Evidence, Fact, Resource, entity_id
from inventory.references import may_reference, references_from_env
from inventory.scanners._common import fact, keep_value, owner
from inventory.scanners._yaml import Doc, load_documents
from inventory.scanners.base import Fragment, Reference, ScanContext, Scanner, SourceFile, reference
from inventory.secrets import is_secret_key, redact_text

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder

WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod",
                  "DeploymentConfig"}
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"}
# Label keys whose values name an environment, most specific first.
ENV_LABELS = ("environment", "env", "app.kubernetes.io/environment", "stage", "tier")
# Label / annotation keys that name an owner.
OWNER_KEYS = ("backstage.io/owner", "owner", "team", "app.kubernetes.io/owner", "app.kubernetes.io/team",
              "acme.io/owner", "ownership/team")
# Label / annotation keys whose values describe what the thing holds.
DATA_KEYS = ("app", "app.kubernetes.io/name", "app.kubernetes.io/component", "component", "data-class",
             "data-classification", "classification", "dataClass")
# When an image says nothing, a StatefulSet's ports and data paths still reveal a datastore.
_DATASTORE_PORTS = {5432: "postgres", 3306: "mysql", 6379: "redis", 27017: "document-db", 9200: "search",
                    11211: "memcached", 9092: "kafka-cluster", 8123: "clickhouse"}
_DATASTORE_PATHS = (("/var/lib/postgresql", "postgres"), ("/var/lib/mysql", "mysql"),
                    ("/bitnami/postgresql", "postgres"), ("/bitnami/mysql", "mysql"),
                    ("/var/lib/redis", "redis"), ("/data/db", "document-db"))
_STRIMZI_CLUSTER_LABEL = "strimzi.io/cluster"
_COMPONENT_KINDS = {"service", "job", "cron-job", "daemon"}
# Where an operator CR names the image its workload runs.
_CR_IMAGE_PATHS = (("spec", "image"), ("spec", "template", "spec", "image"),
                   ("spec", "sparkApplicationSpec", "image"))


def _str_map(value: Any) -> dict[str, str]:
    """A ``{str: str}`` view of a labels/annotations mapping (anything else: empty)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None and not isinstance(v, (dict, list))}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class _DocCtx:
    """One manifest document with its metadata, and helpers to build entities from it."""

    def __init__(self, doc: Doc, src: SourceFile, ctx: ScanContext, frag: Fragment, path_env: str | None) -> None:
        self.doc, self.src, self.ctx, self.frag = doc, src, ctx, frag
        self.path_env = path_env  # the environment the file's directory names, if any
        self._base: tuple[str | None, list[str], list[Fact]] | None = None
        data = doc.data
        self.api_version = str(data.get("apiVersion") or "")
        self.kind = str(data.get("kind") or "")
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        self.name = str(meta.get("name") or "")
        ns = meta.get("namespace")
        self.namespace = str(ns) if isinstance(ns, (str, int)) and str(ns) else None
        self.labels = _str_map(meta.get("labels"))
        self.annotations = _str_map(meta.get("annotations"))
        name_line = doc.line_of(("metadata", "name"))
        self.line = name_line if meta.get("name") else doc.line_of(("kind",))

    def ev(self, *path: Any) -> Evidence:
        """Evidence for ``path`` in this document (the document's name line when empty)."""
        return self.src.evidence(self.doc.line_of(tuple(path)) if path else self.line)

    def env_and_owners(self) -> tuple[str | None, list[str], list[Fact]]:
        """Environment and owners of this document (computed once; shared by its entities)."""
        if self._base is not None:
            return self._base
        facts: list[Fact] = []
        patterns = self.ctx.config.environments
        env = None
        env_ev = self.ev()
        how = None
        if self.namespace:
            env = detect_environment(self.namespace, patterns=patterns)
            env_ev = self.ev("metadata", "namespace")
            how = f"namespace {self.namespace}"
        if env is None:
            for key in ENV_LABELS:
                if key in self.labels:
                    env = detect_environment(self.labels[key], patterns=patterns)
                    if env:
                        env_ev = self.ev("metadata", "labels", key)
                        how = f"label {key}: {self.labels[key]}"
                        break
        if env is None:
            env = self.path_env
            if env:  # the words only for a fact (3 in 4 of the estate's documents have no environment)
                how = f"defined under the per-environment directory {self.src.pure.parent}/"
        if env:
            facts.append(fact("environment", env, env_ev, how))
        owners: list[str] = []
        for source, key_path in ((self.labels, "labels"), (self.annotations, "annotations")):
            for key in OWNER_KEYS:
                val = source.get(key)
                if val and val not in owners:
                    owners.append(val)
                    oev = self.ev("metadata", key_path, key)
                    facts.append(fact("owner", val, oev))
                    self.frag.owners.append(owner(val, oev))
        self._base = (env, owners, facts)
        return self._base

    def entity_fields(self, name: str) -> dict[str, Any]:
        """The shared fields of any entity this document yields: env, owners, data classes, facts."""
        ev = self.ev()
        env, owners, base_facts = self.env_and_owners()
        facts = [copy_with(f) for f in base_facts]  # model_copy(), without pydantic's generic copy
        texts = [name] + [self.labels.get(k) for k in DATA_KEYS] + [self.annotations.get(k) for k in DATA_KEYS]
        classes = data_classes_for(*texts)
        for dc in classes:
            facts.append(fact("data_class", dc, ev))
        return {
            "namespace": self.namespace,
            "environments": [env] if env else [],
            "owners": list(owners),
            "data_classes": classes,
            "labels": dict(sorted(self.labels.items())),
            "facts": facts,
            "evidence": [ev],
        }

    def resource(self, kind: str, name: str, **extra: Any) -> Resource:
        """A resource from this document, with facts for its replicas/stateful/protection."""
        fields = self.entity_fields(name)
        facts = fields.pop("facts")
        res = Resource(id=entity_id(kind, name), kind=kind, name=name, facts=facts, **fields, **extra)
        _add_scalar_facts(res, self.ev())
        self.frag.resources.append(res)
        return res

    def component(self, kind: str, name: str, **extra: Any) -> Component:
        """A component from this document."""
        fields = self.entity_fields(name)
        facts = fields.pop("facts")
        comp = Component(id=entity_id(kind, name), kind=kind, name=name, facts=facts, **fields, **extra)
        _add_scalar_facts(comp, self.ev())
        self.frag.components.append(comp)
        return comp

    def ref(self, source: str, target: str, kind: str | None, edge: str = "depends-on", via: str | None = None,
            ev: Evidence | None = None) -> None:
        self.frag.references.append(reference(source, target, kind, edge, via, evidence=ev or self.ev()))


def _add_scalar_facts(ent: Entity, ev: Evidence) -> None:
    for name in ("replicas", "stateful", "deletion_protection"):
        value = getattr(ent, name)
        if value is not None:
            ent.facts.append(fact(name, value, ev))


def _pod_spec(data: dict, kind: str) -> tuple[dict, tuple]:
    """The pod spec of a workload and its path in the document."""
    if kind == "Pod":
        path: tuple = ("spec",)
    elif kind == "CronJob":
        path = ("spec", "jobTemplate", "spec", "template", "spec")
    else:
        path = ("spec", "template", "spec")
    cur: Any = data
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    return (cur if isinstance(cur, dict) else {}), path


def _containers(pod: dict, pod_path: tuple) -> list[tuple[dict, tuple]]:
    out = []
    for key in ("containers", "initContainers"):
        items = pod.get(key)
        if isinstance(items, list):
            out.extend((c, pod_path + (key, i)) for i, c in enumerate(items) if isinstance(c, dict))
    return out


_MAX_ENV_VALUE = 200


def _env_summary(containers: list[tuple[dict, tuple]]) -> list[str]:
    """``NAME=value`` per env var, values redacted (and shortened); references say where from."""
    out: set[str] = set()
    for c, _ in containers:
        for e in c.get("env") or []:
            if not isinstance(e, dict) or not e.get("name"):
                continue
            key = str(e["name"])
            vf = e.get("valueFrom")
            if isinstance(vf, dict):
                src = next((f"{k}:{v.get('name', '')}" for k, v in vf.items() if isinstance(v, dict)), "valueFrom")
                out.add(f"{key}=<from {src}>")
            elif e.get("value") is not None:
                value = keep_value(key, str(e["value"]))[0]
                if len(value) > _MAX_ENV_VALUE:
                    value = value[:_MAX_ENV_VALUE] + "..."
                out.add(f"{key}={value}")
            else:
                out.add(key)
    return sorted(out)


# A datastore image run as a client (a toolbox pod, a consumer, a backup loop) is no server.
_CLIENT_CMD_RE = re.compile(r"(^|[\s/;&|])(psql|pg_dump|pg_dumpall|pg_restore|redis-cli|valkey-cli|mysql|mysqldump|mongosh|mongo|"
                            r"mongodump|kafka-console-(consumer|producer)(\.sh)?|kafka-topics(\.sh)?|"
                            r"kafka-consumer-groups(\.sh)?|kafkacat|kcat|sleep\s+(infinity|\d{4,})|tail\s+-f\s+/dev/null)\b")
_CLIENT_NAME_RE = re.compile(r"(^|[-_])(client|clients|cli|toolbox|tools|debug|producer|consumer|loadgen)($|[-_])")


def _runs_as_client(name: str, c: dict) -> bool:
    """Whether a container runs its image's client side (by its command, or a name that says so)."""
    parts = [c.get("command"), c.get("args")]
    text = " ".join(" ".join(map(str, p)) if isinstance(p, list) else str(p) for p in parts if p)
    return bool(_CLIENT_CMD_RE.search(text)) or bool(_CLIENT_NAME_RE.search(name.lower()))


def _datastore(kind: str, containers: list[tuple[dict, tuple]], name: str = "") -> tuple[str, str] | None:
    """``(resource kind, subtype)`` when a workload runs a datastore server, else ``None``."""
    main = [c for c, p in containers if p[-2] == "containers"]
    if main and all(_runs_as_client(name, c) for c in main):
        return None
    for c in main:
        hit = kind_for_image(str(c.get("image") or ""))
        if hit:
            return hit
    if kind != "StatefulSet":
        return None
    for c in main:
        for port in c.get("ports") or []:
            if isinstance(port, dict) and _int(port.get("containerPort")) in _DATASTORE_PORTS:
                return _DATASTORE_PORTS[_int(port.get("containerPort"))], "statefulset"  # type: ignore[index]
        for mount in c.get("volumeMounts") or []:
            path = str(mount.get("mountPath") or "") if isinstance(mount, dict) else ""
            for prefix, dkind in _DATASTORE_PATHS:
                if path.startswith(prefix):
                    return dkind, "statefulset"
    return None


class KubernetesScanner(Scanner):
    """Kubernetes manifests (plain YAML with ``apiVersion`` and ``kind``)."""

    name = "kubernetes"
    version = 6
    suffixes = (".yaml", ".yml")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        if path.suffix not in (".yaml", ".yml") or path.name.lower() in ("kustomization.yaml", "kustomization.yml"):
            return False
        if "templates" in path.parts and "{{" in head:
            return False  # Helm templates: the helm scanner reads them without parsing
        return "apiVersion" in head and "kind" in head

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        if "templates" in src.pure.parts and "{{" in src.text:
            return frag
        # Only a per-environment directory (`overlays/prod/`, `k8s/staging/`) counts; a word
        # inside a folder name does not.
        hit = environment_of_path(src.path, ctx.config.environments)
        path_env = hit[0] if hit else None
        for doc in load_documents(src, frag):
            if isinstance(doc.data, list) or not isinstance(doc.data, dict):
                continue
            if doc.data.get("kind") == "List" and isinstance(doc.data.get("items"), list):
                # `kubectl get -o yaml` output: each item is a manifest of its own.
                for i, item in enumerate(doc.data["items"]):
                    if isinstance(item, dict):
                        self._scan_doc(doc.child("items", i), src, ctx, frag, path_env)
                continue
            self._scan_doc(doc, src, ctx, frag, path_env)
        return frag

    # -- per document -----------------------------------------------------------------
    def _scan_doc(self, doc: Doc, src: SourceFile, ctx: ScanContext, frag: Fragment, path_env: str | None) -> None:
        data = doc.data
        if not data.get("apiVersion") or not data.get("kind"):
            return
        d = _DocCtx(doc, src, ctx, frag, path_env)
        if not d.name:
            if d.kind not in ("Kustomization", "Component"):
                frag.warn(f"{d.kind} without metadata.name, skipped", line=d.line)
            return
        kind = d.kind
        if kind in WORKLOAD_KINDS:
            self._workload(d)
        elif kind == "Service":
            self._service(d)
        elif kind == "PersistentVolumeClaim":
            self._pvc(d, d.name, ("spec",))
        elif kind == "PersistentVolume":
            policy = str(doc.get("spec", "persistentVolumeReclaimPolicy") or "")
            attrs: dict[str, Any] = {"k8s_kind": "PersistentVolume"}
            if policy:
                attrs["reclaim_policy"] = policy
            sc = doc.get("spec", "storageClassName")
            if isinstance(sc, str):
                attrs["storage_class"] = sc
            d.resource("volume", d.name, subtype="persistent-volume", attributes=attrs,
                       deletion_protection=True if policy == "Retain" else None)
        elif kind == "StorageClass":
            frag.extra.setdefault("storage_classes", {})[d.name] = {
                "reclaim_policy": str(data.get("reclaimPolicy") or "Delete"),
                "path": src.path, "line": doc.line_of(("reclaimPolicy",)) if "reclaimPolicy" in data else d.line,
            }
        elif kind == "Namespace":
            d.namespace = d.name  # a namespace's own name is its best environment hint
            d.resource("k8s-namespace", d.name, subtype="kubernetes")
        elif kind == "Secret":
            self._secret(d)
        elif kind == "ConfigMap":
            self._configmap(d)
        elif kind in RBAC_KINDS:
            self._rbac(d)
        elif kind == "Ingress":
            self._ingress(d)
        elif kind == "NetworkPolicy":
            types = doc.get("spec", "policyTypes")
            attrs = {"k8s_kind": "NetworkPolicy"}
            if isinstance(types, list):
                attrs["policy_types"] = [str(t) for t in types]
            d.resource("network", d.name, subtype="network-policy", attributes=attrs)
        elif kind == "HorizontalPodAutoscaler":
            self._hpa(d)
        elif kind == "HelmRelease" and d.api_version.startswith("helm.toolkit.fluxcd.io"):
            self._helm_release(d)
        elif kind == "Kustomization" and d.api_version.startswith("kustomize.toolkit.fluxcd.io"):
            # Where a Flux Kustomization applies from: read by the resolve stage (clusters/<env>/).
            path = doc.get("spec", "path")
            frag.extra.setdefault("flux_kustomizations", []).append({
                "name": d.name, "path": str(path) if isinstance(path, str) else ".",
                "source_kind": str(doc.get("spec", "sourceRef", "kind") or ""),
                "source_name": str(doc.get("spec", "sourceRef", "name") or ""),
                "line": doc.line_of(("spec", "path")) if isinstance(path, str) else d.line})
        elif kind == "ArtifactGenerator" and d.api_version.startswith("source.extensions.fluxcd.io"):
            copies: dict[str, list[list[str]]] = {}
            for art in doc.get("spec", "artifacts") or []:
                if isinstance(art, dict) and isinstance(art.get("name"), str):
                    copies[art["name"]] = [[str(c.get("from") or ""), str(c.get("to") or "")]
                                           for c in art.get("copy") or [] if isinstance(c, dict)]
            frag.extra.setdefault("flux_artifacts", {}).update(copies)
        elif kind in ("Application", "ApplicationSet") and d.api_version.startswith("argoproj.io"):
            self._argocd_app(d)
        else:
            hit = kind_for_crd(d.api_version, kind)
            if hit and hit[0] in _COMPONENT_KINDS:
                self._workload_cr(d, *hit)
            elif hit:
                self._custom_resource(d, *hit)

    # -- workloads --------------------------------------------------------------------
    def _workload(self, d: _DocCtx) -> None:
        data = d.doc.data
        pod, pod_path = _pod_spec(data, d.kind)
        containers = _containers(pod, pod_path)
        main = [(c, p) for c, p in containers if p[-2] == "containers"]
        image = str(main[0][0].get("image") or "") if main else ""
        replicas = _int(data.get("spec", {}).get("replicas")) if isinstance(data.get("spec"), dict) else None
        if not any(c.get("image") for c, _ in main):
            # No image anywhere: a Kustomize/strategic-merge patch of a workload defined elsewhere.
            self._workload_patch(d, replicas)
            return
        attrs: dict[str, Any] = {"k8s_kind": d.kind}
        if any(isinstance(c.get("securityContext"), dict) and c["securityContext"].get("privileged") is True
               for c, _ in containers):
            attrs["privileged"] = True
        if pod.get("hostNetwork") is True:
            attrs["host_network"] = True
        sa = pod.get("serviceAccountName") or pod.get("serviceAccount")
        if isinstance(sa, str) and sa:
            attrs["service_account"] = sa
        env = _env_summary(containers)
        if env:
            attrs["env"] = env
        store = _datastore(d.kind, containers, d.name) if d.kind not in ("Job", "CronJob", "Pod") else None
        stateful = True if d.kind == "StatefulSet" else None
        ent: Entity
        if store:
            rkind, subtype = store
            if image:
                attrs["image"] = redact_text(image)[0]
            ent = d.resource(rkind, d.name, subtype=subtype, stateful=stateful, replicas=replicas, attributes=attrs)
        else:
            ckind = {"Job": "job", "CronJob": "cron-job", "DaemonSet": "daemon"}.get(d.kind, "service")
            if d.kind == "CronJob":
                schedule = d.doc.get("spec", "schedule")
                if isinstance(schedule, str):
                    attrs["schedule"] = schedule
                if d.doc.get("spec", "suspend") is True:
                    attrs["suspended"] = True
            ent = d.component(ckind, d.name, image=redact_text(image)[0] if image else None, stateful=stateful,
                              replicas=replicas, attributes=attrs)
        if isinstance(sa, str) and sa:
            d.ref(ent.id, f"serviceaccount/{sa}", "iam", "depends-on", "serviceAccountName",
                  d.ev(*pod_path, "serviceAccountName" if "serviceAccountName" in pod else "serviceAccount"))
        self._env_refs(d, ent.id, containers)
        self._volumes(d, ent.id, pod, pod_path)
        self._claim_templates(d, ent)
        tmpl_labels = d.doc.get(*pod_path[:-1], "metadata", "labels") if d.kind != "Pod" else d.labels
        d.frag.extra.setdefault("workloads", []).append(
            {"id": ent.id, "name": d.name, "namespace": d.namespace, "pod_labels": _str_map(tmpl_labels)}
        )

    def _env_refs(self, d: _DocCtx, source: str, containers: list[tuple[dict, tuple]]) -> None:
        """Env vars → references (values parsed, never kept); envFrom/keyRefs → secrets and ConfigMaps."""
        for c, cpath in containers:
            for i, e in enumerate(c.get("env") or []):
                if not isinstance(e, dict) or not e.get("name"):
                    continue
                key = str(e["name"])
                if "value" in e:
                    # The evidence (a walk down the node tree) only for a value that yields any.
                    value = e.get("value")
                    refs = may_reference(key, value)
                    secret = value not in (None, "") and keep_value(key, str(value))[1]
                    if refs or secret:
                        ev = d.ev(*cpath, "env", i, "value")
                        if refs:
                            d.frag.references.extend(references_from_env(source, key, value, ev))
                        if secret:
                            d.frag.secrets.append(ev)  # a literal secret in a manifest
                vf = e.get("valueFrom")
                if isinstance(vf, dict):
                    ev = d.ev(*cpath, "env", i, "valueFrom")
                    skr, ckr = vf.get("secretKeyRef"), vf.get("configMapKeyRef")
                    if isinstance(skr, dict) and skr.get("name"):
                        d.ref(source, str(skr["name"]), "secret", "reads", key, ev)
                    if isinstance(ckr, dict) and ckr.get("name"):
                        self._configmap_use(d, source, str(ckr["name"]), ckr.get("key"), key, ev)
            for i, ef in enumerate(c.get("envFrom") or []):
                if not isinstance(ef, dict):
                    continue
                ev = d.ev(*cpath, "envFrom", i)
                sref, cref = ef.get("secretRef"), ef.get("configMapRef")
                if isinstance(sref, dict) and sref.get("name"):
                    d.ref(source, str(sref["name"]), "secret", "reads", "envFrom", ev)
                if isinstance(cref, dict) and cref.get("name"):
                    self._configmap_use(d, source, str(cref["name"]), None, "envFrom", ev)

    @staticmethod
    def _configmap_use(d: _DocCtx, source: str, cm: str, key: Any, via: str, ev: Evidence) -> None:
        d.frag.extra.setdefault("configmap_uses", []).append(
            {"source": source, "configmap": cm, "namespace": d.namespace, "key": str(key) if key else None,
             "via": via, "path": ev.path, "line": ev.line}
        )

    def _volumes(self, d: _DocCtx, source: str, pod: dict, pod_path: tuple) -> None:
        for i, vol in enumerate(pod.get("volumes") or []):
            if not isinstance(vol, dict):
                continue
            ev = d.ev(*pod_path, "volumes", i)
            sec = vol.get("secret")
            if isinstance(sec, dict) and sec.get("secretName"):
                d.ref(source, str(sec["secretName"]), "secret", "reads", "volume", ev)
            pvc = vol.get("persistentVolumeClaim")
            if isinstance(pvc, dict) and pvc.get("claimName"):
                d.ref(source, str(pvc["claimName"]), "volume", "writes", "volume", ev)
            cm = vol.get("configMap")
            if isinstance(cm, dict) and cm.get("name"):
                self._configmap_use(d, source, str(cm["name"]), None, "volume", ev)

    @staticmethod
    def _workload_patch(d: _DocCtx, replicas: int | None) -> None:
        """Record what a workload patch changes (replicas, claim storage classes) for finalize."""
        env, _, _ = d.env_and_owners()
        claims = []
        for i, tpl in enumerate(d.doc.get("spec", "volumeClaimTemplates") or []):
            if isinstance(tpl, dict):
                tname = str((tpl.get("metadata") or {}).get("name") or f"data{i}")
                sc = d.doc.get("spec", "volumeClaimTemplates", i, "spec", "storageClassName")
                if isinstance(sc, str):
                    claims.append({"volume": entity_id("volume", f"{tname}-{d.name}"), "storage_class": sc,
                                   "line": d.doc.line_of(("spec", "volumeClaimTemplates", i))})
        if replicas is None and not claims:
            return
        d.frag.extra.setdefault("workload_patches", []).append({
            "name": d.name, "kind": d.kind, "env": env, "replicas": replicas, "claims": claims,
            "path": d.src.path, "line": d.line,
            "replicas_line": d.doc.line_of(("spec", "replicas")),
        })

    def _claim_templates(self, d: _DocCtx, owner: Entity) -> None:
        templates = d.doc.get("spec", "volumeClaimTemplates")
        if not isinstance(templates, list):
            return
        for i, tpl in enumerate(templates):
            if not isinstance(tpl, dict):
                continue
            tname = str((tpl.get("metadata") or {}).get("name") or f"data{i}")
            vol = self._pvc(d, f"{tname}-{d.name}", ("spec", "volumeClaimTemplates", i, "spec"),
                            ev=d.ev("spec", "volumeClaimTemplates", i))
            d.frag.edges.append(Edge(source=owner.id, target=vol.id, kind="writes", via="volumeClaimTemplates",
                                     evidence=[d.ev("spec", "volumeClaimTemplates", i)]))

    def _pvc(self, d: _DocCtx, name: str, spec_path: tuple, ev: Evidence | None = None) -> Resource:
        attrs: dict[str, Any] = {"k8s_kind": "PersistentVolumeClaim"}
        sc = d.doc.get(*spec_path, "storageClassName")
        if isinstance(sc, str):
            attrs["storage_class"] = sc
        size = d.doc.get(*spec_path, "resources", "requests", "storage")
        if isinstance(size, (str, int)):
            attrs["size"] = str(size)
        modes = d.doc.get(*spec_path, "accessModes")
        if isinstance(modes, list):
            attrs["access_modes"] = [str(m) for m in modes]
        res = d.resource("volume", name, subtype="pvc", stateful=True, attributes=attrs)
        if ev is not None:
            res.evidence = [ev]
        return res

    def _hpa(self, d: _DocCtx) -> None:
        target = d.doc.get("spec", "scaleTargetRef", "name")
        if isinstance(target, str):
            d.frag.extra.setdefault("autoscalers", []).append({
                "target": target, "min": _int(d.doc.get("spec", "minReplicas")),
                "max": _int(d.doc.get("spec", "maxReplicas")), "path": d.src.path, "line": d.line,
            })

    # -- services, config, secrets ----------------------------------------------------
    def _service(self, d: _DocCtx) -> None:
        ports = []
        for p in d.doc.get("spec", "ports") or []:
            if isinstance(p, dict) and p.get("port") is not None:
                ports.append(f"{p.get('port')}/{p.get('protocol') or 'TCP'}")
        d.frag.extra.setdefault("services", []).append({
            "name": d.name, "namespace": d.namespace, "type": str(d.doc.get("spec", "type") or "ClusterIP"),
            "ports": ports, "selector": _str_map(d.doc.get("spec", "selector")), "path": d.src.path, "line": d.line,
        })

    def _secret(self, d: _DocCtx) -> None:
        keys: list[str] = []
        for field in ("data", "stringData"):
            block = d.doc.get(field)
            if isinstance(block, dict):
                for k, v in block.items():
                    keys.append(str(k))
                    if v not in (None, ""):
                        d.frag.secrets.append(d.ev(field, k))
        attrs: dict[str, Any] = {"k8s_kind": "Secret", "type": str(d.doc.get("type") or "Opaque")}
        if keys:
            attrs["keys"] = sorted(set(keys))
        res = d.resource("secret", d.name, subtype="kubernetes", attributes=attrs)
        if "credentials" not in res.data_classes:
            res.data_classes.append("credentials")
            res.facts.append(Fact(name="data_class", value="credentials", evidence=[d.ev()]))

    def _configmap(self, d: _DocCtx) -> None:
        """ConfigMap values → reference templates for finalize (names only), secret evidence."""
        block = d.doc.get("data")
        if not isinstance(block, dict):
            return
        entries = []
        for k, v in block.items():
            key = str(k)
            value = v if isinstance(v, str) else None
            secret = v not in (None, "") and keep_value(key, str(v))[1]
            if not secret and not may_reference(key, value):
                continue  # most entries: no evidence to make (a walk down the node tree)
            ev = d.ev("data", k)
            if secret:
                d.frag.secrets.append(ev)
            refs = references_from_env("configmap", key, value, ev)
            if refs:
                entries.append({"key": key, "refs": [r.model_dump(mode="json", exclude={"source"}) for r in refs]})
        d.frag.extra.setdefault("configmaps", []).append({"name": d.name, "namespace": d.namespace,
                                                          "entries": entries})

    # -- RBAC, ingress ----------------------------------------------------------------
    def _rbac(self, d: _DocCtx) -> None:
        kind = d.kind
        name = f"{kind.lower()}/{d.name}"
        attrs: dict[str, Any] = {"k8s_kind": kind}
        if kind in ("Role", "ClusterRole"):
            verbs: set[str] = set()
            resources: set[str] = set()
            for rule in d.doc.get("rules") or []:
                if isinstance(rule, dict):
                    verbs.update(str(v) for v in rule.get("verbs") or [])
                    resources.update(str(r) for r in rule.get("resources") or [])
            attrs["verbs"] = sorted(verbs)
            if "*" in verbs or "*" in resources:
                attrs["wildcard"] = True
            if "secrets" in resources:
                attrs["grants_secrets"] = True
        elif kind in ("RoleBinding", "ClusterRoleBinding"):
            role_kind = str(d.doc.get("roleRef", "kind") or "ClusterRole")
            role = str(d.doc.get("roleRef", "name") or "")
            attrs["role_ref"] = f"{role_kind}/{role}"
            if role == "cluster-admin":
                attrs["cluster_admin"] = True
            subjects = []
            for s in d.doc.get("subjects") or []:
                if isinstance(s, dict) and s.get("name"):
                    subjects.append(f"{s.get('kind', 'ServiceAccount')}/{s['name']}")
            attrs["subjects"] = sorted(subjects)
        res = d.resource("iam", name, subtype=f"k8s-{kind.lower()}", attributes=attrs)
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            role = str(d.doc.get("roleRef", "name") or "")
            role_kind = str(d.doc.get("roleRef", "kind") or "ClusterRole")
            if role:
                d.ref(res.id, f"{role_kind.lower()}/{role}", "iam", "depends-on", "roleRef", d.ev("roleRef"))
            for i, s in enumerate(d.doc.get("subjects") or []):
                if isinstance(s, dict) and s.get("name") and s.get("kind", "ServiceAccount") == "ServiceAccount":
                    d.frag.extra.setdefault("sa_bindings", []).append(
                        {"sa": str(s["name"]), "binding": res.id, "path": d.src.path,
                         "line": d.doc.line_of(("subjects", i))})

    def _ingress(self, d: _DocCtx) -> None:
        for i, rule in enumerate(d.doc.get("spec", "rules") or []):
            if not isinstance(rule, dict) or not isinstance(rule.get("host"), str):
                continue
            host = rule["host"]
            res = d.resource("dns", host, subtype="k8s-ingress", attributes={"ingress": d.name})
            res.evidence = [d.ev("spec", "rules", i, "host")]
            for path in (rule.get("http") or {}).get("paths") or []:
                svc = (((path or {}).get("backend") or {}).get("service") or {}).get("name") or \
                    ((path or {}).get("backend") or {}).get("serviceName")
                if isinstance(svc, str):
                    d.ref(res.id, svc, None, "depends-on", "ingress backend", res.evidence[0])

    # -- operator custom resources ----------------------------------------------------
    def _workload_cr(self, d: _DocCtx, ckind: str, subtype: str) -> None:
        """An operator CR that runs code (Spark, Flink, Ray, Argo): a component of its own."""
        doc = d.doc
        attrs: dict[str, Any] = {"k8s_kind": d.kind}
        image = next((doc.get(*p) for p in _CR_IMAGE_PATHS if isinstance(doc.get(*p), str)), None)
        for key, path in (("schedule", ("spec", "schedule")), ("job_jar", ("spec", "job", "jarURI")),
                          ("deployment", ("spec", "deploymentName")), ("upgrade_mode", ("spec", "job", "upgradeMode")),
                          ("flink_version", ("spec", "flinkVersion")), ("spark_version", ("spec", "sparkVersion"))):
            val = doc.get(*path)
            if isinstance(val, (str, int)) and not isinstance(val, bool):
                attrs[key] = keep_value(key, str(val))[0]
        stateful = None
        if subtype.startswith("flink"):
            # Checkpoints and savepoints are the job's state: losing them loses progress.
            conf = doc.get("spec", "flinkConfiguration")
            if isinstance(conf, dict) and any("checkpoint" in str(k) or "savepoint" in str(k) for k in conf):
                stateful = True
        comp = d.component(ckind, d.name, subtype=subtype, attributes=attrs,
                           image=keep_value("image", image)[0] if image else None, stateful=stateful)
        deployment = attrs.get("deployment")
        if isinstance(deployment, str):
            d.ref(comp.id, deployment, "service", "depends-on", "spec.deploymentName", d.ev("spec", "deploymentName"))

    def _argocd_app(self, d: _DocCtx) -> None:
        """An Argo CD Application (or ApplicationSet template): an entity, and its destination
        and source path for the resolve stage."""
        doc = d.doc
        base: tuple = ("spec", "template", "spec") if d.kind == "ApplicationSet" else ("spec",)
        dest = doc.get(*base, "destination")
        dest = dest if isinstance(dest, dict) else {}
        sources = doc.get(*base, "sources")
        sources = sources if isinstance(sources, list) else [doc.get(*base, "source")]
        paths, charts = [], []
        for s in sources:
            if isinstance(s, dict):
                if isinstance(s.get("path"), str):
                    paths.append(s["path"])
                if isinstance(s.get("chart"), str):
                    charts.append(s["chart"])
        attrs: dict[str, Any] = {"k8s_kind": d.kind}
        for key in ("namespace", "server", "name"):
            if isinstance(dest.get(key), str):
                attrs[f"destination_{key}"] = dest[key]
        project = doc.get(*base, "project")
        if isinstance(project, str):
            attrs["project"] = project
        if paths:
            attrs["source_paths"] = sorted(paths)
        if charts:
            attrs["charts"] = sorted(charts)
        subtype = "argocd-applicationset" if d.kind == "ApplicationSet" else "argocd-application"
        res = d.resource("other", d.name, subtype=subtype, attributes=attrs)
        d.frag.extra.setdefault("argocd_apps", []).append({
            "id": res.id, "paths": paths, "charts": charts, "namespace": dest.get("namespace"),
            "server": dest.get("server"), "cluster": dest.get("name"), "project": project,
            "line": doc.line_of(base + ("destination",)) if dest else d.line})

    def _helm_release(self, d: _DocCtx) -> None:
        """A Flux HelmRelease: what the chart installs is a system (a datastore chart a resource)."""
        doc = d.doc
        chart = doc.get("spec", "chart", "spec", "chart")
        chart_name = str(chart) if isinstance(chart, str) else str(doc.get("spec", "chartRef", "name") or d.name)
        release = str(doc.get("spec", "releaseName") or d.name)
        attrs: dict[str, Any] = {"k8s_kind": "HelmRelease", "chart": chart_name}
        version = doc.get("spec", "chart", "spec", "version")
        if isinstance(version, (str, int, float)):
            attrs["chart_version"] = str(version)
        hit = kind_for_chart(chart_name)
        if hit:
            d.resource(hit[0], release, subtype=hit[1], stateful=True, attributes=attrs)
            return
        comp = d.component("service", release, subtype="helm-release", attributes=attrs)
        values = doc.get("spec", "values")
        for dep, body in sorted(values.items()) if isinstance(values, dict) else []:
            # `redis: {enabled: true}` in a release's values: the chart brings that datastore.
            dep_hit = kind_for_chart(str(dep))
            if dep_hit and isinstance(body, dict) and body.get("enabled") is True:
                res = d.resource(dep_hit[0], f"{release}-{dep}", subtype=dep_hit[1], stateful=True,
                                 attributes={"k8s_kind": "HelmRelease", "chart": chart_name, "values_key": str(dep)})
                self_ev = d.ev("spec", "values", dep, "enabled")
                d.frag.edges.append(Edge(source=comp.id, target=res.id, kind="depends-on",
                                         via=f"values {dep}.enabled", evidence=[self_ev]))

    def _custom_resource(self, d: _DocCtx, rkind: str, subtype: str) -> None:
        doc = d.doc
        cluster = d.labels.get(_STRIMZI_CLUSTER_LABEL)
        cluster_ev = d.ev("metadata", "labels", _STRIMZI_CLUSTER_LABEL)
        attrs: dict[str, Any] = {"k8s_kind": d.kind}
        if rkind == "kafka-cluster" and subtype == "strimzi":
            version = doc.get("spec", "kafka", "version")
            if version is not None:
                attrs["kafka_version"] = str(version)
            storage = doc.get("spec", "kafka", "storage", "type")
            if isinstance(storage, str):
                attrs["storage"] = storage
            listeners = doc.get("spec", "kafka", "listeners")
            if isinstance(listeners, list):
                attrs["listeners"] = sorted(str(x.get("name")) for x in listeners if isinstance(x, dict))
            d.resource("kafka-cluster", d.name, subtype=subtype, stateful=True,
                       replicas=_int(doc.get("spec", "kafka", "replicas")), attributes=attrs)
        elif rkind == "kafka-topic":
            # Strimzi: spec.topicName; Confluent: spec.name and spec.kafkaClusterRef.
            name = str(doc.get("spec", "topicName") or doc.get("spec", "name") or d.name)
            ref = doc.get("spec", "kafkaClusterRef", "name")
            if not cluster and isinstance(ref, str) and ref:
                cluster, cluster_ev = ref, d.ev("spec", "kafkaClusterRef", "name")
            partitions = _int(doc.get("spec", "partitions"))
            replicas = _int(doc.get("spec", "replicas"))
            if partitions is not None:
                attrs["partitions"] = partitions
            if replicas is not None:
                attrs["replication_factor"] = replicas
            config = doc.get("spec", "config")
            if isinstance(config, dict):
                for k, v in sorted(config.items()):
                    if isinstance(v, (str, int, float, bool)) and not is_secret_key(str(k)):
                        attrs[f"config.{k}"] = str(v)
            if cluster:
                attrs["cluster"] = cluster
            res = d.resource("kafka-topic", name, subtype=subtype, stateful=True, replicas=replicas, attributes=attrs)
            if cluster:
                d.ref(res.id, cluster, "kafka-cluster", "member-of", _STRIMZI_CLUSTER_LABEL, cluster_ev)
        elif rkind == "kafka-user":
            self._kafka_user(d, attrs, cluster, cluster_ev)
        else:
            replicas = _int(doc.get("spec", "replicas")) or _int(doc.get("spec", "instances"))
            name = f"{cluster}/{d.name}" if cluster and d.kind == "KafkaNodePool" else d.name
            if d.kind == "KafkaNodePool":
                roles = doc.get("spec", "roles")
                if isinstance(roles, list):
                    attrs["roles"] = [str(r) for r in roles]
                if cluster:
                    attrs["cluster"] = cluster
            stateful = True if rkind in ("kafka-cluster", "postgres", "mysql", "redis", "search", "document-db",
                                         "clickhouse", "object-bucket", "queue") or d.kind in ("KRaftController", "Zookeeper") else None
            res = d.resource(rkind, name, subtype=subtype, replicas=replicas, attributes=attrs, stateful=stateful)
            if cluster:
                d.ref(res.id, cluster, "kafka-cluster", "member-of", _STRIMZI_CLUSTER_LABEL, cluster_ev)

    def _kafka_user(self, d: _DocCtx, attrs: dict[str, Any], cluster: str | None, cluster_ev: Evidence) -> None:
        auth = d.doc.get("spec", "authentication", "type")
        if isinstance(auth, str):
            attrs["authentication"] = auth
        if cluster:
            attrs["cluster"] = cluster
        topic_acls: list[tuple[str, str, int]] = []
        read, write = set(), set()
        for i, acl in enumerate(d.doc.get("spec", "authorization", "acls") or []):
            if not isinstance(acl, dict) or not isinstance(acl.get("resource"), dict):
                continue
            resource = acl["resource"]
            if resource.get("type") != "topic" or not isinstance(resource.get("name"), str):
                continue
            ops = {str(o).lower() for o in (acl.get("operations") or [acl.get("operation")]) if o}
            tname = resource["name"]
            pattern = str(resource.get("patternType") or "literal")
            if ops & {"write", "all", "create"}:
                write.add(tname if pattern == "literal" else f"{tname}*")
                if pattern == "literal":
                    topic_acls.append((tname, "produces", i))
            if ops & {"read", "all"}:
                read.add(tname if pattern == "literal" else f"{tname}*")
                if pattern == "literal":
                    topic_acls.append((tname, "consumes", i))
        if read:
            attrs["acl_read_topics"] = sorted(read)
        if write:
            attrs["acl_write_topics"] = sorted(write)
        res = d.resource("kafka-user", d.name, subtype="strimzi", attributes=attrs)
        if cluster:
            d.ref(res.id, cluster, "kafka-cluster", "member-of", _STRIMZI_CLUSTER_LABEL, cluster_ev)
        for tname, edge, i in topic_acls:
            d.ref(res.id, tname, "kafka-topic", edge, "acl", d.ev("spec", "authorization", "acls", i))

    # -- whole tree ---------------------------------------------------------------------
    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Join what needs several files: ConfigMap refs, Services, StorageClasses, HPAs, SA bindings."""
        configmaps: dict[str, list[dict]] = {}
        storage: dict[str, dict] = {}
        for frag in fragments:
            for cm in frag.extra.get("configmaps", []):
                configmaps.setdefault(cm["name"], []).extend(cm["entries"])
            storage.update(frag.extra.get("storage_classes", {}))
        for frag in fragments:
            for use in frag.extra.get("configmap_uses", []):
                ev = Evidence(path=use["path"], line=use["line"])
                for entry in configmaps.get(use["configmap"], []):
                    if use["key"] and entry["key"] != use["key"]:
                        continue
                    for r in entry["refs"]:
                        via = f"{use['configmap']}:{entry['key']}"
                        builder.references.append(Reference(
                            source=use["source"], target_name=r["target_name"], target_kind=r["target_kind"],
                            edge_kind=r["edge_kind"], via=via, evidence=ev))
        # Workloads by (namespace, pod label, value): a Service's selector is matched against
        # the workloads carrying one of its labels, not against every workload of the tree.
        workloads: dict[tuple[str, str, str], list[dict]] = {}
        for frag in fragments:
            for w in frag.extra.get("workloads", []):
                for k, v in (w["pod_labels"] or {}).items():
                    workloads.setdefault((w["namespace"], k, v), []).append(w)
        for frag in fragments:
            for svc in frag.extra.get("services", []):
                self._attach_service(builder, svc, workloads)
            for hpa in frag.extra.get("autoscalers", []):
                for ent in builder.find(hpa["target"]):
                    ev = [Evidence(path=hpa["path"], line=hpa["line"])]
                    if hpa["min"] is not None:
                        ent.attributes.setdefault("min_replicas", hpa["min"])
                    if hpa["max"] is not None:
                        ent.attributes.setdefault("max_replicas", hpa["max"])
                        builder.set_fact(ent, "autoscaled", True, ev)
            for b in frag.extra.get("sa_bindings", []):
                sa = builder.entity(entity_id("iam", f"serviceaccount/{b['sa']}"))
                if sa is not None:
                    builder.add_edge(Edge(source=sa.id, target=b["binding"], kind="member-of", via="subjects",
                                          evidence=[Evidence(path=b["path"], line=b["line"])]))
        self._node_pool_replicas(builder)
        for frag in fragments:
            for patch in frag.extra.get("workload_patches", []):
                self._apply_patch(builder, patch)
        for res in builder.resources.values():
            if res.kind != "volume":
                continue
            classes = [v for k, v in sorted(res.attributes.items())
                       if (k == "storage_class" or k.startswith("storage_class.")) and isinstance(v, str)]
            for sc in classes:
                if sc not in storage:
                    continue
                info = storage[sc]
                res.attributes.setdefault("reclaim_policy", info["reclaim_policy"])
                if info["reclaim_policy"] == "Retain":
                    res.deletion_protection = True
                    builder.set_fact(res, "deletion_protection", True,
                                     [Evidence(path=info["path"], line=info["line"])])

    @staticmethod
    def _apply_patch(builder: "InventoryBuilder", patch: dict) -> None:
        """A patch's replicas / storage classes land on the workload (per environment when known)."""
        env = patch["env"]
        targets = [e for e in builder.find(patch["name"]) if e.attributes.get("k8s_kind") == patch["kind"]]
        if patch["replicas"] is not None:
            ev = [Evidence(path=patch["path"], line=patch["replicas_line"])]
            for ent in targets:
                if env:
                    ent.attributes[f"replicas.{env}"] = patch["replicas"]
                elif ent.replicas is None:
                    ent.replicas = patch["replicas"]
                builder.set_fact(ent, "replicas", patch["replicas"], ev)
        for claim in patch["claims"]:
            vol = builder.entity(claim["volume"])
            if vol is not None:
                key = f"storage_class.{env}" if env else "storage_class"
                vol.attributes.setdefault(key, claim["storage_class"])
                ev = Evidence(path=patch["path"], line=claim["line"])
                if ev not in vol.evidence:
                    vol.evidence.append(ev)

    @staticmethod
    def _node_pool_replicas(builder: "InventoryBuilder") -> None:
        """A KRaft Strimzi cluster's broker count is the sum of its broker node pools."""
        totals: dict[str, tuple[int, list[Evidence]]] = {}
        member_of = {src: dst for (src, dst, kind) in builder.edges if kind == "member-of"
                     and dst.startswith("kafka-cluster:")}
        for res in builder.resources.values():
            if res.attributes.get("k8s_kind") != "KafkaNodePool" or res.replicas is None:
                continue
            roles = res.attributes.get("roles")
            if isinstance(roles, list) and "broker" not in roles:
                continue
            # Its cluster: the one its member-of edge names (a cluster told apart from
            # same-named ones in other folders has its own id), else by name.
            cluster = member_of.get(res.id) or entity_id("kafka-cluster", str(res.attributes.get("cluster") or ""))
            n, evs = totals.get(cluster, (0, []))
            totals[cluster] = (n + res.replicas, evs + res.evidence[:1])
        for cluster, (n, evs) in sorted(totals.items()):
            ent = builder.entity(cluster)
            if ent is not None and ent.replicas is None:
                ent.replicas = n
                builder.set_fact(ent, "replicas", n, evs)

    @staticmethod
    def _attach_service(builder: "InventoryBuilder", svc: dict,
                        workloads: dict[tuple[str, str, str], list[dict]]) -> None:
        """Give a Service's ports and type to the workload it selects (or that shares its name).

        ``workloads``: the tree's workloads by (namespace, pod label, value).
        """
        targets: list[str] = []
        selector = svc["selector"]
        if selector:
            k0, v0 = next(iter(selector.items()))
            for w in workloads.get((svc["namespace"], k0, v0), ()):
                if all(w["pod_labels"].get(k) == v for k, v in selector.items()):
                    targets.append(w["id"])
        if not targets:
            targets = [e.id for e in builder.find(svc["name"]) if e.kind not in ("dns", "iam", "secret", "volume")]
        ev = Evidence(path=svc["path"], line=svc["line"])
        for tid in sorted(set(targets)):
            ent = builder.entity(tid)
            if ent is None:
                continue
            ent.attributes.setdefault("k8s_service", svc["name"])
            ent.attributes.setdefault("service_type", svc["type"])
            if svc["ports"]:
                ent.attributes.setdefault("ports", svc["ports"])
            if ev not in ent.evidence:
                ent.evidence.append(ev)
            if svc["type"] == "LoadBalancer":
                builder.set_fact(ent, "exposed", True, [ev])
