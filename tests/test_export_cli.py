"""`stackpolicy export` on the command line: clean errors (never a traceback) and complete help."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generators.cli import main
from generators.exporters import TARGETS
from tests.test_review_roundtrip import _policy, _repo


@pytest.fixture(scope="module")
def out_without_evals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compiled policy whose eval suite (evals.yaml) is missing."""
    root = tmp_path_factory.mktemp("export-cli")
    out = root / "out"
    code, output = _policy(out, _repo(root / "repo"))
    assert code == 0, output
    (out / "evals.yaml").unlink()
    return out


@pytest.mark.parametrize(("target", "name"), [("promptfoo", "promptfoo"), ("inspect", "inspect"), ("all", "promptfoo")])
def test_export_error_is_a_clean_usage_error(out_without_evals: Path, target: str, name: str) -> None:
    shutil.rmtree(out_without_evals / "enforce", ignore_errors=True)
    res = CliRunner().invoke(main, ["export", target, "--output", str(out_without_evals)])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)  # not an ExportError traceback
    assert "Traceback" not in res.output
    assert f"error: {name}: no eval suite (evals.yaml)" in res.output
    assert not (out_without_evals / "enforce").exists()  # a failed export writes nothing


def test_policy_exports_still_work_without_evals(out_without_evals: Path) -> None:
    res = CliRunner().invoke(main, ["export", "json", "--output", str(out_without_evals)])
    assert res.exit_code == 0, res.output


def test_help_lists_every_target() -> None:
    res = CliRunner().invoke(main, ["export", "--help"])
    assert res.exit_code == 0
    described = {line.split()[0] for line in res.output.splitlines() if line.startswith("  ") and line.split()}
    assert set(TARGETS) | {"all"} <= described, res.output
