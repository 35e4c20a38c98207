"""What every export target shares: the policy's own commands as rule candidates, the
samples each rule is verified against, and the pruning that keeps only rules that agree.

A rule is a token prefix taken from an action's representative command: the whole command
(``exact``) or, where the command has a template argument (``<zone>``), the tokens before it
followed by "anything" (``prefix``). Commands a prefix rule cannot express (compound lines,
substitutions, a template argument first) are left to the hook, which runs the full classifier.

Verification: each rule is matched (with the target's own semantics) against samples, the
policy's own commands with their reviewed decisions, eval-case shortcuts, and *probes*,
dangerous extensions of every prefix rule classified by the risk model. A rule set is
emitted only when, for every sample it matches, the strictest matching rule gives exactly
the sample's decision; rules that cause a disagreement are dropped (and reported as left
to the hook). So an allow that would also match a T3 command is never emitted.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from generators.decision.model import TargetProfile
from generators.documents.model import EvalSuite, Policy
from generators.risk.model import DECISION_FOR_TIER, Decision
from generators.risk.rules import Rules, load_rules

STRICTNESS: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}
_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "<<", "<<<", "2>", "2>&1", "(", ")"})
_RAW_UNSAFE = ("'", '"', "\\", "$", "`", ";", "&", "|", "\n")
_UNSAFE_CHARS = ("$(", "`", "*", "(", ")", "{", "}", "\n", "\\", "\"", "'")
# Extensions appended to a prefix rule's tokens: if the risk model rates any of them
# stricter than the rule's decision, the prefix is too broad for a static rule.
PROBE_TAILS: tuple[tuple[str, ...], ...] = (
    (), ("--all",), ("-A",), ("--all-namespaces",), ("--force",), ("--grace-period=0", "--force"),
    ("-n", "kube-system"), ("--namespace", "prod"), ("--context", "prod"), ("--env", "prod"),
    ("--cascade=foreground",), ("--recursive",), ("-rf", "/"), ("--auto-approve",), ("-o", "yaml"),
    ("--dry-run=none",), ("--yes",), ("prod",), ("production",),
)


@dataclass
class ExportContext:
    """Everything an exporter reads: the compiled policy, the eval suite, the risk model
    (``classify``: command -> decision, ``None`` without probes), and where files go."""

    policy: Policy
    evals: EvalSuite | None = None
    classify: Callable[[str], Decision] | None = None
    out_dir: str = "output"  # the documents' directory, as the project refers to it
    inventory: dict | None = None  # the inventory as JSON data, for the hook
    environments: dict[str, list[str]] | None = None
    reasons: Callable[[str], str] | None = None  # command -> the classifier's one-line reason
    rules_data: dict | None = None  # the configured risk rules as JSON data, for the hook
    rules: Rules | None = None  # the configured risk rules (None: the built-in rules)
    target_profiles: list[TargetProfile] | None = None  # every inventory entity, as the table sees it

    def risk_rules(self) -> Rules:
        """The configured risk rules, else the built-in ones."""
        return self.rules if self.rules is not None else load_rules()

    @property
    def enforce_dir(self) -> str:
        return f"{self.out_dir.rstrip('/')}/enforce"


class ExportError(Exception):
    """The compiled policy cannot be exported (message names the file)."""


@dataclass(frozen=True)
class Rule:
    """One static rule: ``tokens`` exactly (``exact``) or as an argv prefix."""

    tokens: tuple[str, ...]
    exact: bool
    decision: Decision
    action_ids: tuple[str, ...]
    justification: str

    @property
    def text(self) -> str:
        return shlex.join(self.tokens)


@dataclass(frozen=True)
class Sample:
    """A command with the decision the policy gives it, and where it came from."""

    command: str
    decision: Decision
    source: str


@dataclass
class Left:
    """An action no static rule could express safely: the hook decides it."""

    action_id: str
    command: str
    decision: Decision
    reason: str


@dataclass
class ExportResult:
    """Files to write (path relative to the export directory) and what was left to the hook."""

    files: dict[str, str] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    left_to_hook: list[Left] = field(default_factory=list)


def load_compiled(policy_path: str | Path) -> tuple[Policy, EvalSuite | None]:
    """The compiled policy (``policy.yaml``) and, if beside it, the eval suite."""
    p = Path(policy_path)
    try:
        policy = Policy.model_validate(yaml.safe_load(p.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ExportError(f"{p}: no compiled policy; run `stackpolicy policy` first") from exc
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ExportError(f"{p}: cannot read the compiled policy: {str(exc).splitlines()[0]}") from exc
    evals = None
    ev = p.with_name("evals.yaml")
    if ev.is_file():
        try:
            evals = EvalSuite.model_validate(yaml.safe_load(ev.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise ExportError(f"{ev}: cannot read the eval suite: {str(exc).splitlines()[0]}") from exc
    return policy, evals


def rule_tokens(command: str) -> tuple[tuple[str, ...], bool] | str:
    """``(tokens, exact)`` for a representative command, or why no static rule can express it."""
    if any(c in command for c in ("|", ";", "&")):
        return "a compound line (pipes, &&, ;): the hook checks each part"
    if any(c in command for c in _RAW_UNSAFE):
        # Quoting, expansions or separators: the agent's literal text would differ from the
        # rule's, so a rule could not be trusted to match (or not match) it.
        return "shell expansions or quoting a prefix rule cannot express"
    try:
        tokens = shlex.split(command)
    except ValueError:
        return "not parseable as one command"
    if not tokens:
        return "empty command"
    cut = next((i for i, t in enumerate(tokens) if "<" in t or ">" in t), None)
    exact = cut is None
    if cut is not None:
        tokens = tokens[:cut]
    if len(tokens) < (1 if exact else 2):
        return "a template argument (<...>) comes too early for a prefix rule"
    if any(t in _OPERATORS for t in tokens):
        return "a compound line (pipes, &&, ;, redirects): the hook checks each part"
    if any(any(c in t for c in _UNSAFE_CHARS) for t in tokens) or any(t.startswith("$") for t in tokens):
        return "shell expansions or quoting a prefix rule cannot express"
    return tuple(tokens), exact


def candidates(policy: Policy) -> tuple[list[Rule], list[Left]]:
    """One rule per distinct (tokens, exact, decision), merged across actions, and the rest."""
    merged: dict[tuple[tuple[str, ...], bool, str], list[str]] = {}
    why: dict[tuple[tuple[str, ...], bool, str], str] = {}
    left: list[Left] = []
    for aid, a in sorted(policy.actions().items()):
        if a.origin == "openapi":
            left.append(Left(aid, a.command, a.decision, "an HTTP operation, not a shell command: "
                                                         "enforce it at the API gateway, not with shell rules"))
            continue
        got = rule_tokens(a.command)
        if isinstance(got, str):
            left.append(Left(aid, a.command, a.decision, got))
            continue
        key = (got[0], got[1], a.decision)
        merged.setdefault(key, []).append(aid)
        why.setdefault(key, f"{a.tier}: {a.rationale}")
    rules = [Rule(tokens=k[0], exact=k[1], decision=k[2], action_ids=tuple(v),  # type: ignore[arg-type]
                  justification=why[k]) for k, v in merged.items()]
    rules.sort(key=lambda r: (r.tokens, r.exact, STRICTNESS[r.decision]))
    return rules, left


def policy_samples(policy: Policy, evals: EvalSuite | None) -> list[Sample]:
    """The policy's own commands and the eval shortcuts, with their decisions."""
    out = [Sample(a.command, a.decision, aid) for aid, a in sorted(policy.actions().items())]
    for c in evals.cases if evals is not None else []:
        if c.shortcut and c.shortcut_tier and not c.disabled:
            out.append(Sample(c.shortcut, DECISION_FOR_TIER[c.shortcut_tier], c.id))
    return out


