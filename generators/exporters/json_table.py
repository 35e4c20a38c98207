"""A plain decision table any gateway can load (``json/decisions.json``).

Semantics, stated in the file: a rule matches when the command's argv equals (``exact``)
or starts with (``prefix``) its ``argv``; the strictest matching decision wins
(deny > ask > allow); no match means ``ask`` (or better, ask the hook / classifier).
"""

from __future__ import annotations

import json

from generators.exporters.base import ExportContext, ExportResult, build, prefix_match, table_rows

TABLE = "json/decisions.json"
SEMANTICS = ("split the command like a POSIX shell; a rule matches when argv equals (exact) or starts with "
             "(prefix) its argv; the strictest matching decision wins (deny > ask > allow); no match: default")


def export(ctx: ExportContext) -> ExportResult:
    """The decision table plus the list of action classes only the hook can decide."""
    rules, left = build(ctx.policy, ctx.evals, prefix_match, ctx.classify)
    data = {
        "format": "stackpolicy-decisions/v1",
        "inventory_digest": ctx.policy.meta.inventory_digest,
        "status": ctx.policy.meta.status,
        "semantics": SEMANTICS,
        "default": "ask",
        "tiers": {t.id: {"name": t.name, "decision": {"T0": "allow", "T1": "allow", "T2": "ask", "T3": "deny"}[t.id]}
                  for t in ctx.policy.tiers},
        "rules": table_rows(ctx.policy, rules),
        "left_to_hook": [{"action_id": x.action_id, "command": x.command, "decision": x.decision, "reason": x.reason}
                         for x in left],
    }
    return ExportResult(files={TABLE: json.dumps(data, indent=2, ensure_ascii=False) + "\n"}, rules=rules,
                        left_to_hook=left)
