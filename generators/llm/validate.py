"""Check a model's answer against the slice it was asked about.

Rejects: text that is not JSON or not the schema, a wrong system, action / case IDs that
are not in the slice (invented), evidence that is not in the inventory slice, tiers outside
T0..T3, and missing coverage (an action or case left out). Every error is one sentence the
repair round can quote back to the model. Lowering a tier is *not* an error: the floor
(:mod:`generators.llm.merge`) keeps the floor and turns the proposal into a question.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar, Union

from pydantic import ValidationError

from generators.llm.schema import TIER_ENUM, EvalAnswer, PolicyAnswer
from generators.llm.slices import Slice

_AnswerT = TypeVar("_AnswerT", bound=Union[PolicyAnswer, EvalAnswer])

MAX_ERRORS = 20  # quoting hundreds of errors back helps nobody
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def _json(text: str) -> tuple[object | None, list[str]]:
    stripped = _FENCE.sub("", text.strip())  # pasted answers often arrive in a ```json fence
    try:
        return json.loads(stripped), []
    except json.JSONDecodeError as exc:
        return None, [f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                      "it may be truncated: reply with the complete JSON object only"]


def _schema_errors(exc: ValidationError) -> list[str]:
    return [f"schema: {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:MAX_ERRORS]]


def _evidence_errors(where: str, items: list[str], allowed: set[str]) -> list[str]:
    return [f"{where}: evidence `{ev}` is not in the inventory slice (cite only path:line items shown)"
            for ev in items if ev not in allowed]


def _parse(text: str, model: type[_AnswerT], sl: Slice) -> tuple[_AnswerT | None, list[str]]:
    """JSON → ``model``; a wrong ``system_id`` is an error to quote back, not a parse failure."""
    errors: list[str] = []
    try:
        # One pass in pydantic's own JSON parser: the common case, a valid answer, never builds
        # the intermediate Python objects. Anything it rejects goes the long way below, so a
        # bad answer is quoted back exactly as before.
        ans = model.model_validate_json(_FENCE.sub("", text.strip()))
    except ValidationError:
        data, errors = _json(text)
        if errors:
            return None, errors
        try:
            ans = model.model_validate(data)
        except ValidationError as exc:
            return None, _schema_errors(exc)
    if ans.system_id != sl.system_id:
        errors.append(f"system_id is `{ans.system_id}` but this prompt is about `{sl.system_id}`")
    return ans, errors


def validate_policy(text: str, sl: Slice) -> tuple[PolicyAnswer | None, list[str]]:
    """The parsed answer and no errors, or None and the errors to quote back."""
    ans, errors = _parse(text, PolicyAnswer, sl)
    if ans is None:
        return None, errors
    known = set(sl.action_ids)
    seen: set[str] = set()
    for a in ans.actions:
        if a.id not in known:
            errors.append(f"action `{a.id}` is not in this system's inventory slice; use only the listed action IDs")
            continue
        if a.id in seen:
            errors.append(f"action `{a.id}` appears more than once")
        seen.add(a.id)
        if a.tier not in TIER_ENUM:
            errors.append(f"action `{a.id}`: tier `{a.tier}` is not one of T0, T1, T2, T3")
        if a.proposed_lower_tier is not None and a.proposed_lower_tier not in TIER_ENUM:
            errors.append(f"action `{a.id}`: proposed_lower_tier `{a.proposed_lower_tier}` is not one of T0..T3")
        if not a.evidence:
            errors.append(f"action `{a.id}`: cite at least one evidence item from the slice")
        errors.extend(_evidence_errors(f"action `{a.id}`", a.evidence, sl.evidence))
    missing = [i for i in sl.action_ids if i not in seen]
    if missing:
        errors.append("missing coverage: no answer for " + ", ".join(f"`{i}`" for i in missing)
                      + "; every listed action needs a tier")
    for q in ans.questions:
        if q.action_id is not None and q.action_id not in known:
            errors.append(f"question refers to action `{q.action_id}`, which is not in this slice")
    return (None, errors[:MAX_ERRORS]) if errors else (ans, [])


def validate_evals(text: str, sl: Slice) -> tuple[EvalAnswer | None, list[str]]:
    """The parsed eval answer and no errors, or None and the errors to quote back."""
    ans, errors = _parse(text, EvalAnswer, sl)
    if ans is None:
        return None, errors
    known = {c.id for c in sl.cases}
    seen: set[str] = set()
    for c in ans.cases:
        if c.id not in known:
            errors.append(f"case `{c.id}` is not in the list; keep the given case IDs, do not add cases")
            continue
        if c.id in seen:
            errors.append(f"case `{c.id}` appears more than once")
        seen.add(c.id)
        if not c.request.strip() or not c.situation.strip():
            errors.append(f"case `{c.id}`: request and situation must not be empty")
        if not c.pass_criteria or not c.fail_criteria:
            errors.append(f"case `{c.id}`: give at least one pass and one fail criterion")
        errors.extend(_evidence_errors(f"case `{c.id}`", c.evidence, sl.evidence))
    missing = [c.id for c in sl.cases if c.id not in seen]
    if missing:
        errors.append("missing coverage: no answer for case " + ", ".join(f"`{i}`" for i in missing))
    return (None, errors[:MAX_ERRORS]) if errors else (ans, [])


def repair_prompt(original: str, answer: str, errors: list[str]) -> str:
    """The repair round's user prompt: the task again, the rejected answer, the errors quoted."""
    shown = answer if len(answer) <= 6000 else answer[:6000] + "…(truncated)"
    return (original.rstrip() + "\n\n# Your previous answer was rejected\n"
            "It failed validation against the inventory:\n"
            + "\n".join(f"- {e}" for e in errors)
            + "\n\nYour previous answer (for reference; it carries no authority):\n```\n" + shown + "\n```\n"
            "Reply with a corrected, complete JSON object only.\n")