def probes(rules: Iterable[Rule], classify: Callable[[str], Decision]) -> list[Sample]:
    """Dangerous extensions of every prefix rule, with the risk model's decision."""
    out: list[Sample] = []
    seen: set[str] = set()
    for r in rules:
        tails = PROBE_TAILS if not r.exact else ((),)
        for tail in tails:
            cmd = shlex.join(r.tokens + tail)
            if cmd not in seen:
                seen.add(cmd)
                out.append(Sample(cmd, classify(cmd), f"probe:{r.text}"))
    return out


def effective(rules: Iterable[Rule], command: str, matches: Callable[[Rule, str], bool]) -> Decision | None:
    """The strictest decision among ``rules`` matching ``command`` (``None``: no rule matches)."""
    best: Decision | None = None
    for r in rules:
        if matches(r, command) and (best is None or STRICTNESS[r.decision] > STRICTNESS[best]):
            best = r.decision
    return best


def prune(rules: list[Rule], samples: list[Sample], matches: Callable[[Rule, str], bool]) -> tuple[list[Rule], list[Left]]:
    """Drop rules until every sample matched by some rule gets exactly its decision."""
    kept = list(rules)
    dropped: list[Left] = []
    while True:
        # Every rule starts with a literal program name, so only rules for the sample's
        # first word can match it.
        by_word: dict[str, list[Rule]] = {}
        for r in kept:
            by_word.setdefault(r.tokens[0], []).append(r)
        bad: dict[Rule, Sample] = {}
        for s in samples:
            hits = [r for r in by_word.get(first_word(s.command), ()) if matches(r, s.command)]
            if not hits:
                continue
            top = max(hits, key=lambda r: STRICTNESS[r.decision])
            if top.decision != s.decision:
                for r in hits:
                    if r.decision == top.decision:
                        bad.setdefault(r, s)
        if not bad:
            return kept, dropped
        kept = [r for r in kept if r not in bad]
        for r, s in bad.items():
            kind = "broader" if STRICTNESS[r.decision] < STRICTNESS[s.decision] else "stricter"
            reason = f"rule `{r.text}{'' if r.exact else ' …'}` ({r.decision}) would also decide `{s.command}` " \
                     f"({s.source}, {s.decision}): {kind} than the policy"
            for aid in r.action_ids:
                dropped.append(Left(aid, r.text, r.decision, reason))


