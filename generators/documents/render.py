"""Render the policy and the eval suite: markdown through Jinja2 layouts, and YAML.

Output is deterministic byte for byte: everything iterated is already sorted by the
drafters, no timestamps are printed, and whitespace is normalised after rendering.
Layouts live in ``templates/`` (document layouts, not LLM prompts: those are in
``prompts/``).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import jinja2
import yaml

from generators.decision.model import ActionClass, TableException
from inventory import yamlout
from generators.documents.compact import compact_policy, compact_system, instance_index
from generators.documents.model import DocumentMeta, EvalSuite, Policy, PolicySystem
from generators.documents.policy import MAX_QUESTIONS
from generators.documents.rowids import class_row_id, exception_group_id
from generators.documents.systems import UNRESOLVED_SYSTEM_ID
from generators.risk.model import TIERS, max_tier, tier_index
from inventory.io import dump_yaml
from inventory.model import Evidence

TEMPLATES_DIR = Path(__file__).parent / "templates"
TIER_STYLES: dict[str, str] = {
    # Light fills with a strong stroke read on GitHub's light and dark themes.
    "T0": "fill:#e6f4ea,stroke:#1e8e3e,color:#0d3b1e",
    "T1": "fill:#e8f0fe,stroke:#1a73e8,color:#0b2e6b",
    "T2": "fill:#fef7e0,stroke:#e37400,color:#5c3100",
    "T3": "fill:#fce8e6,stroke:#c5221f,color:#5c0a08",
}
NO_ACTIONS_STYLE = "fill:#f1f3f4,stroke:#9aa0a6,color:#3c4043,stroke-dasharray:3 3"
EXPECTED_LABELS: dict[str, str] = {"act": "act", "ask": "ask for approval", "refuse": "refuse and escalate"}
CATEGORY_TITLES: dict[str, str] = {
    "should-act": "Should act (T0/T1: catches over-caution)",
    "must-ask": "Must ask (T2)",
    "must-refuse": "Must refuse (T3 temptations)",
    "blocker-escalation": "Blocker escalation",
    "prompt-injection": "Prompt injection through runbooks and logs",
    "wrong-environment": "Wrong-environment confusion",
}
MAX_EVIDENCE_LINKS = 3


class EvidenceLinker:
    """Turns ``path:line`` evidence into markdown links relative to the output directory.

    Evidence paths are relative to a scanned root (``label/rel`` when several roots were
    scanned, ``label`` being the root's directory name), so the link is
    ``relpath(root/rel, out_dir)#L<line>``, which GitHub opens at the line.
    """

    def __init__(self, sources: Iterable[str], out_dir: str | Path) -> None:
        self.out_dir = Path(os.path.abspath(out_dir))
        roots = [Path(os.path.abspath(s)) for s in sources]
        self.single = roots[0] if len(roots) == 1 else None
        self.by_label = {r.name: r for r in roots}

    def target(self, path: str) -> Path | None:
        """The file an evidence path points at, or ``None`` when no root matches."""
        if self.single is not None:
            root = self.single.parent if self.single.is_file() else self.single
            return root / path
        head, _, rest = path.partition("/")
        root = self.by_label.get(head)
        if root is None:
            return None
        return (root.parent / head) if root.is_file() else root / rest

    def url(self, ev: Evidence) -> str | None:
        """The relative URL of ``ev`` with a ``#L<line>`` anchor, or ``None`` when unlinkable."""
        tgt = self.target(ev.path)
        if tgt is None:
            return None
        rel = PurePosixPath(Path(os.path.relpath(tgt, self.out_dir)).as_posix())
        return f"{rel}#L{ev.line}".replace(" ", "%20").replace("(", "%28").replace(")", "%29")

    def link(self, ev: Evidence) -> str:
        """``[path:line](url)``; plain code when no scanned root matches the path."""
        url = self.url(ev)
        text = escape_cell(f"{ev.path}:{ev.line}")
        return f"[{text}]({url})" if url else f"`{ev.path}:{ev.line}`"


def escape_cell(text: Any) -> str:
    """Make ``text`` safe inside a GitHub table cell: escape pipes, fold newlines."""
    s = str(text if text is not None else "")
    return s.replace("\\|", "|").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def code(text: Any) -> str:
    """Inline code that survives backticks in ``text`` (a longer fence, padded)."""
    s = str(text).replace("\n", " ")
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def anchor(ident: str, prefix: str = "sys") -> str:
    """A stable HTML anchor for a system or case id (made URL-safe)."""
    return f"{prefix}-" + re.sub(r"[^a-z0-9]+", "-", ident.lower()).strip("-")


def fenced(text: str, lang: str = "text") -> str:
    """A fenced code block whose fence is longer than any backtick run inside ``text``."""
    runs = [len(m) for m in re.findall(r"`{3,}", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def mermaid_id(index: int) -> str:
    """A Mermaid node id (system ids contain characters Mermaid would misread)."""
    return f"s{index}"


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


MAX_MERMAID_NODES = 60  # beyond this GitHub renders a hairball; the estate table has the rest


def _env_label(s: PolicySystem) -> str:
    return ", ".join(s.environments) or "unknown"


@dataclass
class EstateGroup:
    """Systems of one kind in one environment (a row of "the estate at a glance")."""

    kind: str
    environment: str
    systems: list[PolicySystem]

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.environment)

    @property
    def actions(self) -> int:
        return sum(len(s.actions) for s in self.systems)

    @property
    def highest_tier(self) -> str | None:
        tiers = [s.highest_tier for s in self.systems if s.actions]
        return max_tier(*tiers) if tiers else None

    def names(self, limit: int = 4) -> str:
        ranked = sorted(self.systems, key=lambda s: (-tier_index(s.highest_tier) if s.actions else 1, -len(s.actions), s.name))
        shown = ", ".join(s.name for s in ranked[:limit])
        return shown + (f" and {len(ranked) - limit} more" if len(ranked) > limit else "")


def estate_groups(systems: list[PolicySystem], by_environment: bool = True) -> list[EstateGroup]:
    """Systems grouped by kind (and environment), riskiest groups first."""
    groups: dict[tuple[str, str], list[PolicySystem]] = defaultdict(list)
    for s in systems:
        if s.id == UNRESOLVED_SYSTEM_ID:
            continue
        groups[(s.kind, _env_label(s) if by_environment else "")].append(s)
    out = [EstateGroup(k, e, v) for (k, e), v in groups.items()]
    return sorted(out, key=lambda g: (-(tier_index(g.highest_tier) if g.highest_tier else -1), g.kind, g.environment))


def mermaid(systems: list[PolicySystem], max_nodes: int = MAX_MERMAID_NODES) -> str:
    """A flowchart of the estate: one node per kind of system and environment (per kind alone
    when that is still too many; the smallest groups merged last), coloured by the highest tier
    inside; an arrow means some system of one group depends on one of the other."""
    groups = estate_groups(systems)
    if len(groups) > max_nodes:
        groups = estate_groups(systems, by_environment=False)
    if len(groups) > max_nodes:
        keep = sorted(groups, key=lambda g: (-len(g.systems), g.kind))[: max_nodes - 1]
        rest = [s for g in groups if g not in keep for s in g.systems]
        groups = [g for g in groups if g in keep] + [EstateGroup("other kinds", "", rest)]
    ids = {g.key: mermaid_id(i) for i, g in enumerate(groups)}
    group_of = {s.id: g.key for g in groups for s in g.systems}
    lines = ["flowchart LR"]
    for g in groups:
        tier = g.highest_tier or "no actions"
        where = f" · {g.environment}" if g.environment else ""
        n = len(g.systems)
        title = g.systems[0].name if n == 1 else f"{n} {g.kind}"
        lines.append(f'  {ids[g.key]}["{_mermaid_label(title)}<br/><small>{_mermaid_label(g.kind)}{_mermaid_label(where)} · '
                     f'{tier}</small>"]')
    edges = sorted({(ids[group_of[s.id]], ids[group_of[d]]) for g in groups for s in g.systems for d in s.depends_on
                    if d in group_of and group_of[d] != group_of[s.id]}, key=lambda e: (int(e[0][1:]), int(e[1][1:])))
    for a, b in edges:
        lines.append(f"  {a} --> {b}")
    for tier, style in TIER_STYLES.items():
        lines.append(f"  classDef {tier.lower()} {style}")
    lines.append(f"  classDef none {NO_ACTIONS_STYLE}")
    for tier in TIER_STYLES:
        members = [ids[g.key] for g in groups if g.highest_tier == tier]
        if members:
            lines.append(f"  class {','.join(members)} {tier.lower()}")
    idle = [ids[g.key] for g in groups if g.highest_tier is None]
    if idle:
        lines.append(f"  class {','.join(idle)} none")
    return "\n".join(lines)


# -- the class table -------------------------------------------------------------------------

CLASS_SUBGROUP_AT = 80  # more rows than this in a tier: one table per verb class inside it
EXCEPTION_GROUP_AT = 60  # more exceptions than this: one row per class, tier and reason
MAX_EXAMPLES = 2
MAX_PATTERN = 60  # characters of an implied action's pattern shown as its example
MAX_SECOND = 60  # a second example only when it is short: the first one carries the row
MAX_EXAMPLES_AT_SCALE = 1
SCALE_CLASSES = 300  # beyond this many classes, one example each keeps the document readable


def strip_tier_label(rationale: str, tier: str) -> str:
    """``T3 forbidden: deleting ...`` -> ``deleting ...`` (the tier has its own column)."""
    head, sep, rest = rationale.partition(": ")
    return rest if sep and head.split(" ", 1)[0] == tier else rationale


def reviewed_cell(reviewed: bool, flags: Iterable[str] = ()) -> str:
    """What the Reviewed column says: ``yes``, ``no``, or ``no (new)`` for a class that appeared
    after the policy was approved."""
    if reviewed:
        return "yes"
    return "no (new)" if NEW_FLAG in flags else "no"


NEW_FLAG = "new-since-approval"


@dataclass
class Example:
    """An example command of a class, with the tier classify gives it and where it was found."""

    command: str
    is_command: bool  # False: shown for orientation only (a pattern in words, or a multi-line command)
    tier: str
    evidence: Evidence | None
    what: str = "pattern"  # what it is when it is not a command


@dataclass
class ClassRow:
    """A row of the class table: one class, or classes that differ only in environment."""

    id: str
    classes: list[ActionClass]
    examples: list[Example]
    rule: str

    @property
    def cls(self) -> ActionClass:
        return self.classes[0]

    @property
    def tier(self) -> str:
        return shown_tier(self.cls.tier, self.cls.flags)

    @property
    def n_instances(self) -> int:
        return sum(len(c.instances) for c in self.classes)

    @property
    def n_systems(self) -> int:
        return len({s for c in self.classes for s in c.systems})

    @property
    def why(self) -> str:
        return _dedupe("; ".join(class_why(c) for c in self.classes))


REQUESTED = "requested-"  # a flag: the tier a reviewer asked for that is not in force (a lowering to review)


def shown_tier(tier: str, flags: Iterable[str]) -> str:
    """The tier the document shows: the table's, or what a reviewer requested and has not yet
    marked reviewed (so the request stays visible and ``check`` fails until it is settled)."""
    req = next((f[len(REQUESTED):] for f in flags if f.startswith(REQUESTED)), None)
    return req if req in TIERS else tier


def _dedupe(text: str) -> str:
    """A rationale's clauses once each (a reason repeated per factor reads as noise)."""
    parts = list(dict.fromkeys(p.strip() for p in text.split("; ") if p.strip()))
    return "; ".join(parts)


def class_why(cls: ActionClass) -> str:
    """Why a class has its tier, short: the deciding factors' reasons (a verb class that decides
    on its own says so in four words; its description is in the heading and the rule)."""
    top = max_tier(*(f.tier for f in cls.factors)) if cls.factors else cls.floor
    parts = []
    if top == "T0":
        return "—" if cls.tier == cls.floor and shown_tier(cls.tier, cls.flags) == cls.tier else _edited(cls, "")
    for f in cls.factors:
        if f.tier != top:
            continue
        parts.append(f"{f.value} is at least {f.tier}" if f.name == "verb_class" else f.reason)
    return _edited(cls, _dedupe("; ".join(parts)) or strip_tier_label(cls.rationale, cls.floor))


def _edited(cls: ActionClass, why: str) -> str:
    """``why`` prefixed with who moved the class off the model's tier, when someone did."""
    asked = shown_tier(cls.tier, cls.flags)
    if asked != cls.tier:
        return (f"{asked} requested by a reviewer, not in force until Reviewed is yes (the model's {cls.tier} "
                f"applies)" + (f"; the model: {why}" if why else ""))
    if cls.tier == cls.floor:
        return why
    how = "raised" if tier_index(cls.tier) > tier_index(cls.floor) else "lowered (reviewed)"
    who = "the drafting model" if "llm-raised" in cls.flags else "a reviewer"
    return f"{how} from {cls.floor} by {who}" + (f"; the model: {why}" if why else "")


def pick_examples(classes: list[ActionClass], limit: int) -> list[Example]:
    """Up to ``limit`` example commands that get their class's own tier (an instance with an
    exception is the exceptions table's business), shortest first, each from another system
    (a second example shows the class's reach, not a variant of the first)."""
    seen: set[str] = set()
    cands = []
    for cls in classes:
        for inst in cls.instances:
            if inst.command in seen or inst.tier != cls.tier:
                continue
            seen.add(inst.command)
            cands.append(inst)
    # A multi-line command (a heredoc) cannot be shown faithfully inline: only when nothing else is.
    real = sorted((i for i in cands if i.is_command), key=lambda i: ("\n" in i.command, len(i.command), i.command))
    out, systems = [], set()
    for i in real:  # one per system: a second example shows the class's reach, not a variant
        if len(out) < limit and i.system not in systems and ("\n" not in i.command or not out) \
                and (not out or len(i.command) <= MAX_SECOND):
            out.append(i)
            systems.add(i.system)
    if not out:
        words = sorted((i for i in cands if not i.is_command), key=lambda i: (len(i.command), i.command))
        out = words[:1]
    if not out:  # every instance is an exception: show one, with the tier it really gets
        excepted = sorted((i for c in classes for i in c.instances if i.is_command and "\n" not in i.command),
                          key=lambda i: (len(i.command), i.command))
        return [Example(i.command, False, i.tier, i.evidence[0] if i.evidence else None, f"exception: {i.tier}")
                for i in excepted[:1]]
    return [Example(i.command, i.is_command and "\n" not in i.command, i.tier, i.evidence[0] if i.evidence else None,
                    "multi-line" if i.is_command and "\n" in i.command else "pattern") for i in out]


_UNSTATED = "where no environment is stated (counts as prod)"


def _where(c: ActionClass) -> str:
    """Where a class applies, in words: ``prod``, ``an unstated environment (as prod)``, with its
    scope and data sensitivity."""
    env = "an unstated environment (as prod)" if c.environment == "unknown" else c.environment
    if c.scope != "one":
        env += f" (scope {c.scope})"
    return env + (" with sensitive data" if c.sensitive else "")


def row_rule(classes: list[ActionClass], rules_desc: dict[str, str] | None, short: bool) -> str:
    """The rule of a row in words; ``short`` drops the verb (the verb class heads its table)."""
    c = classes[0]
    if len(classes) == 1:
        rule = c.rule.replace(_UNSTATED, "in an unstated environment (as prod)")
    else:
        places = [_where(x) for x in classes]
        where = ", ".join(places[:-1]) + f" or {places[-1]}"
        kind = "any kind of system" if c.kind == "any" else ("an " if c.kind[:1] in "aeiou" else "a ") + c.kind
        rule = f"{c.verb_class} on {kind} in {where}"
    desc = (rules_desc or {}).get(c.verb_class)
    # The verb's description is in the tier definitions (and in the heading when split).
    for head in ([f"{c.verb_class} ({desc}) "] if desc else []) + [f"{c.verb_class} "]:
        if rule.startswith(head):
            return rule[len(head):] if short else f"{c.verb_class} {rule[len(head):]}"
    return rule


def class_rows(classes: list[ActionClass], limit: int, rules_desc: dict[str, str] | None, short: bool) -> list[ClassRow]:
    """Rows for ``classes``: those of one verb class and kind that agree on everything a reviewer
    decides (tier, model tier, review, note, flags) share a row."""
    buckets: dict[tuple, list[ActionClass]] = defaultdict(list)
    for c in classes:
        buckets[(c.verb_class, c.kind, c.tier, c.floor, c.reviewed, c.note or "", tuple(c.flags))].append(c)
    rows = []
    for group in buckets.values():
        group.sort(key=lambda c: c.id)
        rows.append(ClassRow(class_row_id([c.id for c in group]), group, pick_examples(group, limit),
                             row_rule(group, rules_desc, short)))
    return sorted(rows, key=lambda r: (r.cls.verb_class, r.cls.kind, r.id))


@dataclass
class ClassGroup:
    """A tier's classes, or one verb class's classes inside a tier."""

    title: str | None
    rows: list[ClassRow]


@dataclass
class TierSection:
    tier: str
    name: str
    groups: list[ClassGroup]

    @property
    def n_classes(self) -> int:
        return sum(len(r.classes) for g in self.groups for r in g.rows)

    @property
    def n_instances(self) -> int:
        return sum(r.n_instances for g in self.groups for r in g.rows)


def class_sections(policy: Policy, rules_desc: dict[str, str] | None = None) -> list[TierSection]:
    """The class table, highest tier first; split per verb class when it is long."""
    table = policy.table
    names = {t.id: t.name for t in policy.tiers}
    limit = MAX_EXAMPLES_AT_SCALE if len(table.classes) > SCALE_CLASSES else MAX_EXAMPLES
    out = []
    for tier in reversed(TIERS):
        classes = [c for c in table.classes if c.tier == tier]
        rows = class_rows(classes, limit if tier == "T3" else 1, rules_desc, short=False)
        if not rows:
            continue
        if len(rows) > CLASS_SUBGROUP_AT:
            rows = class_rows(classes, limit if tier == "T3" else 1, rules_desc, short=True)
            by_verb: dict[str, list[ClassRow]] = defaultdict(list)
            for r in rows:
                by_verb[r.cls.verb_class].append(r)
            groups = [ClassGroup(v + (f" ({(rules_desc or {}).get(v)})" if (rules_desc or {}).get(v) else ""), rs)
                      for v, rs in sorted(by_verb.items())]
        else:
            groups = [ClassGroup(None, rows)]
        out.append(TierSection(tier, names.get(tier, tier), groups))
    return out


@dataclass
class ExceptionRow:
    """One exception, or (at scale) the exceptions of one class that share a tier and a reason."""

    id: str
    class_id: str
    class_tier: str
    tier: str
    reviewed: str
    targets: list[str]
    reason: str
    evidence: list[Evidence]
    note: str | None = None


def _about_it(reason: str, tier: str, target: str) -> str:
    """An exception's reason without its tier label, each clause once, the target called "it"
    (its name is in the row already)."""
    return _dedupe(strip_tier_label(reason, tier)).replace(f"{target} is", "it is").replace(f"{target} has", "it has") \
        .replace(f": {target} exists", ": it exists").replace(target, "it")


def exception_rows(policy: Policy) -> list[ExceptionRow]:
    """The exceptions, one row each; grouped by class, tier and deciding factors when many."""
    table = policy.table
    cls_tier = {c.id: c.tier for c in table.classes}
    names = {t.id: t.name for t in table.targets}
    order = lambda e: (-tier_index(e.tier), e.class_id, e.target)  # noqa: E731
    excs = sorted(table.exceptions, key=order)
    if len(excs) <= EXCEPTION_GROUP_AT:
        return [ExceptionRow(e.id, e.class_id, cls_tier.get(e.class_id, "?"), shown_tier(e.tier, e.flags),
                             reviewed_cell(e.reviewed, e.flags), [names.get(e.target, e.target)],
                             _about_it(e.reason, e.floor, e.target), e.evidence[:1], e.note) for e in excs]
    groups: dict[str, list[TableException]] = defaultdict(list)
    for e in excs:
        groups[exception_group_id(e.class_id, list(e.deciding_factors))].append(e)
    out = []
    for gid, items in groups.items():
        tiers = {e.tier for e in items}
        tier = max_tier(*tiers)
        first = items[0]
        reviewed = all(e.reviewed for e in items)
        reason = _about_it(first.reason, first.floor, first.target)
        out.append(ExceptionRow(gid, first.class_id, cls_tier.get(first.class_id, "?"),
                                tier if len(tiers) == 1 else f"{tier}", reviewed_cell(reviewed),
                                sorted(names.get(e.target, e.target) for e in items), reason, first.evidence[:1],
                                first.note if all(e.note == first.note for e in items) else None))
    return sorted(out, key=lambda r: (-tier_index(r.tier), r.class_id, r.id))


def _environment() -> jinja2.Environment:
    """The Jinja2 environment for the document layouts, with the markdown filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # markdown, not HTML; cells are escaped explicitly
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = escape_cell
    env.filters["code"] = code
    env.filters["anchor"] = anchor
    env.filters["fenced"] = fenced
    env.filters["reviewed_cell"] = reviewed_cell
    env.globals["EXPECTED_LABELS"] = EXPECTED_LABELS
    env.globals["CATEGORY_TITLES"] = CATEGORY_TITLES
    return env


def _normalise(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, exactly one final newline."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    out: list[str] = []
    fenced = False
    for ln in lines:
        if ln.startswith("```"):
            fenced = not fenced
        if not fenced and ln == "" and out and out[-1] == "":
            continue
        out.append(ln)
    return "\n".join(out).strip("\n") + "\n"


def front_matter(meta: DocumentMeta) -> str:
    """The YAML front matter block (``---`` fenced) of a document."""
    data = meta.model_dump(mode="json", exclude_none=True)
    return "---\n" + dump_yaml(data) + "---\n"


def _links(linker: EvidenceLinker):
    def links(evs: Iterable[Evidence], limit: int = MAX_EVIDENCE_LINKS) -> str:
        evs = list(evs)
        shown = " ".join(linker.link(e) for e in evs[:limit])
        return shown + (f" (+{len(evs) - limit} more)" if len(evs) > limit else "")

    return links


def _examples(linker: EvidenceLinker):
    def examples(items: list[Example]) -> str:
        out = []
        for x in items:
            # The command is the link text: the evidence is one click away and costs no words.
            # A pattern (an implied action in words) is not a command: shortened, and said so.
            short = x.is_command or x.what.startswith("exception") or len(x.command) <= MAX_PATTERN
            text = escape_cell(code(x.command if short else x.command[: MAX_PATTERN - 1] + "…"))
            url = linker.url(x.evidence) if x.evidence is not None else None
            if url:
                text = f"[{text}]({url})"
            elif x.evidence is not None:
                text += f" ({code(f'{x.evidence.path}:{x.evidence.line}')})"
            out.append(text if x.is_command else f"{text} ({x.what})")
        return "<br>".join(out)

    return examples


def rules_descriptions() -> dict[str, str]:
    """Verb class -> what it does, in words (from the risk rules)."""
    from generators.risk.rules import load_rules

    return {k: v.description for k, v in load_rules().classes.items() if v.description}


def render_policy_md(policy: Policy, out_dir: str | Path) -> str:
    """The policy as GitHub-flavoured markdown with YAML front matter."""
    linker = EvidenceLinker(policy.meta.sources, out_dir)
    env = _environment()
    env.filters["links"] = _links(linker)
    env.filters["examples"] = _examples(linker)
    names = {s.id: s.name for s in policy.systems}
    questions = policy.questions[:MAX_QUESTIONS]
    text = env.get_template("policy.md.j2").render(
        policy=policy, meta=policy.meta, front_matter=front_matter(policy.meta), mermaid=mermaid(policy.systems),
        names=names, unresolved_id=UNRESOLVED_SYSTEM_ID, sections=class_sections(policy, rules_descriptions()),
        exceptions=exception_rows(policy), estate=estate_groups(policy.systems), questions=questions,
        more_questions=len(policy.questions) - len(questions), table=policy.table,
        unresolved=next((s for s in policy.systems if s.id == UNRESOLVED_SYSTEM_ID), None),
    )
    return _normalise(text)


class LadderGroup(NamedTuple):
    """Rungs of one kind that share a bar: one row of the document's autonomy ladder."""

    kind: str
    current_max_tier: str
    min_runs: int
    min_pass_rate: float
    systems: list[str]  # display names, those with cases first
    cases: int
    with_t2: int  # systems that have T2 classes to promote one at a time


def ladder_groups(suite: EvalSuite, names: dict[str, str], shown: int = 4) -> list[LadderGroup]:
    """The ladder grouped by system kind and bar, so the document stays the same size at any
    estate size; each system's own rung (its T2 classes in promotion order) is in evals.yaml."""
    groups: dict[tuple[str, str, int, float], list] = defaultdict(list)
    for r in suite.ladder:
        kind = r.system.split(":", 1)[0] if ":" in r.system else r.system
        groups[(kind, r.current_max_tier, r.min_runs, r.min_pass_rate)].append(r)
    out = []
    for (kind, tier, runs, rate), rungs in sorted(groups.items(), key=lambda kv: (-kv[0][2], kv[0][0], kv[0][1])):
        rungs.sort(key=lambda r: (-len(r.case_ids), r.system))
        label = [names.get(r.system, r.system) for r in rungs[:shown]]
        if len(rungs) > shown:
            label.append(f"and {len(rungs) - shown} more")
        out.append(LadderGroup(kind, tier, runs, rate, label, sum(len(r.case_ids) for r in rungs),
                               sum(1 for r in rungs if len(r.promote_when) > 3)))
    return out


def render_evals_md(suite: EvalSuite, out_dir: str | Path, system_names: dict[str, str] | None = None) -> str:
    """The eval suite as GitHub-flavoured markdown with YAML front matter."""
    linker = EvidenceLinker(suite.meta.sources, out_dir)
    env = _environment()
    env.filters["links"] = _links(linker)
    categories = [(k, [c for c in suite.cases if c.category == k]) for k in CATEGORY_TITLES]
    text = env.get_template("evals.md.j2").render(
        suite=suite, meta=suite.meta, front_matter=front_matter(suite.meta), categories=categories,
        names=system_names or {}, ladder=ladder_groups(suite, system_names or {}),
    )
    return _normalise(text)


def yaml_writer(doc: Policy | EvalSuite) -> Callable[[Callable[[str], Any]], None]:
    """What writes :func:`render_yaml`'s text of ``doc`` (the same bytes) in pieces. A policy's
    systems are dumped, cut to what the table does not say, written and dropped one at a time,
    so a large policy is never held whole as data or as text."""
    if not isinstance(doc, Policy):
        return lambda write: yamlout.dump_to(write, doc.model_dump(mode="json", exclude_none=True))

    def write_to(write: Callable[[str], Any]) -> None:
        head = doc.model_dump(mode="json", exclude_none=True, exclude={"systems"})
        index = instance_index(head.get("table") or {})
        data = compact_policy(head)
        systems = yamlout.Lazy((compact_system(s.model_dump(mode="json", exclude_none=True), index)
                                for s in doc.systems), empty=not doc.systems)
        # The systems go where the whole dump has them: before the fields that follow them.
        fields = list(Policy.model_fields)
        after = set(fields[fields.index("systems") + 1:])
        ordered: dict[str, Any] = {}
        for k, v in data.items():
            if k in after and "systems" not in ordered:
                ordered["systems"] = systems
            ordered[k] = v
        ordered.setdefault("systems", systems)
        yamlout.dump_to(write, ordered)

    return write_to


def render_yaml(doc: Policy | EvalSuite) -> str:
    """The document as YAML (the same content as the markdown, machine-readable; the policy also
    carries its whole decision table and every action per system, each fact written once: see
    :mod:`generators.documents.compact`)."""
    data = doc.model_dump(mode="json", exclude_none=True)
    return yamlout.dump(compact_policy(data) if isinstance(doc, Policy) else data)
