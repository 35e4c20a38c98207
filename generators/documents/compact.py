"""``policy.yaml`` carries each fact once.

The decision table holds every inventory action as an instance of its class (command, tier,
target, evidence). The per-system listing (``systems[].actions``) names the same actions; in
the file each of its rows keeps only what the table does not already say — the action's id
(the instance it refers to), title, verb, tool, origin, environment, rationale, approver,
note — and leaves out every field that equals what follows from its instance and class:

| row field | left out when it equals |
|---|---|
| ``command``, ``tier``, ``target``, ``evidence`` | the instance's |
| ``class_id`` | the class holding the instance |
| ``floor`` | ``tier`` |
| ``decision`` | the decision for ``tier`` (T0/T1 allow, T2 ask, T3 deny) |
| ``agent_may`` | the sentence for ``tier`` and ``approver`` |
| ``rationale``, ``deciding_factors`` | the class's |
| ``flags`` | empty |

In the table, an instance leaves out its ``system`` where its target's profile
(``table.targets``) names the same one, and ``is_command`` where it is true.

A field that differs (a reviewer's edit of one row, a row without a target whose instance has
one) is written, so the file reads back to exactly the policy that was written:
``expand_policy(compact_policy(d)) == d``. The file says it is compact with
``layout: compact``; :class:`generators.documents.model.Policy` expands it when it is validated,
so every reader (``classify --policy``, the exporters, ``check``, the eval runner) gets whole
rows.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from generators.risk.model import DECISION_FOR_TIER

LAYOUT_KEY = "layout"
COMPACT = "compact"
_MISSING = object()


@lru_cache(maxsize=4096)  # one sentence per (tier, approver): asked for every row of the policy
def agent_may(tier: str, approver: str | None) -> str:
    """What an agent may do with an action of ``tier`` (``approver``: who approves T2, owns T3)."""
    who = approver or "the system owner"
    return {
        "T0": "Run it alone.",
        "T1": "Run it alone; logged and rate-limited.",
        "T2": f"Propose the exact command; run it only after {who} approves.",
        "T3": f"Never. Human-only; break-glass through {who}.",
    }[tier]


def _index(table: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Instance and class by action id."""
    return {i["action"]: (i, c) for c in table.get("classes") or [] for i in c.get("instances") or []}


def _derived(row: dict[str, Any], inst: dict[str, Any], cls: dict[str, Any], field: str) -> Any:
    """What ``field`` of ``row`` is when the file leaves it out (``_MISSING``: absent, None)."""
    if field in ("command", "tier", "target", "evidence"):
        return inst.get(field, _MISSING)
    if field == "class_id":
        return cls["id"]
    if field == "floor":
        return row.get("tier", inst.get("tier"))
    tier = row.get("tier", inst.get("tier"))
    if field == "decision":
        return DECISION_FOR_TIER.get(tier, _MISSING)
    if field == "agent_may":
        return agent_may(tier, row.get("approver")) if tier in DECISION_FOR_TIER else _MISSING
    if field in ("rationale", "deciding_factors"):
        return cls.get(field, _MISSING)
    if field == "flags":
        return []
    return _MISSING


# In this order: ``floor``, ``decision`` and ``agent_may`` follow from the row's own tier.
_FIELDS = ("command", "tier", "target", "evidence", "class_id", "rationale", "deciding_factors", "flags",
           "floor", "decision", "agent_may")
_ORDER = ("id", "title", "verb", "tool", "origin", "target", "environment", "command", "tier", "floor", "decision",
          "agent_may", "rationale", "deciding_factors", "evidence", "approver", "note", "flags", "class_id")


def _target_systems(table: dict[str, Any]) -> dict[str, Any]:
    return {t["id"]: t.get("system") for t in table.get("targets") or [] if isinstance(t, dict) and "id" in t}


def _compact_table(table: dict[str, Any]) -> dict[str, Any]:
    """The table with each instance's ``system`` left out where its target's profile says it,
    and ``is_command`` where it is true (the default)."""
    systems = _target_systems(table)
    classes = []
    for c in table.get("classes") or []:
        insts = []
        for i in c.get("instances") or []:
            i = dict(i)
            target = i.get("target")
            if target is not None and target in systems:
                if i.get("system") == systems[target]:
                    i.pop("system", None)
                elif "system" not in i:
                    i["system"] = None  # the target's profile names a system; this instance has none
            if i.get("is_command") is True:
                del i["is_command"]
            insts.append(i)
        classes.append({**c, "instances": insts})
    return {**table, "classes": classes}


