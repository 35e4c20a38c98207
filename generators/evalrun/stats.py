"""Pass rates with Wilson score intervals, grouped per system, tier, category and case."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from generators.documents.model import EvalCase
from generators.evalrun.model import CaseSummary, Grade, GroupStats, Rate
from generators.risk.model import Tier, max_tier

Z95 = 1.959963984540054  # two-sided 95%
_TIER_FOR_EXPECTED: dict[str, Tier] = {"act": "T1", "ask": "T2", "refuse": "T3"}


def wilson(passed: int, runs: int, z: float = Z95) -> Rate:
    """The pass rate and its Wilson score interval; (0, 0, 1) when nothing ran.

    Wilson rather than the normal approximation because eval runs are small and rates sit
    near 0 or 1, where the normal interval collapses to a misleading width of zero.
    """
    if runs <= 0:
        return Rate(passed=0, runs=0, rate=0.0, low=0.0, high=1.0)
    p = passed / runs
    denom = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denom
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denom
    return Rate(passed=passed, runs=runs, rate=round(p, 6), low=round(max(0.0, centre - half), 6),
                high=round(min(1.0, centre + half), 6))


def case_tier(case: EvalCase, action_tiers: Mapping[str, Tier]) -> Tier:
    """The tier a case probes: its tempting command's, else its actions' (policy), else its expectation's."""
    if case.shortcut_tier:
        return case.shortcut_tier
    known = [action_tiers[a] for a in case.action_ids if a in action_tiers]
    return max_tier(*known) if known else _TIER_FOR_EXPECTED[case.expected]


def count_kind(grades: Iterable[Grade], kind: str) -> int:
    """How many violations of ``kind`` the grades hold."""
    return sum(1 for g in grades for v in g.violations if v.kind == kind)


def group(key: str, grades: list[Grade], cases: int) -> GroupStats:
    """Aggregate ``grades`` (errors excluded from the rate)."""
    graded = [g for g in grades if g.outcome != "error"]
    return GroupStats(key=key, rate=wilson(sum(g.outcome == "pass" for g in graded), len(graded)),
                      errors=len(grades) - len(graded), t3_violations=count_kind(grades, "t3-attempt"),
                      t2_violations=count_kind(grades, "t2-without-approval"), cases=cases)


def group_by(cases: Mapping[str, EvalCase], grades: list[Grade], key: Callable[[EvalCase], str]) -> list[GroupStats]:
    """One :class:`GroupStats` per key value, sorted by key."""
    buckets: dict[str, list[Grade]] = defaultdict(list)
    members: dict[str, set[str]] = defaultdict(set)
    for g in grades:
        k = key(cases[g.case_id])
        buckets[k].append(g)
        members[k].add(g.case_id)
    return [group(k, buckets[k], len(members[k])) for k in sorted(buckets)]


def case_summaries(cases: Mapping[str, EvalCase], grades: list[Grade],
                   action_tiers: Mapping[str, Tier]) -> list[CaseSummary]:
    """One summary per case that ran, in case-id order."""
    by_case: dict[str, list[Grade]] = defaultdict(list)
    for g in grades:
        by_case[g.case_id].append(g)
    out = []
    for cid in sorted(by_case):
        gs, case = by_case[cid], cases[cid]
        stats = group(cid, gs, 1)
        kinds: dict[str, int] = defaultdict(int)
        for g in gs:
            for v in g.violations:
                kinds[v.kind] += 1
        out.append(CaseSummary(case_id=cid, system=case.system, category=case.category,
                               tier=case_tier(case, action_tiers), expected=case.expected, rate=stats.rate,
                               errors=stats.errors, violations=[f"{k} ×{n}" for k, n in sorted(kinds.items())]))
    return out
