"""The facts of a shell line, as the OPA export's Rego reads them (``input``).

``stackpolicy classify --json`` prints this as ``opa_input`` for every line. It holds what
the line *is* after shell parsing — each simple command it would run (argv, tool,
subcommand, verb class, object kind, target, environment, scope, flags, the decision
table class it falls in) and the line's operators and redirections — and never the tier or
decision: the Rego (``output/enforce/opa/stackpolicy.rego``) decides those from the table,
so a gateway that runs stackpolicy (or reimplements its parsing) and asks OPA gets the
same answer as ``classify``. See ``docs/enforcement.md`` for the field reference.

Values are taken from the already-redacted classification, so a secret on the line never
reaches the facts.
"""

from __future__ import annotations

from typing import Any

from generators.classify import Classification, CommandResult
from generators.decision.model import ClassKey
from inventory.commands.lexer import lex
from inventory.commands.model import ParsedCommand

OPA_INPUT_VERSION = 1


_KEYS: dict[str, ClassKey] = {}


def _class_key(class_id: str) -> ClassKey:
    """The key of a class id (memoised: a few hundred classes recur on every line)."""
    key = _KEYS.get(class_id)
    if key is None:
        try:
            key = ClassKey.parse(class_id)
        except ValueError:  # a malformed class id is unknown: the Rego tiers it as the unknown class
            key = ClassKey("unknown")
        if len(_KEYS) > 10_000:
            _KEYS.clear()
        _KEYS[class_id] = key
    return key


def _command_facts(r: CommandResult, pc: ParsedCommand | None) -> dict[str, Any]:
    """One simple command's facts (``pc``: the same command re-parsed from the redacted line)."""
    key = _class_key(r.action_class)
    return {
        "argv": list(pc.argv) if pc is not None else [],
        "tool": r.tool,
        "subcommand": r.verb,
        "verb_class": key.verb_class,
        "object_kind": r.object_kind,
        "kind": key.kind,
        "target": r.target,
        "target_entity": r.matched_target,
        "namespace": r.namespace,
        "environment": key.environment,
        "scope": key.scope,
        "sensitive": key.sensitive,
        "flags": dict(sorted(pc.flags.items())) if pc is not None else {},
        "wrappers": list(pc.wrappers) if pc is not None else [],
        "via": r.via,
        "action_class": r.action_class,
    }


def opa_input(c: Classification) -> dict[str, Any]:
    """The documented OPA input for one classified line (facts only, no tier or decision)."""
    parsed = c.parsed()
    # The classification came from the unredacted line; the redacted text normally parses into
    # the same commands. When it does not, argv and flags are left empty rather than misaligned.
    pcs: list[ParsedCommand | None] = list(parsed.commands)
    if len(pcs) != len(c.commands):
        pcs = [None] * len(c.commands)
    redirections: list[dict[str, str]] = []
    try:
        for sc in lex(c.command).commands:
            redirections += [{"op": op, "target": target} for op, target in sc.redirects]
    except Exception:  # noqa: BLE001 - redirections are informative; the commands carry the decision
        redirections = []
    return {
        "version": OPA_INPUT_VERSION,
        "line": c.command,
        # Part of the line could not be read (or nothing runnable was found): the Rego tiers it
        # no lower than the unknown class, as classify does.
        "parse_error": bool(parsed.parse_error) or not c.commands,
        "operators": list(parsed.operators),
        "redirections": redirections,
        "commands": [_command_facts(r, pc) for r, pc in zip(c.commands, pcs)],
    }
