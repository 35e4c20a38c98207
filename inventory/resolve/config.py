"""The estate's own mapping in `stackpolicy.yaml`: ``environment_paths`` (path glob →
environment) places everything defined under a path. (``overrides.<id>.environment`` is
applied after this stage and replaces what was resolved.)"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from inventory.model import Evidence
from inventory.resolve.base import Assignment, ResolveContext, Resolver


def _matches(path: str, pattern: str) -> bool:
    """Glob match where ``dir/**`` (or a bare directory) covers everything below it."""
    pattern = pattern.strip().lstrip("./") if pattern.startswith("./") else pattern.strip()
    if fnmatch.fnmatchcase(path, pattern):
        return True
    base = pattern[:-3] if pattern.endswith("/**") else pattern.rstrip("/")
    return not any(c in base for c in "*?[") and (path == base or path.startswith(base + "/"))


class ConfigResolver(Resolver):
    """``environment_paths`` in `stackpolicy.yaml`."""

    name = "stackpolicy.yaml"
    order = 90

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        mapping = ctx.config.environment_paths
        if not mapping:
            return
        where = (Evidence(path="stackpolicy.yaml", line=1),)
        for path, ids in sorted(ctx.entities_by_path().items()):
            for pattern, env in sorted(mapping.items()):
                if _matches(path, pattern):
                    for ent_id in ids:
                        yield Assignment(ent_id, str(env), f"stackpolicy.yaml maps {pattern} to {env}", where)
