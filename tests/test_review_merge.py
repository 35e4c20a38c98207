"""The three-way merge: diff3 chunks, row-by-row resolution of action tables, conflict markers."""

from __future__ import annotations

from generators.review.merge3 import merge3
from generators.review.textmerge import MARK_OURS, MARK_SEP, MARK_THEIRS, merge_text

FM = "---\nstatus: draft\n---\n"


def _ok(base: list[str], ours: list[str], theirs: list[str]) -> list[str]:
    chunks = list(merge3(base, ours, theirs))
    assert all(c.kind == "ok" for c in chunks), chunks
    return [ln for c in chunks for ln in c.lines]


def test_one_sided_changes_merge_cleanly() -> None:
    base = ["a", "b", "c", "d", "e"]
    assert _ok(base, ["a", "B", "c", "d", "e"], ["a", "b", "c", "d", "E"]) == ["a", "B", "c", "d", "E"]


def test_insertions_on_both_sides_at_different_places() -> None:
    base = ["a", "b", "c"]
    assert _ok(base, ["x", "a", "b", "c"], ["a", "b", "c", "y"]) == ["x", "a", "b", "c", "y"]


def test_same_change_on_both_sides_is_taken_once() -> None:
    assert _ok(["a", "b"], ["a", "X"], ["a", "X"]) == ["a", "X"]


def test_different_changes_to_one_line_conflict() -> None:
    chunks = list(merge3(["a", "b", "c"], ["a", "ours", "c"], ["a", "theirs", "c"]))
    conflicts = [c for c in chunks if c.kind == "conflict"]
    assert len(conflicts) == 1
    assert conflicts[0].ours == ("ours",) and conflicts[0].theirs == ("theirs",) and conflicts[0].base == ("b",)


def _row(aid: str, tier: str, rationale: str = "why", approver: str = "—", ev: str = "`f.yaml:1`") -> str:
    return f"| `{aid}` | **{tier}** | title<br>`cmd` | may | {rationale} | {ev} | {approver} |"


def test_text_merge_keeps_free_text_and_takes_theirs_front_matter() -> None:
    base = FM + "# T\n\nintro\n\n## Summary\n\n- old\n"
    ours = FM.replace("draft", "approved") + "# T\n\nintro, edited by a reviewer\n\n## Summary\n\n- old\n"
    theirs = "---\nstatus: approved\ndigest: new\n---\n# T\n\nintro\n\n## Summary\n\n- new\n"
    res = merge_text(base, ours, theirs)
    assert not res.conflicts
    assert res.text == "---\nstatus: approved\ndigest: new\n---\n# T\n\nintro, edited by a reviewer\n\n## Summary\n\n- new\n"


def test_rows_changed_only_in_decisions_resolve_to_the_regenerated_row() -> None:
    base = FM + "\n".join([_row("a", "T2"), _row("b", "T1")]) + "\n"
    # The reviewer lowered `a` with a note; the regeneration moved `b`'s evidence and already
    # carries the reviewer's decision for `a` with new evidence.
    ours = FM + "\n".join([_row("a", "T1", "why<br>_Reviewer note:_ ok"), _row("b", "T1")]) + "\n"
    theirs = FM + "\n".join([_row("a", "T1", "why<br>_Reviewer note:_ ok", ev="`f.yaml:2`"),
                             _row("b", "T1", ev="`f.yaml:9`"), _row("c", "T3")]) + "\n"
    res = merge_text(base, ours, theirs)
    assert not res.conflicts
    assert res.text == theirs


def test_reviewer_rewording_a_row_the_generator_also_changed_is_a_conflict() -> None:
    base = FM + _row("a", "T2") + "\n"
    ours = FM + _row("a", "T2", rationale="reviewer rewrote the rationale") + "\n"
    theirs = FM + _row("a", "T2", ev="`f.yaml:7`") + "\n"
    res = merge_text(base, ours, theirs)
    assert len(res.conflicts) == 1
    lines = res.text.splitlines()
    assert lines[3] == MARK_OURS and MARK_SEP in lines and lines[-1] == MARK_THEIRS
    assert _row("a", "T2", rationale="reviewer rewrote the rationale") in lines  # nothing dropped
    assert _row("a", "T2", ev="`f.yaml:7`") in lines
    assert res.conflicts[0].line == 4


def test_removed_action_is_dropped_unless_the_reviewer_edited_it() -> None:
    base = FM + "\n".join([_row("a", "T2"), _row("gone", "T1")]) + "\n"
    theirs = FM + _row("a", "T2", ev="`f.yaml:3`") + "\n"
    untouched = merge_text(base, base, theirs)
    assert untouched.text == theirs and not untouched.conflicts
    ours = FM + "\n".join([_row("a", "T2"), _row("gone", "T1", rationale="reviewer cares")]) + "\n"
    edited = merge_text(base, ours, theirs)
    assert edited.conflicts and "reviewer cares" in edited.text


def test_reviewer_added_row_is_kept() -> None:
    base = FM + _row("a", "T2") + "\n"
    ours = FM + "\n".join([_row("a", "T2"), _row("mine", "T3")]) + "\n"
    theirs = FM + _row("a", "T2", ev="`g:1`") + "\n"
    res = merge_text(base, ours, theirs)
    assert not res.conflicts
    assert res.text.splitlines()[-2:] == [_row("a", "T2", ev="`g:1`"), _row("mine", "T3")]
