"""OpenAPI / Swagger specs: every HTTP operation is an action an agent could call.

Each operation becomes an :class:`Action` (``origin="openapi"``, ``tool="http"``, verb = the
lower-case method, ``object_kind`` = the path) with a stable id
``api:<api-slug>/<method>-<path-slug>``; its security requirements and deprecation become
flags. The API itself is an ``other`` resource with subtype ``openapi``.

Whole-tree step: an operation's ``target`` is the component that serves the API when the
tree says so: a Backstage component that ``providesApis`` it, a component named like the
API, or else the single Backstage service whose catalog file sits above the spec (the
repository the spec belongs to).

Line numbers come from one walk over the YAML line table (JSON parses as YAML too), so a
large spec costs one parse.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from inventory.model import Action, Resource, entity_id, slug
from inventory.environments import detect_environment
from inventory.scanners._common import fact, keep
from inventory.scanners._yaml import Doc, load_documents, mapping_entries
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_HEAD_RE = re.compile(r"""^\s*["']?(openapi|swagger)["']?\s*:""", re.MULTILINE)


def _method_lines(doc: Doc) -> dict[tuple[str, str], int]:
    """``(path, method) → line`` from the line table, in one pass over ``paths``."""
    out: dict[tuple[str, str], int] = {}
    root = mapping_entries(doc.node)
    if root is None:
        return out
    paths = mapping_entries(next((v for text, _, v in root if text == "paths"), None))
    if paths is None:
        return out
    for path_text, _, methods_node in paths:
        methods = mapping_entries(methods_node)
        if methods is None:
            continue
        for method_text, method_line, _ in methods:
            if method_text.lower() in METHODS:
                out[(path_text, method_text.lower())] = method_line
    return out


def _security_names(requirements: Any) -> list[str] | None:
    """Scheme names of a ``security`` list; ``[]`` for explicitly none, None when absent."""
    if not isinstance(requirements, list):
        return None
    names: set[str] = set()
    for req in requirements:
        if isinstance(req, dict):
            names.update(str(k) for k in req)
    return sorted(names)


def api_slug(spec: dict, path: PurePosixPath) -> str:
    """The API's id part: its ``info.title``, else the file's stem."""
    info = spec.get("info") if isinstance(spec.get("info"), dict) else {}
    title = info.get("title")
    return slug(str(title)) if isinstance(title, (str, int)) and str(title).strip() else slug(path.stem)


class OpenApiScanner(Scanner):
    """OpenAPI 3 and Swagger 2 specs in YAML or JSON."""

    name = "openapi"
    version = 3
    suffixes = (".yaml", ".yml", ".json")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        # The words first: the pattern alone is tried at every offset of every YAML head.
        return path.suffix.lower() in (".yaml", ".yml", ".json") and ("openapi" in head or "swagger" in head) \
            and bool(_HEAD_RE.search(head))

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        doc = next((d for d in load_documents(src, frag) if isinstance(d.data, dict)), None)
        if doc is None or not ({"openapi", "swagger"} & set(doc.data)):
            return frag
        spec = doc.data
        paths = spec.get("paths")
        if paths is not None and not isinstance(paths, dict):
            frag.warn("`paths` is not a mapping", line=doc.line_of(("paths",)))
            paths = None
        api = api_slug(spec, src.pure)
        info = spec.get("info") if isinstance(spec.get("info"), dict) else {}
        ev = src.evidence(doc.line_of(("info", "title")) if info.get("title") else doc.line)
        res = Resource(id=entity_id("other", f"api-{api}"), kind="other", name=api, subtype="openapi", evidence=[ev])
        res.attributes["spec_version"] = str(spec.get("openapi") or spec.get("swagger"))
        if isinstance(info.get("title"), str):
            res.attributes["title"] = info["title"]
        if info.get("version") is not None:
            res.attributes["api_version"] = str(info.get("version"))
        servers = [s.get("url") for s in spec.get("servers") or [] if isinstance(s, dict) and isinstance(s.get("url"), str)] \
            if isinstance(spec.get("servers"), list) else []
        if isinstance(spec.get("host"), str):  # Swagger 2
            servers.append(str(spec["host"]) + str(spec.get("basePath") or ""))
        if servers:
            res.attributes["servers"] = [keep(frag, "server", s, ev) for s in servers]
        # Servers often name their environment (orders-admin.prod.acme.internal).
        for i, server in enumerate(spec.get("servers") or [] if isinstance(spec.get("servers"), list) else []):
            if not isinstance(server, dict):
                continue
            env = detect_environment(str(server.get("url") or ""), str(server.get("description") or ""),
                                     patterns=ctx.config.environments)
            if env and env not in res.environments:
                res.environments.append(env)
                res.facts.append(fact("environment", env, src.evidence(doc.line_of(("servers", i)))))
        global_security = _security_names(spec.get("security"))
        lines = _method_lines(doc)
        count = 0
        for p in sorted(paths or {}, key=str):
            item = paths[p]
            if not isinstance(item, dict):
                continue
            for method in METHODS:
                if method not in item:
                    continue
                op = item[method] if isinstance(item[method], dict) else {}
                line = lines.get((str(p), method)) or doc.line_of(("paths", p))
                frag.actions.append(self._action(src, frag, api, str(p), method, op, global_security, line))
                count += 1
        res.attributes["operations"] = count
        frag.resources.append(res)
        frag.extra = {"api": api, "title": info.get("title") if isinstance(info.get("title"), str) else None}
        return frag

    def _action(self, src: SourceFile, frag: Fragment, api: str, path: str, method: str, op: dict,
                global_security: list[str] | None, line: int) -> Action:
        ev = src.evidence(line)
        flags: dict[str, str | bool] = {}
        security = _security_names(op.get("security"))
        if security is None:
            security = global_security
        if security is not None:
            flags["auth"] = ",".join(security) if security else "none"
        if op.get("deprecated") is True:
            flags["deprecated"] = True
        summary = op.get("summary") or op.get("operationId") or op.get("description")
        description = keep(frag, "summary", str(summary).strip().splitlines()[0], ev) if summary else None
        if isinstance(op.get("operationId"), str):
            flags["operation_id"] = op["operationId"]
        return Action(
            id=f"api:{api}/{method}-{slug(path)}",
            verb=method,
            tool="http",
            target=None,
            target_name=api,
            object_kind=path,
            flags=flags,
            command=f"{method.upper()} {path}",
            origin="openapi",
            description=description,
            evidence=[ev],
        )

    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Resolve each API to the component serving it and target its operations there."""
        lookup: _ServingLookup | None = None  # built on the first spec: one pass over the tree
        for frag in fragments:
            api = frag.extra.get("api")
            if not api:
                continue
            lookup = lookup or _ServingLookup(builder)
            target = lookup.serving_component(api, frag.extra.get("title"), frag.path)
            if target is None:
                continue
            for a in frag.actions:
                stored = builder.actions.get(a.id)
                if stored is not None and stored.target is None:
                    stored.target = target
            api_ent = builder.entity(entity_id("other", f"api-{api}"))
            if api_ent is not None:
                api_ent.attributes.setdefault("served_by", target)


class _ServingLookup:
    """The tables :meth:`OpenAPIScanner.finalize` matches specs against, built once per finalize.

    Finalize only sets action targets and ``served_by`` on API resources, so the components,
    their ``provides_apis`` and the Backstage API definitions do not change while it runs.
    """

    def __init__(self, builder: "InventoryBuilder") -> None:
        # Backstage API definition file -> slugged names of the API entities it defines.
        self.defined_names: dict[str, set[str]] = {}
        for res in builder.resources.values():
            definition = res.attributes.get("definition")
            if res.subtype == "api" and isinstance(definition, str):
                self.defined_names.setdefault(definition, set()).add(slug(res.name))
        comps = sorted(builder.components.values(), key=lambda c: c.id)
        # slugged API name -> components providing it / slugged name -> components so named;
        # both in component id order.
        self.providers: dict[str, list[str]] = {}
        self.named: dict[str, list[str]] = {}
        # directory of a Backstage service's catalog file -> those services' ids
        self.catalog_dirs: dict[str, list[str]] = {}
        for c in comps:
            apis = c.attributes.get("provides_apis")
            if isinstance(apis, list):
                for n in {slug(str(n)) for n in apis}:
                    self.providers.setdefault(n, []).append(c.id)
            self.named.setdefault(slug(c.name), []).append(c.id)
            if c.kind == "service" and c.subtype == "backstage":
                # Each distinct directory once: a catalog file is cited at many lines. Taken
                # from the (relative, normal) path as a string: a PurePosixPath per path was
                # most of this table's cost.
                paths = dict.fromkeys(ev.path for ev in c.evidence)
                for cat_dir in dict.fromkeys(posixpath.dirname(p) or "." for p in paths):
                    self.catalog_dirs.setdefault(cat_dir, []).append(c.id)

    @staticmethod
    def _one(ids: set[str]) -> str | None:
        return next(iter(ids)) if len(ids) == 1 else None

    def serving_component(self, api: str, title: str | None, spec_path: str) -> str | None:
        """The one component serving ``api``: by ``providesApis``, by name, else by catalog directory."""
        names = {api, slug(title or "")} - {""}
        # A Backstage API entity whose `definition` is this file names the API too.
        names |= self.defined_names.get(spec_path, set())
        provided = {cid for n in names for cid in self.providers.get(n, ())}
        if len(provided) == 1:
            return self._one(provided)
        named = {cid for n in names for cid in self.named.get(n, ())}
        if len(named) == 1:
            return self._one(named)
        # The Backstage services whose catalog file sits in the spec's directory or above it.
        spec_dir = PurePosixPath(spec_path).parent
        owners = {cid for d in (spec_dir, *spec_dir.parents, PurePosixPath("."))
                  for cid in self.catalog_dirs.get(str(d), ())}
        return self._one(owners)
