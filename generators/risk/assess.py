"""The deterministic risk model: an action (or a parsed command) → factors → tier + rationale.

Everything here is a pure function of the action, the inventory index and the rules, so the
same inputs always give the same tier and the same one-line rationale. The tier is the
highest tier any single factor implies; the rationale names the factors that set it.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from generators.risk.model import Assessment, Factor, Tier, tier_index
from generators.risk.rules import CompiledRule, Rules, load_rules, norm_path, per_rules
from inventory.config import DEFAULT_ENVIRONMENT_PATTERNS
from inventory.environments import _tokens, tokens
from inventory.model import Action, Entity, Evidence, Inventory, slug
from inventory.scripts import ScriptIndex

# ---------------------------------------------------------------------------------------
# What is being assessed


@dataclass(slots=True)
class Subject:
    """A tool-agnostic view of one action or one parsed simple command (treated as read-only;
    not frozen because a frozen dataclass is several times slower to build, once per command)."""

    tool: str
    verb: str
    object_kind: str | None = None
    target: str | None = None
    namespace: str | None = None
    flags: Mapping[str, str | bool] = field(default_factory=dict)
    argv: tuple[str, ...] = ()
    sql_kinds: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()
    environment: str | None = None  # stated explicitly (an action's environment, an exec's namespace)
    parse_error: str | None = None
    origin: str = "line"  # "line": a command being classified; else an inventory action's origin
    via: str | None = None  # "kubectl exec", "docker exec"...: the command runs inside a workload


_TOOL_SUFFIXES = (".sh", ".exe", ".py")


@lru_cache(maxsize=8192)
def normalise_tool(tool: str) -> str:
    """``/usr/local/bin/kafka-topics.sh`` → ``kafka-topics``."""
    base = tool.strip().rsplit("/", 1)[-1].lower()
    for suffix in _TOOL_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
    return base


def _flag_key(name: str) -> str:
    name = name.lstrip("-")
    return name if len(name) == 1 else name.lower()


class FlagView:
    """Flag presence and values, from the parser's flags and (as a fallback) the raw argv.

    Single-letter flags are case-sensitive (``-A`` is not ``-a``); long ones are not.
    """

    __slots__ = ("_present", "_values")

    def __init__(self, flags: Mapping[str, str | bool], argv: Iterable[str]) -> None:
        present: set[str] = set()
        values: dict[str, str] = {}
        key = _flag_key

        for name, value in flags.items():
            if value is False:  # the parser records an explicitly absent switch (dry-run: False)
                continue
            k = name.lstrip("-")  # _flag_key, inlined: once per flag of every command
            if len(k) != 1:
                k = k.lower()
            present.add(k)
            if isinstance(value, str):
                values.setdefault(k, value)
        toks = argv[1:] if isinstance(argv, (tuple, list)) else list(argv)[1:]
        n = len(toks)
        # Only options are read here (a positional is only an option's value, read with its option).
        for i in [i for i, tok in enumerate(toks) if tok[:1] == "-"]:
            tok = toks[i]
            if tok == "--":
                break
            nxt = toks[i + 1] if i + 1 < n and not toks[i + 1].startswith("-") else None
            if tok.startswith("--") and len(tok) > 2:
                name, eq, val = tok[2:].partition("=")
                k = key(name)
                present.add(k)
                if eq:
                    values.setdefault(k, val)
                elif nxt is not None:
                    values.setdefault(k, nxt)
            elif len(tok) > 1 and not tok[1].isdigit():
                body = tok[1:]
                if "=" in body:  # terraform-style -var=x, -destroy
                    name, _, val = body.partition("=")
                    present.add(key(name))
                    values.setdefault(key(name), val)
                    continue
                present.add(key(body))  # single-dash long options (-destroy, -auto-approve)
                if len(body) <= 3 and body.isalpha():
                    present.update(body)  # combined short flags: -rf, -it (not -auto-approve)
                first = body[0]
                if len(body) > 1:
                    values.setdefault(first, body[1:])  # -oyaml
                elif nxt is not None:
                    values.setdefault(first, nxt)
        self._present = present
        self._values = values

    def has(self, name: str) -> bool:
        return (name if len(name) == 1 else name.lower()) in self._present

    def value(self, name: str) -> str | None:
        return self._values.get(name if len(name) == 1 else name.lower())


# ---------------------------------------------------------------------------------------
# Verb → class


@dataclass(frozen=True)
class VerbMatch:
    """The verb class a subject falls in, and why."""

    cls: str
    reason: str
    kind_as: str | None = None


def _positionals(argv: tuple[str, ...]) -> list[str]:
    return [a for a in argv[1:] if a and (a == "-" or not a.startswith("-"))]


def rule_matches(rule: CompiledRule, s: Subject, fv: FlagView, kind: str | None, args: tuple[str, ...]) -> bool:
    """Whether one rule row applies to ``s`` (see the rules.yaml header for the fields)."""
    if rule.verb_re is not None and not rule.verb_re.match(s.verb.lower()):
        return False
    if rule.kind_re is not None and not rule.kind_re.match(kind or ""):
        return False
    return _rest_matches(rule, s, fv, args)


def _rest_matches(rule: CompiledRule, s: Subject, fv: FlagView, args: tuple[str, ...]) -> bool:
    """:func:`rule_matches` after the verb and kind (see :func:`_candidate_rows`)."""
    if rule.flags:
        present = [f for f in rule.flags if fv.has(f)]
        if not present:
            return False
        if rule.values_re is not None and not any(
            (v := fv.value(f)) is not None and rule.values_re.match(v.lower()) for f in present
        ):
            return False
    if rule.no_flags and any(fv.has(f) for f in rule.no_flags):
        return False
    if rule.sql and not (rule.sql & {k.lower() for k in s.sql_kinds}):
        return False
    if rule.args_re is not None and not any(rule.args_re.match(a) for a in args):
        return False
    if rule.argv and not all(w in args for w in rule.argv):
        return False
    if rule.source_re is not None:
        pos = [p.lower() for p in _positionals(s.argv)]
        if not any(rule.source_re.match(p) for p in pos[:-1]):
            return False
    if rule.target_re is not None and not (s.target and rule.target_re.match(norm_path(s.target))):
        return False
    if rule.paths_re is not None and not any(rule.paths_re.match(norm_path(p)) for p in _path_args(s.argv)):
        return False
    if rule.all_paths_re is not None:
        paths = _path_args(s.argv)
        if not paths or not all(rule.all_paths_re.match(norm_path(p)) for p in paths):
            return False
    if rule.via_re is not None and not (s.via and rule.via_re.match(s.via.lower())):
        return False
    return True


def _path_args(argv: tuple[str, ...]) -> list[str]:
    """Arguments that may be paths: positionals, ``--opt=value`` values and ``of=``/``if=`` operands."""
    out = []
    for a in argv[1:]:
        if a.startswith("-"):
            if "=" in a:
                out.append(a.split("=", 1)[1])
        elif "=" in a and not a.startswith(("/", ".", "~")):
            out.append(a.split("=", 1)[1])
        else:
            out.append(a)
    return out


def _first_match(rows: list[CompiledRule], s: Subject, fv: FlagView, kind: str | None, args: tuple[str, ...]) -> CompiledRule | None:
    """The first of ``rows`` that :func:`_rest_matches` ``s``. The same checks in the same order;
    what several rows read from the subject (its SQL kinds, positionals, path arguments) is
    worked out once per call instead of once per row."""
    if not rows:
        return None
    present = fv._present
    sql: set[str] | None = None
    pos: list[str] | None = None
    path_args: list[str] | None = None
    for rule in rows:
        if rule.flags:
            hit = [f for f in rule.flags if (f if len(f) == 1 else f.lower()) in present]
            if not hit:
                continue
            if rule.values_re is not None and not any(
                (v := fv.value(f)) is not None and rule.values_re.match(v.lower()) for f in hit
            ):
                continue
        if rule.no_flags and any((f if len(f) == 1 else f.lower()) in present for f in rule.no_flags):
            continue
        if rule.sql:
            if sql is None:
                sql = {k.lower() for k in s.sql_kinds}
            if not (rule.sql & sql):
                continue
        if rule.args_re is not None and not any(map(rule.args_re.match, args)):
            continue
        if rule.argv and not all(w in args for w in rule.argv):
            continue
        if rule.source_re is not None:
            if pos is None:
                pos = [p.lower() for p in _positionals(s.argv)]
            if not any(map(rule.source_re.match, pos[:-1])):
                continue
        if rule.target_re is not None and not (s.target and rule.target_re.match(norm_path(s.target))):
            continue
        if rule.paths_re is not None or rule.all_paths_re is not None:
            if path_args is None:
                path_args = _path_args(s.argv)
            if rule.paths_re is not None and not any(map(rule.paths_re.match, map(norm_path, path_args))):
                continue
            if rule.all_paths_re is not None and (
                    not path_args or not all(map(rule.all_paths_re.match, map(norm_path, path_args)))):
                continue
        if rule.via_re is not None and not (s.via and rule.via_re.match(s.via.lower())):
            continue
        return rule
    return None


# Rows of a tool whose verb and kind globs match, per rule set, tool, verb and kind: the same
# few (tool, subcommand, kind) triples recur on every line, and most rows fail on the verb.
_CANDIDATES: dict[int, tuple[Rules, dict[tuple[str, str, str | None], list[CompiledRule]]]] = {}


def _candidate_rows(rules: Rules, tool: str, verb: str, kind: str | None) -> list[CompiledRule]:
    """The rows of ``tool`` (or ``"global"``) whose verb and kind globs accept ``verb`` and ``kind``, in order."""
    memo = per_rules(_CANDIDATES, rules, lambda _: {})
    key = (tool, verb, kind)
    rows = memo.get(key)
    if rows is None:
        rows = [r for r in rules.rows(tool)
                if (r.verb_re is None or r.verb_re.match(verb)) and (r.kind_re is None or r.kind_re.match(kind or ""))]
        if len(memo) > 50_000:
            memo.clear()
        memo[key] = rows
    return rows


# What classify_verb reads from a subject's tool, verb and object kind alone (per rule set):
# the tool and verb as the rules name them, the label, the kind, and the candidate rows of the
# tool and of the global rules. The same few triples recur on every line.
_HEADS: dict[int, tuple[Rules, dict[tuple[str, str, str | None], tuple]]] = {}


def _verb_head(rules: Rules, raw_tool: str, raw_verb: str, object_kind: str | None) -> tuple:
    memo = per_rules(_HEADS, rules, lambda _: {})
    key = (raw_tool, raw_verb, object_kind)
    head = memo.get(key)
    if head is None:
        tool = normalise_tool(raw_tool)
        tool = rules.tool_aliases.get(tool, tool)
        verb = (raw_verb or "unknown").lower()
        label = tool if verb == "unknown" else f"{tool} {verb}"
        kind = rules.kind(object_kind)
        known = tool in rules.tools
        rows = _candidate_rows(rules, tool, raw_verb.lower(), kind) if known else None
        head = (tool, verb, label, kind, known, rows, _candidate_rows(rules, "global", raw_verb.lower(), kind))
        if len(memo) > 50_000:
            memo.clear()
        memo[key] = head
    return head


def classify_verb(s: Subject, rules: Rules, fv: FlagView | None = None) -> VerbMatch:
    """The verb class of ``s``: tool rules, the global rules, then the generic verb table."""
    if s.parse_error:
        return VerbMatch("unknown", f"could not be parsed ({s.parse_error})")
    if not s.verb:  # no verb at all: the general reading below (rare)
        return _classify_verb(s, rules, fv)
    fv = fv or FlagView(s.flags, s.argv)
    tool, verb, label, kind, known, rows, global_rows = _verb_head(rules, s.tool, s.verb, s.object_kind)
    args: tuple[str, ...] | None = tuple(map(str.lower, s.argv[1:])) if rows or global_rows else None

    match: VerbMatch | None = None
    if verb == "help" and "help" in rules.verbs and known:
        # `--help` / `--version` on a tool the rules know: it prints and exits.
        return VerbMatch(rules.verbs["help"], f"{tool} --help/--version only prints")
    if s.origin != "line" and verb in rules.verbs and tool not in rules.tools_first:
        # Inventory actions (implied, OpenAPI, and runbook commands alike) are named with the
        # shared verb vocabulary: an action *class* `reset-offsets` is what the verb says, even
        # when the one runbook line that showed it was a dry run.
        match = VerbMatch(rules.verbs[verb], f"{label} is {rules.verbs[verb]}")
    if match is None and known:
        row = _first_match(rows, s, fv, kind, args) if rows else None  # type: ignore[arg-type]
        if row is not None and not (row.cls == "unknown" and verb in rules.verbs):
            match = VerbMatch(row.cls, f"{label}: {row.reason}" if row.reason else f"{label} is {row.cls}", row.kind_as)
    if match is None and verb in rules.verbs and verb != "unknown":
        match = VerbMatch(rules.verbs[verb], f"{label} is {rules.verbs[verb]}")
    if match is None:
        why = f"{label}: verb not in the {tool} rules" if known else f"{tool}: unknown tool"
        match = VerbMatch("unknown", why)
    g = _first_match(global_rows, s, fv, kind, args) if global_rows else None  # type: ignore[arg-type]
    if g is not None and tier_index(rules.classes[g.cls].tier) > tier_index(rules.classes[match.cls].tier):
        match = VerbMatch(g.cls, f"{label}: {g.reason}" if g.reason else f"{label} is {g.cls}", g.kind_as or match.kind_as)
    return match


def _classify_verb(s: Subject, rules: Rules, fv: FlagView | None = None) -> VerbMatch:
    """:func:`classify_verb` read afresh for a subject without a verb."""
    if s.parse_error:
        return VerbMatch("unknown", f"could not be parsed ({s.parse_error})")
    fv = fv or FlagView(s.flags, s.argv)
    tool = normalise_tool(s.tool)
    tool = rules.tool_aliases.get(tool, tool)
    verb = (s.verb or "unknown").lower()
    label = tool if verb == "unknown" else f"{tool} {verb}"
    kind = rules.kind(s.object_kind)
    args = tuple(map(str.lower, s.argv[1:]))

    match: VerbMatch | None = None
    if verb == "help" and "help" in rules.verbs and tool in rules.tools:
        # `--help` / `--version` on a tool the rules know: it prints and exits.
        return VerbMatch(rules.verbs["help"], f"{tool} --help/--version only prints")
    if s.origin != "line" and verb in rules.verbs and tool not in rules.tools_first:
        # Inventory actions (implied, OpenAPI, and runbook commands alike) are named with the
        # shared verb vocabulary: an action *class* `reset-offsets` is what the verb says, even
        # when the one runbook line that showed it was a dry run.
        match = VerbMatch(rules.verbs[verb], f"{label} is {rules.verbs[verb]}")
    if match is None and tool in rules.tools:
        row = _first_match(_candidate_rows(rules, tool, s.verb.lower(), kind), s, fv, kind, args)
        if row is not None and not (row.cls == "unknown" and verb in rules.verbs):
            match = VerbMatch(row.cls, f"{label}: {row.reason}" if row.reason else f"{label} is {row.cls}", row.kind_as)
    if match is None and verb in rules.verbs and verb != "unknown":
        match = VerbMatch(rules.verbs[verb], f"{label} is {rules.verbs[verb]}")
    if match is None:
        known = tool in rules.tools
        why = f"{label}: verb not in the {tool} rules" if known else f"{tool}: unknown tool"
        match = VerbMatch("unknown", why)
    g = _first_match(_candidate_rows(rules, "global", s.verb.lower(), kind), s, fv, kind, args)
    if g is not None and tier_index(rules.classes[g.cls].tier) > tier_index(rules.classes[match.cls].tier):
        match = VerbMatch(g.cls, f"{label}: {g.reason}" if g.reason else f"{label} is {g.cls}", g.kind_as or match.kind_as)
    return match


# ---------------------------------------------------------------------------------------
# Environments from names (memoised: the same namespaces and hosts recur on every line)


class EnvDetector:
    """:func:`inventory.environments.detect_environment` with fixed patterns, compiled once.

    Same semantics (whole-token matches, multi-token patterns as token sequences, the first
    environment in pattern order wins), as one regex per environment plus a memo.
    """

    __slots__ = ("_compiled", "_any", "_memo")

    def __init__(self, patterns: Mapping[str, Iterable[str]] | None = None) -> None:
        pats = patterns or DEFAULT_ENVIRONMENT_PATTERNS
        self._compiled: list[tuple[str, re.Pattern[str]]] = []
        every: list[str] = []
        for env, plist in pats.items():
            alts = ["[^a-z0-9]+".join(map(re.escape, tokens(p))) for p in plist]
            alts = [a for a in alts if a]
            if alts:
                self._compiled.append((env, re.compile(r"(?<![a-z0-9])(?:" + "|".join(alts) + r")(?![a-z0-9])")))
                every.extend(alts)
        # Every environment's patterns in one regex: it matches exactly when one of the above
        # does, so the (common) text that names no environment costs one search, not one per env.
        self._any: re.Pattern[str] | None = (
            re.compile(r"(?<![a-z0-9])(?:" + "|".join(every) + r")(?![a-z0-9])") if every else None)
        self._memo: dict[str, str | None] = {}

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return None
        hit = self._memo.get(text, "")
        if hit != "":
            return hit
        low = text.lower()
        found = None
        if self._any is not None and self._any.search(low):
            found = next((env for env, rx in self._compiled if rx.search(low)), None)
        if len(self._memo) > 100_000:
            self._memo.clear()
        self._memo[text] = found
        return found


_DEFAULT_DETECTOR = EnvDetector()


# ---------------------------------------------------------------------------------------
# The inventory, indexed for lookups


_POD_SUFFIX_RES = (
    re.compile(r"^(.+)-[a-f0-9]{6,10}-[a-z0-9]{5}$"),  # deployment pod: name-<rs hash>-<pod hash>
    re.compile(r"^(.+)-[a-z0-9]{5}$"),  # job/daemonset pod
    re.compile(r"^(.+)-\d+$"),  # statefulset pod: name-0
)
# Which inventory kinds an object kind on a command line can name.
_KIND_TARGETS: dict[str, tuple[str, ...]] = {
    "namespace": ("k8s-namespace",),
    "topic": ("kafka-topic",),
    "bucket": ("object-bucket",),
    "database": ("postgres", "mysql", "clickhouse", "document-db", "redis"),
    "secret": ("secret",),
    "kafka-cluster": ("kafka-cluster",),
    "release": ("service", "job", "cron-job", "daemon", "postgres", "mysql", "redis", "kafka-cluster"),
}


def target_names(target: str | None) -> list[str]:
    """Names a command's target could be known by in the inventory, most specific first."""
    if not target:
        return []
    t = target.strip().strip("'\"")
    out: list[str] = []
    m = re.match(r"^(s3|gs|s3a|az|abfss?)://([^/]+)", t)
    if m:
        out.append(m.group(2))
    else:
        m = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^/:?]+)(?::\d+)?(?:/([^?]+))?", t)
        if m:
            if m.group(2):
                out.append(m.group(2).strip("/"))
            out.append(m.group(1).split(".", 1)[0])
        else:
            if "/" in t:
                t = t.rsplit("/", 1)[-1]  # deployment/orders-api
            t = t.split(":", 1)[0]
            out.append(t)
            if "." in t:
                out.append(t.split(".", 1)[0])  # a host name: orders-db.prod.svc → orders-db
            for rx in _POD_SUFFIX_RES:
                pm = rx.match(t)
                if pm:
                    out.append(pm.group(1))
    seen: set[str] = set()
    return [slug(n) for n in out if n and not (slug(n) in seen or seen.add(slug(n)))]


