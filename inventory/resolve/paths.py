"""Per-environment roots: what is defined under ``envs/production/``, ``clusters/staging/``,
``k8s/prod/`` or ``variables/integration/`` is in that environment.

Only a directory *named* for an environment counts (or any directory directly under an
environments root such as ``envs/``); words inside a name (``docs/ci-runners/``) never do,
and prose files (runbooks, docs) are left out: where a document is filed says nothing about
where the things it mentions run.
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.environments import environment_of_path
from inventory.resolve.base import Assignment, ResolveContext, Resolver


class PathResolver(Resolver):
    """Entities defined in a per-environment directory."""

    name = "environment-directory"
    order = 20
    reads_commands = False

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        patterns = ctx.config.environments
        for path, ids in sorted(ctx.entities_by_path().items()):
            hit = environment_of_path(path, patterns)
            if hit is None:
                continue
            env, directory = hit
            for ent_id in ids:
                ev = ctx.defining_evidence(ent_id, path)
                yield Assignment(ent_id, env, f"defined under the per-environment directory {directory}/", (ev,))