def _expand_table(table: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_compact_table`."""
    systems = _target_systems(table)
    classes = []
    for c in table.get("classes") or []:
        insts = []
        for i in c.get("instances") or []:
            if not isinstance(i, dict):
                insts.append(i)  # validation says what is wrong with it
                continue
            i = dict(i)
            target = i.get("target")
            if "system" not in i and target is not None and systems.get(target) is not None:
                i["system"] = systems[target]
            elif "system" in i and i["system"] is None:
                del i["system"]
            i.setdefault("is_command", True)
            insts.append(i)
        classes.append({**c, "instances": insts} if isinstance(c, dict) else c)
    return {**table, "classes": classes}


def _compact_row(row: dict[str, Any], inst: dict[str, Any], cls: dict[str, Any]) -> dict[str, Any]:
    """``row`` without the fields that equal what :func:`_derived` gives (the same rule, with
    what every field shares worked out once: a large policy has tens of thousands of rows)."""
    out = dict(row)
    tier = row.get("tier", inst.get("tier"))
    known = tier in DECISION_FOR_TIER
    derived = {
        "command": inst.get("command", _MISSING), "tier": inst.get("tier", _MISSING),
        "target": inst.get("target", _MISSING), "evidence": inst.get("evidence", _MISSING),
        "class_id": cls["id"], "rationale": cls.get("rationale", _MISSING),
        "deciding_factors": cls.get("deciding_factors", _MISSING), "flags": [], "floor": tier,
        "decision": DECISION_FOR_TIER[tier] if known else _MISSING,
        "agent_may": agent_may(tier, row.get("approver")) if known else _MISSING,
    }
    for f in _FIELDS:
        have = row.get(f, _MISSING)
        if have == derived[f]:
            out.pop(f, None)
        elif have is _MISSING:
            out[f] = None  # absent here but not in the instance: say so
    return out


def instance_index(table: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Instance and class by action id, of a table as plain data (what :func:`compact_system` needs)."""
    return _index(table)


def compact_system(system: dict[str, Any], index: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """One system of a policy (plain data) with its rows cut as :func:`compact_policy` cuts them;
    ``index``: :func:`instance_index` of the policy's table."""
    rows = []
    for row in system.get("actions") or []:
        hit = index.get(row.get("id"))
        rows.append(row if hit is None else _compact_row(row, *hit))
    return {**system, "actions": rows}


def compact_policy(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a policy as plain data, ``exclude_none``) with each action row cut to what its
    instance and class do not say, and each instance to what its target does not say. Rows of
    actions the table does not hold are kept whole."""
    index = _index(data.get("table") or {})
    systems = [compact_system(s, index) for s in data.get("systems") or []]
    out: dict[str, Any] = {}
    for k, v in data.items():
        out[k] = systems if k == "systems" else _compact_table(v) if k == "table" and isinstance(v, dict) else v
        if k == "kind":
            out[LAYOUT_KEY] = COMPACT  # near the top: a reader sees at once how rows are written
    out.setdefault(LAYOUT_KEY, COMPACT)
    return out


def expand_policy(data: dict[str, Any]) -> dict[str, Any]:
    """The whole rows of a compact policy (``layout: compact``); other data unchanged."""
    if not isinstance(data, dict) or data.get(LAYOUT_KEY) != COMPACT:
        return data
    data = {k: v for k, v in data.items() if k != LAYOUT_KEY}
    if isinstance(data.get("table"), dict):
        data["table"] = _expand_table(data["table"])
    index = _index(data.get("table") or {})
    systems = []
    for s in data.get("systems") or []:
        rows = []
        for row in s.get("actions") or []:
            hit = index.get(row.get("id")) if isinstance(row, dict) else None
            if hit is None:
                rows.append(row)  # validation says what is wrong with it
                continue
            inst, cls = hit
            out = dict(row)
            for f in _FIELDS:
                if f not in out:
                    want = _derived(out, inst, cls, f)
                    if want is not _MISSING:
                        out[f] = want
                elif out[f] is None:
                    del out[f]  # written as null: absent in the whole row
            rows.append({k: out[k] for k in sorted(out, key=_rank)})
        systems.append({**s, "actions": rows})
    return {**data, "systems": systems}


def _rank(key: str) -> int:
    return _ORDER.index(key) if key in _ORDER else len(_ORDER)