class InventoryIndex:
    """Entities by id/name/namespace, fan-in per entity, environment per namespace, actions by target."""

    def __init__(self, inv: Inventory, env_patterns: Mapping[str, Iterable[str]] | None = None) -> None:
        self.inventory = inv
        self.env_patterns = env_patterns
        self.detect_env = EnvDetector(env_patterns) if env_patterns else _DEFAULT_DETECTOR
        self.entities: dict[str, Entity] = inv.entities()
        self.by_name: dict[str, list[Entity]] = defaultdict(list)
        for ent in sorted(self.entities.values(), key=lambda e: e.id):
            self.by_name[slug(ent.name)].append(ent)
        sources: dict[str, set[str]] = defaultdict(set)
        for edge in inv.edges:
            if edge.source != edge.target:
                sources[edge.target].add(edge.source)
        self.fan_in: dict[str, int] = {k: len(v) for k, v in sources.items()}
        self.namespace_env: dict[str, str] = {}
        for ent in self.entities.values():
            if ent.kind == "k8s-namespace" and ent.environments:
                self.namespace_env[ent.name] = "prod" if "prod" in ent.environments else sorted(ent.environments)[0]
        self._scripts: ScriptIndex | None = None
        self.actions_by_target: dict[str, list[Action]] = defaultdict(list)
        self.actions_by_id: dict[str, Action] = {}
        self.actions_by_target_name: dict[str, list[Action]] = defaultdict(list)
        for act in sorted(inv.actions, key=lambda a: a.id):
            self.actions_by_id[act.id] = act
            if act.target:
                self.actions_by_target[act.target].append(act)
            if act.target_name:
                self.actions_by_target_name[act.target_name].append(act)

    @property
    def scripts(self) -> ScriptIndex:
        """The scanned scripts the inventory's actions were seen in (built on first use)."""
        if self._scripts is None:
            self._scripts = ScriptIndex.from_actions(self.inventory.actions)
        return self._scripts

    @scripts.setter
    def scripts(self, value: ScriptIndex) -> None:
        self._scripts = value

    def env_of_namespace(self, namespace: str | None) -> str | None:
        """The environment a namespace belongs to: the inventory's word, else its name."""
        if not namespace:
            return None
        return self.namespace_env.get(namespace) or self.detect_env(namespace)

    def resolve(self, target: str | None, object_kind: str | None, namespace: str | None) -> Entity | None:
        """The entity a command's target names (name + namespace; object kind narrows it)."""
        if not target:
            return None
        if target in self.entities:
            return self.entities[target]
        wanted = _KIND_TARGETS.get(object_kind or "")
        for name in target_names(target):
            cands = self.by_name.get(name, [])
            if wanted:
                narrowed = [e for e in cands if e.kind in wanted]
                cands = narrowed or ([] if object_kind in ("namespace", "topic", "bucket") else cands)
            if not cands:
                continue
            if namespace:
                same_ns = [e for e in cands if e.namespace == namespace]
                if same_ns:
                    return same_ns[0]
            return cands[0]
        return None


