"""Generate, review (edit markdown), change the systems, regenerate: edits are kept."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from click.testing import CliRunner

from generators.cli import main
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


def _edit_row(md: str, aid: str, tier: str | None = None, note: str | None = None, approver: str | None = None) -> str:
    lines = md.splitlines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith(f"| `{aid}`"))
    cells = lines[i].split(" | ")
    if tier:
        cells[1] = f"**{tier}**"
    if note:
        cells[4] += f"<br>_Reviewer note:_ {note}"
    if approver:
        cells[6] = f"{approver} |"
    lines[i] = " | ".join(cells)
    return "\n".join(lines) + "\n"


def _setup(tmp_path: Path) -> tuple[Path, Path, dict]:
    repo, out = _repo(tmp_path / "repo"), tmp_path / "out"
    code, output = _policy(out, repo)
    assert code == 0, output
    data = yaml.safe_load((out / "policy.yaml").read_text())
    actions = {a["id"]: a for s in data["systems"] for a in s["actions"]}
    return repo, out, actions


def test_edits_survive_regeneration_after_the_systems_change(tmp_path: Path) -> None:
    repo, out, actions = _setup(tmp_path)
    t2 = next(a for a in actions.values() if a["tier"] == "T2" and a["floor"] == "T2")
    t0 = next(a for a in actions.values() if a["tier"] == "T0")
    md = (out / "policy.md").read_text()
    md = _edit_row(md, t2["id"], tier="T1", note="restarts are safe: the PDB keeps 2 pods", approver="alice")
    md = _edit_row(md, t0["id"], tier="T2")
    md = md.replace("status: draft", "status: in-review", 1).replace("reviewers: []", "reviewers:\n- alice", 1)
    md = md.replace("## Summary\n", "## Summary\n\nReviewed by the platform team on Monday.\n", 1)
    (out / "policy.md").write_text(md)
    ev = (out / "evals.md").read_text()
    cid = sorted(parse_evals(ev).cases)[0]
    head = next(ln for ln in ev.splitlines() if ln.startswith(f"### `{cid}`"))
    (out / "evals.md").write_text(ev.replace(head, head + " (disabled)", 1))

    # The systems change: a new service appears, and the old manifest moves down two lines.
    (repo / "k8s" / "billing-api.yaml").write_text(DEPLOY.format(name="billing-api"))
    (repo / "k8s" / "orders-api.yaml").write_text("# moved\n\n" + DEPLOY.format(name="orders-api"))
    code, output = _policy(out, repo)
    assert code == 0, output
    assert "new actions" in output and "billing-api" in output
    assert "kept 2 reviewer decisions" in output

    new_md = (out / "policy.md").read_text()
    rows = parse_policy(new_md).rows
    assert rows[t2["id"]].tier == "T1" and rows[t2["id"]].approver == "alice"
    assert rows[t2["id"]].note == "restarts are safe: the PDB keeps 2 pods"
    assert rows[t0["id"]].tier == "T2"
    assert "Reviewed by the platform team on Monday." in new_md
    assert "status: in-review" in new_md and "- alice" in new_md
    assert any(r.startswith("service:billing-api") or "billing-api" in r for r in rows)
    compiled = {a["id"]: a for s in yaml.safe_load((out / "policy.yaml").read_text())["systems"] for a in s["actions"]}
    assert compiled[t2["id"]]["tier"] == "T1" and compiled[t2["id"]]["decision"] == "allow"
    assert "reviewer-lowered" in compiled[t2["id"]]["flags"]
    assert compiled[t0["id"]]["decision"] == "ask" and "reviewer-raised" in compiled[t0["id"]]["flags"]
    assert parse_evals((out / "evals.md").read_text()).cases[cid].disabled
    assert yaml.safe_load((out / ".stackpolicy" / "decisions.yaml").read_text())["actions"][t2["id"]]["tier"] == "T1"

    # A third run with no edits and no changes is byte-identical, and decisions still hold.
    before = (out / "policy.md").read_bytes()
    code, output = _policy(out, repo)
    assert code == 0, output
    assert (out / "policy.md").read_bytes() == before


def test_conflict_is_marked_reported_and_fails(tmp_path: Path) -> None:
    repo, out, actions = _setup(tmp_path)
    md = (out / "policy.md").read_text()
    # The reviewer rewrites a line the regeneration will also change (the orders-api summary).
    line = next(ln for ln in md.splitlines() if ln.startswith("- **Defined in:**") and "orders-api.yaml" in ln)
    (out / "policy.md").write_text(md.replace(line, line + " (reviewed: this is the prod manifest)", 1))
    (repo / "k8s" / "orders-api.yaml").write_text("# moved\n" + DEPLOY.format(name="orders-api"))
    code, output = _policy(out, repo)
    assert code == 1
    assert "conflict" in output and "policy.md:" in output
    text = (out / "policy.md").read_text()
    assert "<<<<<<< reviewed" in text and ">>>>>>> regenerated" in text
    assert "(reviewed: this is the prod manifest)" in text  # nothing dropped
    # Until the conflict is resolved, regeneration refuses and leaves the files alone.
    code, output = _policy(out, repo)
    assert code == 1 and "unresolved merge conflict" in output
    assert (out / "policy.md").read_text() == text


def test_force_starts_over_and_keeps_a_backup(tmp_path: Path) -> None:
    repo, out, actions = _setup(tmp_path)
    aid = next(a["id"] for a in actions.values() if a["tier"] == "T0")
    edited = _edit_row((out / "policy.md").read_text(), aid, tier="T3")
    (out / "policy.md").write_text(edited)
    code, output = _policy(out, repo, "--force")
    assert code == 0, output
    assert parse_policy((out / "policy.md").read_text()).rows[aid].tier == "T0"
    assert (out / ".stackpolicy" / "backup" / "policy.md").read_text() == edited


def test_invalid_tier_is_reported_with_file_and_line_and_not_applied(tmp_path: Path) -> None:
    repo, out, actions = _setup(tmp_path)
    aid = next(a["id"] for a in actions.values() if a["tier"] == "T0")
    md = _edit_row((out / "policy.md").read_text(), aid, tier="T7")
    (out / "policy.md").write_text(md)
    code, output = _policy(out, repo)
    assert code == 1
    line = next(n for n, ln in enumerate(md.splitlines(), 1) if ln.startswith(f"| `{aid}`"))
    assert f"policy.md:{line}: {aid}: tier 'T7' is not one of T0, T1, T2, T3" in output
    assert "**T7**" in (out / "policy.md").read_text()  # the reviewer's text is kept for them to fix


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
