"""Argv-prefix rules compiled from the decision table's classes, for targets whose rule
language is a command prefix (Codex ``prefix_rule``, Claude Code ``Bash(prefix *)``).

The candidates are the *classes' own shapes*, not instance commands: every tool of the risk
rules' verb tables with each literal subcommand (``kubectl delete``, ``terraform destroy``,
``aws s3 rb``), refined by the object kinds a row names (``kubectl delete ns``). Each
candidate prefix gets a decision from the classifier itself (the one decide()):

* ``base``: the tier of the bare prefix (no target, no environment: unresolved counts as prod);
* ``reach``: the highest tier of any probe extension — the prefix plus flags that widen scope
  (``--all``, ``-A``, ``--force``), production namespaces and contexts of the estate, the
  estate's own high-risk targets (deletion-protected, shared, stateful, sensitive), secrets.

Then: ``allow`` only when ``reach`` is T0/T1 (no longer line with that prefix the probes
know of is worse); ``forbidden`` when ``base`` is T3; ``prompt`` when ``base`` is T2. A
prefix whose bare form is T0/T1 but which can be extended into T2/T3 gets no rule: a more
specific candidate or the target's hook (``stackpolicy hook``, the full classifier) decides.
A rule is never an exact instance command, so appending an argument cannot escape a deny,
and the targets check every command of a compound line on its own.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from generators.decision.decide import Table, decide
from generators.decision.facts import Facts
from generators.decision.model import ANY_KIND, UNRESOLVED_ENV, ClassKey, DecisionTable, TargetProfile
from generators.risk.model import Decision, Tier, max_tier, tier_index
from generators.risk.rules import Rules

# Where package managers put a tool: rules list these absolute paths too, so a target that
# does not resolve host executables still matches `/usr/local/bin/kubectl delete ...`.
HOST_DIRS: tuple[str, ...] = ("/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin",
                              "/snap/bin")
# A few extensions probed on every candidate (the parser's reading of a longer line). The bound
# itself is symbolic: every verb class the rules' rows can give a longer line (`row_classes`),
# each at the highest tier decide() can give it (`class_reach`: scope, production, sensitive
# data, a protected or shared target).
VERB_TAILS: tuple[tuple[str, ...], ...] = (
    (), ("x",), ("secret", "x", "-o", "yaml"), ("--raw",), ("-c", "DROP TABLE x"), ("--force",), ("--all",),
)
# Before a prefix is allowed: options whose value is a command the tool runs later or at once
# (the parser reads these as hidden execution), in the spellings tools use for them.
HIDDEN_EXEC_TAILS: tuple[tuple[str, ...], ...] = (
    ("core.sshCommand", "sh -c id"), ("-c", "core.sshCommand=sh -c id"), ("alias.x", "!sh -c id"),
    ("--upload-pack", "sh -c id"), ("--exec", "sh -c id"), ("-exec", "sh", "-c", "id", ";"),
    ("--to-command", "sh -c id"), ("-e", "sh -c id"), ("--command", "sh -c id"), ("x", "sh -c id"),
)


@dataclass(frozen=True)
class PrefixRule:
    """One compiled rule: argv starting with ``tokens`` (the first may be any of ``programs``)."""

    programs: tuple[str, ...]  # the tool's names and absolute paths, alternatives for argv[0]
    tokens: tuple[str, ...]  # the rest of the prefix (subcommand words, object kind)
    decision: Decision
    base: Tier
    reach: Tier
    classes: tuple[str, ...]  # the table classes the probes fell in
    justification: str

    @property
    def text(self) -> str:
        return shlex.join((self.programs[0], *self.tokens))

    def matches(self, argv: list[str]) -> bool:
        """Codex / Claude Code prefix semantics on an already-split command."""
        n = len(self.tokens)
        return bool(argv) and argv[0] in self.programs and tuple(argv[1:1 + n]) == self.tokens


@dataclass
class Verdict:
    tier: Tier
    action_class: str | None


def _literal(words: Iterable[str]) -> list[str]:
    return [w for w in words if w and "*" not in w and "?" not in w and "[" not in w]


def candidates(rules: Rules) -> dict[tuple[str, ...], str]:
    """Every (tool, subcommand words[, kind]) shape of the verb tables, with its tool."""
    aliases_of: dict[str, list[str]] = {}
    for alias, canon in rules.kind_aliases.items():
        aliases_of.setdefault(canon, []).append(alias)
    out: dict[tuple[str, ...], str] = {}
    for tool, rows in sorted(rules.tools.items()):
        out[(tool,)] = tool
        for row in rows:
            for verb in _literal(row.verb):
                words = tuple(w for w in verb.split() if not w.startswith("-"))
                if not words or words != tuple(verb.split()):
                    continue  # `upgrade --install`: a flag is not a positional prefix
                out[(tool, *words)] = tool
                for kind in _literal(row.kind):
                    for k in sorted({kind, *aliases_of.get(kind, [])}):
                        out[(tool, *words, k)] = tool
    return out


def programs(tool: str, rules: Rules) -> tuple[str, ...]:
    """argv[0] spellings of ``tool``: its name, aliases, ``.sh`` scripts, absolute paths."""
    names = [tool, *sorted(a for a, c in rules.tool_aliases.items() if c == tool)]
    if tool.startswith("kafka-"):
        names += [n + ".sh" for n in list(names)]
    return tuple(dict.fromkeys(names + [f"{d}/{n}" for n in names for d in HOST_DIRS]))


def class_reach(verb_class: str, rules: Rules, table: Table) -> Tier:
    """The highest tier decide() can give a command of ``verb_class``: any object kind, an
    unresolved (so production) environment, any scope, sensitive data, and a target that is
    shared, stateful, high fan-in and deletion-protected — or any of the table's exceptions."""
    worst: Tier = "T0"
    scopes = ["one", *sorted(rules.scope.escalations)]
    for kind in [ANY_KIND, *sorted(rules.kinds)]:
        profile = TargetProfile(id="stackpolicy:worst-case", name="worst-case", kind=kind, stateful=True,
                                deletion_protection=True, fan_in=rules.blast_radius.high_fan_in)
        for scope in scopes:
            for sensitive in (False, True):
                key = ClassKey(verb_class, kind, UNRESOLVED_ENV, scope, sensitive)
                for facts in (Facts(key, "", "", ""), Facts(key, "", "", "", target=profile.id, profile=profile)):
                    worst = max_tier(worst, decide(facts, rules, table).tier)
    # A reviewer may have raised any class or target of this verb class.
    for c in table.table.classes:
        if c.verb_class == verb_class:
            worst = max_tier(worst, c.tier)
    for e in table.table.exceptions:
        if e.class_id.split("/", 1)[0] == verb_class:
            worst = max_tier(worst, e.tier)
    return worst


