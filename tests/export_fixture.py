"""Shared by the export tests: the bundled example, generated and exported once per session."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from generators.cli import main
from generators.exporters.base import load_compiled
from generators.exporters.context import load_classifier

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "acme-platform"


def generate_and_export(root: Path, source: Path = EXAMPLE) -> Path:
    """``stackpolicy policy`` on ``source``, then every export; returns the output dir."""
    out = root / "output"
    runner = CliRunner()
    res = runner.invoke(main, ["policy", "--no-cache", "--sources", str(source), "--output", str(out)])
    assert res.exit_code == 0, (res.output, res.stderr if res.stderr_bytes is not None else "", res.exception)
    # One context for every target: the prefix rules are compiled once.
    res = runner.invoke(main, ["export", "all", "--output", str(out)])
    assert res.exit_code == 0, (res.output, res.stderr if res.stderr_bytes is not None else "", res.exception)
    return out


def classifier_for(out: Path):  # noqa: ANN201 - generators.classify.Classifier
    policy, _ = load_compiled(out / "policy.yaml")
    return load_classifier(policy, out / "inventory.yaml")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
