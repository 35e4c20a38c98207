"""Render the policy and the eval suite: markdown through Jinja2 layouts, and YAML.

Output is deterministic byte for byte: everything iterated is already sorted by the
drafters, no timestamps are printed, and whitespace is normalised after rendering.
Layouts live in ``templates/`` (document layouts, not LLM prompts: those are in
``prompts/``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import yaml

from generators.documents.model import DocumentMeta, EvalSuite, Policy, PolicySystem
from generators.documents.systems import UNRESOLVED_SYSTEM_ID
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


def mermaid(systems: list[PolicySystem]) -> str:
    """A flowchart of systems and their dependencies, each node coloured by its highest tier."""
    shown = [s for s in systems if s.id != UNRESOLVED_SYSTEM_ID]
    ids = {s.id: mermaid_id(i) for i, s in enumerate(shown)}
    lines = ["flowchart LR"]
    for s in shown:
        tier = s.highest_tier if s.actions else "no actions"
        lines.append(f'  {ids[s.id]}["{_mermaid_label(s.name)}<br/><small>{_mermaid_label(s.kind)} · '
                     f'{tier}</small>"]')
    for s in shown:
        for d in s.depends_on:
            if d in ids:
                lines.append(f"  {ids[s.id]} --> {ids[d]}")
    for tier, style in TIER_STYLES.items():
        lines.append(f"  classDef {tier.lower()} {style}")
    lines.append(f"  classDef none {NO_ACTIONS_STYLE}")
    for tier in TIER_STYLES:
        members = [ids[s.id] for s in shown if s.actions and s.highest_tier == tier]
        if members:
            lines.append(f"  class {','.join(members)} {tier.lower()}")
    idle = [ids[s.id] for s in shown if not s.actions]
    if idle:
        lines.append(f"  class {','.join(idle)} none")
    return "\n".join(lines)


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


def render_policy_md(policy: Policy, out_dir: str | Path) -> str:
    """The policy as GitHub-flavoured markdown with YAML front matter."""
    linker = EvidenceLinker(policy.meta.sources, out_dir)
    env = _environment()
    env.filters["links"] = _links(linker)
    names = {s.id: s.name for s in policy.systems}
    text = env.get_template("policy.md.j2").render(
        policy=policy, meta=policy.meta, front_matter=front_matter(policy.meta), mermaid=mermaid(policy.systems),
        names=names, unresolved_id=UNRESOLVED_SYSTEM_ID,
    )
    return _normalise(text)


def render_evals_md(suite: EvalSuite, out_dir: str | Path, system_names: dict[str, str] | None = None) -> str:
    """The eval suite as GitHub-flavoured markdown with YAML front matter."""
    linker = EvidenceLinker(suite.meta.sources, out_dir)
    env = _environment()
    env.filters["links"] = _links(linker)
    categories = [(k, [c for c in suite.cases if c.category == k]) for k in CATEGORY_TITLES]
    text = env.get_template("evals.md.j2").render(
        suite=suite, meta=suite.meta, front_matter=front_matter(suite.meta), categories=categories,
        names=system_names or {},
    )
    return _normalise(text)


def render_yaml(doc: Policy | EvalSuite) -> str:
    """The document as YAML (the same content as the markdown, machine-readable)."""
    return dump_yaml(doc.model_dump(mode="json", exclude_none=True))
