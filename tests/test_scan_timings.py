"""`stackpolicy scan --timings`: where a scan's time went, stage by stage."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from generators.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


def _scan(tmp_path: Path, *extra: str) -> str:
    res = CliRunner().invoke(main, ["scan", str(EXAMPLE), "-o", str(tmp_path / "inventory.yaml"), *extra],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_timings_name_every_stage_of_a_fresh_scan(tmp_path: Path) -> None:
    out = _scan(tmp_path, "--no-cache", "--timings")
    line = next(x for x in out.splitlines() if x.strip().startswith("stages:"))
    for stage in ("walk, read and scan files", "merge fragments", "commands to actions", "scrub secrets"):
        assert f"{stage} " in line
    assert "store the inventory" not in line  # --no-cache: nothing stored


def test_without_the_flag_no_timings_are_printed(tmp_path: Path) -> None:
    assert "stages:" not in _scan(tmp_path, "--no-cache")
