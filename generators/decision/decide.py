"""Where a tier is decided. One function, :func:`decide`, over the decision table.

The documents, ``stackpolicy classify``, the agent hook, ``check``, the eval graders and
every exporter call it (or compile from the table it reads), so a reviewer approves exactly
what is enforced.

How a tier is decided, in order:

1. The class's factors (verb class, environment, reversibility, kind, scope, sensitive
   data) give the model's tier for the class.
2. The table's row for the class may raise it (a reviewer, an LLM), or lower it when the
   row is ``reviewed: true``.
3. The target's own factors (its kind, fan-in, state, deletion protection; capped for a
   local-only target) may raise it.
4. An exception for this class and target may raise it, or lower it when ``reviewed: true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generators.decision.facts import Facts
from generators.decision.factors import cap_local, class_factors, is_local, summarise, target_factors
from generators.decision.model import UNRESOLVED_ENV, ActionClass, DecisionTable, TableException
from generators.risk.model import Factor, Tier, max_tier, tier_index
from generators.risk.rules import Rules, per_rules
from inventory.commands.model import copy_with


@dataclass
class Ruling:
    """The decided tier of one command or action, and why."""

    tier: Tier
    class_id: str
    model_tier: Tier  # what the risk model alone gives (class and target factors)
    class_tier: Tier  # the class's tier after the table's row
    factors: list[Factor]
    deciding: list[str]
    rationale: str
    exception: str | None = None  # the exception id that applied
    notes: list[str] = field(default_factory=list)  # table edits that moved the tier


class Table:
    """A :class:`DecisionTable` indexed for :func:`decide` (build once, decide many times)."""

    def __init__(self, table: DecisionTable | None = None) -> None:
        # The empty table as DecisionTable() builds it (every field its default), without
        # building the table's validator for it.
        self.table = table or DecisionTable.model_construct()
        self.classes: dict[str, ActionClass] = self.table.class_map()
        self.exceptions: dict[tuple[str, str], TableException] = self.table.exception_map()


EMPTY = Table()


def _reviewed(base: Tier, edited: Tier, reviewed: bool) -> tuple[Tier, bool]:
    """A table edit over ``base``: raising always applies, lowering only when reviewed."""
    if tier_index(edited) > tier_index(base) or (reviewed and edited != base):
        return edited, True
    return base, False


# The same wording recurs on every command of a class: built once per (rules, words).
_SPECIFIC: dict[tuple, list[Factor]] = {}


def _specific(factors: list[Factor], facts: Facts, rules: Rules) -> list[Factor]:
    """The class's factors with this command's own words for its verb and environment."""
    memo = (id(rules), facts.key, facts.verb_reason, facts.environment_source, facts.scope_reason, facts.data_classes)
    hit = _SPECIFIC.get(memo)
    if hit is not None and hit[0] is factors:
        return list(hit[1:])
    out = _specific_uncached(factors, facts, rules)
    if len(_SPECIFIC) > 20_000:
        _SPECIFIC.clear()
    _SPECIFIC[memo] = [factors, *out]  # type: ignore[list-item]
    return out


def _specific_uncached(factors: list[Factor], facts: Facts, rules: Rules) -> list[Factor]:
    out = []
    for f in factors:
        if f.name == "verb_class":
            desc = rules.classes[f.value].description
            why = facts.verb_reason
            if desc and why.endswith(f" is {f.value}"):
                why = f"{why} ({desc})"
            f = copy_with(f, reason=why)
        elif f.name == "environment" and facts.environment_source:
            if f.tier != "T0":
                where = "unknown environment counts as prod" if f.value == UNRESOLVED_ENV else f"{f.value} ({facts.environment_source})"
                f = copy_with(f, reason=f"{where}: {facts.key.verb_class} there is at least {f.tier}")
            else:
                f = copy_with(f, reason=f"environment {f.value} ({facts.environment_source})")
        elif f.name == "data_class" and facts.data_classes:
            f = copy_with(f, reason=f.reason.replace("sensitive", ", ".join(facts.data_classes), 1))
        elif f.name == "scope":
            f = copy_with(f, reason=f.reason.replace(f"scope {f.value}", f"scope {f.value} ({facts.scope_reason})", 1))
        out.append(f)
    return out


# Rulings per rule set, keyed by the facts (without a target profile) and the state of the
# table row and exception they meet: lines differ, their facts mostly do not.
_RULINGS: dict[int, tuple[Rules, dict[tuple, Ruling]]] = {}
_RULINGS_MAX = 50_000


def decide(facts: Facts, rules: Rules, table: Table = EMPTY) -> Ruling:
    """The tier of the command or action described by ``facts``. The one place a tier is decided."""
    if facts.profile is not None:
        return _decide(facts, rules, table)
    class_id = facts.key.id
    row = table.classes.get(class_id)
    exc = table.exceptions.get((class_id, facts.target)) if facts.target is not None else None
    key = facts.key
    # The facts field by field (no profile here): a flat tuple hashes and compares in C, the
    # frozen dataclasses through their generated Python methods.
    memo = (key.verb_class, key.kind, key.environment, key.scope, key.sensitive, facts.verb_reason,
            facts.environment_source, facts.scope_reason, facts.data_classes, facts.target,
            (row.tier, row.floor, row.reviewed) if row is not None else None,
            (exc.id, exc.tier, exc.floor, exc.reviewed, exc.reason) if exc is not None else None)
    rulings = per_rules(_RULINGS, rules, lambda _: {})
    hit = rulings.get(memo)
    if hit is None:
        hit = _decide(facts, rules, table)
        if len(rulings) >= _RULINGS_MAX:
            rulings.clear()
        rulings[memo] = hit
    # A copy: callers may replace list items (evidence on the first factor).
    return Ruling(hit.tier, hit.class_id, hit.model_tier, hit.class_tier, list(hit.factors), list(hit.deciding),
                  hit.rationale, hit.exception, list(hit.notes))


def _decide(facts: Facts, rules: Rules, table: Table) -> Ruling:
    key = facts.key
    cls_f = _specific(class_factors(key, rules), facts, rules)
    profile = facts.profile
    tgt_f = target_factors(key, profile, rules) if profile is not None else []
    if profile is not None and is_local(profile, rules):
        cls_f, tgt_f = cap_local(cls_f, profile, rules), cap_local(tgt_f, profile, rules)
    model_tier, deciding, rationale = summarise(cls_f + tgt_f, rules)
    class_tier = model_class = max_tier(*(f.tier for f in cls_f))
    notes: list[str] = []
    row = table.classes.get(key.id)
    # A row is an edit when its tier differs from the floor it was built with (a reviewer or an
    # LLM moved it); an unedited row adds nothing to the model.
    if row is not None and row.tier != row.floor:
        class_tier, moved = _reviewed(class_tier, row.tier, row.reviewed)
        if moved:
            how = "sets" if tier_index(row.tier) > tier_index(model_class) else "lowers (reviewed)"
            notes.append(f"the policy {how} class {key.id} to {row.tier}")
    tier = max_tier(class_tier, *(f.tier for f in tgt_f))
    exc_id = None
    if facts.target is not None:
        exc = table.exceptions.get((key.id, facts.target))
        if exc is not None and exc.tier != exc.floor:
            tier, moved = _reviewed(tier, exc.tier, exc.reviewed)
            if moved:
                exc_id = exc.id
                notes.append(f"exception {exc.id}: {exc.reason}")
    if notes:
        rationale = f"{rules.tier_label(tier)}: " + "; ".join(notes) + f" (model: {rationale})"
    return Ruling(tier, key.id, model_tier, class_tier, cls_f + tgt_f, deciding, rationale, exc_id, notes)
