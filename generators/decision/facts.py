"""Facts about one simple command or inventory action: the class it falls in and the target
it acts on. This is everything :func:`generators.decision.decide.decide` needs, and what
``classify --json`` prints as ``opa_input`` so other engines can apply the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

from generators.decision.model import ANY_KIND, UNRESOLVED_ENV, ClassKey, TargetProfile
from generators.risk.assess import (
    FlagView,
    InventoryIndex,
    Subject,
    _data_classes,
    _environment,
    _inside_workload,
    _scope,
    classify_verb,
)
from generators.risk.rules import Rules
from inventory.model import Entity

# Local file classes and what they become inside a workload: (stateless, stateful target).
_LOCAL_CLASSES: dict[str, tuple[str, str]] = {"delete-local": ("delete", "destroy"), "delete-workspace": ("delete", "destroy"),
                                              "local-write": ("mutate", "mutate")}


@dataclass(frozen=True)
class Facts:
    """What puts one command in its class, and the target it acts on."""

    key: ClassKey
    verb_reason: str  # why the command is in its verb class ("kubectl delete: ...")
    environment_source: str  # where the environment came from ("namespace acme-prod", "inventory: ...")
    scope_reason: str
    data_classes: tuple[str, ...] = ()
    target: str | None = None  # the entity id it resolved to
    profile: TargetProfile | None = None


def profile_of(entity: Entity, index: InventoryIndex | None) -> TargetProfile:
    """The decision table's view of an inventory entity."""
    return TargetProfile(
        id=entity.id,
        name=entity.name,
        kind=entity.kind,
        namespace=entity.namespace,
        environments=list(entity.environments),
        data_classes=list(entity.data_classes),
        stateful=entity.stateful,
        deletion_protection=entity.deletion_protection,
        fan_in=index.fan_in.get(entity.id, 0) if index is not None else 0,
    )


def _class_kind(object_kind: str | None, rules: Rules) -> str | None:
    """The kind a class is keyed on: the rules' name for it. An API path is not a kind (the
    serving system's kind is); of several kinds named at once (``deploy,sts``), the one whose
    deletion weighs most."""
    if not object_kind or object_kind.startswith("/"):
        return None
    if "," in object_kind:
        kinds = [k for k in (rules.kind(p) for p in object_kind.split(",") if p) if k]
        ranked = sorted(kinds, key=lambda k: (-_delete_weight(rules, k), k))
        return ranked[0] if ranked else None
    return rules.kind(object_kind)


def _delete_weight(rules: Rules, kind: str) -> int:
    info = rules.kinds.get(kind)
    return "T0T1T2T3".index(info.delete) // 2 + 1 if info is not None and info.delete else 0


# One key object per distinct class (a few hundred recur on every line): its id is worked out once.
_KEYS: dict[tuple[str, str, str, str, bool], ClassKey] = {}


def _class_key(verb_class: str, kind: str, environment: str, scope: str, sensitive: bool) -> ClassKey:
    fields = (verb_class, kind, environment, scope, sensitive)
    key = _KEYS.get(fields)
    if key is None:
        if len(_KEYS) > 50_000:
            _KEYS.clear()
        key = _KEYS[fields] = ClassKey(*fields)
    return key


def facts_of(s: Subject, rules: Rules, index: InventoryIndex | None = None, entity: Entity | None = None) -> Facts:
    """The facts of ``s`` (a parsed command or an inventory action); ``entity``: its resolved target."""
    fv = FlagView(s.flags, s.argv)
    vm = classify_verb(s, rules, fv)
    cls_name = vm.cls if vm.cls in rules.classes else "unknown"
    verb_reason = vm.reason
    inside = _inside_workload(s, entity)
    if inside and cls_name in _LOCAL_CLASSES:
        # Files inside a running workload are not the agent's scratch space: `rm -rf` in a
        # database pod destroys its data.
        stateful_target = entity is not None and (bool(entity.stateful) or any(
            i.stateful for k, i in rules.kinds.items() if k == rules.kind(entity.kind)))
        cls_name = _LOCAL_CLASSES[cls_name][1 if stateful_target else 0]
        verb_reason = f"{vm.reason}, but it runs inside {inside}, so it is {cls_name}"
    env, env_where = _environment(s, fv, entity, rules, index)
    # A rule's kind_as knows better than the parser's object kind (`aws s3 rm` names a bucket
    # but deletes objects); without either, the resolved entity's kind.
    kind = _class_kind(vm.kind_as or s.object_kind, rules) or (rules.kind(entity.kind) if entity is not None else None)
    scope, scope_why = _scope(s, fv, rules)
    dcs = tuple(_data_classes(s, entity, rules))
    key = _class_key(cls_name, kind or ANY_KIND, env or UNRESOLVED_ENV, scope, bool(dcs))
    profile = profile_of(entity, index) if entity is not None else None
    return Facts(key, verb_reason, env_where, scope_why, dcs, entity.id if entity is not None else None, profile)
