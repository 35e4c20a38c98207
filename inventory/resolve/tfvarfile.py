"""Terraform variable files on the command line: ``terraform -chdir=deploy apply
-var-file=envs/prod.tfvars`` in a Makefile, CI step or script puts the root module it runs in
into the environment the variable file is for (its name, ``prod.tfvars``, or its
per-environment directory, ``variables/production/app.tfvars``).

The root is found as for workspaces (``-chdir``, a ``cd`` on the line, the file's own
directory); a command whose root cannot be told places nothing.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator

from inventory.environments import canonical_environment, environment_of_path
from inventory.model import Evidence
from inventory.resolve._commands import commands, known_dirs
from inventory.resolve.base import Assignment, ResolveContext, Resolver
from inventory.resolve.tfworkspace import root_of, terraform_roots


def var_file_environment(path: str, patterns) -> str | None:
    """The environment a variable file is for: its per-environment directory, else its name."""
    hit = environment_of_path(path, patterns)
    if hit:
        return hit[0]
    stem = posixpath.basename(path).split(".", 1)[0]
    return canonical_environment(stem, patterns)


class TerraformVarFileResolver(Resolver):
    """``-var-file=<env file>`` on a terraform command → its root module is in that env."""

    name = "terraform-var-file"
    order = 31

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        roots = terraform_roots(ctx)
        if not roots:
            return
        known = known_dirs(ctx)
        found: dict[tuple[str, str, str], list[Evidence]] = defaultdict(list)
        for seen in commands(ctx, ("var-file",)):
            pc = seen.command
            vf = pc.flags.get("var-file")
            if pc.tool != "terraform" or not isinstance(vf, str):
                continue
            env = var_file_environment(vf, ctx.config.environments)
            root = root_of(seen, roots, known)
            if env and root:
                found[(root, env, vf)].append(seen.sighting.evidence)
        for (root, env, vf), evs in sorted(found.items()):
            how = f"terraform runs {root}/ with -var-file={vf} (at {evs[0]})"
            for ent_id in roots[root]:
                yield Assignment(ent_id, env, how, tuple(evs))
