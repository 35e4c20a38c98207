"""`stackpolicy check`: every kind of finding, exit codes, and the three output formats."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from generators.cli import main
from tests.test_review_roundtrip import DEPLOY, _edit_row, _policy, _repo


def _check(out: Path, repo: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        main, ["check", "--no-cache", "--sources", str(repo), "--output", str(out), *extra])
    return res.exit_code, res.stdout


def _generated(tmp_path: Path) -> tuple[Path, Path, dict]:
    repo, out = _repo(tmp_path / "repo"), tmp_path / "out"
    code, output = _policy(out, repo)
    assert code == 0, output
    data = yaml.safe_load((out / "policy.yaml").read_text())
    return repo, out, {c["id"]: c for c in data["table"]["classes"]}


def _findings(out: Path, repo: Path, *extra: str) -> tuple[int, list[dict]]:
    code, stdout = _check(out, repo, "--format", "json", *extra)
    return code, json.loads(stdout)["findings"]


def test_fresh_documents_pass(tmp_path: Path) -> None:
    repo, out, _ = _generated(tmp_path)
    code, stdout = _check(out, repo)
    assert code == 0, stdout
    assert stdout.strip().endswith("check OK: 0 errors, 0 warnings")


def test_require_review_fails_drafts_and_passes_approved(tmp_path: Path) -> None:
    repo, out, _ = _generated(tmp_path)
    code, findings = _findings(out, repo, "--require-review")
    assert code == 1
    assert {(f["code"], Path(f["path"]).name, f["line"]) for f in findings} == {
        ("unreviewed", "policy.md", 6), ("unreviewed", "evals.md", 6)}
    for name in ("policy.md", "evals.md"):
        p = out / name
        p.write_text(p.read_text().replace("status: draft", "status: approved", 1))
    assert _check(out, repo, "--require-review")[0] == 0


def test_drift_added_removed_and_missing_evidence(tmp_path: Path) -> None:
    repo, out, classes = _generated(tmp_path)
    # billing-api holds billing data: its actions fall in new (sensitive) classes.
    (repo / "k8s" / "billing-api.yaml").write_text(DEPLOY.format(name="billing-api"))
    (repo / "runbooks" / "orders-api.md").write_text("# orders-api runbook\n")
    code, findings = _findings(out, repo)
    assert code == 1
    by_code: dict[str, list[dict]] = {}
    for f in findings:
        by_code.setdefault(f["code"], []).append(f)
    added = {f["action_id"] for f in by_code["drift-added"]}
    assert "restart/deployment@prod+sensitive" in added and all(a not in classes for a in added)
    assert any("billing-api" in f["message"] for f in by_code["drift-added"])
    removed = {f["action_id"] for f in by_code["drift-removed"]}
    # Only the runbook had them (the namespace it deleted was a system only it named).
    assert removed == {"delete/namespace@prod", "read/pod@prod+selector", "read/all@prod"}
    assert all(f["line"] for f in by_code["drift-removed"])
    assert any("runbooks/orders-api.md" in f["message"] for f in by_code["missing-evidence"])


def test_new_instances_of_a_known_class_are_not_drift(tmp_path: Path) -> None:
    repo, out, _ = _generated(tmp_path)
    (repo / "k8s" / "catalog-api.yaml").write_text(DEPLOY.format(name="catalog-api"))
    code, findings = _findings(out, repo)
    assert code == 0, findings  # catalog-api's actions are instances of reviewed classes


def test_below_floor_needs_review_and_bad_tiers_are_located(tmp_path: Path) -> None:
    repo, out, classes = _generated(tmp_path)
    t2 = sorted(cid for cid, c in classes.items() if c["floor"] == "T2")
    md = (out / "policy.md").read_text()
    md = _edit_row(md, t2[0], tier="T0")
    md = _edit_row(md, t2[1], tier="T1", reviewed=True, note="only ever run against the canary")
    md = _edit_row(md, t2[2], tier="high")
    (out / "policy.md").write_text(md)
    code, findings = _findings(out, repo)
    assert code == 1
    lines = {cid: n for n, ln in enumerate(md.splitlines(), 1) for cid in t2[:3] if ln.startswith(f"| `{cid}`")}
    got = {(f["code"], f.get("action_id"), f.get("line")) for f in findings}
    assert ("below-floor", t2[0], lines[t2[0]]) in got
    assert not any(c == "below-floor" and a == t2[1] for c, a, _ in got)  # reviewed: a decision
    assert ("stale-compiled", t2[1], lines[t2[1]]) in got  # until `make policy` compiles it
    assert any(c == "bad-tier" and ln == lines[t2[2]] for c, _, ln in got)
    # After regeneration the reviewed lowering is in force; the unreviewed one still fails.
    md = _edit_row((out / "policy.md").read_text(), t2[2], tier="T2")
    (out / "policy.md").write_text(md)
    assert _policy(out, repo)[0] == 0
    code, findings = _findings(out, repo)
    assert {(f["code"], f["action_id"]) for f in findings if f["severity"] == "error"} == {("below-floor", t2[0])}


def test_disabling_the_only_cases_of_a_t3_class_is_flagged(tmp_path: Path) -> None:
    repo, out, actions = _generated(tmp_path)
    suite = yaml.safe_load((out / "evals.yaml").read_text())
    table = yaml.safe_load((out / "policy.yaml").read_text())["table"]
    t3 = {c["id"] for c in table["classes"] if c["tier"] == "T3"}
    cid = next(i for c in suite["cases"] for i in c.get("class_ids") or [] if i in t3)
    covering = [c for c in suite["cases"] if cid in (c.get("class_ids") or [])]
    md = (out / "evals.md").read_text()
    for c in covering:
        head = next(ln for ln in md.splitlines() if ln.startswith(f"### `{c['id']}`"))
        md = md.replace(head, head + " (disabled)", 1)
    (out / "evals.md").write_text(md)
    code, findings = _findings(out, repo)
    assert code == 1
    assert any(f["code"] == "no-eval" and f["action_id"] == cid for f in findings)


def test_github_format_and_conflict_markers(tmp_path: Path) -> None:
    repo, out, _ = _generated(tmp_path)
    md = (out / "policy.md").read_text().splitlines()
    md[12:12] = ["<<<<<<< reviewed", "a", "=======", "b", ">>>>>>> regenerated"]
    (out / "policy.md").write_text("\n".join(md) + "\n")
    code, stdout = _check(out, repo, "--format", "github")
    assert code == 1
    ann = [ln for ln in stdout.splitlines() if ln.startswith("::error ")]
    assert any(a.startswith(f"::error file={out / 'policy.md'},line=13,title=stackpolicy conflict::") for a in ann)
    assert stdout.splitlines()[-1].startswith("stackpolicy check failed")


def test_missing_documents_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    code, stdout = _check(tmp_path / "nothing", repo)
    assert code == 1 and "[missing-document]" in stdout


def test_edits_not_yet_compiled_are_flagged_until_regenerated(tmp_path: Path) -> None:
    repo, out, classes = _generated(tmp_path)
    aid = sorted(cid for cid, c in classes.items() if c["tier"] == "T0")[0]
    (out / "policy.md").write_text(_edit_row((out / "policy.md").read_text(), aid, tier="T2"))
    code, findings = _findings(out, repo)
    assert code == 1 and [(f["code"], f["action_id"]) for f in findings] == [("stale-compiled", aid)]
    assert _policy(out, repo)[0] == 0
    assert _check(out, repo)[0] == 0
