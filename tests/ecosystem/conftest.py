"""The real-tool suite: one generated and exported bundled example for every test."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.enforce_corpus import corpus
from tests.export_fixture import classifier_for, generate_and_export

REPORTS = Path(__file__).resolve().parents[2] / ".cache" / "ecosystem" / "reports"


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_and_export(tmp_path_factory.mktemp("ecosystem"))


@pytest.fixture(scope="session")
def clf(exported: Path):  # noqa: ANN201
    return classifier_for(exported)


@pytest.fixture(scope="session")
def lines(exported: Path) -> list[str]:
    return corpus(yaml.safe_load((exported / "policy.yaml").read_text()))


@pytest.fixture(scope="session")
def sample(lines: list[str]) -> list[str]:
    """Where a real tool is slow to start per line (``codex execpolicy check``): a fixed subset
    of the corpus (every hand-written evasion, then every k-th line, at least 400 lines); the
    whole corpus runs in-process in tests/test_export_equivalence.py with the same semantics."""
    from tests.enforce_corpus import EVASIONS

    k = max(1, len(lines) // 400)
    picked = [ln for i, ln in enumerate(lines) if i % k == 0 or ln in EVASIONS]
    return list(dict.fromkeys(picked))