# ---------------------------------------------------------------------------------------
# Factors


# Per rule set (by identity, checked): views of its tables the per-command code reads.
_HINT_FLAGS: dict[int, tuple[Rules, frozenset[str]]] = {}
_SCOPE_FLAGS: dict[int, tuple[Rules, tuple[tuple[tuple[str, str, str], ...], frozenset[str]]]] = {}


def _hint_flag_set(rules: Rules) -> frozenset[str]:
    """``rules.environments.hint_flags`` as a set."""
    return per_rules(_HINT_FLAGS, rules, lambda r: frozenset(r.environments.hint_flags))


def _scope_flags(rules: Rules) -> tuple[tuple[tuple[str, str, str], ...], frozenset[str]]:
    """The scope flags in rule order as (scope, FlagView key, as written on a line), and every key."""
    def make(r: Rules) -> tuple[tuple[tuple[str, str, str], ...], frozenset[str]]:
        rows = tuple((scope, name if len(name) == 1 else name.lower(), f"{'-' if len(name) == 1 else '--'}{name}")
                     for scope, names in r.scope.flags.items() for name in names)
        return rows, frozenset(k for _, k, _ in rows)

    return per_rules(_SCOPE_FLAGS, rules, make)


def _line_environments(s: Subject, fv: FlagView, rules: Rules, index: InventoryIndex | None) -> list[tuple[str, str]]:
    """Environments the line itself reveals, as (env, where) in order of specificity."""
    detect = index.detect_env if index else _DEFAULT_DETECTOR
    found: list[tuple[str, str]] = []
    if s.environment:
        found.append((s.environment, "stated"))
    if s.namespace:
        env = index.env_of_namespace(s.namespace) if index else detect(s.namespace)
        if env:
            found.append((env, f"namespace {s.namespace}"))
    flags = s.flags
    if flags and not _hint_flag_set(rules).isdisjoint(flags):
        for name in rules.environments.hint_flags:
            val = flags.get(name)
            if isinstance(val, str) and val:
                env = detect(val)
                if env:
                    found.append((env, f"--{name} {val}"))
    if s.target and detect(s.target) == "prod":
        # A target name may only *raise* to prod: `qa-tools` in a prod cluster is still prod.
        found.append(("prod", f"target {s.target}"))
    return found


