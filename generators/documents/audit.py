"""What a written policy promises, measured from the files: its size, and whether every command
it shows is decided the way it says.

Used by the tests (the policy's contract: every example command in ``policy.md`` and every
command in ``policy.yaml`` classifies, with ``classify --policy policy.yaml``, to the tier shown)
and by the benchmark (sizes at scale).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generators.classify import Classifier, load_policy
from generators.documents.rowids import expand_class_row
from generators.review.parse import _split_cells, parse_policy
from generators.risk.rules import Rules

# An example in the class table: a code span that is a link's text, not marked as a pattern in
# words or a multi-line command shown on one line.
_EXAMPLE_RE = re.compile(r"\[(`+) ?(.*?) ?\1\]\([^)]*\)(?! \((?:pattern|multi-line)\))(?: \(exception: (T\d)\))?")


@dataclass(frozen=True)
class Disagreement:
    """A command whose tier in the document differs from what classify decides."""

    where: str  # "policy.md:<line>" or "policy.yaml:<class id>"
    command: str
    shown: str
    decided: str


@dataclass(frozen=True)
class DocumentStats:
    """The reviewer's document at a glance."""

    bytes: int
    lines: int
    classes: int
    class_rows: int
    exceptions: int
    exception_rows: int
    questions: int
    questions_shown: int
    mermaid_nodes: int

    @property
    def kb(self) -> float:
        return self.bytes / 1024


def document_stats(out_dir: str | Path) -> DocumentStats:
    """Sizes of ``policy.md`` (and counts from ``policy.yaml``) in ``out_dir``."""
    import yaml

    out = Path(out_dir)
    md = (out / "policy.md").read_text(encoding="utf-8")
    data = yaml.load((out / "policy.yaml").read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    parsed = parse_policy(md, str(out / "policy.md"))
    block = re.search(r"```mermaid\n(.*?)```", md, re.S)
    nodes = len(re.findall(r'^\s+s\d+\["', block.group(1), re.M)) if block else 0
    shown = len(re.findall(r"^\d+\. \*\*", md.split("## Open questions", 1)[-1], re.M))
    table = data.get("table") or {}
    return DocumentStats(
        bytes=len(md.encode("utf-8")), lines=md.count("\n"), classes=len(table.get("classes") or []),
        class_rows=len(parsed.classes), exceptions=len(table.get("exceptions") or []),
        exception_rows=len(parsed.exceptions), questions=len(data.get("questions") or []), questions_shown=shown,
        mermaid_nodes=nodes)


def disagreements(out_dir: str | Path, rules: Rules | None = None) -> tuple[int, list[Disagreement]]:
    """(commands checked, disagreements): every example command of ``policy.md``'s class table
    against its row's tier, and every instance command of ``policy.yaml`` against the instance's
    tier, each classified as ``classify --policy policy.yaml`` does."""
    out = Path(out_dir)
    table = load_policy(out / "policy.yaml")
    classifier = Classifier(rules, None, table)
    classes = table.class_map()
    found: list[Disagreement] = []
    checked = 0
    md = (out / "policy.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    for rid, row in parse_policy(md).classes.items():
        cells = _split_cells(lines[row.line - 1])
        for m in _EXAMPLE_RE.finditer(cells[-1]):
            command = m.group(2).replace("\\|", "|")
            shown = m.group(3) or row.tier  # an exception's example shows its own tier
            checked += 1
            got = classifier.classify(command).tier
            if got != shown:
                found.append(Disagreement(f"policy.md:{row.line}", command, shown, got))
        for cid in expand_class_row(rid):
            if cid not in classes:
                found.append(Disagreement(f"policy.md:{row.line}", "", row.tier, "no such class in policy.yaml"))
    for c in table.classes:
        for i in c.instances:
            if not i.is_command:
                continue
            checked += 1
            got = classifier.classify(i.command).tier
            if got != i.tier:
                found.append(Disagreement(f"policy.yaml:{c.id}", i.command, i.tier, got))
    return checked, found


