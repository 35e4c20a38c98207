"""Generate, review (edit markdown), change the systems, regenerate: edits are kept."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml
from click.testing import CliRunner

from generators.cli import main
from generators.documents.model import Policy
from generators.documents.rowids import expand_class_row
from generators.review.parse import parse_evals, parse_policy

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: acme-prod
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: {name}
          image: acme/{name}:1.0.0
"""


def _repo(root: Path) -> Path:
    (root / "k8s").mkdir(parents=True)
    (root / "runbooks").mkdir()
    (root / "k8s" / "orders-api.yaml").write_text(DEPLOY.format(name="orders-api"))
    (root / "runbooks" / "orders-api.md").write_text(textwrap.dedent("""\
        # orders-api runbook

        ```bash
        kubectl get pods -n acme-prod -l app=orders-api
        kubectl rollout restart deployment/orders-api -n acme-prod
        kubectl delete namespace acme-prod
        ```
        """))
    return root


def _policy(out: Path, repo: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["policy", "--no-cache", "--sources", str(repo), "--output", str(out), *extra])
    return res.exit_code, res.output


STATEFUL = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: orders-db
  namespace: acme-prod
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:16
"""


def _edit_row(md: str, rid: str, tier: str | None = None, note: str | None = None, reviewed: bool | None = None) -> str:
    """Edit a class or exception row the way a reviewer does: the Tier cell, the Reviewed cell, a
    note after the Why (classes) or Reason (exceptions) cell's text."""
    lines = md.splitlines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith(f"| `{rid}`"))
    cells = lines[i].split(" | ")
    if tier:
        cells[1] = f"**{tier}**"
    if reviewed is not None:
        cells[2] = "yes" if reviewed else "no"
    if note:
        cells[4 if "!" not in rid else 5] += f"<br>_Reviewer note:_ {note}"
    lines[i] = " | ".join(cells)
    return "\n".join(lines) + "\n"


def _classify(out: Path, line: str) -> dict:
    res = CliRunner().invoke(main, ["classify", "--json", "--policy", str(out / "policy.yaml"), line])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _setup(tmp_path: Path) -> tuple[Path, Path, dict]:
    repo, out = _repo(tmp_path / "repo"), tmp_path / "out"
    code, output = _policy(out, repo)
    assert code == 0, output
    table = yaml.safe_load((out / "policy.yaml").read_text())["table"]
    return repo, out, {c["id"]: c for c in table["classes"]}


def _table(out: Path) -> dict:
    return yaml.safe_load((out / "policy.yaml").read_text())["table"]