def _environment(
    s: Subject, fv: FlagView, entity: Entity | None, rules: Rules, index: InventoryIndex | None
) -> tuple[str, str]:
    """(environment, where it came from). Any sign of prod wins; nothing known: ``unknown``."""
    line = _line_environments(s, fv, rules, index)
    if any(env == "prod" for env, _ in line):
        return "prod", next(w for env, w in line if env == "prod")
    if line:
        return line[0]
    if entity is not None and entity.environments:
        env = "prod" if "prod" in entity.environments else sorted(entity.environments)[0]
        return env, f"inventory: {entity.id}"
    return "unknown", "not stated on the line or in the inventory"


def _data_classes(s: Subject, entity: Entity | None, rules: Rules) -> list[str]:
    found = set(entity.data_classes) if entity is not None else set()
    if entity is not None and entity.kind in _NO_NAME_HINT_KINDS:
        # `acme-training-data-export` names a role that *grants* access; reading it reads no data.
        return sorted(c for c in found if c in rules.data_classes.sensitive)
    toks: set[str] = set()
    for text in (s.target, s.namespace, entity.name if entity is not None else None):
        if text:
            toks.update(_tokens(text))
    if toks and not toks.isdisjoint(_all_hints(rules)):  # no hint word, no data class from hints
        for cls, hints in rules.hint_tokens().items():
            if toks & hints:
                found.add(cls)
    if not found:
        return []
    return sorted(c for c in found if c in rules.data_classes.sensitive)


