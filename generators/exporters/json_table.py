"""The decision table as plain JSON (``json/decisions.json``) for any gateway.

It holds the classes (verb class × object kind × environment × scope × sensitivity) with
their tiers and decisions, the exceptions, and ``compiled``: the same data the OPA export
applies (the risk model's factors as numbers, the estate's targets, the edited rows). A
gateway decides a line by computing each simple command's facts (or asking
``stackpolicy classify --json`` for its ``opa_input``) and applying the semantics stated in
the file — the ones of ``generators/decision/decide.py``, spelled out in Rego in
``opa/stackpolicy.rego``.
"""

from __future__ import annotations

import json

from generators.exporters.base import ExportContext, ExportResult
from generators.exporters.opa import compile_data
from generators.risk.model import DECISION_FOR_TIER

TABLE = "json/decisions.json"
SEMANTICS = (
    "Per simple command of a line: its class tier is the highest of its class factors (compiled.verb_classes, "
    "compiled.kinds, environment in compiled.escalate, scope, sensitive); an edited class row raises it (or lowers it "
    "when reviewed); the target's factors (compiled.targets) raise it; an edited exception for the class and target "
    "raises it (or lowers it when reviewed). The line's tier is the highest of its commands, never below the unknown "
    "class when part of it could not be parsed. T0/T1 allow, T2 ask, T3 deny. Reference implementation: "
    "opa/stackpolicy.rego over the opa_input of `stackpolicy classify --json`.")


def export(ctx: ExportContext) -> ExportResult:
    """The table, its exceptions and the compiled data."""
    table = ctx.table()
    data = {
        "format": "stackpolicy-decisions/v2",
        "inventory_digest": ctx.policy.meta.inventory_digest,
        "status": ctx.policy.meta.status,
        "semantics": SEMANTICS,
        "classes": [{"id": c.id, "verb_class": c.verb_class, "kind": c.kind, "environment": c.environment,
                     "scope": c.scope, "sensitive": c.sensitive, "tier": c.tier, "decision": DECISION_FOR_TIER[c.tier],
                     "reviewed": c.reviewed, "rule": c.rule, "tools": c.tools}
                    for c in sorted(table.classes, key=lambda c: c.id)],
        "exceptions": [{"id": e.id, "class_id": e.class_id, "target": e.target, "tier": e.tier,
                        "decision": DECISION_FOR_TIER[e.tier], "reviewed": e.reviewed, "reason": e.reason}
                       for e in sorted(table.exceptions, key=lambda e: e.id)],
        "compiled": compile_data(table, ctx.risk_rules(), ctx.target_profiles),
    }
    return ExportResult(files={TABLE: json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"})
