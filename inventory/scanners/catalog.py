"""Plain YAML service catalogs: a ``services:`` *list* of named services with their teams,
tiers and dependencies (``services/service-catalog.yml`` and the like).

Each entry with a ``name`` becomes a ``service`` component (or a datastore resource when its
``type`` says so, or its name is a datastore engine's: ``redis``, ``postgres``), with
owners from ``team``/``teams``/``owner``/``owners``, the tier as an attribute, references for
its dependencies (``dependencies``, ``depends_on``, ``technical.dependencies``; plain names or
``{service: name}``), and environments when the entry lists them (``environments: [prod]``).
A compose file (a ``services:`` *mapping*) is not a catalog.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from inventory.environments import canonical_environment, detect_environment
from inventory.kinds import kind_for_image
from inventory.model import Component, Entity, Fact, Owner, Resource, entity_id
from inventory.scanners._common import data_classes, fact, keep
from inventory.scanners._yaml import Doc, load_documents
from inventory.scanners.backstage import RESOURCE_TYPES
from inventory.scanners.base import Fragment, Reference, ScanContext, Scanner, SourceFile

_COMPOSE_RE = re.compile(r"^(docker-)?compose([._-][\w.-]+)?\.ya?ml$", re.IGNORECASE)
_HEAD_RE = re.compile(r"^services:\s*(#.*)?$", re.MULTILINE)
_OWNER_KEYS = ("team", "teams", "owner", "owners", "owner_team", "owning_team", "group")
_DEP_KEYS = ("dependencies", "depends_on", "dependsOn", "depends-on", "upstreams")
_ENV_KEYS = ("environments", "environment", "envs", "stages")
_KEEP = ("tier", "friendly_name", "label", "criticality", "lifecycle", "type", "language", "repo", "repository")
_SKIP_NAME = re.compile(r"[{}$<>]")


def _names(value: Any) -> list[tuple[int, str]]:
    """``[a, {service: b}, {name: c}]`` (or ``a``) → [(index, name), ...]."""
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str) and item.strip():
            out.append((i, item.strip()))
        elif isinstance(item, dict):
            n = next((item[k] for k in ("service", "name", "component", "id") if isinstance(item.get(k), str)), None)
            if n:
                out.append((i, n.strip()))
    return out


class ServiceCatalogScanner(Scanner):
    """YAML files whose top-level ``services:`` is a list of named entries."""

    name = "service-catalog"
    version = 2
    suffixes = (".yaml", ".yml")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        if path.suffix.lower() not in (".yaml", ".yml") or _COMPOSE_RE.match(path.name):
            return False
        if "templates" in path.parts or "apiVersion:" in head:
            return False
        # A catalog named as one may open with long `tiers:`/`teams:` sections: its
        # `services:` list is looked for by `scan` (anything else yields nothing). The word
        # is tested before the pattern, which alone is tried at every offset of the head.
        return ("services:" in head and bool(_HEAD_RE.search(head))) or "catalog" in path.stem.lower()

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        for doc in load_documents(src, frag):
            data = doc.data
            if not isinstance(data, dict) or not isinstance(data.get("services"), list):
                continue
            for i, entry in enumerate(data["services"]):
                if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip() \
                        and not _SKIP_NAME.search(entry["name"]):
                    self._entry(src, ctx, frag, doc, i, entry)
        return frag

    def _entry(self, src: SourceFile, ctx: ScanContext, frag: Fragment, doc: Doc, i: int, entry: dict) -> None:
        base = ("services", i)
        name = entry["name"].strip()
        ev = src.evidence(doc.line_of(base + ("name",)))
        stype = str(entry.get("type") or entry.get("kind") or "").lower()
        rkind = RESOURCE_TYPES.get(stype)
        hit = kind_for_image(name)
        ent: Entity
        if rkind or (hit and hit[0] != "other"):
            kind = rkind or hit[0]  # type: ignore[index]
            ent = Resource(id=entity_id(kind, name), kind=kind, name=name, subtype="service-catalog", evidence=[ev])
        else:
            ckind = "job" if stype in ("job", "batch", "cron", "cronjob") else "service"
            ent = Component(id=entity_id(ckind, name), kind=ckind, name=name, subtype="service-catalog", evidence=[ev])
        for key in _KEEP:
            v = entry.get(key)
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                ent.attributes[f"catalog_{key}"] = keep(frag, key, str(v), ev)
        for key in _OWNER_KEYS:
            for j, owner in _names(entry.get(key)):
                oev = src.evidence(doc.line_of(base + (key,)))
                owner = owner.lstrip("@").rsplit("/", 1)[-1] if owner.startswith("@") else owner
                if owner not in ent.owners:
                    ent.owners.append(owner)
                    ent.facts.append(fact("owner", owner, oev))
                    frag.owners.append(Owner(name=owner, evidence=[oev]))
        deps = [(key, j, n) for key in _DEP_KEYS for j, n in _names(entry.get(key))]
        tech = entry.get("technical")
        if isinstance(tech, dict):
            deps += [(f"technical.{key}", j, n) for key in _DEP_KEYS for j, n in _names(tech.get(key))]
        for key, j, dep in deps:
            path = base + tuple(key.split(".")) + (j,)
            if dep != name:
                frag.references.append(Reference(source=ent.id, target_name=dep, via=f"service catalog {key}",
                                                 evidence=src.evidence(doc.line_of(path))))
        for key in _ENV_KEYS:
            for j, env_name in _names(entry.get(key)):
                env = canonical_environment(env_name, ctx.config.environments) or \
                    detect_environment(env_name, patterns=ctx.config.environments)
                if env and env not in ent.environments:
                    eev = src.evidence(doc.line_of(base + (key,)))
                    ent.environments.append(env)
                    ent.facts.append(Fact(name="environment", value=env, evidence=[eev],
                                          how=f"the service catalog lists {name} in {env_name}"))
        for dc in data_classes(name):
            ent.data_classes.append(dc)
            ent.facts.append(fact("data_class", dc, ev))
        (frag.components if isinstance(ent, Component) else frag.resources).append(ent)  # type: ignore[arg-type]
