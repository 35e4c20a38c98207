"""helmfile (``helmfile.yaml``, ``helmfile.d/*.yaml``): releases and the environments they ship to.

Each release becomes a ``service`` component (subtype ``helm-release``), or a datastore
resource when its chart is one (``bitnami/postgresql``). The file's ``environments:`` keys are
the environments every release is deployed to — unless the release narrows them with
``installed: false`` (not deployed) — recorded as environment facts with their evidence.
Files rendered with Go templates are read as far as YAML allows; template-only values are
skipped.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from inventory.environments import canonical_environment, detect_environment
from inventory.kinds import kind_for_chart
from inventory.model import Component, Entity, Fact, Resource, entity_id
from inventory.scanners._common import keep
from inventory.scanners._yaml import load_documents
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile


class HelmfileScanner(Scanner):
    """helmfile releases and environments."""

    name = "helmfile"
    version = 1
    suffixes = (".yaml", ".yml", ".gotmpl")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        if path.suffix.lower() not in (".yaml", ".yml", ".gotmpl"):
            return False
        return path.name.lower().startswith("helmfile") or "helmfile.d" in path.parts

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        envs: list[tuple[str, str, int]] = []  # (environment, as named, line)
        releases: list[tuple[dict, object, tuple]] = []
        for doc in load_documents(src, frag):
            data = doc.data
            if not isinstance(data, dict):
                continue
            for name in data.get("environments") or {} if isinstance(data.get("environments"), dict) else {}:
                if str(name) == "default":
                    continue
                env = canonical_environment(str(name), ctx.config.environments) or \
                    detect_environment(str(name), patterns=ctx.config.environments)
                if env:
                    envs.append((env, str(name), doc.line_of(("environments", name))))
            for i, rel in enumerate(data.get("releases") or [] if isinstance(data.get("releases"), list) else []):
                if isinstance(rel, dict) and isinstance(rel.get("name"), str) and "{{" not in rel["name"]:
                    releases.append((rel, doc, ("releases", i)))
        for rel, doc, path in releases:
            if rel.get("installed") is False:
                continue  # declared but not deployed
            name = rel["name"]
            ev = src.evidence(doc.line_of(path + ("name",)))  # type: ignore[attr-defined]
            chart = str(rel.get("chart") or "")
            hit = kind_for_chart(chart) if chart else None
            attrs = {"chart": keep(frag, "chart", chart, ev)} if chart else {}
            ns = rel.get("namespace") if isinstance(rel.get("namespace"), str) and "{{" not in rel["namespace"] else None
            ent: Entity
            if hit and hit[0] != "other":
                ent = Resource(id=entity_id(hit[0], name), kind=hit[0], name=name, subtype="helmfile", stateful=True,
                               namespace=ns, attributes=attrs, evidence=[ev])
            else:
                ent = Component(id=entity_id("service", name), kind="service", name=name, subtype="helm-release",
                                namespace=ns, attributes=attrs, evidence=[ev])
            for env, named, line in envs:
                if env not in ent.environments:
                    ent.environments.append(env)
                    ent.facts.append(Fact(name="environment", value=env, evidence=[src.evidence(line)],
                                          how=f"helmfile environment {named} deploys its releases"))
            (frag.components if isinstance(ent, Component) else frag.resources).append(ent)  # type: ignore[arg-type]
        return frag
