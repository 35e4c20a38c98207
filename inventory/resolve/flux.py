"""Flux: a ``Kustomization`` filed under ``clusters/<env>/`` applies a path to that
environment's cluster, so everything defined under that path is in ``<env>``.

Paths are read relative to the repository, or through an ``ArtifactGenerator``'s copy rules
when the Kustomization's source is an ``ExternalArtifact`` (``@monorepo/apps/production/**``
copied to ``@artifact/production/``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from inventory.environments import environment_of_path
from inventory.model import Evidence
from inventory.resolve.base import Assignment, ResolveContext, Resolver


def _dir(pattern: str) -> str:
    """``@monorepo/apps/base/**`` → ``apps/base``; ``@artifact/`` → ``""``."""
    p = pattern.split("/", 1)[1] if pattern.startswith("@") and "/" in pattern else ("" if pattern.startswith("@") else pattern)
    p = p.split("*", 1)[0].strip("/")
    return posixpath.normpath(p) if p else ""


def target_dirs(path: str, source_kind: str, source_name: str, artifacts: dict[str, list[list[str]]]) -> list[str]:
    """Repository directories a Flux Kustomization's ``spec.path`` stands for."""
    p = posixpath.normpath(path.strip().lstrip("./") or ".")
    p = "" if p == "." else p
    if source_kind == "ExternalArtifact" and source_name in artifacts:
        out = []
        for src, dst in artifacts[source_name]:
            s, t = _dir(src), _dir(dst)
            if not t or p == t or p.startswith(t + "/"):
                rest = p[len(t):].strip("/") if t else p
                out.append(posixpath.join(s, rest).strip("/") if rest else s)
        return sorted(set(o for o in out if o))
    return [p] if p else []


class FluxResolver(Resolver):
    """Flux Kustomizations filed per environment (``clusters/<env>/``)."""

    name = "flux"
    order = 25
    reads_commands = False

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        # Artifact generators per environment directory (each cluster defines its own `apps`).
        artifacts: dict[str, dict[str, list[list[str]]]] = {}
        for f in ctx.of_scanner("kubernetes"):
            if f.extra.get("flux_artifacts"):
                hit = environment_of_path(f.path, ctx.config.environments)
                artifacts.setdefault(hit[1] if hit else "", {}).update(f.extra["flux_artifacts"])
        by_path = ctx.entities_by_path()
        for f in sorted(ctx.of_scanner("kubernetes"), key=lambda x: x.path):
            kusts = f.extra.get("flux_kustomizations")
            if not kusts:
                continue
            hit = environment_of_path(f.path, ctx.config.environments)
            if hit is None:
                continue
            env, env_dir = hit
            for k in kusts:
                ev = Evidence(path=f.path, line=max(1, int(k["line"])))
                known = {**artifacts.get("", {}), **artifacts.get(env_dir, {})}
                for d in target_dirs(k["path"], k["source_kind"], k["source_name"], known):
                    how = f"Flux Kustomization {k['name']} in {env_dir}/ applies {d}/"
                    for path in sorted(p for p in by_path if p.startswith(d + "/")):
                        for ent_id in by_path[path]:
                            yield Assignment(ent_id, env, how, (ev, ctx.defining_evidence(ent_id, path)))
