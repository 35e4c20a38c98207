"""The resolve stage: explicit signals → the environments each entity runs in.

Runs between scanning and building (after the scanners' whole-tree ``finalize`` steps,
before overrides, linking and actions). Each module here defines one :class:`Resolver` for
one kind of signal; discovery is automatic, like scanners. Every environment an entity
gets carries an :class:`~inventory.model.EnvironmentSource` (how, evidence, resolver).

Nothing is guessed: an entity no signal places is *unresolved* — it keeps no environment
(the risk model treats that as production) and the estate gets one question
(:class:`~inventory.model.UnresolvedEnvironments`) saying what was found and which
`stackpolicy.yaml` lines would settle it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import Entity, EnvironmentSource, UnresolvedEnvironments
from inventory.resolve._commands import add_dirs, known_dirs
from inventory.resolve.base import Assignment, ResolveContext, Resolver
from inventory.resolve.tfworkspace import terraform_roots
from inventory.scanners.base import Fragment

__all__ = ["Assignment", "ResolveContext", "ResolvedEarly", "Resolver", "all_resolvers", "resolve_before_commands",
           "resolve_environments", "unresolved_summary"]

# Entities that run nowhere by themselves: a CI job runs on CI, a Terraform module call is
# the place its resources come from. They are not counted in the estate's question.
_NOT_PLACED_SUBTYPES: frozenset[str] = frozenset({"terraform-module", "github-actions"})


@lru_cache(maxsize=1)
def _resolver_classes() -> tuple[type[Resolver], ...]:
    found: dict[str, type[Resolver]] = {}
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_") or mod.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Resolver) and obj is not Resolver
                    and obj.__module__ == module.__name__):
                found[obj.name] = obj
    return tuple(sorted(found.values(), key=lambda c: (c.order, c.name)))


def all_resolvers() -> list[Resolver]:
    """One instance of every resolver, in run order."""
    return [cls() for cls in _resolver_classes()]


def apply(builder: InventoryBuilder, resolver: str, assignment: Assignment) -> bool:
    """Record one assignment on its entity; ``False`` when the entity is gone."""
    ent = builder.entity(assignment.entity_id)
    if ent is None or not assignment.environment:
        return False
    add_source(ent, assignment.environment, assignment.how, resolver, assignment.evidence)
    return True


def add_source(ent: Entity, env: str, how: str, resolver: str, evidence) -> None:
    """Put ``ent`` in ``env`` because of one signal (merging evidence of the same signal)."""
    if env not in ent.environments:
        ent.environments.append(env)
    for src in ent.environment_sources:
        if src.environment == env and src.how == how:
            src.evidence = list(dict.fromkeys([*src.evidence, *evidence]))
            return
    ent.environment_sources.append(
        EnvironmentSource(environment=env, how=how, resolver=resolver, evidence=list(dict.fromkeys(evidence))))


def resolve_environments(builder: InventoryBuilder, fragments: list[Fragment], cfg: Config,
                         parsed: Mapping[str, bytes] | None = None, *, done: ResolvedEarly | None = None,
                         late: Sequence[Fragment] = ()) -> None:
    """Run every resolver over the merged builder, in order, applying what each finds.

    ``parsed``: command lines already parsed (``CommandLine`` rows by the text parsed), optional.
    ``done``: what :func:`resolve_before_commands` ran on this builder already (those are skipped);
    ``late``: the fragments of ``fragments`` it was not given (see there).
    """
    ctx = ResolveContext(builder=builder, fragments=fragments, config=cfg, parsed=parsed)
    if done is not None:
        ctx._by_path = done.by_path
        ctx._memo.update(done.views_of(fragments, late))
    for resolver in all_resolvers()[done.count if done is not None else 0:]:
        for assignment in resolver.resolve(ctx):
            apply(builder, resolver.name, assignment)
    for table in (builder.components, builder.resources):
        for ent in table.values():
            ent.environment_sources.sort(key=lambda s: (s.environment, s.resolver, s.how))


@dataclass(frozen=True)
class ResolvedEarly:
    """What :func:`resolve_before_commands` did: how many resolvers (the first, in run order)
    it ran, the entities of each file it found (the same once the other files are merged), and
    the views of the fragments (``ResolveContext.memo``) the later resolvers read, worked out
    while it had the time (a cold scan's workers still scanning: see ``scan._EarlyMerge``)."""

    count: int
    by_path: dict[str, list[str]] | None
    views: dict[str, object] = field(default_factory=dict)

    def views_of(self, fragments: list[Fragment], late: Sequence[Fragment]) -> dict[str, object]:
        """The views as they are of ``fragments``: those it was given and ``late``, which add
        nothing but sightings, secrets and warnings (each scanner's fragments in the order of
        ``fragments``; every directory a fragment is in). A view that reads a scanner of ``late``
        is left out (worked out again when asked). Once: its own are let go (they hold
        fragments, which the build lets go once resolved)."""
        if not self.views:
            return {}
        scanners = {f.scanner for f in late}
        groups = dict(self.views["by_scanner"])  # type: ignore[call-overload]
        for name in scanners:  # a scanner of a late file: its fragments, every file's, in order
            groups[name] = [f for f in fragments if f.scanner == name]
        known = set(self.views["known_dirs"])  # type: ignore[call-overload]
        add_dirs(known, late)
        out: dict[str, object] = {"by_scanner": groups, "known_dirs": known}
        if "terraform" not in scanners:
            out["terraform_roots"] = self.views["terraform_roots"]
        self.views.clear()
        return out


def resolve_before_commands(builder: InventoryBuilder, fragments: list[Fragment], cfg: Config) -> ResolvedEarly:
    """Run the leading resolvers that read no command (``Resolver.reads_commands``) over
    ``builder``, merged from ``fragments``: every file's but some that only add command
    sightings, secrets and warnings, which those resolvers do not read (they read entities,
    and the fragments' entities and ``extra``). :func:`resolve_environments` with ``done`` runs the rest.

    The result is what running them on the builder with every file's fragments gives; the
    caller must make sure that the files left out hold nothing else (see ``scan._EarlyMerge``).
    """
    ctx = ResolveContext(builder=builder, fragments=fragments, config=cfg)
    count = 0
    for resolver in all_resolvers():
        if resolver.reads_commands:
            break
        for assignment in resolver.resolve(ctx):
            apply(builder, resolver.name, assignment)
        count += 1
    # The views the resolvers that read commands start with (none of them reads a command).
    views = {"by_scanner": ctx.memo("by_scanner", ctx._group_by_scanner), "known_dirs": known_dirs(ctx),
             "terraform_roots": terraform_roots(ctx)}
    return ResolvedEarly(count, ctx._by_path, views)


def _placed(ent: Entity) -> bool:
    return (ent.subtype or "") not in _NOT_PLACED_SUBTYPES


def unresolved_summary(builder: InventoryBuilder) -> UnresolvedEnvironments | None:
    """The estate's one environment question, or ``None`` when every entity is placed."""
    ents = [*builder.components.values(), *builder.resources.values()]
    unplaced = [e for e in ents if not e.environments and _placed(e)]
    if not unplaced:
        return None
    missing = sorted(e.id for e in unplaced)
    found = sorted({env for e in ents for env in e.environments})
    signals = Counter(s.resolver for e in ents for s in e.environment_sources)
    seen = [f"{name}: {n} environment assignment{'s' if n != 1 else ''}" for name, n in sorted(signals.items())]
    paths = sorted({ev.path.split("/", 1)[0] + "/**" if "/" in ev.path else ev.path
                    for e in unplaced for ev in e.evidence[:1]})
    example_env = "prod" if "prod" in found or not found else found[0]
    settle = ["environment_paths:"] + [f'  "{p}": {example_env}' for p in paths[:10]]
    if len(paths) > 10:
        settle.append(f"  # ... {len(paths) - 10} more top-level paths")
    settle += ["overrides:", f"  {missing[0]}:", f"    environment: {example_env}"]
    where = f"environments found: {', '.join(found)}" if found else "no environment is stated anywhere"
    question = (f"{len(missing)} of {len(ents)} systems have no stated environment and are treated as production "
                f"({where}). Which environment does each run in? Map paths or systems in stackpolicy.yaml.")
    return UnresolvedEnvironments(entities=missing, environments_found=found, signals_seen=seen, settle=settle,
                                  question=question)


