"""The pipeline's writing step and the `policy` / `evals` commands."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import generators.pipeline as pipeline
from generators.cli import main
from generators.pipeline import draft_documents, write_documents
from inventory.config import Config
from tests.factories import make_assessments, make_inventory

ALL_FILES = {"inventory.yaml", "policy.md", "policy.yaml", "evals.md", "evals.yaml"}
STATE_DIR = ".stackpolicy"  # review state kept beside the documents (generators/review)


def _docs(out: Path) -> set[str]:
    """The files in ``out`` other than the review state (temp files would show up here)."""
    return {p.name for p in out.iterdir() if p.name != STATE_DIR}


def test_write_documents_writes_all_files(tmp_path: Path) -> None:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    written = write_documents(policy, evals, tmp_path, inv=inv)
    assert {p.name for p in written.paths} == ALL_FILES
    # no temp files left behind; the review state (last generated versions) sits beside them
    assert {p.name for p in tmp_path.iterdir()} == ALL_FILES | {".stackpolicy"}
    assert yaml.safe_load((tmp_path / "policy.yaml").read_text())["kind"] == "policy"


def test_write_documents_writes_nothing_when_rendering_fails(tmp_path: Path, monkeypatch) -> None:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())

    def boom(*_a, **_k) -> str:
        raise RuntimeError("template error")

    monkeypatch.setattr(pipeline, "render_evals_md", boom)
    with pytest.raises(RuntimeError):
        write_documents(policy, evals, tmp_path, inv=inv)
    assert list(tmp_path.iterdir()) == []  # the policy, rendered first, was not written either


def test_evals_only(tmp_path: Path) -> None:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    written = write_documents(policy, evals, tmp_path, which=("evals",))
    assert {p.name for p in written.paths} == {"evals.md", "evals.yaml"}
    # The unwritten policy still gives the suite its system names.
    assert "| System | orders-api (`service:orders-api`) |" in (tmp_path / "evals.md").read_text()


def _tiny_repo(root: Path) -> Path:
    (root / "k8s").mkdir(parents=True)
    (root / "runbooks").mkdir()
    (root / "k8s" / "orders-api.yaml").write_text(textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: orders-api
          namespace: acme-prod
        spec:
          replicas: 2
          template:
            spec:
              containers:
                - name: orders-api
                  image: acme/orders-api:1.4.2
        """))
    (root / "runbooks" / "orders-api.md").write_text(textwrap.dedent("""\
        # orders-api runbook

        Check the pods:

        ```bash
        kubectl get pods -n acme-prod -l app=orders-api
        kubectl rollout restart deployment/orders-api -n acme-prod
        kubectl delete namespace acme-prod
        ```
        """))
    return root


def test_cli_policy_writes_documents_and_says_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stackpolicy.yaml here, and the scan cache stays in tmp
    repo = _tiny_repo(tmp_path / "repo")
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(main, ["policy", "--sources", str(repo), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "offline" in res.output
    assert {p.name for p in out.iterdir()} == ALL_FILES | {".stackpolicy"}
    md = (out / "policy.md").read_text()
    assert "provider: offline" in md and "status: draft" in md and "```mermaid" in md
    first = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    res2 = runner.invoke(main, ["policy", "--sources", str(repo), "--output", str(out)])
    assert res2.exit_code == 0, res2.output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == first  # byte-identical rerun


def test_cli_evals_writes_only_the_suite(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    repo = _tiny_repo(tmp_path / "repo")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["evals", "--sources", str(repo), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {"inventory.yaml", "evals.md", "evals.yaml", ".stackpolicy"}


def test_cli_missing_source_is_a_usage_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["policy", "--sources", str(tmp_path / "nope"), "--output", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "error:" in res.output and "nope" in res.output
    assert not (tmp_path / "o").exists()


def test_written_files_get_ordinary_permissions(tmp_path) -> None:
    """Atomic writes go through mkstemp (0600); committed documents must be readable by others."""
    import os

    from inventory.io import atomic_write, write_files_atomically

    old = os.umask(0o022)
    try:
        write_files_atomically(tmp_path, {"a/policy.md": "x\n", "b.yaml": "y\n"})
        assert (tmp_path / "a/policy.md").stat().st_mode & 0o777 == 0o644
        (tmp_path / "b.yaml").chmod(0o664)
        atomic_write(tmp_path / "b.yaml", "z\n")  # an existing file keeps its mode
        assert (tmp_path / "b.yaml").stat().st_mode & 0o777 == 0o664
        assert (tmp_path / "b.yaml").read_text() == "z\n"
        assert not [p for p in tmp_path.rglob("*.tmp")]
    finally:
        os.umask(old)


def test_the_eval_drafter_reuses_the_build_verdicts_only_while_the_table_is_unedited() -> None:
    from generators.documents.evals import draft_evals

    inv, cfg = make_inventory(), Config()
    assessments = pipeline.assess(inv, cfg)
    verdicts, index = assessments.verdicts, assessments.index
    assert verdicts and index is not None  # the lines the build classified, kept for the drafter
    policy, evals = draft_documents(inv, assessments, cfg)
    assert assessments.verdicts == {}  # released once the drafter is done with them
    # Seeded or not, the drafter writes the same suite: the verdicts are the grader's own.
    assert evals == draft_evals(inv, policy, policy.meta, budget=cfg.evals.budget, cfg=cfg)
    seeded = pipeline._eval_classifier(inv, policy, cfg, verdicts, index)
    assert seeded is not None and seeded.index is index and set(verdicts) <= set(seeded.verdicts())
    # An edited table decides differently from the build: nothing is reused.
    cls = policy.table.classes[0]
    edited = policy.table.model_copy(update={"classes": [
        cls.model_copy(update={"tier": "T3" if cls.tier != "T3" else "T2", "reviewed": True}),
        *policy.table.classes[1:]]})
    assert pipeline._eval_classifier(inv, policy.model_copy(update={"table": edited}), cfg, verdicts) is None


def test_generation_stages_restore_the_garbage_collector(tmp_path: Path) -> None:
    """The stages freeze the estate out of collections while they run, and leave the collector
    as they found it: thresholds restored, nothing left frozen, also when a stage fails."""
    import gc

    saved = gc.get_threshold()
    # Another test in this process may have tuned the collector (classify's batch mode).
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    try:
        before = gc.get_threshold()
        inv = make_inventory()
        with pipeline.long_lived_gc():
            assert gc.get_freeze_count() > 0 and gc.get_threshold() != before
            assessments = pipeline.assess(inv, Config())  # a nested stage keeps the outer settings
            assert gc.get_freeze_count() > 0 and gc.get_threshold() != before
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        policy, evals = draft_documents(inv, assessments, Config())
        write_documents(policy, evals, tmp_path, inv=inv)
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        with pytest.raises(RuntimeError), pipeline.long_lived_gc():
            raise RuntimeError("a stage fails")
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*saved)