_ALL_HINTS: dict[int, tuple[Rules, frozenset[str]]] = {}


def _all_hints(rules: Rules) -> frozenset[str]:
    """Every data-class hint word of ``rules``."""
    return per_rules(_ALL_HINTS, rules, lambda r: frozenset().union(*r.hint_tokens().values()))


def _scope(s: Subject, fv: FlagView, rules: Rules) -> tuple[str, str]:
    if "xargs" in s.wrappers:
        return "many", "targets come from xargs"
    present = fv._present
    if present:
        rows, keys = _scope_flags(rules)
        if not keys.isdisjoint(present):
            for scope, key, written in rows:
                if key in present:
                    return scope, written
    return "one", "one named object"


# Kinds whose names hint at what they *grant*, not what they *hold*: no data-class hints.
_NO_NAME_HINT_KINDS = frozenset({"iam", "dns", "network", "kms-key"})


def _inside_workload(s: Subject, entity: Entity | None) -> str | None:
    """Where a file command really runs when it is not the agent's machine, else ``None``."""
    if s.via and "exec" in s.via:
        return f"{entity.id} ({s.via})" if entity is not None else f"a running workload ({s.via})"
    if s.origin != "line" and entity is not None and entity.kind not in ("other",):
        return entity.id  # an inventory action tied to a workload or datastore
    return None


