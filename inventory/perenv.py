"""One logical component per environment: ``orders-db-prod`` and ``orders-db-stg`` are the
same component in two environments when the evidence says so.

Entities of one kind whose names differ only by one environment token (``prod``, ``stg``,
``production``...) are linked when each is resolved to exactly the environment its name
token names, and there is one entity per environment. Each keeps its own id (they are
separate objects: separate actions, separate tiers); they gain ``attributes.logical_name``
(``orders-db``) and ``attributes.per_environment`` (``prod: postgres:orders-db-prod``...), so
documents and reviewers see one component deployed per environment.
"""

from __future__ import annotations

from collections import defaultdict

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.environments import canonical_environment, tokens
from inventory.model import Entity

__all__ = ["link_per_environment_names"]


def _stem_and_env(ent: Entity, cfg: Config) -> tuple[str, str] | None:
    toks = tokens(ent.name)
    hits = [(i, canonical_environment(t, cfg.environments)) for i, t in enumerate(toks)]
    hits = [(i, e) for i, e in hits if e]
    if len(hits) != 1 or len(toks) < 2:
        return None
    i, env = hits[0]
    return "-".join(toks[:i] + toks[i + 1:]), env


def link_per_environment_names(builder: InventoryBuilder, cfg: Config) -> None:
    """Annotate per-environment copies of one logical component (see module docstring)."""
    groups: dict[tuple[str, str], list[tuple[str, Entity]]] = defaultdict(list)
    for table in (builder.components, builder.resources):
        for ent in table.values():
            # The name's environment must be the one the evidence resolved it to, and its only
            # one: the names of the many entities in none or several are not read.
            if len(ent.environments) != 1:
                continue
            found = _stem_and_env(ent, cfg)
            if found is not None and ent.environments[0] == found[1]:
                groups[(ent.kind, found[0])].append((found[1], ent))
    for (_, stem), items in sorted(groups.items()):
        envs = {env for env, _ in items}
        if len(envs) < 2 or len(items) != len(envs):
            continue  # one environment only, or two of one environment: not this pattern
        listing = [f"{env}: {ent.id}" for env, ent in sorted(items, key=lambda x: x[0])]
        for _, ent in items:
            ent.attributes["logical_name"] = stem
            ent.attributes["per_environment"] = listing