def build(policy: Policy, evals: EvalSuite | None, matches: Callable[[Rule, str], bool],
          classify: Callable[[str], Decision] | None, *, prefix_only: bool = False) -> tuple[list[Rule], list[Left]]:
    """Candidates from ``policy``, verified against samples and probes with ``matches``.

    ``prefix_only``: the target has no exact-match rules (Codex), so every rule is a prefix.
    """
    rules, left = candidates(policy)
    if prefix_only:
        merged: dict[tuple[tuple[str, ...], str], Rule] = {}
        for r in rules:
            key = (r.tokens, r.decision)
            prev = merged.get(key)
            ids = tuple(sorted(set(r.action_ids) | set(prev.action_ids if prev else ())))
            merged[key] = Rule(r.tokens, False, r.decision, ids, (prev or r).justification)
        rules = sorted(merged.values(), key=lambda r: (r.tokens, STRICTNESS[r.decision]))
    samples = policy_samples(policy, evals)
    if classify is not None:
        samples += probes(rules, classify)
        # A compound line is decided part by part by the agents' own permission checks.
        parts = {p for s in samples for p in compound_parts(s.command)}
        samples += [Sample(p, classify(p), "part") for p in sorted(parts)]
    kept, dropped = prune(rules, samples, matches)
    return kept, sorted(left + dropped, key=lambda x: (x.action_id, x.reason))


_SPLIT_RE = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")


def compound_parts(command: str) -> list[str]:
    """The simple commands of a compound line (``[]`` for a simple command)."""
    parts = [p for p in _SPLIT_RE.split(command) if p.strip()]
    return parts if len(parts) > 1 else []


@lru_cache(maxsize=65536)
def _split(command: str) -> tuple[str, ...] | None:
    try:
        return tuple(shlex.split(command))
    except ValueError:
        return None


def argv_of(command: str) -> list[str] | None:
    """A command's argv as a shell would split it (``None`` when it cannot be split)."""
    got = _split(command)
    return None if got is None else list(got)


def first_word(command: str) -> str:
    """The program a command line starts with (rules are indexed by it)."""
    return command.strip().split(" ", 1)[0] if command.strip() else ""


def prefix_match(rule: Rule, command: str) -> bool:
    """Token semantics shared by Codex, OPA and the JSON table: argv equals (exact) or
    starts with (prefix) the rule's tokens."""
    argv = _split(command)
    if argv is None:
        return False
    n = len(rule.tokens)
    return argv == rule.tokens if rule.exact else (len(argv) >= n and argv[:n] == rule.tokens)


def matched_examples(rule: Rule, samples: list[Sample], matches: Callable[[Rule, str], bool],
                     limit: int = 2) -> tuple[list[list[str]], list[list[str]]]:
    """Commands (as argv) the rule matches, and near misses (same program) it does not."""
    hit: list[list[str]] = []
    miss: list[list[str]] = []
    for s in samples:
        argv = argv_of(s.command)
        if not argv or any(t in _OPERATORS or "$" in t for t in argv):
            continue
        if matches(rule, s.command):
            if len(hit) < limit and argv not in hit:
                hit.append(argv)
        elif argv[0] == rule.tokens[0] and len(miss) < limit and argv not in miss:
            miss.append(argv)
    if not hit:
        hit.append(list(rule.tokens))
    return hit, miss


def rule_tiers(policy: Policy, rule: Rule) -> list[str]:
    """The tiers of the actions a rule was made from."""
    acts = policy.actions()
    return sorted({acts[a].tier for a in rule.action_ids if a in acts})


def table_rows(policy: Policy, rules: list[Rule]) -> list[dict[str, object]]:
    """Rules as plain data (the JSON table and OPA's data.json share this shape)."""
    return [{"match": "exact" if r.exact else "prefix", "argv": list(r.tokens), "decision": r.decision,
             "tiers": rule_tiers(policy, r), "action_ids": list(r.action_ids), "justification": r.justification}
            for r in rules]


def left_summary(left: list[Left]) -> str:
    """Markdown list of what the hook decides instead of a static rule."""
    lines = ["# Left to the hook", "",
             "These action classes have no static rule; `stackpolicy hook` (the full classifier) decides them.", ""]
    for x in left:
        lines.append(f"- `{x.action_id}` ({x.decision}): `{x.command}` — {x.reason}")
    return "\n".join(lines) + "\n"
