"""Classify a shell line an agent wants to run: every simple command it would run gets a tier,
and the line gets the highest of them.

The line is parsed like a shell would (compound commands, pipes, ``bash -c``, ``sudo``,
``env``, ``xargs``, ``kubectl exec -- inner``, piped SQL) by :mod:`inventory.commands.shell`,
so wrapping a dangerous command never lowers its tier. With an inventory, targets resolve to
real entities whose environment, fan-in and data classes feed the risk model.

Every simple command is reduced to its facts (:mod:`generators.decision.facts`) and its tier
is decided by :func:`generators.decision.decide.decide` over a decision table: the reviewed
table of ``--policy output/policy.yaml`` (a class or exception tier *raises* the model's tier;
only one marked ``reviewed: true`` may *lower* it), or, without one, the risk model alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from generators.decision.decide import Table, decide
from generators.decision.facts import facts_of
from generators.decision.model import DecisionTable
from generators.risk.assess import (
    InventoryIndex,
    Subject,
    classify_verb,
    normalise_tool,
    subject_for_action,
)
from generators.risk.model import DECISION_FOR_TIER, Decision, Factor, Tier, max_tier, tier_index
from generators.risk.rules import Rules, load_rules
from inventory.commands.model import CommandLine, ParsedCommand, copy_with, trusted
from inventory.commands.shell import parse_line
from inventory.commands.verbs import action_verb, target_candidates
from inventory.model import Action, Entity, Inventory, Resource, slug
from inventory.scripts import ScriptIndex
from inventory.secrets import REDACTED, is_secret_key, redact_text

# A line is cached by its text; bounded so a long audit log cannot grow memory without limit.
_CACHE_MAX = 50_000
# No real command line is this long; beyond it a human reads the line (it is never parsed).
MAX_LINE_CHARS = 1_000_000
# Object kinds named on a command line that live *inside* an inventory entity.
_NOT_ENTITY_KINDS = frozenset({"table", "key", "row", "version"})


class PolicyError(Exception):
    """A policy file that cannot be used; the message names the file."""


class CommandResult(BaseModel):
    """The verdict on one simple command of a line."""

    model_config = ConfigDict(extra="forbid")

    command: str
    tool: str
    verb: str
    object_kind: str | None = None
    target: str | None = None
    namespace: str | None = None
    via: str | None = None
    environment: str
    verb_class: str
    matched_target: str | None = None
    matched_action: str | None = None
    action_class: str  # the decision table class (``delete/kafka-topic@prod``)
    exception: str | None = None  # the table exception that set the tier, if any
    tier: Tier
    rationale: str
    factors: list[Factor] = Field(default_factory=list)


class Classification(BaseModel):
    """The verdict on a whole line: the highest tier of anything it runs."""

    model_config = ConfigDict(extra="forbid")

    command: str
    tier: Tier
    tier_name: str
    decision: Decision
    reasons: list[str]
    matched_action: str | None = None
    matched_target: str | None = None
    action_class: str | None = None  # the class of the command that set the tier
    commands: list[CommandResult] = Field(default_factory=list)
    # The parse of ``command`` when the shown text is exactly what was parsed (no secret was
    # masked): the OPA facts reuse it instead of parsing the line a second time.
    _parsed: CommandLine | None = PrivateAttr(default=None)

    def parsed(self) -> CommandLine:
        """The parse of :attr:`command` (the shown, redacted text), computed once."""
        # The private slot is read directly: pydantic's attribute hook is slow on a hot path.
        private = self.__pydantic_private__
        hit = private.get("_parsed") if private else None
        if hit is None or hit.raw != self.command:
            hit = parse_line(self.command)
            self._parsed = hit
        return hit


def load_policy(path: str | Path) -> DecisionTable:
    """The reviewed decision table of a policy file (``output/policy.yaml``, or a bare table)."""
    import yaml  # here, not at the top: `classify` without --policy never needs it

    p = Path(path)
    try:
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError as exc:
        raise PolicyError(f"{p}: no such file") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"{p}: cannot read policy: {exc}") from exc
    if isinstance(raw, dict) and raw.get("kind") == "policy" and isinstance(raw.get("table"), dict):
        from generators.documents.model import Policy

        try:
            return Policy.model_validate(raw).table
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            raise PolicyError(f"{p}: invalid policy at {where or 'top level'}: {first.get('msg')}") from exc
    if isinstance(raw, dict) and isinstance(raw.get("table"), dict):
        raw = raw["table"]
    if not isinstance(raw, dict) or "classes" not in raw:
        raise PolicyError(f"{p}: not a stackpolicy policy: expected the `table:` of a generated policy.yaml "
                          f"(or a decision table with `classes`); run `stackpolicy policy` to write one")
    try:
        return DecisionTable.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise PolicyError(f"{p}: invalid decision table at {where or 'top level'}: {first.get('msg')}") from exc


class _NotPlain(Exception):
    """The YAML uses something the streaming reader leaves to the full loader (an alias, an
    anchor, a merge key, a tag, a second document)."""


def load_decision_table(path: str | Path) -> DecisionTable:
    """The decision table of a policy file with only what deciding needs: the table's classes
    without the inventory actions listed as their instances, its exceptions and its estate.

    A generated policy of a large estate is tens of megabytes, mostly the systems' action rows
    and the classes' instances; building all of it as Python objects and validating it took
    half a minute and a gigabyte. Here the YAML is read as a stream of parse events and only
    the table (minus instances) is built, through the same scalar resolution as the safe loader.
    Anything this reader leaves alone (aliases, anchors, merge keys, explicit tags, several
    documents) goes through :func:`load_policy`, as does any error, so a broken file fails
    exactly as it does there.
    """
    import yaml

    p = Path(path)
    try:
        with open(p, encoding="utf-8") as fh:
            data = _plain_table_document(yaml.parse(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, _NotPlain, RecursionError):
        data = None
    if data is None:
        table = load_policy(p)
        return table.model_copy(update={"classes": [c.model_copy(update={"instances": []}) for c in table.classes]})
    # The same reading as load_policy: a policy's table (rows expanded when written compact),
    # else a document's `table:`, else the document as a bare table.
    raw: Any = data
    if data.get("kind") == "policy" and isinstance(data.get("table"), dict):
        raw = data["table"]
        from generators.documents.compact import COMPACT, LAYOUT_KEY, expand_policy

        if data.get(LAYOUT_KEY) == COMPACT:
            raw = expand_policy({LAYOUT_KEY: COMPACT, "table": raw})["table"]
    elif isinstance(data.get("table"), dict):
        raw = data["table"]
    if not isinstance(raw, dict) or "classes" not in raw:
        return load_policy(p)  # not a table: the full loader says what it is
    try:
        return DecisionTable.model_validate(raw)
    except ValidationError:
        return load_policy(p)  # the full loader reports where, in the file's own terms


def _plain_table_document(events: Iterable[Any]) -> dict[str, Any] | None:
    """The top-level keys a decision table is read from (``kind``, ``layout``, ``table`` of a
    policy; every key of a bare table), each class without its ``instances``; ``None`` when the
    document is not a mapping."""
    import yaml

    from yaml.constructor import SafeConstructor
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    resolver, constructor = Resolver(), SafeConstructor()
    it = iter(events)

    def scalar(ev: Any) -> Any:
        if ev.anchor is not None or ev.tag not in (None, "!"):
            raise _NotPlain()
        # As the safe loader's composer and constructor have it (the same resolver and constructors).
        tag = resolver.resolve(ScalarNode, ev.value, ev.implicit)
        make = SafeConstructor.yaml_constructors.get(tag)
        if make is None:
            raise _NotPlain()
        return make(constructor, ScalarNode(tag, ev.value, style=ev.style))

    def skip(ev: Any) -> None:
        depth = 0
        while True:
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if depth == 0:
                return
            ev = next(it)

    def value(ev: Any, path: tuple[str, ...]) -> Any:
        if isinstance(ev, yaml.ScalarEvent):
            return scalar(ev)
        if isinstance(ev, yaml.AliasEvent) or ev.anchor is not None:
            raise _NotPlain()
        if isinstance(ev, yaml.SequenceStartEvent):
            if ev.tag not in (None, "!", "tag:yaml.org,2002:seq"):
                raise _NotPlain()
            out: list[Any] = []
            while not isinstance(ev := next(it), yaml.SequenceEndEvent):
                out.append(value(ev, (*path, "[]")))
            return out
        if isinstance(ev, yaml.MappingStartEvent):
            if ev.tag not in (None, "!", "tag:yaml.org,2002:map"):
                raise _NotPlain()
            obj: dict[Any, Any] = {}
            while not isinstance(ev := next(it), yaml.MappingEndEvent):
                if not isinstance(ev, yaml.ScalarEvent):
                    raise _NotPlain()  # a complex key
                key = scalar(ev)
                if key == "<<" or not isinstance(key, str) or key in obj:
                    raise _NotPlain()  # merge keys and duplicates: as the full loader has them
                nxt = next(it)
                if path == ("table", "classes", "[]") and key == "instances":
                    skip(nxt)
                    continue
                obj[key] = value(nxt, (*path, key))
            return obj
        raise _NotPlain()

    ev = next(it)
    if not isinstance(ev, yaml.StreamStartEvent):
        raise _NotPlain()
    ev = next(it)
    if not isinstance(ev, yaml.DocumentStartEvent) or ev.tags:
        raise _NotPlain()
    ev = next(it)
    if not isinstance(ev, yaml.MappingStartEvent) or ev.anchor is not None or ev.tag not in (None, "!", "tag:yaml.org,2002:map"):
        return None
    top: dict[str, Any] = {}
    skipped = False
    while not isinstance(ev := next(it), yaml.MappingEndEvent):
        if not isinstance(ev, yaml.ScalarEvent):
            raise _NotPlain()
        key = scalar(ev)
        if key == "<<" or not isinstance(key, str) or key in top:
            raise _NotPlain()
        nxt = next(it)
        if key in _POLICY_ONLY:
            skip(nxt)  # an anchor here that the table aliases makes that alias refuse
            skipped = True
        else:  # kind, layout, table; or a bare table's own keys
            top[key] = value(nxt, (key,) if key in ("kind", "layout", "table") else ("table", key))
    if not isinstance(next(it), yaml.DocumentEndEvent) or not isinstance(next(it), yaml.StreamEndEvent):
        raise _NotPlain()  # a second document: the full loader refuses it
    if skipped and not (top.get("kind") == "policy" and isinstance(top.get("table"), dict)):
        raise _NotPlain()  # not a policy after all: the full loader says what is wrong
    return top


# Top-level keys of a policy document that deciding never reads (the documents' own content).
_POLICY_ONLY = frozenset({"meta", "summary", "tiers", "systems", "rules", "questions"})


def redact_command(text: str, commands: Iterable[ParsedCommand] = ()) -> str:
    """``text`` fit for output and audit logs: secret values masked.

    :func:`inventory.secrets.redact_text` finds passwords in URLs, headers, ``KEY=value``...;
    options the parser kept by presence only because they carry a secret
    (``--secret-string x``) are masked here too.
    """
    out, _ = redact_text(text)
    for pc in commands:
        for name, value in pc.flags.items():
            if value is True and is_secret_key(name):
                rx = re.compile(rf"(--?{re.escape(name)}(?:=|\s+))('[^']*'|\"[^\"]*\"|[^\s;&|]+)")
                out = rx.sub(lambda m: m.group(1) + REDACTED, out)
    return out


def _subject(pc: ParsedCommand, exec_env_ns: str | None) -> Subject:
    f = pc.__dict__  # the fields read directly: once per command of every line
    # Positional, in Subject's field order (tool, verb, object_kind, target, namespace, flags,
    # argv, sql_kinds, wrappers, environment, parse_error, origin, via).
    return Subject(f["tool"], f["verb"], f["object_kind"], f["target"], f["namespace"] or exec_env_ns, f["flags"],
                   tuple(f["argv"]), tuple(f["sql_kinds"]), tuple(f["wrappers"]), None, f["parse_error"], "line",
                   f["via"])


class Classifier:
    """Classifies lines against one rule set, inventory index and policy; caches by line."""

    def __init__(
        self,
        rules: Rules | None = None,
        index: InventoryIndex | None = None,
        table: DecisionTable | Table | None = None,
        *,
        match_actions: bool = True,
        cache: bool = True,
    ) -> None:
        self.rules = rules or load_rules()
        # Whether verdicts are kept by line. A caller that keeps its own answers by line (the
        # `--stdin` loop keeps the printed text) turns this off: a verdict is dozens of objects
        # for the garbage collector to walk, the printed answer one string.
        self.cache = cache
        # Naming the inventory action a command is an instance of is for people reading a
        # verdict; building the table does not need it (the table records its instances).
        self.match_actions = match_actions
        self.table = table if isinstance(table, Table) else Table(table)
        if index is None and (self.table.table.targets or self.table.table.scripts):
            index = index_from_table(self.table.table)  # the policy knows the estate's names and scripts
        self.index = index
        self._cache: dict[str, Classification] = {}
        self._action_classes: dict[str, str] = {}
        self._script_lines: dict[str, Classification] = {}  # lines of scripts, classified without expansion
        self._in_script = False
        self._kept_parse: Classification | None = None  # the one verdict still holding its parse

    # -- inventory matching ------------------------------------------------------------

    def _action_class(self, action: Action) -> str:
        if action.id not in self._action_classes:
            ent = self.index.entities.get(action.target) if (self.index and action.target) else None
            self._action_classes[action.id] = classify_verb(subject_for_action(action, ent), self.rules).cls
        return self._action_classes[action.id]

    def _resolve(self, pc: ParsedCommand, namespace: str | None) -> Entity | None:
        """The entity the command acts on, from the parser's own candidate names and kinds."""
        assert self.index is not None
        for name, kinds in target_candidates(pc):
            cands = [e for e in self.index.by_name.get(slug(name), []) if kinds is None or e.kind in kinds]
            if not cands:
                continue
            same_ns = [e for e in cands if namespace and e.namespace == namespace]
            return (same_ns or cands)[0]
        return None

    def _match_action(self, pc: ParsedCommand, entity: Entity | None, verb_class: str, env: str) -> str | None:
        """The inventory action class this command is an instance of, if any."""
        if self.index is None:
            return None
        tool = normalise_tool(pc.tool)
        if entity is not None:
            cands = self.index.actions_by_target.get(entity.id, [])
        else:
            cands = self.index.actions_by_target_name.get(pc.target, []) if pc.target else []

        def env_ok(a: Action) -> bool:
            return a.environment is None or a.environment == env

        # The scanner names command actions with the shared verb vocabulary, so the same
        # words find the action class this command is an instance of.
        verb = action_verb(pc)
        exact = [a for a in cands if a.verb in (verb, pc.verb) and env_ok(a)]
        exact.sort(key=lambda a: (a.environment is None, normalise_tool(a.tool) != tool, a.id))
        if exact:
            return exact[0].id
        same_class = [a for a in cands if env_ok(a) and self._action_class(a) == verb_class]
        same_class.sort(key=lambda a: (normalise_tool(a.tool) != tool, a.environment is None, a.id))
        return same_class[0].id if same_class else None

    # -- classification ----------------------------------------------------------------

    def _classify_command(
        self, pc: ParsedCommand, exec_ns: str | None, secret: bool = True, exec_entity: Entity | None = None
    ) -> CommandResult:
        s = _subject(pc, exec_ns)
        entity = None
        if self.index is not None and not pc.parse_error:
            kind = self.rules.kind(pc.object_kind)
            # A SQL table or a redis key is not an inventory entity: the system it lives in is.
            entity = self._resolve(pc, s.namespace)
            if entity is None and kind not in _NOT_ENTITY_KINDS:
                entity = self.index.resolve(pc.target, kind, s.namespace)
            for name in self.rules.target_flags if entity is None else ():
                value = pc.flags.get(name)
                if isinstance(value, str) and value:
                    entity = self.index.resolve(value, None, s.namespace)
                    if entity is not None:
                        break
            if entity is None and pc.via and "exec" in pc.via:
                entity = exec_entity  # `rm` inside `kubectl exec orders-db-0 --` acts on orders-db
        facts = facts_of(s, self.rules, self.index, entity)
        ruling = decide(facts, self.rules, self.table)
        matched = self._match_action(pc, entity, facts.key.verb_class, facts.key.environment) if self.match_actions else None
        tier, rationale, factors = ruling.tier, ruling.rationale, ruling.factors
        command, target = pc.raw, pc.target
        if secret:  # redaction is skipped only when the whole line was found to hold no secret at all
            hide = lambda text: redact_command(text, (pc,))  # noqa: E731
            command, target, rationale = hide(command), hide(target) if target else None, hide(rationale)
            factors = [copy_with(f, reason=hide(f.reason)) for f in factors]
        key = facts.key
        return trusted(CommandResult, {
            "command": command,
            "tool": pc.tool,
            "verb": pc.verb,
            "object_kind": pc.object_kind,
            "target": target or None,
            "namespace": s.namespace,
            "via": pc.via,
            "environment": key.environment,
            "verb_class": key.verb_class,
            "matched_target": entity.id if entity is not None else None,
            "matched_action": matched,
            "action_class": ruling.class_id,
            "exception": ruling.exception,
            "tier": tier,
            "rationale": rationale,
            "factors": factors,
        })

    def _unparseable(self, line: str, why: str) -> Classification:
        tier: Tier = self.rules.classes["unknown"].tier
        reason = f"{self.rules.tier_label(tier)}: {why}, so a human decides"
        return Classification(command=redact_command(line), tier=tier, tier_name=self.rules.tiers[tier].name,
                              decision=DECISION_FOR_TIER[tier], reasons=[reason])

    def verdicts(self) -> dict[str, Classification]:
        """The lines classified so far and their verdicts (see :meth:`seed`)."""
        return dict(self._cache)

    def seed(self, verdicts: dict[str, Classification]) -> None:
        """Take ``verdicts`` of another classifier as already decided. Only sound when that one
        decides exactly as this one would: the same rules and estate, and no table edit that
        tells them apart (an unedited table decides as no table)."""
        for line, verdict in verdicts.items():
            if len(self._cache) >= _CACHE_MAX:
                break
            self._cache.setdefault(line, verdict)

    def classify(self, line: str) -> Classification:
        """The tier of ``line``: the highest tier of every simple command it would run."""
        if not self.cache:
            return self._classify_uncached(line)
        cached = self._cache.get(line)
        if cached is not None:
            return cached
        result = self._classify_uncached(line)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[line] = result
        return result

    def _classify_uncached(self, line: str) -> Classification:
        if not line.strip():
            return self._unparseable(line, "empty command")
        if len(line) > MAX_LINE_CHARS:
            return self._unparseable(line[:200] + "...", f"the line is {len(line):,} characters long "
                                     f"(more than {MAX_LINE_CHARS:,}), too long to review")
        if "\0" in line:
            # A shell never sees past a NUL byte; what runs is not what this text shows.
            return self._unparseable(line.replace("\0", "\\0"), "the line contains a NUL byte")
        parsed = parse_line(line)
        if not parsed.commands:
            return self._unparseable(line, f"could not be parsed ({parsed.parse_error or 'no command found'})")
        shown = redact_command(line, parsed.commands)
        secret = shown != line
        results: list[CommandResult] = []
        exec_ns: str | None = None
        exec_entity: Entity | None = None
        for pc in parsed.commands:
            # A command reached through `kubectl exec -n ns` runs in that namespace's environment,
            # on the workload the exec resolved to.
            if pc.via and "exec" in pc.via:
                results.append(self._classify_command(pc, exec_ns, secret, exec_entity))
                continue
            result = self._classify_command(pc, None, secret)
            if pc.verb in ("exec", "attach", "debug"):
                exec_ns = pc.namespace or exec_ns
                if self.index is not None and result.matched_target:
                    exec_entity = self.index.entities.get(result.matched_target)
            results.append(result)
        if self.index is not None and not self._in_script:
            results.extend(self._script_results(parsed.commands, secret))
        tier = max_tier(*[r.tier for r in results])
        if parsed.parse_error:
            # Part of the line could not be read: never below the unknown class.
            unknown_tier = self.rules.classes["unknown"].tier
            if tier_index(unknown_tier) > tier_index(tier):
                tier = unknown_tier
        # The commands that set the tier: their reasons (each once, in order), the first names the match.
        setting = [r for r in results if r.tier == tier]
        reasons = list(dict.fromkeys([r.rationale for r in setting]))
        if parsed.parse_error:
            reasons.append(f"{self.rules.tier_label(tier)}: part of the line could not be parsed ({parsed.parse_error})")
        top = setting[0] if setting else None
        out = trusted(Classification, {
            "command": shown,
            "tier": tier,
            "tier_name": self.rules.tiers[tier].name,
            "decision": DECISION_FOR_TIER[tier],
            "reasons": reasons,
            "matched_action": top.matched_action if top else None,
            "matched_target": top.matched_target if top else None,
            "action_class": top.action_class if top else None,
            "commands": results,
        }, private={"_parsed": None})
        if not secret:
            # The shown text is the parsed text: the OPA facts of this verdict (asked for right
            # after it) reuse the parse. Only the latest verdict keeps one, so the cache of
            # verdicts does not keep every parse alive.
            if self._kept_parse is not None:
                self._kept_parse.__pydantic_private__["_parsed"] = None  # type: ignore[index]
            out.__pydantic_private__["_parsed"] = parsed  # type: ignore[index]
            self._kept_parse = out
        return out

    def _script_results(self, commands: list[ParsedCommand], secret: bool) -> list[CommandResult]:
        """What the scanned scripts a line runs do (``./scripts/failover.sh prod``), from the
        inventory: every command of the script (and of the scripts it runs), its ``via`` naming
        the script line. They are added to the call's own verdict, so they only ever raise it."""
        assert self.index is not None
        scripts = self.index.scripts
        if not scripts:
            return []
        out: list[CommandResult] = []
        for pc in commands:
            path = scripts.script_of(pc)
            if path is None:
                continue
            for sl in scripts.expand(path):
                body = self._script_line(sl.command)
                where = f"{sl.path}:{sl.line}"
                for r in body.commands:
                    via = f"script {where}" if r.via is None else f"script {where} > {r.via}"
                    rationale = f"{r.rationale} (in {where})"
                    out.append(r.model_copy(update={"via": via, "rationale": redact_command(rationale) if secret else rationale}))
        return out

    def _script_line(self, text: str) -> Classification:
        hit = self._script_lines.get(text)
        if hit is None:
            # Script lines come redacted from the inventory; the mask is not shell syntax.
            self._in_script = True
            try:
                hit = self._classify_uncached(text.replace(REDACTED, "REDACTED"))
            finally:
                self._in_script = False
            if len(self._script_lines) >= _CACHE_MAX:
                self._script_lines.clear()
            self._script_lines[text] = hit
        return hit

    def classify_many(self, lines: Iterable[str]) -> Iterable[Classification]:
        """Classify each non-blank line (batch and audit-log use)."""
        for line in lines:
            if line.strip():
                yield self.classify(line.rstrip("\r\n"))


def classify_line(
    line: str,
    index: InventoryIndex | None = None,
    rules: Rules | None = None,
    table: DecisionTable | None = None,
) -> Classification:
    """Classify one shell line (for many lines, reuse a :class:`Classifier`: it caches)."""
    return Classifier(rules, index, table).classify(line)


def index_from_table(table: DecisionTable) -> InventoryIndex:
    """An inventory index from the estate a policy records (names, kinds, environments, fan-in,
    the scripts and what they run), so ``classify --policy`` resolves targets and script calls
    exactly as the table was built."""
    resources = [
        Resource(id=t.id, kind=t.kind, name=t.name, namespace=t.namespace, environments=list(t.environments),
                 data_classes=list(t.data_classes), stateful=t.stateful, deletion_protection=t.deletion_protection,
                 evidence=[])
        for t in table.targets
    ]
    index = InventoryIndex(Inventory(resources=resources))
    index.fan_in = {t.id: t.fan_in for t in table.targets if t.fan_in}
    index.namespace_env.update(table.namespaces)
    index.scripts = ScriptIndex({s.path: [(c.line, c.command) for c in s.commands] for s in table.scripts})
    return index