def test_class_edits_survive_regeneration_and_change_what_classify_decides(tmp_path: Path) -> None:
    repo, out, classes = _setup(tmp_path)
    assert classes["restart/deployment@prod"]["tier"] == "T2"
    assert _classify(out, "kubectl rollout restart deployment/orders-api -n acme-prod")["tier"] == "T2"
    md = (out / "policy.md").read_text()
    md = _edit_row(md, "restart/deployment@prod", tier="T1", reviewed=True, note="restarts are safe: the PDB keeps 2 pods")
    md = _edit_row(md, "read/deployment@prod", tier="T2")  # raising needs no review
    md = _edit_row(md, "delete/deployment@prod", tier="T1")  # lowering without review: not applied
    md = md.replace("status: draft", "status: in-review", 1).replace("reviewers: []", "reviewers:\n- alice", 1)
    md = md.replace("## Summary\n", "## Summary\n\nReviewed by the platform team on Monday.\n", 1)
    (out / "policy.md").write_text(md)
    ev = (out / "evals.md").read_text()
    cid = sorted(parse_evals(ev).cases)[0]
    head = next(ln for ln in ev.splitlines() if ln.startswith(f"### `{cid}`"))
    (out / "evals.md").write_text(ev.replace(head, head + " (disabled)", 1))

    # The systems change: a new service appears (new instances of the edited classes), and the
    # old manifest moves down two lines.
    (repo / "k8s" / "catalog-api.yaml").write_text(DEPLOY.format(name="catalog-api"))
    (repo / "k8s" / "orders-api.yaml").write_text("# moved\n\n" + DEPLOY.format(name="orders-api"))
    code, output = _policy(out, repo)
    assert code == 0, output
    assert "kept 3 reviewer decisions" in output

    new_md = (out / "policy.md").read_text()
    rows = parse_policy(new_md).classes
    assert (rows["restart/deployment@prod"].tier, rows["restart/deployment@prod"].reviewed) == ("T1", True)
    assert rows["restart/deployment@prod"].note == "restarts are safe: the PDB keeps 2 pods"
    assert rows["read/deployment@prod"].tier == "T2"
    assert rows["delete/deployment@prod"].tier == "T1"  # the reviewer's text is kept for them to finish
    assert "Reviewed by the platform team on Monday." in new_md
    assert "status: in-review" in new_md and "- alice" in new_md

    table = _table(out)
    compiled = {c["id"]: c for c in table["classes"]}
    restart = compiled["restart/deployment@prod"]
    assert (restart["tier"], restart["floor"], restart["reviewed"]) == ("T1", "T2", True)
    assert "reviewer-lowered" in restart["flags"]
    # The new service's restart is an instance of the reviewed class and inherits its tier.
    assert {i["action"]: i["tier"] for i in restart["instances"]} == {
        "service:catalog-api/restart": "T1", "service:orders-api/restart": "T1"}
    assert compiled["read/deployment@prod"]["tier"] == "T2"
    delete = compiled["delete/deployment@prod"]
    assert delete["tier"] == "T2" and "lowering-needs-review" in delete["flags"]
    per_system = Policy.model_validate(yaml.safe_load((out / "policy.yaml").read_text())).actions()
    assert per_system["service:catalog-api/restart"].tier == "T1"
    assert per_system["service:orders-api/describe"].decision == "ask"

    # What is enforced is what the reviewers wrote (and an unreviewed lowering is not).
    assert _classify(out, "kubectl rollout restart deployment/catalog-api -n acme-prod")["tier"] == "T1"
    assert _classify(out, "kubectl logs deployment/orders-api -n acme-prod --tail=200")["tier"] == "T2"
    assert _classify(out, "kubectl delete deployment/orders-api -n acme-prod")["tier"] == "T2"
    decisions = yaml.safe_load((out / ".stackpolicy" / "decisions.yaml").read_text())
    assert decisions["classes"]["restart/deployment@prod"] == {
        "tier": "T1", "reviewed": True, "note": "restarts are safe: the PDB keeps 2 pods"}
    assert parse_evals((out / "evals.md").read_text()).cases[cid].disabled

    # `check` says the lowering is not in force until a reviewer marks it reviewed.
    res = CliRunner().invoke(main, ["check", "--sources", str(repo), "--output", str(out)])
    assert res.exit_code == 1
    assert "below-floor" in res.output and "delete/deployment@prod" in res.output

    # A third run with no edits and no changes is byte-identical, and decisions still hold.
    before = (out / "policy.md").read_bytes()
    code, output = _policy(out, repo)
    assert code == 0, output
    assert (out / "policy.md").read_bytes() == before


