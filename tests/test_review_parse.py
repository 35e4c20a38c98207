"""Parsing reviewed markdown back into decisions, with file:line for malformed edits."""

from __future__ import annotations

from pathlib import Path

from generators.documents.model import Policy
from generators.documents.render import render_evals_md, render_policy_md
from generators.documents.rowids import class_row_id, expand_class_row
from generators.pipeline import draft_documents
from generators.review.parse import parse_evals, parse_policy
from inventory.config import Config
from tests.factories import make_assessments, make_inventory


def _docs(tmp_path: Path) -> tuple[str, str, Policy]:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    return render_policy_md(policy, tmp_path), render_evals_md(evals, tmp_path), policy


def test_every_generated_row_parses_back_to_its_classes(tmp_path: Path) -> None:
    md, _, policy = _docs(tmp_path)
    parsed = parse_policy(md, "policy.md")
    assert parsed.problems == []
    classes = policy.table.class_map()
    covered = [cid for rid in parsed.classes for cid in expand_class_row(rid)]
    assert sorted(covered) == sorted(classes)  # each class in exactly one row
    for rid, row in parsed.classes.items():
        assert {classes[c].tier for c in expand_class_row(rid)} == {row.tier}
        assert row.reviewed is False and row.note is None
        assert md.splitlines()[row.line - 1].startswith(f"| `{rid}`")
    assert set(parsed.exceptions) == {e.id for e in policy.table.exceptions}
    for eid, row in parsed.exceptions.items():
        assert row.tier == next(e.tier for e in policy.table.exceptions if e.id == eid)
    assert parsed.meta["status"] == "draft"


def _row(lines: list[str], rid: str) -> int:
    return next(n for n, ln in enumerate(lines) if ln.startswith(f"| `{rid}`"))


def test_reviewer_edits_are_read(tmp_path: Path) -> None:
    md, _, policy = _docs(tmp_path)
    parsed = parse_policy(md, "policy.md")
    rid = next(r for r, row in parsed.classes.items() if row.tier == "T2")
    lines = md.splitlines()
    i = _row(lines, rid)
    cells = lines[i].split(" | ")
    cells[1], cells[2] = "**T1**", "yes"
    cells[4] += "<br>_Reviewer note:_ only ever | on staging replicas"
    lines[i] = " | ".join(cells).replace("only ever | on", "only ever \\| on")
    text = "\n".join(lines).replace("status: draft", "status: approved", 1).replace("reviewers: []", "reviewers: [alice]", 1)
    parsed = parse_policy(text, "policy.md")
    row = parsed.classes[rid]
    assert (row.tier, row.reviewed, row.note) == ("T1", True, "only ever | on staging replicas")
    assert parsed.meta["status"] == "approved" and parsed.meta["reviewers"] == ["alice"]
    assert parsed.problems == []


def test_malformed_edits_are_located(tmp_path: Path) -> None:
    md, _, _ = _docs(tmp_path)
    parsed = parse_policy(md, "policy.md")
    ids = sorted(parsed.classes)
    lines = md.splitlines()
    i, j, k = _row(lines, ids[0]), _row(lines, ids[1]), _row(lines, ids[2])
    lines[i] = lines[i].replace(f"**{parsed.classes[ids[0]].tier}**", "T5")
    lines[j] = lines[j].replace(" | ", " ", 1)  # a lost cell separator
    lines[k] = lines[k].replace(" | no | ", " | maybe | ", 1)
    lines.insert(3, "<<<<<<< reviewed")
    parsed = parse_policy("\n".join(lines) + "\n", "out/policy.md")
    msgs = {(p.line, p.message.split(":")[0]) for p in parsed.problems}
    assert (4, "unresolved merge conflict marker") in msgs
    assert any(p.line == i + 2 and "tier 'T5' is not one of T0, T1, T2, T3" in p.message for p in parsed.problems)
    assert any(p.line == j + 2 and p.message.startswith("broken table row") for p in parsed.problems)
    assert any(p.line == k + 2 and "Reviewed 'maybe'" in p.message for p in parsed.problems)
    assert all(p.path == "out/policy.md" for p in parsed.problems)


def test_row_ids_across_environments_expand_and_fold() -> None:
    ids = ["read/pod@prod", "read/pod@dev", "read/pod@unknown"]
    assert class_row_id(ids) == "read/pod@{dev,prod,unknown}"
    assert expand_class_row("read/pod@{dev,prod,unknown}") == sorted(ids)
    assert expand_class_row("export/postgres@{prod,staging}+sensitive") == [
        "export/postgres@prod+sensitive", "export/postgres@staging+sensitive"]
    assert class_row_id(["read/pod@prod"]) == "read/pod@prod"
    # A kind with braces of its own (an API path) is not an environment set.
    assert expand_class_row("delete//admin/customers/{id}@prod") == ["delete//admin/customers/{id}@prod"]


def test_front_matter_errors_are_reported_not_raised() -> None:
    parsed = parse_policy("---\nstatus: [unclosed\n---\n# x\n", "p.md")
    assert parsed.meta == {} and parsed.problems and parsed.problems[0].message.startswith("front matter")


def test_eval_cases_disabled_and_notes(tmp_path: Path) -> None:
    _, md, _ = _docs(tmp_path)
    parsed = parse_evals(md, "evals.md")
    assert parsed.problems == [] and parsed.cases
    cid = sorted(parsed.cases)[0]
    assert not parsed.cases[cid].disabled
    head = next(ln for ln in md.splitlines() if ln.startswith(f"### `{cid}`"))
    edited = md.replace(head, head + " (disabled)\n\n_Reviewer note:_ flaky on CI", 1)
    case = parse_evals(edited, "evals.md").cases[cid]
    assert case.disabled and case.note == "flaky on CI"
