"""The risk model's factors, split the way the decision table is: those that follow from the
class alone (verb class, environment, reversibility, object kind, scope, data sensitivity)
and those that belong to one target (fan-in, a stateful or deletion-protected entity, a
local-only entity). The tier is the highest factor; see :mod:`generators.decision.decide`.
"""

from __future__ import annotations

from generators.decision.model import ANY_KIND, UNRESOLVED_ENV, ClassKey, TargetProfile
from generators.risk.model import Factor, Tier, max_tier, tier_index
from generators.risk.rules import Rules, per_rules


# Class factors per rule set (by identity, as generators.risk.rules caches compiled rows).
_CACHE: dict[int, tuple[Rules, dict[ClassKey, list[Factor]]]] = {}


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _factor(name: str, value: str, tier: Tier, reason: str, evidence: list | None = None) -> Factor:
    return Factor(name=name, value=value, tier=tier, reason=reason, evidence=list(evidence or []))


def describe_class(key: ClassKey, rules: Rules) -> str:
    """The class in words: ``delete on a kafka-topic in prod (deletes objects)``."""
    cls = rules.classes.get(key.verb_class)
    what = f"{key.verb_class}" + (f" ({cls.description})" if cls and cls.description else "")
    on = "on any kind of system" if key.kind == ANY_KIND else f"on {_a(key.kind)}"
    env = "where no environment is stated (counts as prod)" if key.environment == UNRESOLVED_ENV else f"in {key.environment}"
    extra = ""
    if key.scope != "one":
        extra += f", scope {key.scope}"
    if key.sensitive:
        extra += ", sensitive data"
    return f"{what} {on} {env}{extra}"


def class_factors(key: ClassKey, rules: Rules) -> list[Factor]:
    """Every factor that follows from the class alone (cached per rules object)."""
    cache: dict[ClassKey, list[Factor]] = per_rules(_CACHE, rules, lambda _: {})
    hit = cache.get(key)
    if hit is not None:
        return hit
    cls_name = key.verb_class if key.verb_class in rules.classes else "unknown"
    cls = rules.classes[cls_name]
    out = [_factor("verb_class", cls_name, cls.tier, f"{cls_name}: {cls.description}" if cls.description else cls_name)]

    env = key.environment
    escalates = env in rules.environments.escalate
    env_tier: Tier = cls.prod if (escalates and cls.prod) else "T0"
    if env_tier != "T0":
        why = "unknown environment counts as prod" if env == UNRESOLVED_ENV else env
        out.append(_factor("environment", env, env_tier, f"{why}: {cls_name} there is at least {env_tier}"))
    else:
        out.append(_factor("environment", env, "T0", f"environment {env}"))

    if not cls.reversible:
        why = "its effects are not known, so they count as irreversible" if cls_name == "unknown" else f"{cls_name} cannot be undone"
        out.append(_factor("reversibility", "irreversible", rules.reversibility.irreversible, why))
    else:
        out.append(_factor("reversibility", "reversible", "T0", f"{cls_name} can be undone"))

    info = rules.kinds.get(key.kind)
    if info is not None:
        if cls.deletes and info.delete:
            out.append(_factor("object_kind", key.kind, info.delete, f"deleting {_a(key.kind)} is at least {info.delete}"))
        if cls.mutating and cls_name not in rules.scope.exempt and info.shared:
            t = rules.blast_radius.delete_tier if cls.deletes else rules.blast_radius.tier
            out.append(_factor("blast_radius", "high", t, f"shared infrastructure ({key.kind}): {cls_name} is at least {t}"))
        if info.stateful and cls_name in rules.statefulness.classes:
            t = rules.statefulness.tier
            out.append(_factor("stateful", "true", t, f"{_a(key.kind)} is stateful: {cls_name} is at least {t}"))

    if key.sensitive:
        t = rules.data_classes.escalations.get(cls_name, "T0")
        out.append(_factor("data_class", "sensitive", t,
                           "holds sensitive data" + (f": {cls_name} of it is at least {t}" if t != "T0" else "")))

    if key.scope != "one":
        esc = rules.scope.escalations.get(key.scope, {})
        cands: list[Tier] = []
        if cls_name in esc:
            cands.append(esc[cls_name])
        if cls.mutating and cls_name not in rules.scope.exempt and "mutating" in esc:
            cands.append(esc["mutating"])
        if cls.deletes and "deletes" in esc:
            cands.append(esc["deletes"])
        t = max_tier(*cands) if cands else "T0"
        out.append(_factor("scope", key.scope, t, f"scope {key.scope}" + (f": {cls_name} is at least {t}" if t != "T0" else "")))
    cache[key] = out
    return out