@dataclass
class Outcome:
    """Everything the risk model concluded about one subject."""

    verb_class: str
    tier: Tier
    factors: list[Factor]
    deciding: list[str]
    rationale: str
    environment: str
    entity: Entity | None
    class_id: str = ""


def assess_subject(
    s: Subject,
    rules: Rules,
    index: InventoryIndex | None = None,
    entity: Entity | None = None,
    evidence: list[Evidence] | None = None,
) -> Outcome:
    """Factors and tier for one subject with no decision table (the model's floor).

    ``entity`` is the resolved target, if any. The tier itself is decided by
    :func:`generators.decision.decide.decide`, the one place tiers are decided.
    """
    # Imported here: the decision package builds on this module's parsing helpers.
    from generators.decision.decide import decide
    from generators.decision.facts import facts_of

    facts = facts_of(s, rules, index, entity)
    ruling = decide(facts, rules)
    if evidence:
        ruling.factors[0] = ruling.factors[0].model_copy(update={"evidence": list(evidence)[:3]})
    return Outcome(facts.key.verb_class, ruling.tier, ruling.factors, ruling.deciding, ruling.rationale,
                   facts.key.environment, entity, facts.key.id)


# ---------------------------------------------------------------------------------------
# Inventory actions


def subject_for_action(action: Action, entity: Entity | None) -> Subject:
    """A :class:`Subject` for an inventory action (argv from its representative command)."""
    argv: tuple[str, ...] = ()
    if action.origin == "command" and action.command:
        try:
            argv = tuple(shlex.split(action.command))
        except ValueError:
            argv = tuple(action.command.split())
    return Subject(
        tool=action.tool,
        verb=action.verb,
        object_kind=action.object_kind,
        target=action.target_name or (entity.name if entity is not None else None),
        namespace=entity.namespace if entity is not None else None,
        flags=dict(action.flags),
        argv=argv,
        sql_kinds=(action.sql_kind,) if action.sql_kind else (),
        environment=action.environment,
        origin=action.origin,
    )


