"""Terraform workspaces: ``terraform workspace select prod`` (or ``new``, or
``TF_WORKSPACE=prod``) in a Makefile, CI step, script or runbook puts the root module it runs
in into that workspace's environment.

The root is the command's ``-chdir``, a ``cd`` earlier on the line, the directory of the file
the command is in when that is a root module, else the one root module whose code reads
``terraform.workspace``. Workspaces not named for an environment (``blue``) place nothing.
Resources named with ``${terraform.workspace}`` get their name in each workspace
(``names_by_environment``), so a command naming ``orders-db-prod`` finds ``orders-db`` in prod.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator

from inventory.environments import canonical_environment
from inventory.model import Evidence
from inventory.resolve._commands import commands, known_dirs, resolve_path
from inventory.resolve.base import Assignment, ResolveContext, Resolver

_TF_WORKSPACE = re.compile(r"(?:^|\s)TF_WORKSPACE=([A-Za-z0-9_.-]+)\s+(?:\S+\s+)*?terraform\b")
_WS_REF = "terraform.workspace"


def terraform_roots(ctx: ResolveContext) -> dict[str, list[str]]:
    """Terraform module directory → ids of the entities its ``.tf`` files define (shared: do not edit)."""
    return ctx.memo("terraform_roots", lambda: _terraform_roots(ctx))  # type: ignore[no-any-return]


def _terraform_roots(ctx: ResolveContext) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for f in ctx.of_scanner("terraform"):
        if "dir" in f.extra and not f.extra.get("tfvars"):
            out[str(f.extra["dir"])].extend(e.id for e in (*f.components, *f.resources))
    return dict(out)


def root_of(seen, roots: dict[str, list[str]], known: set[str]) -> str | None:
    """The root module a terraform command runs in, when the command or its file says so."""
    here = posixpath.dirname(seen.sighting.evidence.path) or "."
    chdir = seen.command.flags.get("chdir")
    if isinstance(chdir, str):
        d = resolve_path(chdir, [seen.cwd or here, here, "."], known)
        return d if d in roots else None
    if seen.cwd is not None:
        return seen.cwd if seen.cwd in roots else None
    return here if here in roots else None


class TerraformWorkspaceResolver(Resolver):
    """``terraform workspace select <env>`` → the root module runs in ``<env>``."""

    name = "terraform-workspace"
    order = 30

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        roots = terraform_roots(ctx)
        if not roots:
            return
        known = known_dirs(ctx)
        b = ctx.builder
        reading: list[str] | None = None  # roots whose code reads terraform.workspace: found when first needed
        found: dict[str, dict[str, list[tuple[str, Evidence, str]]]] = defaultdict(lambda: defaultdict(list))
        for seen in commands(ctx, ("workspace", "TF_WORKSPACE")):
            pc = seen.command
            if pc.tool != "terraform":
                continue
            ws = _workspace(pc.argv)
            how_cmd = "terraform workspace select"
            if ws is None:
                m = _TF_WORKSPACE.search(seen.sighting.command)
                ws, how_cmd = (m.group(1), "TF_WORKSPACE") if m else (None, "")
            env = canonical_environment(ws, ctx.config.environments) if ws else None
            if not env:
                continue
            root = root_of(seen, roots, known)
            if not root:
                if reading is None:
                    locals_reading = _dirs_whose_locals_read_workspace(ctx)
                    reading = sorted(d for d, ids in roots.items()
                                     if any(_reads_workspace(ctx, b.entity(i)) for i in ids) or d in locals_reading)
                root = reading[0] if len(reading) == 1 else None
            if root is None:
                continue
            found[root][env].append((ws, seen.sighting.evidence, how_cmd))
        for root, by_env in sorted(found.items()):
            for env, hits in sorted(by_env.items()):
                ws, ev, how_cmd = hits[0]
                how = f"{how_cmd} {ws} at {ev} runs {root}/ in workspace {ws}"
                for ent_id in roots[root]:
                    yield Assignment(ent_id, env, how, tuple(h[1] for h in hits))
            self._names(ctx, roots[root], {env: hits[0][0] for env, hits in by_env.items()})

    @staticmethod
    def _names(ctx: ResolveContext, ids: list[str], workspaces: dict[str, str]) -> None:
        """``orders-db-${terraform.workspace}`` → ``prod: orders-db-prod`` per workspace."""
        for ent_id in ids:
            ent = ctx.builder.entity(ent_id)
            template = ent.attributes.get("name_template") if ent is not None else None
            if not isinstance(template, str) or _WS_REF not in template:
                continue
            names = []
            for env, ws in sorted(workspaces.items()):
                name = re.sub(r"\$\{\s*terraform\.workspace\s*\}", ws, template)
                if "${" not in name:
                    names.append(f"{env}: {name}")
            if names:
                known = ent.attributes.get("names_by_environment")
                merged = sorted({*(known if isinstance(known, list) else []), *names})
                ent.attributes["names_by_environment"] = merged
                ctx.builder.invalidate_index()


def _workspace(argv: list[str]) -> str | None:
    words = [a for a in argv[1:] if not a.startswith("-")]
    for i, w in enumerate(words[:-2]):
        if w == "workspace" and words[i + 1] in ("select", "new"):
            return words[i + 2]
    return None


def _reads_workspace(ctx: ResolveContext, ent) -> bool:
    return ent is not None and _WS_REF in str(ent.attributes.get("name_template") or "")


def _dirs_whose_locals_read_workspace(ctx: ResolveContext) -> set[str]:
    """Module directories with a variable or local whose value reads ``terraform.workspace``.

    One pass over the fragments (asking per directory rescanned them all, once per module).
    """
    out: set[str] = set()
    for f in ctx.of_scanner("terraform"):
        d = f.extra.get("dir")
        if d is None or d in out:
            continue
        values = f.extra.get("values") or {}
        for group in values.values() if isinstance(values, dict) else ():
            if isinstance(group, dict) and any(_WS_REF in str(v) for v in group.values()):
                out.add(d)
                break
    return out
