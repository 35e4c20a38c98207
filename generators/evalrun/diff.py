"""Compare two runs (``stackpolicy evals diff A B``): did the model or prompt change help?

A change in a pass rate is called *better* / *worse* only when the two 95% Wilson
intervals do not overlap; otherwise it is *within noise*, which is what most small runs are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from generators.evalrun.model import Rate, RunResult

Change = Literal["better", "worse", "within noise", "new", "gone"]


class DiffError(Exception):
    """A results file that cannot be read; the message names it."""


class RateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    before: Rate | None
    after: Rate | None
    change: Change
    verdict_before: str | None = None
    verdict_after: str | None = None


class RunDiff(BaseModel):
    """What changed between run A (before) and run B (after)."""

    model_config = ConfigDict(extra="forbid")

    before: str
    after: str
    changed_settings: list[str] = Field(default_factory=list)
    overall: RateChange
    systems: list[RateChange]
    cases: list[RateChange]  # only cases whose rate or presence changed
    new_violations: list[str]  # "case: kind" present in B, not in A
    fixed_violations: list[str]


def load_result(path: str | Path) -> RunResult:
    """A run's JSON report (a ``.md`` path is taken to mean the ``.json`` beside it)."""
    p = Path(path)
    if p.suffix == ".md":
        p = p.with_suffix(".json")
    try:
        return RunResult.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise DiffError(f"{p}: no such results file") from exc
    except (OSError, ValueError) as exc:
        raise DiffError(f"{p}: not an eval-run results file ({str(exc).splitlines()[0]})") from exc


def compare(before: Rate | None, after: Rate | None) -> Change:
    """better / worse when the intervals are disjoint, else within noise (new / gone for one side)."""
    if before is None or not before.runs:
        return "new"
    if after is None or not after.runs:
        return "gone"
    if after.low > before.high:
        return "better"
    if after.high < before.low:
        return "worse"
    return "within noise"


def _violations(r: RunResult) -> set[str]:
    return {f"{g.case_id}: {v.kind}" for g in r.grades for v in g.violations}


def diff_runs(a: RunResult, b: RunResult, a_name: str = "A", b_name: str = "B") -> RunDiff:
    """The difference between two runs, keyed by system and case id."""
    settings = []
    for field in ("provider", "model", "system_prompt_digest", "suite_digest", "repeat", "max_steps", "rubric"):
        va, vb = getattr(a.meta, field), getattr(b.meta, field)
        if va != vb:
            settings.append(f"{field}: {va} → {vb}")
    va_sys = {v.system: v for v in a.verdicts}
    vb_sys = {v.system: v for v in b.verdicts}
    sa = {g.key: g.rate for g in a.by_system}
    sb = {g.key: g.rate for g in b.by_system}
    systems = []
    for key in sorted(set(sa) | set(sb)):
        systems.append(RateChange(key=key, before=sa.get(key), after=sb.get(key), change=compare(sa.get(key), sb.get(key)),
                                  verdict_before=va_sys[key].verdict if key in va_sys else None,
                                  verdict_after=vb_sys[key].verdict if key in vb_sys else None))
    ca = {c.case_id: c.rate for c in a.cases}
    cb = {c.case_id: c.rate for c in b.cases}
    cases = []
    for key in sorted(set(ca) | set(cb)):
        before, after = ca.get(key), cb.get(key)
        if before is not None and after is not None and before.rate == after.rate:
            continue
        cases.append(RateChange(key=key, before=before, after=after, change=compare(before, after)))
    vio_a, vio_b = _violations(a), _violations(b)
    return RunDiff(before=a_name, after=b_name, changed_settings=settings,
                   overall=RateChange(key="all", before=a.overall, after=b.overall, change=compare(a.overall, b.overall)),
                   systems=systems, cases=cases, new_violations=sorted(vio_b - vio_a),
                   fixed_violations=sorted(vio_a - vio_b))


def _r(r: Rate | None) -> str:
    if r is None or not r.runs:
        return "–"
    return f"{r.rate * 100:.0f}% ({r.low * 100:.0f}–{r.high * 100:.0f}%) {r.passed}/{r.runs}"


def render_diff_md(d: RunDiff) -> str:
    """The diff as markdown."""
    out = [f"# Eval run diff: {d.before} → {d.after}", ""]
    if d.changed_settings:
        out += ["Changed: " + "; ".join(d.changed_settings) + ".", ""]
    if any(s.startswith("suite_digest") for s in d.changed_settings):
        out += ["Note: the suites differ, so some cases are only in one run.", ""]
    out += [f"Overall: {_r(d.overall.before)} → {_r(d.overall.after)} (**{d.overall.change}**).", "",
            "| system | before | after | change | verdict |", "|---|---|---|---|---|"]
    for s in d.systems:
        verdict = f"{s.verdict_before or '–'} → {s.verdict_after or '–'}"
        out.append(f"| {s.key} | {_r(s.before)} | {_r(s.after)} | {s.change} | {verdict} |")
    out += ["", "## Cases that changed", ""]
    if d.cases:
        out += ["| case | before | after | change |", "|---|---|---|---|"]
        out += [f"| {c.key} | {_r(c.before)} | {_r(c.after)} | {c.change} |" for c in d.cases]
    else:
        out.append("None.")
    out += ["", "## New violations", ""] + ([f"- {v}" for v in d.new_violations] or ["None."])
    out += ["", "## Fixed violations", ""] + ([f"- {v}" for v in d.fixed_violations] or ["None."])
    return "\n".join(out) + "\n"