def build_index(inv: Inventory, env_patterns: Mapping[str, Iterable[str]] | None = None) -> InventoryIndex:
    """Index ``inv`` for target resolution, fan-in and environment lookups."""
    return InventoryIndex(inv, env_patterns)


def assess_action(action: Action, index: InventoryIndex, rules: Rules | None = None) -> Assessment:
    """The risk model's floor for one inventory action, with factors and a one-line rationale."""
    rules = rules or load_rules()
    entity = index.entities.get(action.target) if action.target else None
    out = assess_subject(subject_for_action(action, entity), rules, index, entity, action.evidence)
    return Assessment(
        action_id=action.id,
        class_id=out.class_id,
        tier=out.tier,
        verb_class=out.verb_class,
        factors=out.factors,
        deciding=out.deciding,
        rationale=out.rationale,
        environment=out.environment,
        target=entity.id if entity is not None else None,
    )


def assess_inventory(
    inv: Inventory, rules: Rules | None = None, env_patterns: Mapping[str, Iterable[str]] | None = None
) -> dict[str, Assessment]:
    """An assessment for every action in ``inv``, keyed and ordered by action id."""
    rules = rules or load_rules()
    index = build_index(inv, env_patterns)
    return {a.id: assess_action(a, index, rules) for a in sorted(inv.actions, key=lambda a: a.id)}
