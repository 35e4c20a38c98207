"""Argo CD: an ``Application`` (or an ``ApplicationSet`` template) deploys a source path to a
destination. A destination namespace, cluster name or server host, or a project, that names
an environment (``payments-prod``, ``https://prod.k8s.example``) puts the application, and
everything defined under its source path, in that environment.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from inventory.environments import detect_environment, environment_of_path
from inventory.model import Evidence
from inventory.resolve.base import Assignment, ResolveContext, Resolver


class ArgoCDResolver(Resolver):
    """Argo CD Application destinations."""

    name = "argocd"
    order = 25
    reads_commands = False

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        patterns = ctx.config.environments
        by_path = ctx.entities_by_path()
        for f in sorted(ctx.of_scanner("kubernetes"), key=lambda x: x.path):
            apps = f.extra.get("argocd_apps")
            for app in apps or []:
                env, how = None, ""
                for label, value in (("namespace", app.get("namespace")), ("cluster", app.get("cluster")),
                                     ("server", app.get("server")), ("project", app.get("project"))):
                    if isinstance(value, str) and "{{" not in value:
                        env = detect_environment(value, patterns=patterns)
                        if env:
                            how = f"Argo CD destination {label} {value}"
                            break
                if env is None:
                    hit = environment_of_path(f.path, patterns)
                    if hit is None:
                        continue
                    env, how = hit[0], f"Argo CD application filed under {hit[1]}/"
                ev = Evidence(path=f.path, line=max(1, int(app["line"])))
                yield Assignment(app["id"], env, how, (ev,))
                for src in app.get("paths") or []:
                    d = posixpath.normpath(src.strip().lstrip("./"))
                    if d in ("", ".") or "{{" in d:
                        continue
                    for path in sorted(p for p in by_path if p.startswith(d + "/")):
                        for ent_id in by_path[path]:
                            yield Assignment(ent_id, env, f"{how} deploys {d}/", (ev, ctx.defining_evidence(ent_id, path)))