def kind_tokens(rules: Rules) -> list[str]:
    """Object kinds (and their aliases) that move a tier on their own: a refinement of a
    subcommand prefix (``kubectl delete`` → ``kubectl delete ns``) can then be decided."""
    weighty = {k for k, i in rules.kinds.items() if i.delete == "T3" or i.shared}
    return sorted(weighty | {a for a, k in rules.kind_aliases.items() if k in weighty})


_CONDITIONS = ("kind", "flags", "values", "no_flags", "sql", "args", "argv", "source", "target", "paths", "all_paths",
               "via")


def row_classes(tool: str, words: tuple[str, ...], rules: Rules) -> set[str]:
    """Every verb class the risk rules can give a command starting with ``tool words``: each
    row whose verb matches those words (or extends them), up to the first row that matches
    them without any condition (rows are tried in order), plus the global rows."""
    tool = rules.tool_aliases.get(tool, tool)
    verb = " ".join(words).lower()
    out: set[str] = set()
    for row in rules.tools.get(tool, []):
        exact = any(fnmatch.fnmatchcase(verb, p) for p in row.verb)
        longer = any(p.startswith(verb + " ") for p in row.verb) if verb else True
        if not (exact or longer):
            continue
        cls = row.cls
        if cls == "unknown" and verb in rules.verbs:
            cls = rules.verbs[verb]  # the classifier's generic fallback for a verb it knows
        out.add(cls)
        if exact and not any(getattr(row, c, None) for c in _CONDITIONS):
            return out | {r.cls for r in rules.global_rules}
    if verb in rules.verbs:
        out.add(rules.verbs[verb])
    return out | {"unknown"} | {r.cls for r in rules.global_rules}


def _decide(cand: tuple[str, ...], classify: Callable[[str], Verdict],
            reach_of: Callable[[str], Tier], rules: Rules) -> tuple[Verdict, Tier, set[str], str]:
    line = shlex.join(cand)
    bare = classify(line)
    reach: Tier = "T0"
    classes: set[str] = set()
    worst = line
    # What the rules can make of any longer line (flags, kinds, SQL they condition on).
    for cls in sorted(row_classes(cand[0], cand[1:], rules)):
        t = reach_of(cls)
        if tier_index(t) > tier_index(reach):
            reach, worst = t, f"{line} … ({cls})"
    for tail in VERB_TAILS:
        v = classify(shlex.join(cand + tail)) if tail else bare
        if v.action_class:
            classes.add(v.action_class)
        t = max_tier(v.tier, reach_of((v.action_class or "unknown/").split("/", 1)[0]))
        if tier_index(t) > tier_index(reach):
            reach, worst = t, shlex.join(cand + tail)
    return bare, reach, classes, worst


