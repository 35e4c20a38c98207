"""Kustomize: overlays give their environment (and namespace) to the bases they build on.

Per file, a ``kustomization.yaml`` is only recorded (resources, bases, components, patches,
images, namespace, namePrefix, replicas, commonLabels) in ``Fragment.extra``. The work is in
:meth:`KustomizeScanner.finalize`: an overlay whose path, namespace or labels name an
environment (``overlays/prod``, ``namespace: shop-prod``) — directly or through a Kustomize
component it includes — gives that environment to every entity whose evidence lies in a
file it builds from, following relative directories transitively. Remote bases (URLs) are
ignored: they are not in the scanned tree.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from inventory.environments import detect_environment
from inventory.model import Evidence
from inventory.scanners._yaml import Doc, load_documents
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder
    from inventory.config import Config

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_LIST_KEYS = ("resources", "bases", "components", "patchesStrategicMerge", "crds")
_ENV_LABELS = ("environment", "env", "stage", "app.kubernetes.io/environment")


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("github.com/", "git@", "gitlab.com/", "bitbucket.org/"))


class KustomizeScanner(Scanner):
    """``kustomization.yaml`` files and the overlay → base environment propagation."""

    name = "kustomize"
    version = 1
    suffixes = tuple(n.lower() for n in KUSTOMIZATION_NAMES)

    def matches(self, path: PurePosixPath, head: str) -> bool:
        return path.name in KUSTOMIZATION_NAMES

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        docs = load_documents(src, frag)
        if not docs:
            return frag
        doc = docs[0]
        if not isinstance(doc.data, dict):
            frag.warn("kustomization is not a mapping", line=doc.line)
            return frag
        frag.extra["kustomization"] = self._record(src, doc, ctx.config)
        return frag

    def _record(self, src: SourceFile, doc: Doc, cfg: "Config") -> dict[str, Any]:
        data = doc.data
        directory = str(src.pure.parent)
        refs: list[dict[str, Any]] = []
        for key in _LIST_KEYS:
            items = data.get(key)
            if not isinstance(items, list):
                continue
            for i, item in enumerate(items):
                if isinstance(item, str) and item and not _is_remote(item):
                    refs.append({"key": key, "ref": item, "line": doc.line_of((key, i))})
        patches: list[str] = []
        for key in ("patches", "patchesJson6902"):
            for i, p in enumerate(data.get(key) or []):
                target = p.get("path") if isinstance(p, dict) else p if isinstance(p, str) else None
                if isinstance(target, str) and not _is_remote(target):
                    patches.append(target)
                    refs.append({"key": key, "ref": target, "line": doc.line_of((key, i))})
        labels: dict[str, str] = {}
        for key in ("commonLabels", "labels"):
            block = data.get(key)
            if isinstance(block, dict):
                labels.update({str(k): str(v) for k, v in block.items() if isinstance(v, (str, int))})
            elif isinstance(block, list):  # `labels: [{pairs: {...}}]`
                for entry in block:
                    if isinstance(entry, dict) and isinstance(entry.get("pairs"), dict):
                        labels.update({str(k): str(v) for k, v in entry["pairs"].items()})
        namespace = data.get("namespace") if isinstance(data.get("namespace"), str) else None
        env_texts = [namespace] + [labels.get(k) for k in _ENV_LABELS] + [directory]
        env = detect_environment(*env_texts, patterns=cfg.environments)
        if namespace and detect_environment(namespace, patterns=cfg.environments):
            env_line = doc.line_of(("namespace",))
        elif any(labels.get(k) and detect_environment(labels[k], patterns=cfg.environments) for k in _ENV_LABELS):
            env_line = doc.line_of(("commonLabels",)) if "commonLabels" in data else doc.line_of(("labels",))
        else:
            env_line = doc.line
        replicas = []
        for i, r in enumerate(data.get("replicas") or []):
            if isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("count"), int):
                replicas.append({"name": r["name"], "count": r["count"], "line": doc.line_of(("replicas", i))})
        images = []
        for im in data.get("images") or []:
            if isinstance(im, dict) and isinstance(im.get("name"), str):
                images.append({k: str(v) for k, v in im.items() if k in ("name", "newName", "newTag")})
        return {
            "dir": directory,
            "path": src.path,
            "kind": str(data.get("kind") or "Kustomization"),
            "refs": refs,
            "patches": patches,
            "namespace": namespace,
            "name_prefix": data.get("namePrefix") if isinstance(data.get("namePrefix"), str) else None,
            "labels": labels,
            "env": env,
            "env_line": env_line,
            "replicas": replicas,
            "images": images,
        }

    # -- whole tree ---------------------------------------------------------------------
    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Give each environment-naming overlay's environment to the entities it builds from."""
        by_dir = {f.extra["kustomization"]["dir"]: f.extra["kustomization"] for f in fragments
                  if "kustomization" in f.extra}
        if not by_dir:
            return
        # Which files back each entity (an entity seen in many files is in all of them).
        files_to_entities: dict[str, list] = {}
        for table in (builder.components, builder.resources):
            for ent in table.values():
                for ev in ent.evidence:
                    files_to_entities.setdefault(ev.path, []).append(ent)
        namespaces: dict[str, set[str | None]] = {}  # entity id → namespaces overlays put it in
        for directory, k in sorted(by_dir.items()):
            if k["kind"] == "Component":
                continue  # components only apply through the overlay that includes them
            files, comps = self._closure(directory, by_dir)
            env, namespace, ev = self._overlay_env(k, comps, by_dir)
            if env is None:
                continue
            evidence = [ev]
            builder.add_environment(env, evidence)
            seen: set[str] = set()
            for path in sorted(files):
                for ent in files_to_entities.get(path, []):
                    if ent.id in seen:
                        continue
                    seen.add(ent.id)
                    if env not in ent.environments:
                        ent.environments.append(env)
                    builder.set_fact(ent, "environment", env, evidence,
                                     how=f"Kustomize overlay {directory}/ builds it")
                    namespaces.setdefault(ent.id, set()).add(namespace)
                    if namespace:
                        ent.attributes.setdefault(f"namespace.{env}", namespace)
            for r in k["replicas"]:
                for ent in builder.find(r["name"]):
                    if ent.id in seen:
                        ent.attributes[f"replicas.{env}"] = r["count"]
                        builder.set_fact(ent, "replicas", r["count"], [Evidence(path=k["path"], line=r["line"])])
        # One namespace for an entity only when every overlay that builds it agrees on it.
        for ent_id, names in namespaces.items():
            ent = builder.entity(ent_id)
            if ent is not None and ent.namespace is None and len(names) == 1 and None not in names:
                ent.namespace = next(iter(names))

    @staticmethod
    def _overlay_env(k: dict, comps: list[str], by_dir: dict[str, dict]) -> tuple[str | None, str | None, Evidence]:
        """The overlay's environment and namespace: its own, else from a component it includes."""
        env, namespace = k["env"], k["namespace"]
        ev = Evidence(path=k["path"], line=k["env_line"])
        for cdir in comps:
            c = by_dir.get(cdir)
            if c is None:
                continue
            if env is None and c["env"]:
                env, ev = c["env"], Evidence(path=c["path"], line=c["env_line"])
            namespace = namespace or c["namespace"]
        return env, namespace, ev

    @staticmethod
    def _closure(start: str, by_dir: dict[str, dict]) -> tuple[set[str], list[str]]:
        """Files reachable from the kustomization in ``start``, and the component dirs it uses."""
        files: set[str] = set()
        comps: list[str] = []
        seen: set[str] = set()
        stack = [start]
        while stack:
            d = stack.pop()
            if d in seen:
                continue
            seen.add(d)
            k = by_dir[d]
            for r in k["refs"]:
                target = posixpath.normpath(posixpath.join(d, r["ref"])) if d != "." else posixpath.normpath(r["ref"])
                if target.startswith(".."):
                    continue  # outside the scanned tree
                if target in by_dir:
                    if r["key"] == "components" or by_dir[target]["kind"] == "Component":
                        comps.append(target)
                    stack.append(target)
                else:
                    files.add(target)
        return files, comps
