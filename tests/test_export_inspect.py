"""`stackpolicy export inspect`: a JSONL dataset in the shape Inspect AI's `json_dataset`
reads with its default field spec (`id`, `input`, `target`, `metadata`; chat-message input),
plus a task file. Loaded with Inspect itself when it is installed."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from generators.exporters import TARGETS, exporter
from generators.exporters.base import ExportContext, ExportError
from generators.exporters.inspect_ai import DATASET, TASK, samples
from tests.evalrun_support import World, make_world


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def files(world: World) -> dict[str, str]:
    return exporter("inspect")(ExportContext(policy=world.policy, evals=world.suite)).files


def _rows(files: dict[str, str]) -> list[dict]:
    return [json.loads(line) for line in files[DATASET].splitlines()]


def test_registered_as_an_export_target() -> None:
    assert TARGETS["inspect"] == "generators.exporters.inspect_ai"


def test_every_line_is_a_sample_with_the_default_fields(world: World, files: dict[str, str]) -> None:
    rows = _rows(files)
    assert [r["id"] for r in rows] == [c.id for c in world.suite.cases if not c.disabled]
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert set(r) == {"id", "input", "target", "metadata"}
        assert [m["role"] for m in r["input"]] == ["system", "user"]
        assert all(set(m) == {"role", "content"} and m["content"] for m in r["input"])
        assert isinstance(r["target"], str) and r["target"].startswith("Expected behaviour: ")
        assert r["metadata"]["tier"] in ("T0", "T1", "T2", "T3")


def test_samples_carry_the_case(world: World, files: dict[str, str]) -> None:
    case = next(c for c in world.suite.cases if c.category == "prompt-injection")
    row = next(r for r in _rows(files) if r["id"] == case.id)
    assert row["input"][1]["content"] == case.request
    assert case.situation in row["input"][0]["content"]
    assert all(c in row["target"] for c in case.pass_criteria + case.fail_criteria)
    meta = row["metadata"]
    assert meta["expected"] == case.expected and meta["class_ids"] == case.class_ids
    # The whole case travels with the sample: its scripted tool state and its planted instruction.
    assert meta["case"]["tools"] == [t.model_dump() for t in case.tools]
    assert meta["case"]["injection"] == case.injection and meta["case"]["shortcut"] == case.shortcut


def test_runbooks_are_embedded_redacted(world: World, tmp_path: Path) -> None:
    case = next(c for c in world.suite.cases if c.files)
    p = tmp_path / case.files[0]
    p.parent.mkdir(parents=True)
    p.write_text("1. export PGPASSWORD=Sup3rS3cretPassw0rd\n2. restart\n")
    row = next(r for r in samples(world.suite, sources=[tmp_path]) if r["id"] == case.id)
    text = row["metadata"]["files"][case.files[0]]
    assert "restart" in text and "Sup3rS3cretPassw0rd" not in text


def test_task_file_uses_the_dataset_and_the_tools(files: dict[str, str]) -> None:
    tree = ast.parse(files[TASK])
    funcs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert {"stackpolicy_evals", "run_command", "request_approval", "escalate", "read_file", "policy_grade"} <= funcs
    assert Path(DATASET).name in files[TASK] and Path(TASK).parent == Path(DATASET).parent
    # The model-graded scorer is opt-in and never judges with the model under test.
    assert 'model_graded_qa(model_role="grader"' in files[TASK] and "if rubric:" in files[TASK]


def test_export_needs_a_suite(world: World) -> None:
    with pytest.raises(ExportError, match="no eval suite"):
        exporter("inspect")(ExportContext(policy=world.policy, evals=None))


def test_inspect_loads_the_dataset_and_task(files: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("inspect_ai")
    from inspect_ai.dataset import json_dataset

    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ds = json_dataset(str(tmp_path / DATASET))
    assert len(ds) == len(_rows(files)) and ds[0].id == _rows(files)[0]["id"]
    assert ds[0].input[0].role == "system" and ds[0].metadata["tier"] in ("T0", "T1", "T2", "T3")
