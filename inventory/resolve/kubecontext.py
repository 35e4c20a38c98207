"""Kube contexts: ``kubectl --context prod-eu apply -f k8s/app/``, ``helm upgrade
--kube-context prod web charts/web``, or ``kubectl config use-context staging`` followed in
the same script, Makefile or workflow by an apply, put what the applied path defines into
the environment the context names (``prod-eu`` → prod, ``gke_acme_staging`` → staging).

Only a context named for an environment counts, only for the paths the command applies (a
Kustomize directory with what it builds from), and in runbooks only a context named on the
command itself (a runbook's earlier ``use-context`` is prose-level state).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator

from inventory.environments import detect_environment
from inventory.model import Evidence
from inventory.resolve._commands import commands, known_dirs, resolve_path
from inventory.resolve.base import Assignment, ResolveContext, Resolver

_APPLY_VERBS = frozenset({"apply", "create", "replace"})


class KubeContextResolver(Resolver):
    """Manifests applied with a context named for an environment."""

    name = "kube-context"
    order = 35

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        known = known_dirs(ctx)
        by_path = ctx.entities_by_path()
        # Only the kustomize scanner records a kustomization: a fifth of the fragments, not all of them.
        kustomizations = {str(f.extra["kustomization"]["dir"]): f.extra["kustomization"]
                          for f in ctx.of_scanner("kustomize") if isinstance(f.extra.get("kustomization"), dict)}
        current: dict[str, str] = {}  # file -> context set by `kubectl config use-context`
        found: dict[tuple[str, str, str], list[Evidence]] = defaultdict(list)
        for seen in commands(ctx, ("context", "apply", "helm")):
            pc, s = seen.command, seen.sighting
            if pc.tool in ("kubectl", "oc") and pc.argv[1:3] == ["config", "use-context"] and pc.target:
                if s.source_kind != "runbook":
                    current[s.evidence.path] = pc.target
                continue
            context = pc.flags.get("context") if pc.tool in ("kubectl", "oc") else pc.flags.get("kube-context")
            if not isinstance(context, str):
                context = current.get(s.evidence.path)
            if not context:
                continue
            env = detect_environment(context, patterns=ctx.config.environments)
            if not env:
                continue
            here = posixpath.dirname(s.evidence.path) or "."
            for path in _applied(pc):
                p = resolve_path(path.rstrip("/"), [seen.cwd or here, here, "."], known)
                if p is not None:
                    found[(p, env, context)].append(s.evidence)
        for (path, env, context), evs in sorted(found.items()):
            how = f"applied with kube context {context} (at {evs[0]})"
            for file in sorted(_files_under(path, by_path, kustomizations)):
                for ent_id in by_path[file]:
                    yield Assignment(ent_id, env, how, tuple(evs))

    # The applies are collected first, then the files: the same path applied many times is
    # placed once, with every sighting as evidence.


def _applied(pc) -> list[str]:
    """The paths a command applies: ``-f``/``-k`` of a kubectl apply, a helm chart path."""
    if pc.tool in ("kubectl", "oc") and pc.verb in _APPLY_VERBS:
        return [str(v) for k in ("filename", "kustomize") for v in [pc.flags.get(k)] if isinstance(v, str)]
    if pc.tool == "helm" and pc.verb in ("upgrade", "install") and isinstance(pc.flags.get("chart"), str):
        return [str(pc.flags["chart"])]
    return []


def _files_under(path: str, by_path: dict[str, list[str]], kustomizations: dict[str, dict]) -> set[str]:
    """Files defining entities at ``path``, under it, or in what a Kustomization there builds from."""
    out: set[str] = set()
    stack, seen = [path], set()
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        out.update(f for f in by_path if f == d or f.startswith(d + "/"))
        k = kustomizations.get(d)
        for r in (k or {}).get("refs") or []:
            target = posixpath.normpath(posixpath.join(d, str(r.get("ref") or ""))) if d != "." else \
                posixpath.normpath(str(r.get("ref") or ""))
            if not target.startswith(".."):
                stack.append(target)
    return out
