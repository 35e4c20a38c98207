"""Environments a scanner read from the file itself: a namespace, an environment label or tag,
a Kustomize overlay, a ``values-<env>.yaml``, a workflow's ``environment:`` key, an
``.env.<env>`` file.

The scanner records each one as an ``environment`` fact with its evidence (and, where it can,
the signal in words as ``Fact.how``); this resolver turns those into environment sources so
every environment an entity has is explained the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.resolve.base import Assignment, ResolveContext, Resolver


class StatedResolver(Resolver):
    """Scanner-read environment signals (namespaces, labels, tags, overlays, values files)."""

    name = "in-file"
    order = 10
    reads_commands = False

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        b = ctx.builder
        for table in (b.components, b.resources):
            for ent_id in sorted(table):
                ent = table[ent_id]
                for env in sorted(set(ent.environments)):
                    facts = [f for f in ent.facts if f.name == "environment" and f.value == env]
                    if not facts:
                        scanners = ", ".join(sorted(b.seen_by.get(ent_id, ()))) or "a scanner"
                        ev = ent.evidence[:1]
                        yield Assignment(ent_id, env, f"{scanners} read environment {env} in {ev[0] if ev else 'its file'}",
                                         tuple(ev))
                        continue
                    for f in facts:
                        how = f.how or f"environment {env} named in {f.evidence[0] if f.evidence else 'its file'}"
                        yield Assignment(ent_id, env, how, tuple(f.evidence))
