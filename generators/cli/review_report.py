"""Console output for the review merge (shared by `policy` / `evals`)."""

from __future__ import annotations

from rich.console import Console

from generators.review.roundtrip import ReviewReport

_SHOW = 10


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:_SHOW]) + (f" and {len(ids) - _SHOW} more" if len(ids) > _SHOW else "")


def print_review(con: Console, report: ReviewReport) -> bool:
    """Say what the merge kept, added, removed, and where it conflicts; ``False`` means fail."""
    if report.decisions_applied:
        con.print(f"review: kept {report.decisions_applied} reviewer decisions (class and exception tiers, reviewed, notes)")
    if report.added:
        con.print(f"review: [green]{len(report.added)} new action classes[/green]: {_ids(report.added)}")
    if report.removed:
        con.print(f"review: [yellow]{len(report.removed)} action classes no longer found[/yellow]: {_ids(report.removed)}")
    for name in report.merged_without_base:
        con.print(f"review: no last generated version of {name} to merge against; reviewer decisions were "
                  f"re-applied and the previous file is in .stackpolicy/backup/{name}")
    for p in report.backups:
        con.print(f"  backup {p}")
    for p in report.problems:
        con.print(f"[red]error[/red] {p}")
    for name, conflicts in sorted(report.conflicts.items()):
        for c in conflicts:
            con.print(f"[red]conflict[/red] {name}:{c.line}: both the review and the regeneration changed this "
                      f"region; edit the file to keep one side and delete the <<<<<<< ======= >>>>>>> lines")
    return report.ok