def compile_rules(table: DecisionTable, rules: Rules, classify: Callable[[str], Verdict]) -> list[PrefixRule]:
    """The prefix rules of ``table`` (see the module docstring for how each is decided)."""
    idx = Table(table)
    reach_cache: dict[str, Tier] = {}

    def reach_of(verb_class: str) -> Tier:
        if verb_class not in reach_cache:
            reach_cache[verb_class] = class_reach(verb_class if verb_class in rules.classes else "unknown", rules, idx)
        return reach_cache[verb_class]

    kinds = kind_tokens(rules)
    out: list[PrefixRule] = []
    for cand, tool in sorted(candidates(rules).items()):
        line = shlex.join(cand)
        bare, reach, classes, worst = _decide(cand, classify, reach_of, rules)
        verb_class = (bare.action_class or "").split("/", 1)[0]
        if 2 <= len(cand) <= 3 and verb_class in rules.classes and rules.classes[verb_class].deletes and bare.tier != "T3":
            # Deleting, T3 only for some objects: the object kind settles it (`kubectl delete ns`).
            for k in kinds:
                sub = classify(shlex.join((*cand, k)))
                # Only where the tool read the word as the object kind (not as a target's name).
                sub_kind = (sub.action_class or "").split("/", 1)[-1].split("@", 1)[0]
                if sub.tier == "T3" and sub_kind == rules.kind(k):
                    out.append(PrefixRule(programs(tool, rules), (*cand[1:], k), "deny", "T3", "T3",
                                          (sub.action_class or "",), f"{line} {k} is T3 ({sub.action_class})"))
        if tier_index(reach) <= 1:
            for tail in HIDDEN_EXEC_TAILS:
                v = classify(shlex.join(cand + tail))
                if tier_index(v.tier) > tier_index(reach):
                    reach, worst = v.tier, shlex.join(cand + tail)
        if tier_index(reach) <= 1:
            decision: Decision = "allow"
            why = f"{line} is {bare.tier}, and no extension can be worse than {reach}"
        elif bare.tier == "T3":
            decision = "deny"
            why = f"{line} is T3 ({bare.action_class})"
        elif bare.tier == "T2":
            decision = "ask"
            why = f"{line} is T2 ({bare.action_class}); worse lines such as `{worst}` ({reach}) are denied by the hook"
        else:
            continue  # safe alone, risky extended: a more specific rule or the hook decides
        if len(cand) == 1 and decision != "deny":
            # A bare tool takes free-form arguments (`cat ~/.aws/credentials`): no probe set bounds
            # them, so only a deny is safe at this width; the hook decides the rest.
            continue
        out.append(PrefixRule(programs(tool, rules), cand[1:], decision, bare.tier, reach, tuple(sorted(classes)), why))
    out.sort(key=lambda r: (r.programs[0], r.tokens))
    return _prune(out)


def _prune(rules: list[PrefixRule]) -> list[PrefixRule]:
    """Drop a rule made redundant by a shorter prefix of the same tool with the same decision
    (the strictest match wins, so it would change nothing)."""
    by_prog: dict[tuple[str, ...], list[PrefixRule]] = {}
    for r in rules:
        by_prog.setdefault(r.programs, []).append(r)
    kept: list[PrefixRule] = []
    for r in rules:
        shorter = [o for o in by_prog[r.programs] if len(o.tokens) < len(r.tokens) and r.tokens[:len(o.tokens)] == o.tokens]
        # Any shorter matching rule at least as strict makes this one change nothing.
        if any(o.decision == r.decision or _rank(o.decision) > _rank(r.decision) for o in shorter):
            continue
        kept.append(r)
    return kept


def _rank(d: str) -> int:
    return {"allow": 0, "ask": 1, "deny": 2}[d]


def effective(rules: Iterable[PrefixRule], argv: list[str]) -> Decision | None:
    """The strictest decision of the rules matching ``argv`` (``None``: no rule matches)."""
    best: Decision | None = None
    for r in rules:
        if r.matches(argv) and (best is None or _rank(r.decision) > _rank(best)):
            best = r.decision
    return best
