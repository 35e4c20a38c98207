"""Terraform: environments follow module calls and per-environment variable files, and
resources get real names.

* A module called from an environment's root (``envs/production/main.tf`` calling
  ``../../modules/env_baseline``) puts every resource of that module — and of the modules it
  calls in turn — in that environment.
* A variable file in a per-environment directory named for a root module
  (``variables/production/search.tfvars`` for ``deployments/search/``) puts that root in the
  environment.
* A resource whose name is a template (``"${var.prefix}-exports"``) is renamed to the rendered
  name when literal variable defaults, per-environment tfvars and literal locals of its module
  render it the same everywhere; otherwise it keeps its address, prefixed with the module call
  that instantiates it (``module.env.google_storage_bucket.this``). Never a bare label.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import PurePosixPath
from collections import defaultdict
from collections.abc import Iterator

from inventory.model import Evidence, entity_id
from inventory.resolve.base import Assignment, ResolveContext, Resolver
from inventory.scanners.terraform import _iam_object

_REF_RE = re.compile(r"\$\{\s*(var|local)\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}")
_ANY_INTERP = re.compile(r"\$\{")


def render(template: str, values: dict[str, dict[str, str]], depth: int = 0) -> str | None:
    """``${var.x}`` / ``${local.y}`` replaced by literal values; ``None`` if anything is left."""
    def sub(m: re.Match[str]) -> str:
        val = values.get(m.group(1), {}).get(m.group(2))
        if val is None:
            return m.group(0)
        return (render(val, values, depth + 1) if depth < 3 and "${" in val else val) or m.group(0)

    out = _REF_RE.sub(sub, template)
    return None if _ANY_INTERP.search(out) else out


class TerraformResolver(Resolver):
    """Module calls from environment roots, per-environment variable files, real names."""

    name = "terraform"
    order = 40

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        frags = ctx.of_scanner("terraform")
        if not frags:
            return
        b = ctx.builder
        dir_ents: dict[str, list[str]] = defaultdict(list)
        dir_values: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: {"var": {}, "local": {}})
        calls: list[tuple[str, dict]] = []  # (caller dir, module call)
        tfvars: list[tuple[str, dict]] = []
        tagged: set[str] = set()  # resources whose own tags name their environment: those win
        for f in sorted(frags, key=lambda x: x.path):
            d = f.extra.get("dir")
            if d is None:
                continue
            tagged.update(f.extra.get("tagged", []))
            dir_ents[d].extend(e.id for e in f.resources)
            for k in ("var", "local"):
                dir_values[d][k].update(f.extra.get("values", {}).get(k, {}))
            calls.extend((d, m) for m in f.extra.get("modules", []))
            if f.extra.get("tfvars"):
                tfvars.append((f.path, f.extra["tfvars"]))
        module_dirs = {f.extra["dir"] for f in frags if "dir" in f.extra and not f.extra.get("tfvars")}
        callers: dict[str, list[tuple[str, dict]]] = defaultdict(list)  # target dir -> calls
        for d, m in calls:
            target = posixpath.normpath(posixpath.join(d, m["source"])) if d not in ("", ".") else posixpath.normpath(m["source"])
            callers[target].append((d, m))
        # Per-environment variable files named for a root module.
        by_base: dict[str, list[str]] = defaultdict(list)
        for d in module_dirs:
            by_base[posixpath.basename(d)].append(d)
        env_vars: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)  # dir -> env -> values
        pending: dict[str, set[tuple[str, str, Evidence]]] = defaultdict(set)  # dir -> (env, how, ev)
        for path, tv in tfvars:
            env, stem = tv.get("env"), tv.get("stem")
            if not env and stem in ("terraform", "auto"):
                here = posixpath.dirname(path) or "."
                if here in module_dirs:  # shared values of the module beside it
                    dir_values[here]["var"].update(tv.get("values", {}))
                continue
            if env and stem in ("terraform", "auto"):
                # `envs/prod/terraform.tfvars`: the values of the nearest module at or above it
                # (its environment is given by the scanner's finalize step).
                here = posixpath.dirname(path) or "."
                chain = [here] + [str(p) for p in PurePosixPath(here).parents]
                owner = next((c for c in chain if c in module_dirs), None)
                if owner:
                    env_vars[owner][env] = {**env_vars[owner].get(env, {}), **tv.get("values", {})}
                continue
            # `terraform.tfvars` / `*.auto.tfvars` load in their own directory (the scanner's
            # finalize handles those); a file named for a root module is this signal.
            roots = by_base.get(stem or "", []) if stem not in ("terraform", "auto") else []
            if not env or not tv.get("env_dir") or len(roots) != 1:
                continue
            root = roots[0]
            env_vars[root][env] = tv.get("values", {})
            pending[root].add((env, f"{path} sets the {env} variables of {root}/", Evidence(path=path, line=1)))
        for root, items in sorted(pending.items()):
            for ent_id in (i for i in dir_ents[root] if i not in tagged):
                for env, how, ev in sorted(items, key=lambda x: (x[0], x[1])):
                    yield Assignment(ent_id, env, how, (ev,))
        # Module calls: propagate the caller's environments (fixpoint over nested calls).
        for _ in range(8):
            changed = False
            for target, cs in sorted(callers.items()):
                for d, m in cs:
                    mod = b.entity(m["id"])
                    envs = sorted(set(mod.environments)) if mod is not None else []
                    for env in envs:
                        how = f"module {m['name']} in {d}/ instantiates {target}/ for {env}"
                        ev = Evidence(path=_first_path(frags, d), line=max(1, int(m.get("line", 1))))
                        for ent_id in (i for i in dir_ents.get(target, []) if i not in tagged):
                            ent = b.entity(ent_id)
                            if ent is not None and env not in ent.environments:
                                changed = True
                            yield Assignment(ent_id, env, how, (ev,))
            if not changed:
                break
        # Literal arguments of module calls are the called module's variables (per the
        # caller's environment when it has one).
        for target, cs in callers.items():
            for d, m in cs:
                args = m.get("args") or {}
                mod = b.entity(m["id"])
                envs = sorted(set(mod.environments)) if mod is not None else []
                for env in envs:
                    env_vars[target][env] = {**env_vars[target].get(env, {}), **args}
                if not envs and len(cs) == 1:
                    dir_values[target]["var"].update(args)
        # Names: render templates, else the address under its module call.
        for d, ids in sorted(dir_ents.items()):
            values = dir_values[d]
            call_names = sorted({m["name"] for _, m in callers.get(d, [])})
            for ent_id in ids:
                ent = b.entity(ent_id)
                template = ent.attributes.get("name_template") if ent is not None else None
                if ent is None or not isinstance(template, str):
                    continue
                per_env = {}
                for env, vals in sorted(env_vars.get(d, {}).items()):
                    per_env[env] = render(template, {"var": {**values["var"], **vals}, "local": values["local"]})
                plain = render(template, values)
                rendered = {v for v in per_env.values() if v} or ({plain} if plain else set())
                if per_env and any(v is None for v in per_env.values()):
                    rendered = set()
                address = str(ent.attributes.get("terraform_address") or ent.name)
                if len(rendered) == 1:
                    new_name = next(iter(rendered))
                else:
                    if len(rendered) > 1:
                        ent.attributes["names_by_environment"] = [f"{e}: {v}" for e, v in sorted(per_env.items()) if v]
                    if ent.name != address and ent.name in template and "{" not in ent.name:
                        # Its literal stem (`acme-data${local.suffix}` → acme-data) names it across
                        # environments; the rendered names, where known, are listed per environment.
                        continue
                    new_name = f"module.{call_names[0]}.{address}" if len(call_names) == 1 else address
                if new_name != ent.name:
                    _rename(b, ent_id, new_name)


def _first_path(frags, d: str) -> str:
    return next((f.path for f in sorted(frags, key=lambda x: x.path) if f.extra.get("dir") == d), d)


def _rename(b, ent_id: str, new_name: str) -> None:
    """Give ``ent_id`` a real name (and the id that goes with it), keeping edges and evidence."""
    ent = b.entity(ent_id)
    if ent is None:
        return
    rtype = str(ent.attributes.get("terraform_address") or "").split(".", 1)[0]
    # IAM ids carry the object type (a role and its policy often share a name).
    is_address = new_name.startswith("module.") or new_name == ent.attributes.get("terraform_address")
    new_id = entity_id(ent.kind, f"{_iam_object(rtype)}-{new_name}" if ent.kind == "iam" and rtype and not is_address
                       else new_name)
    if new_id == ent_id:
        ent.name = new_name
        b.invalidate_index()
        return
    copy = ent.model_copy(deep=True, update={"id": new_id, "name": new_name})
    b.add_entity(copy)
    b.merge_alias(ent_id, new_id)
    kept = b.entity(new_id)
    if kept is not None:
        # The old id carried a label or an address: not a name anything else uses.
        aliases = [a for a in kept.attributes.get("aliases", []) if a != ent_id]
        if aliases:
            kept.attributes["aliases"] = aliases
        else:
            kept.attributes.pop("aliases", None)
        b.invalidate_index()
