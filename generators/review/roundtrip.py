"""Regeneration that keeps reviewer work: the step between rendering and the disk.

For each document: read the reviewed file (ours), the last generated version (base, under
``<out>/.stackpolicy/``) and the stored decisions; collect the reviewer's decisions; apply
them to the fresh drafts; render (theirs); three-way merge the markdown; then write every
file at once (all staged to temp files first, so a failure leaves the old files in place).
``force`` starts over from the fresh drafts and keeps a backup of what was there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from generators.documents.model import EvalSuite, Policy
from generators.documents.rowids import expand_class_row
from generators.review.decisions import Decisions, apply_to_evals, apply_to_policy, collect
from generators.risk.rules import Rules
from generators.review.parse import CONFLICT_RE, Parsed, Problem, parse_evals, parse_policy
from generators.review.textmerge import Conflict, merge_text
from inventory.io import Text, dump_yaml, write_files_atomically

STATE_DIR = ".stackpolicy"
DECISIONS = "decisions.yaml"
BACKUP_DIR = "backup"
POLICY_MD, EVALS_MD = "policy.md", "evals.md"

# The rendered files by name: a text, or a writer of it (large YAML is streamed to disk).
Renderer = Callable[[Policy | None, EvalSuite | None], dict[str, Text]]


class ReviewError(Exception):
    """The reviewed files cannot be merged yet (e.g. unresolved conflict markers)."""


@dataclass
class ReviewReport:
    """What the merge did: conflicts and problems make the run fail (exit 1)."""

    conflicts: dict[str, list[Conflict]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    decisions_applied: int = 0
    backups: list[Path] = field(default_factory=list)
    merged_without_base: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.conflicts.values()) and not self.problems


def state_dir(out_dir: str | Path) -> Path:
    """Where the last generated versions and the decisions live (committed with the documents)."""
    return Path(out_dir) / STATE_DIR


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def load_decisions(out_dir: str | Path) -> Decisions:
    """Stored decisions (empty when none); a broken file is a :class:`ReviewError`."""
    path = state_dir(out_dir) / DECISIONS
    text = _read(path)
    if not text:
        return Decisions()
    try:
        return Decisions.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValueError) as exc:
        raise ReviewError(f"{path}: cannot read stored decisions: {exc}") from exc


def _refuse_markers(path: Path, text: str | None) -> None:
    for i, ln in enumerate((text or "").splitlines(), 1):
        if CONFLICT_RE.match(ln):
            raise ReviewError(f"{path}:{i}: unresolved merge conflict; resolve it (or run with --force) first")


def write_all(root: str | Path, texts: dict[str, Text]) -> list[Path]:
    """Write ``texts`` (relative path -> text) under ``root``, all staged before any replace."""
    return write_files_atomically(root, texts)


def _backup(out: Path, names: list[str], texts: dict[str, Text], report: ReviewReport) -> None:
    """Copy each existing ``out/<name>`` to ``out/.stackpolicy/backup/<basename>`` (one slot)."""
    for name in names:
        old = _read(out / name)
        if old is not None:
            rel = f"{STATE_DIR}/{BACKUP_DIR}/{Path(name).name}"
            texts[rel] = old
            report.backups.append(out / rel)


def reconcile(policy: Policy | None, evals: EvalSuite | None, out_dir: str | Path, render: Renderer,
              *, force: bool = False, rules: Rules | None = None) -> tuple[dict[str, Text], ReviewReport]:
    """Every file to write (relative to ``out_dir``) and the report, reviewer edits kept.

    ``render(policy, evals)`` returns the rendered documents by file name (only those being
    regenerated). ``rules``: the risk rules the table was built with (instances are re-decided
    with them when a reviewer moved a tier). Raises :class:`ReviewError` when the reviewed files
    cannot be merged.
    """
    out = Path(out_dir)
    st = state_dir(out)
    report = ReviewReport()
    if force:
        texts = render(policy, evals)
        _backup(out, [n for n in texts if n.endswith((".md", ".yaml"))] + [f"{STATE_DIR}/{DECISIONS}"],
                texts, report)
        for name in (POLICY_MD, EVALS_MD):
            if name in texts:
                texts[f"{STATE_DIR}/{name}"] = texts[name]
        texts[f"{STATE_DIR}/{DECISIONS}"] = dump_yaml(Decisions().model_dump(mode="json", exclude_none=True))
        return texts, report

    ours = {n: _read(out / n) for n in (POLICY_MD, EVALS_MD)}
    base = {n: _read(st / n) for n in (POLICY_MD, EVALS_MD)}
    for n, text in ours.items():
        _refuse_markers(out / n, text)
    stored = load_decisions(out)

    def parse(fn: Callable[[str, str], Parsed], text: str | None, path: Path) -> Parsed | None:
        return fn(text, str(path)) if text is not None else None

    ours_p = parse(parse_policy, ours[POLICY_MD], out / POLICY_MD)
    base_p = parse(parse_policy, base[POLICY_MD], st / POLICY_MD)
    ours_e = parse(parse_evals, ours[EVALS_MD], out / EVALS_MD)
    base_e = parse(parse_evals, base[EVALS_MD], st / EVALS_MD)
    for p in (ours_p, ours_e):
        if p is not None:
            report.problems.extend(p.problems)

    decisions = collect(ours_p, base_p, ours_e, base_e, stored, policy, evals) if policy is not None \
        else stored
    if policy is not None:
        policy = apply_to_policy(policy, decisions, rules)
        ids = {c.id for c in policy.table.classes}
        report.decisions_applied = sum(1 for k in decisions.classes if k in ids) + len(decisions.exceptions)
        before = base_p or ours_p
        if before is not None and (before.classes or not before.rows):
            known = {cid for rid in before.classes for cid in expand_class_row(rid)}
            report.added = sorted(ids - known)
            report.removed = sorted(known - ids)
    if evals is not None:
        evals = apply_to_evals(evals, decisions)
    theirs = render(policy, evals)
    texts = dict(theirs)
    for name in (POLICY_MD, EVALS_MD):
        if name not in theirs:
            continue
        texts[f"{STATE_DIR}/{name}"] = theirs[name]
        mine, last = ours[name], base[name]
        if mine is None or mine == theirs[name]:
            continue
        if last is None:
            # No merge base (first run with review, or the state was deleted): structured
            # decisions were still collected; free text cannot be merged, so keep a copy.
            _backup(out, [name], texts, report)
            report.merged_without_base.append(name)
            continue
        merged = merge_text(last, mine, theirs[name])
        texts[name] = merged.text
        if merged.conflicts:
            report.conflicts[name] = merged.conflicts
    texts[f"{STATE_DIR}/{DECISIONS}"] = dump_yaml(decisions.model_dump(mode="json", exclude_none=True))
    return texts, report