def test_exception_edit_survives_and_changes_what_classify_decides(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    (repo / "k8s" / "orders-db.yaml").write_text(STATEFUL)
    (repo / "runbooks" / "orders-db.md").write_text(
        "# orders-db\n\n```bash\nkubectl -n acme-prod delete pod orders-db-0\n"
        "kubectl -n acme-prod delete pod orders-api-5d9c7-abcde\n```\n")
    out = tmp_path / "out"
    code, output = _policy(out, repo)
    assert code == 0, output
    eid = "restart-one/pod@prod!postgres:orders-db"
    exc = next(e for e in _table(out)["exceptions"] if e["id"] == eid)
    assert (exc["tier"], exc["floor"]) == ("T2", "T2")
    assert _classify(out, "kubectl -n acme-prod delete pod orders-db-0")["tier"] == "T2"
    assert _classify(out, "kubectl -n acme-prod delete pod orders-api-5d9c7-abcde")["tier"] == "T1"
    md = _edit_row((out / "policy.md").read_text(), eid, tier="T3", note="primary failover is a human's call")
    (out / "policy.md").write_text(md)
    code, output = _policy(out, repo)
    assert code == 0, output
    row = parse_policy((out / "policy.md").read_text()).exceptions[eid]
    assert (row.tier, row.note) == ("T3", "primary failover is a human's call")
    exc = next(e for e in _table(out)["exceptions"] if e["id"] == eid)
    assert (exc["tier"], exc["floor"]) == ("T3", "T2")
    assert _classify(out, "kubectl -n acme-prod delete pod orders-db-0")["tier"] == "T3"
    # The class itself, and its other targets, are untouched.
    assert _classify(out, "kubectl -n acme-prod delete pod orders-api-5d9c7-abcde")["tier"] == "T1"
    res = CliRunner().invoke(main, ["check", "--sources", str(repo), "--output", str(out)])
    assert "stale-compiled" not in res.output and "below-floor" not in res.output


def test_new_classes_after_approval_need_review(tmp_path: Path) -> None:
    repo, out, _ = _setup(tmp_path)
    md = (out / "policy.md").read_text().replace("status: draft", "status: approved", 1)
    (out / "policy.md").write_text(md)
    (out / "evals.md").write_text((out / "evals.md").read_text().replace("status: draft", "status: approved", 1))
    (repo / "k8s" / "orders-db.yaml").write_text(STATEFUL)
    code, output = _policy(out, repo)
    assert code == 0, output
    new = [c for c in _table(out)["classes"] if "new-since-approval" in c["flags"]]
    assert new and all(c["id"].endswith("@prod") for c in new)
    assert all("restart/deployment@prod" != c["id"] for c in new)
    res = CliRunner().invoke(main, ["check", "--require-review", "--sources", str(repo), "--output", str(out)])
    assert res.exit_code == 1 and "appeared after the policy was approved" in res.output
    # Marking them reviewed clears it.
    md = (out / "policy.md").read_text()
    for rid in parse_policy(md).classes:
        if any(c["id"] in expand_class_row(rid) for c in new):
            md = _edit_row(md, rid, reviewed=True)
    (out / "policy.md").write_text(md)
    code, output = _policy(out, repo)
    assert code == 0, output
    assert not [c for c in _table(out)["classes"] if "new-since-approval" in c["flags"]]
    res = CliRunner().invoke(main, ["check", "--require-review", "--sources", str(repo), "--output", str(out)])
    assert "appeared after the policy was approved" not in res.output


def test_conflict_is_marked_reported_and_fails(tmp_path: Path) -> None:
    repo, out, _ = _setup(tmp_path)
    md = (out / "policy.md").read_text()
    # The reviewer rewrites a line the regeneration will also change (the first summary line).
    line = next(ln for ln in md.splitlines() if ln.startswith("- ") and "actions were found" in ln)
    (out / "policy.md").write_text(md.replace(line, line + " (reviewed: prod only)", 1))
    (repo / "k8s" / "billing-api.yaml").write_text(DEPLOY.format(name="billing-api"))
    code, output = _policy(out, repo)
    assert code == 1
    assert "conflict" in output and "policy.md:" in output
    text = (out / "policy.md").read_text()
    assert "<<<<<<< reviewed" in text and ">>>>>>> regenerated" in text
    assert "(reviewed: prod only)" in text  # nothing dropped
    # Until the conflict is resolved, regeneration refuses and leaves the files alone.
    code, output = _policy(out, repo)
    assert code == 1 and "unresolved merge conflict" in output
    assert (out / "policy.md").read_text() == text


def test_force_starts_over_and_keeps_a_backup(tmp_path: Path) -> None:
    repo, out, _ = _setup(tmp_path)
    edited = _edit_row((out / "policy.md").read_text(), "read/deployment@prod", tier="T3")
    (out / "policy.md").write_text(edited)
    code, output = _policy(out, repo, "--force")
    assert code == 0, output
    assert parse_policy((out / "policy.md").read_text()).classes["read/deployment@prod"].tier == "T0"
    assert (out / ".stackpolicy" / "backup" / "policy.md").read_text() == edited


def test_invalid_tier_is_reported_with_file_and_line_and_not_applied(tmp_path: Path) -> None:
    repo, out, _ = _setup(tmp_path)
    rid = "read/deployment@prod"
    md = _edit_row((out / "policy.md").read_text(), rid, tier="T7")
    (out / "policy.md").write_text(md)
    code, output = _policy(out, repo)
    assert code == 1
    line = next(n for n, ln in enumerate(md.splitlines(), 1) if ln.startswith(f"| `{rid}`"))
    assert f"policy.md:{line}: {rid}: tier 'T7' is not one of T0, T1, T2, T3" in output
    assert "**T7**" in (out / "policy.md").read_text()  # the reviewer's text is kept for them to fix
    assert {c["id"]: c for c in _table(out)["classes"]}[rid]["tier"] == "T0"


def test_failed_write_leaves_files_as_they_were(tmp_path: Path, monkeypatch) -> None:
    repo, out, _ = _setup(tmp_path)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (repo / "k8s" / "billing-api.yaml").write_text(DEPLOY.format(name="billing-api"))
    import inventory.io as io_mod

    real = io_mod.os.fdopen
    calls = {"n": 0}

    def flaky(*a, **k):  # the third staged file fails to write
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(io_mod.os, "fdopen", flaky)
    code, output = _policy(out, repo)
    assert code == 2 and "cannot write" in output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
