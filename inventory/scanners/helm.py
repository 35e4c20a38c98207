"""Helm charts: ``Chart.yaml``, ``values*.yaml`` and (without parsing them) ``templates/``.

* ``Chart.yaml`` → the chart's attributes; each dependency of a known technology
  (``bitnami/redis`` …) → a resource of that kind, and an edge chart → dependency.
* ``values*.yaml`` → datastore images (``image.repository``), references from host and
  topic settings, secret evidence (values never kept), replicas; ``values-prod.yaml`` names
  the environment ``prod``.
* ``templates/*.yaml`` hold Go templates, which are not YAML: only their ``kind:`` lines are
  read, to know what the chart deploys. They never produce warnings.

A chart becomes a component (``service:<chart>``) when its templates deploy a workload, or a
resource when the chart itself is a known datastore. Joining the files of one chart happens
in :meth:`HelmScanner.finalize`.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from inventory.dataclasses import data_classes_for
from inventory.environments import detect_environment, environment_of_path
from inventory.kinds import kind_for_chart, kind_for_image
from inventory.model import Component, Evidence, Fact, Resource, entity_id
from inventory.references import may_reference, references_from_env
from inventory.scanners._common import keep_value
from inventory.scanners._yaml import Doc, iter_scalars, load_documents
from inventory.scanners.base import Fragment, Reference, ScanContext, Scanner, SourceFile
from inventory.secrets import redact_text

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder

_VALUES_RE = re.compile(r"^values([._-][A-Za-z0-9_.-]+)?\.ya?ml$")
_TEMPLATE_KIND_RE = re.compile(r"^kind:\s*[\"']?([A-Za-z][A-Za-z0-9]*)", re.MULTILINE)
_TEMPLATING_RE = re.compile(r"\{\{|\$\{|\$\(")
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def _chart_dir(path: str) -> str:
    """The chart directory of a chart file (``a/b/templates/x.yaml`` → ``a/b``)."""
    p = PurePosixPath(path)
    parts = p.parts
    if "templates" in parts:
        return str(PurePosixPath(*parts[: len(parts) - 1 - parts[::-1].index("templates")])) or "."
    return str(p.parent)


def _image_string(node: Any) -> str | None:
    """An image reference from a values node: ``"redis:7"`` or ``{repository, tag, registry}``."""
    if isinstance(node, str):
        return node if node and not _TEMPLATING_RE.search(node) else None
    if isinstance(node, dict) and isinstance(node.get("repository"), str) and node["repository"]:
        repo = node["repository"]
        if isinstance(node.get("registry"), str) and node["registry"]:
            repo = f"{node['registry']}/{repo}"
        tag = node.get("tag")
        return f"{repo}:{tag}" if isinstance(tag, (str, int, float)) and str(tag) else repo
    return None


class HelmScanner(Scanner):
    """Helm charts and their values files."""

    name = "helm"
    version = 4
    suffixes = (".yaml", ".yml")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        if path.name == "Chart.yaml":
            return True
        if _VALUES_RE.match(path.name):
            return True
        return "templates" in path.parts and path.suffix in (".yaml", ".yml")

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        name = src.pure.name
        if name == "Chart.yaml":
            self._chart(src, frag)
        elif "templates" in src.pure.parts and name not in ("values.yaml", "values.yml"):
            kinds = sorted(set(_TEMPLATE_KIND_RE.findall(src.text)))
            frag.extra["template"] = {"chart_dir": _chart_dir(src.path), "kinds": kinds}
        else:
            self._values(src, ctx, frag)
        return frag

    # -- Chart.yaml -------------------------------------------------------------------
    def _chart(self, src: SourceFile, frag: Fragment) -> None:
        docs = load_documents(src, frag)
        if not docs or not isinstance(docs[0].data, dict):
            if not frag.warnings:
                frag.warn("Chart.yaml is not a mapping")
            return
        doc = docs[0]
        chart = str(doc.data.get("name") or PurePosixPath(src.path).parent.name or "chart")
        info: dict[str, Any] = {"name": chart, "dir": str(src.pure.parent), "line": doc.line_of(("name",)),
                                "path": src.path, "attributes": {}, "dependencies": []}
        for key in ("version", "appVersion", "type", "description"):
            val = doc.data.get(key)
            if isinstance(val, (str, int, float)) and str(val):
                info["attributes"][f"chart_{key}" if key != "description" else "description"] = \
                    redact_text(str(val))[0]
        for i, dep in enumerate(doc.data.get("dependencies") or []):
            if not isinstance(dep, dict) or not dep.get("name"):
                continue
            info["dependencies"].append(self._dependency(src, frag, doc, chart, i, dep))
            cond = dep.get("condition")
            if isinstance(cond, str) and cond.strip():
                info.setdefault("conditions", {})[str(dep.get("alias") or dep["name"])] = cond.split(",")[0].strip()
        frag.extra["chart"] = info

    def _dependency(self, src: SourceFile, frag: Fragment, doc: Doc, chart: str, i: int, dep: dict) -> str:
        dep_name = str(dep["name"])
        release = str(dep.get("alias") or dep_name)
        ev = src.evidence(doc.line_of(("dependencies", i)))
        hit = kind_for_chart(dep_name)
        if hit:
            kind, subtype = hit
            attrs: dict[str, Any] = {"helm_chart": dep_name}
            for key in ("repository", "version", "condition"):
                if isinstance(dep.get(key), (str, int, float)):
                    attrs[key] = str(dep[key])
            classes = data_classes_for(release, chart)
            res = Resource(id=entity_id(kind, release), kind=kind, name=release, subtype=subtype, attributes=attrs,
                           data_classes=classes, evidence=[ev],
                           facts=[Fact(name="data_class", value=c, evidence=[ev]) for c in classes])
            frag.resources.append(res)
            frag.references.append(Reference(source=entity_id("service", chart), target_name=release,
                                             target_kind=kind, via="Chart.yaml dependencies", evidence=ev))
        return dep_name

    # -- values files -----------------------------------------------------------------
    def _values(self, src: SourceFile, ctx: ScanContext, frag: Fragment) -> None:
        docs = load_documents(src, frag)
        stem = src.pure.name.rsplit(".", 1)[0]
        # `values-prod.yaml`, or a values file in a per-environment directory; never a word
        # inside a folder name.
        env = detect_environment(stem[len("values"):], patterns=ctx.config.environments)
        if env is None:
            hit = environment_of_path(src.path, ctx.config.environments)
            env = hit[0] if hit else None
        info: dict[str, Any] = {"chart_dir": str(src.pure.parent), "path": src.path, "env": env,
                                "images": [], "refs": [], "replicas": None}
        for doc in docs:
            if not isinstance(doc.data, dict):
                continue
            self._walk_values(src, doc, info, frag)
        frag.extra["values"] = info

    def _walk_values(self, src: SourceFile, doc: Doc, info: dict[str, Any], frag: Fragment) -> None:
        # Images: any mapping key named "image" (string or repository/tag mapping).
        # Only collections are pushed: a scalar holds no image, and most values are scalars.
        # A key's str is "image" only when the key is that str (YAML keys are str, numbers,
        # booleans, dates, null or bytes), so the key is compared as it is.
        stack: list[tuple[tuple, Any]] = [((), doc.data)]
        while stack:
            path, node = stack.pop()
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "image":
                        image = _image_string(v)
                        if image:
                            info["images"].append({"image": redact_text(image)[0], "owner_key": _owner_key(path),
                                                   "line": doc.line_of(path + (k,))})
                            continue
                    if len(path) < 32 and isinstance(v, (dict, list)):
                        stack.append((path + (k,), v))
            elif isinstance(node, list) and len(path) < 32:
                stack.extend((path + (i,), v) for i, v in enumerate(node) if isinstance(v, (dict, list)))
        # `redis: {enabled: false}`: switches for the chart's dependencies (Chart.yaml `condition`).
        for k, v in doc.data.items():
            if isinstance(v, dict) and isinstance(v.get("enabled"), bool):
                info.setdefault("flags", {})[f"{k}.enabled"] = [v["enabled"], doc.line_of((k, "enabled"))]
        replicas = doc.get("replicaCount")
        if isinstance(replicas, int) and not isinstance(replicas, bool):
            info["replicas"] = {"value": replicas, "line": doc.line_of(("replicaCount",))}
        # Most scalars are neither secret nor a reference: evidence, and the line it needs (a
        # walk down the line table), is made only for those that are (one in seven).
        for path, value in iter_scalars(doc.data):
            # Only a str or int (not bool) can be secret, only a str a reference.
            if not path or not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
                continue
            key = _leaf_key(path, doc)
            secret = keep_value(key, str(value))[1]
            if not secret and not may_reference(key, value):
                continue
            ev = src.evidence(doc.line_of(path))
            if secret:
                frag.secrets.append(ev)  # the value itself is never kept
            for ref in references_from_env("helm-values", key, value, ev):
                # ref.model_dump(mode="json", exclude={"source"}), without pydantic's generic dump.
                info["refs"].append({"target_name": ref.target_name, "target_kind": ref.target_kind,
                                     "edge_kind": ref.edge_kind, "via": ref.via,
                                     "evidence": {"path": ev.path, "line": ev.line}})

    # -- whole tree ---------------------------------------------------------------------
    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Turn each chart (Chart.yaml + values + templates) into a component or resource."""
        charts = {f.extra["chart"]["dir"]: f.extra["chart"] for f in fragments if "chart" in f.extra}
        kinds_by_dir: dict[str, set[str]] = {}
        for f in fragments:
            if "template" in f.extra:
                kinds_by_dir.setdefault(f.extra["template"]["chart_dir"], set()).update(f.extra["template"]["kinds"])
        chart_ids: dict[str, str] = {}
        for cdir, info in sorted(charts.items()):
            ent_id = self._chart_entity(builder, info, kinds_by_dir.get(cdir, set()))
            if ent_id:
                chart_ids[cdir] = ent_id
        for f in fragments:
            values = f.extra.get("values")
            if values:
                self._apply_values(builder, values, charts.get(values["chart_dir"]), chart_ids.get(values["chart_dir"]))
        self._conditions(builder, charts, [f.extra["values"] for f in fragments if f.extra.get("values")])

    @staticmethod
    def _conditions(builder: "InventoryBuilder", charts: dict[str, dict], values: list[dict]) -> None:
        """A dependency switched off by its ``condition`` is not deployed: dropped when no values
        file enables it; placed only in the environments whose values leave it on otherwise."""
        for cdir, info in sorted(charts.items()):
            for dep, cond in sorted((info.get("conditions") or {}).items()):
                mine = [v for v in values if v["chart_dir"] == cdir and cond in (v.get("flags") or {})]
                default = next((v["flags"][cond] for v in mine if not v["env"]), None)
                default_on = default is None or default[0] is True
                per_env = {v["env"]: v["flags"][cond] for v in mine if v["env"]}
                chart_envs = {v["env"] for v in values if v["chart_dir"] == cdir and v["env"]}
                on_envs = sorted(e for e in chart_envs if per_env.get(e, [default_on])[0] is True)
                hits = [e for e in builder.find(dep) if e.evidence and all(ev.path == info["path"] for ev in e.evidence)
                        and builder.seen_by.get(e.id) == {"helm"}]
                for ent in hits:
                    if not on_envs and not (default_on and not chart_envs):
                        builder.resources.pop(ent.id, None)  # switched off everywhere: not a system
                        builder.invalidate_index()
                        continue
                    for env in on_envs:
                        path = next((v["path"] for v in mine if v["env"] == env), None) or \
                            next((v["path"] for v in mine if not v["env"]), info["path"])
                        line = (per_env.get(env) or default or [True, 1])[1]
                        if env not in ent.environments:
                            ent.environments.append(env)
                        builder.set_fact(ent, "environment", env, [Evidence(path=path, line=line)],
                                         how=f"{cond} is on for {env} ({path})")

    @staticmethod
    def _chart_entity(builder: "InventoryBuilder", info: dict, kinds: set[str]) -> str | None:
        name = info["name"]
        ev = Evidence(path=info["path"], line=info["line"])
        attrs = dict(info["attributes"])
        if kinds:
            attrs["deploys"] = sorted(kinds)
        if info["dependencies"]:
            attrs["dependencies"] = sorted(info["dependencies"])
        classes = data_classes_for(name)
        facts = [Fact(name="data_class", value=c, evidence=[ev]) for c in classes]
        hit = kind_for_chart(name)
        if hit and hit[0] != "other":
            res = Resource(id=entity_id(hit[0], name), kind=hit[0], name=name, subtype=hit[1], attributes=attrs,
                           data_classes=classes, facts=facts, evidence=[ev])
            return builder.add_entity(res).id
        if kinds & _WORKLOADS:
            comp = Component(id=entity_id("service", name), kind="service", name=name,
                             subtype=hit[1] if hit else "helm", attributes=attrs, data_classes=classes,
                             facts=facts, evidence=[ev])
            return builder.add_entity(comp).id
        return None

    @staticmethod
    def _apply_values(builder: "InventoryBuilder", values: dict, chart: dict | None, chart_id: str | None) -> None:
        path = values["path"]
        env = values["env"]
        chart_name = chart["name"] if chart else PurePosixPath(values["chart_dir"]).name or "chart"
        owner = builder.entity(chart_id) if chart_id else None
        if owner is not None and env:
            if env not in owner.environments:
                owner.environments.append(env)
            builder.set_fact(owner, "environment", env, [Evidence(path=path, line=1)],
                             how=f"Helm values file {path} is for {env}")
        if owner is not None and values["replicas"]:
            n = values["replicas"]["value"]
            ev = [Evidence(path=path, line=values["replicas"]["line"])]
            if env:
                owner.attributes.setdefault(f"replicas.{env}", n)
            elif owner.replicas is None:
                owner.replicas = n
            builder.set_fact(owner, "replicas", n, ev)
        images = []
        for img in values["images"]:
            ev = Evidence(path=path, line=img["line"])
            images.append(img["image"])
            hit = kind_for_image(img["image"])
            if not hit:
                continue
            name = img["owner_key"] or chart_name
            kind, subtype = hit
            res = Resource(id=entity_id(kind, name), kind=kind, name=name, subtype=subtype,
                           attributes={"image": img["image"], "helm_values": path},
                           environments=[env] if env else [], evidence=[ev],
                           facts=[Fact(name="environment", value=env, evidence=[ev],
                                       how=f"Helm values file {path} is for {env}")] if env else [])
            stored = builder.add_entity(res)
            if owner is not None and stored.id != owner.id:
                builder.references.append(Reference(source=owner.id, target_name=name, target_kind=kind,
                                                    via="values image", evidence=ev))
        if owner is not None and images:
            owner.attributes.setdefault("images", sorted(set(images)))
        if owner is not None:
            for r in values["refs"]:
                builder.references.append(Reference(source=owner.id, **r))


def _owner_key(path: tuple) -> str | None:
    """The sub-chart / component key an image sits under (``redis`` in ``redis.image``)."""
    for part in reversed(path):
        if isinstance(part, str) and part not in ("image", "images", "global", "master", "primary", "replica",
                                                  "server", "main", "auth", "metrics"):
            return part
    return None


def _leaf_key(path: tuple, doc: Doc) -> str:
    """The key naming a scalar: the mapping key, or an env entry's ``name`` for ``{name, value}``."""
    last = path[-1]
    if last == "value" and len(path) >= 2:
        sibling = doc.get(*path[:-1], "name")
        if isinstance(sibling, str):
            return sibling
    return str(last)
