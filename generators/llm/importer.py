"""`stackpolicy import`: answers pasted from a chat assistant, through the same validation as API answers.

The file may hold one JSON answer, a JSON list of answers, or several answers in ```json
fences (the way chat assistants print them). Policy answers have ``actions``; eval answers
have ``cases``. Each is matched to its prompt's slice by ``system_id`` (and, for a system
split into parts, by its action IDs), validated, and merged under the safety floor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.documents.model import EvalSuite, Policy
from generators.llm.merge import merge_evals, merge_policy
from generators.llm.slices import Slice, eval_slices, system_slices
from generators.llm.validate import validate_evals, validate_policy
from generators.risk.model import Assessment
from inventory.model import Inventory

_FENCE_RE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)


class ImportError_(Exception):  # noqa: N801 - not the builtin ImportError
    """The answers file cannot be read or parsed; the message names the file."""


def read_answers(path: str | Path) -> list[dict[str, Any]]:
    """The answer objects in ``path`` (raises :class:`ImportError_` naming the file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportError_(f"{p}: cannot read: {exc}") from exc
    chunks = _FENCE_RE.findall(text) or [text]
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        try:
            data = json.loads(chunk)
        except json.JSONDecodeError as exc:
            line = text[: text.find(chunk)].count("\n") + exc.lineno if chunk in text else exc.lineno
            raise ImportError_(f"{p}:{line}: not valid JSON ({exc.msg}); paste the assistant's JSON answer as is") from exc
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict):
                raise ImportError_(f"{p}: expected JSON objects (answers), found {type(item).__name__}")
            out.append(item)
    if not out:
        raise ImportError_(f"{p}: no answers found")
    return out


def _match(ans: dict[str, Any], slices: list[Slice], field_name: str) -> Slice | None:
    cands = [s for s in slices if s.system_id == ans.get("system_id")]
    if len(cands) <= 1:
        return cands[0] if cands else None
    ids = {str(x.get("id")) for x in ans.get(field_name) or [] if isinstance(x, dict)}
    for s in cands:
        known = set(s.action_ids) if field_name == "actions" else {c.id for c in s.cases}
        if ids & known:
            return s
    return cands[0]


@dataclass
class ImportProvider:
    """A ``DocumentProvider`` whose answers come from a file instead of an API."""

    answers: list[dict[str, Any]]
    source: str
    name: str = "import"
    errors: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.source

    @property
    def label(self) -> str:
        return f"import:{self.source}"

    def refine_policy(self, draft: Policy, inv: Inventory, assessments: dict[str, Assessment]) -> Policy:
        got = self._validated("policy", "actions", system_slices(draft, inv), validate_policy,
                              "is not in the inventory")
        return merge_policy(draft, got, {}, self.label)

    def _validated(self, doc: str, key: str, slices: Any, validate: Any, missing: str) -> dict[str, list[Any]]:
        """Every pasted answer carrying ``key``, matched to its slice and validated like an API
        answer; failures are collected in ``self.errors``, successes by system id."""
        got: dict[str, list[Any]] = {}
        for n, raw in enumerate((a for a in self.answers if key in a), start=1):
            sl = _match(raw, slices, key)
            if sl is None:
                self.errors.append(f"{doc} answer {n}: system `{raw.get('system_id')}` {missing}")
                continue
            ans, errs = validate(json.dumps(raw), sl)
            if errs:
                self.errors.extend(f"{doc} answer for `{sl.key}`: {e}" for e in errs)
                continue
            got.setdefault(sl.system_id, []).append(ans)
            self.applied.append(f"{'evals' if doc == 'eval' else doc}:{sl.key}")
        return got

    def refine_evals(self, draft: EvalSuite, inv: Inventory, policy: Policy) -> EvalSuite:
        got = self._validated("eval", "cases", eval_slices(policy, inv, draft.cases), validate_evals,
                              "has no eval cases")
        unknown = [a for a in self.answers if "actions" not in a and "cases" not in a]
        self.errors.extend(f"answer {i}: neither a policy answer (`actions`) nor an eval answer (`cases`)"
                           for i, _ in enumerate(unknown, start=1))
        return merge_evals(draft, got, {}, self.label)
