"""Parsing reviewed markdown back into decisions, with file:line for malformed edits."""

from __future__ import annotations

from pathlib import Path

from generators.documents.render import render_evals_md, render_policy_md
from generators.pipeline import draft_documents
from generators.review.parse import parse_evals, parse_policy
from inventory.config import Config
from tests.factories import make_assessments, make_inventory


def _docs(tmp_path: Path) -> tuple[str, str, dict]:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    return render_policy_md(policy, tmp_path), render_evals_md(evals, tmp_path), policy.actions()


def test_every_generated_row_parses_back_to_its_action(tmp_path: Path) -> None:
    md, _, actions = _docs(tmp_path)
    parsed = parse_policy(md, "policy.md")
    assert parsed.problems == []
    assert set(parsed.rows) == set(actions)
    for aid, row in parsed.rows.items():
        assert row.tier == actions[aid].tier
        assert row.approver == actions[aid].approver
        assert row.note is None
        assert md.splitlines()[row.line - 1].startswith(f"| `{aid}`")
    assert parsed.meta["status"] == "draft"


def test_reviewer_edits_are_read(tmp_path: Path) -> None:
    md, _, actions = _docs(tmp_path)
    aid = next(a for a in actions.values() if a.tier == "T2").id
    lines = md.splitlines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith(f"| `{aid}`"))
    cells = lines[i].split(" | ")
    cells[1] = "**T1**"
    cells[4] += "<br>_Reviewer note:_ only ever | on staging replicas"
    cells[6] = "alice |"
    lines[i] = " | ".join(cells).replace("only ever | on", "only ever \\| on")
    text = "\n".join(lines).replace("status: draft", "status: approved", 1).replace("reviewers: []", "reviewers: [alice]", 1)
    parsed = parse_policy(text, "policy.md")
    row = parsed.rows[aid]
    assert (row.tier, row.note, row.approver) == ("T1", "only ever | on staging replicas", "alice")
    assert parsed.meta["status"] == "approved" and parsed.meta["reviewers"] == ["alice"]
    assert parsed.problems == []


def test_malformed_edits_are_located(tmp_path: Path) -> None:
    md, _, actions = _docs(tmp_path)
    lines = md.splitlines()
    ids = sorted(actions)
    i = next(n for n, ln in enumerate(lines) if ln.startswith(f"| `{ids[0]}`"))
    j = next(n for n, ln in enumerate(lines) if ln.startswith(f"| `{ids[1]}`"))
    lines[i] = lines[i].replace(f"**{actions[ids[0]].tier}**", "T5")
    lines[j] = lines[j].replace(" | ", " ", 1)  # a lost cell separator
    lines.insert(3, "<<<<<<< reviewed")
    parsed = parse_policy("\n".join(lines) + "\n", "out/policy.md")
    msgs = {(p.line, p.message.split(":")[0]) for p in parsed.problems}
    assert (4, "unresolved merge conflict marker") in msgs
    assert any(p.line == i + 2 and "tier 'T5' is not one of T0, T1, T2, T3" in p.message for p in parsed.problems)
    assert any(p.line == j + 2 and p.message.startswith("broken table row") for p in parsed.problems)
    assert all(p.path == "out/policy.md" for p in parsed.problems)


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