def is_local(profile: TargetProfile | None, rules: Rules) -> bool:
    """Whether the target exists only in local environments (a laptop's compose stack)."""
    return bool(profile and profile.environments and set(profile.environments) <= set(rules.environments.local))


def target_factors(key: ClassKey, profile: TargetProfile, rules: Rules) -> list[Factor]:
    """The factors one target adds to its class: its own kind, fan-in, state, protection."""
    cls_name = key.verb_class if key.verb_class in rules.classes else "unknown"
    cls = rules.classes[cls_name]
    out: list[Factor] = []
    ent_kind = rules.kind(profile.kind) or profile.kind
    # The class already weighed its own kind; the entity's kind counts when it is another.
    info = rules.kinds.get(ent_kind) if ent_kind != key.kind else None
    if info is not None and cls.deletes and info.delete:
        out.append(_factor("object_kind", ent_kind, info.delete, f"{profile.id} is {_a(ent_kind)}: deleting it is at least {info.delete}"))
    high = profile.fan_in >= rules.blast_radius.high_fan_in
    shared_kind = info is not None and info.shared
    if cls.mutating and cls_name not in rules.scope.exempt and (high or shared_kind):
        t = rules.blast_radius.delete_tier if cls.deletes else rules.blast_radius.tier
        what = f"{profile.id} is shared infrastructure ({ent_kind})" if shared_kind else f"{profile.id} has fan-in {profile.fan_in} (high is {rules.blast_radius.high_fan_in}+)"
        if shared_kind and high:
            what += f", fan-in {profile.fan_in}"
        out.append(_factor("blast_radius", "high", t, f"{what}: {cls_name} is at least {t}"))
    stateful_kind = info is not None and info.stateful
    if (profile.stateful or stateful_kind) and cls_name in rules.statefulness.classes:
        t = rules.statefulness.tier
        out.append(_factor("stateful", "true", t, f"{profile.id} is stateful: {cls_name} is at least {t}"))
    if cls.deletes and profile.deletion_protection:
        out.append(_factor("deletion_protection", "true", rules.deletion_protection.tier,
                           f"{profile.id} is deletion-protected"))
    return out


def cap_local(factors: list[Factor], profile: TargetProfile, rules: Rules) -> list[Factor]:
    """Kind and blast-radius floors capped for a target that exists only locally."""
    cap = rules.environments.local_cap
    out = []
    for f in factors:
        if f.name in ("object_kind", "blast_radius") and tier_index(f.tier) > tier_index(cap):
            f = _factor(f.name, f.value, cap, f"{f.reason}, capped at {cap}: {profile.id} exists only in "
                                             f"{', '.join(profile.environments)}", f.evidence)
        out.append(f)
    return out


def summarise(factors: list[Factor], rules: Rules) -> tuple[Tier, list[str], str]:
    """(tier, deciding factor names, one-line rationale) of a factor list."""
    tier = max_tier(*(f.tier for f in factors))
    deciding = list(dict.fromkeys(f.name for f in factors if f.tier == tier and (tier != "T0" or f.name == "verb_class")))
    reasons = list(dict.fromkeys(f.reason for f in factors if f.name in deciding and f.tier == tier))
    return tier, deciding, f"{rules.tier_label(tier)}: " + "; ".join(reasons)
