"""The actions step's plain readings of parsed lines hold what the pydantic models hold."""

from __future__ import annotations

import dataclasses

import pytest

from inventory.actions import _safe_flags, command_derivations, explicit_environment_signal
from inventory.commands.model import CommandLine, ParsedCommand
from inventory.commands.reading import COMMAND_ROW, CommandReading, LineReading, line_of_row, line_row, reading_of_row
from inventory.commands.shell import parse_line
from inventory.commands.verbs import action_verb, is_noise, target_candidates
from inventory.config import Config


@pytest.mark.parametrize(("reading", "model"), [(CommandReading, ParsedCommand), (LineReading, CommandLine)])
def test_a_reading_has_its_models_fields_and_defaults(reading: type, model: type) -> None:
    # (and CommandReading's ``derived``, which no copy or comparison takes along)
    fields = {f.name: f for f in dataclasses.fields(reading) if f.name != "derived"}
    assert list(fields) == list(model.model_fields)
    for name, info in model.model_fields.items():
        f = fields[name]
        if info.is_required():
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, name
        elif info.default_factory is not None:
            assert f.default_factory() == info.default_factory(), name
        else:
            assert f.default == info.default, name


TEXTS = [
    "kubectl -n orders-prod rollout restart deploy/orders-api deploy/orders-worker",
    "sudo -u postgres psql -h db.prod.example.com -d orders -c 'DROP TABLE x; select 1'",
    "ssh db1.gprd.example.net 'sudo systemctl restart patroni' && echo done | tee out.txt",
    "kubectl exec -it orders-api-7d9f8b6c4-x2x9z -- bash -c \"redis-cli -h cache FLUSHALL\"",
    "export NAMESPACE=payments; kubectl -n $NAMESPACE delete pod <pod-name> --force",
    "if [ -z \"$X\" ]; then", "aws s3 rm s3://bucket/key --recursive --profile prod", "))(",
    "psql postgres://app:REDACTED@orders-db.prod:5432/orders --password=hunter2 -c 'select 1'",
    "kafka-consumer-groups --bootstrap-server kafka.stg:9092 --group g --topic orders --reset-offsets",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_reading_holds_the_models_values(text: str) -> None:
    line = parse_line(text)
    reading = reading_of_row(line_row(line))
    assert dataclasses.asdict(reading) == line.model_dump() | {
        "commands": [pc | {"derived": None} for pc in line.model_dump()["commands"]]}
    assert [type(pc) for pc in reading.commands] == [CommandReading] * len(line.commands)
    assert line_of_row(line_row(line)) == line


def test_a_row_holds_every_field_of_a_command_in_order() -> None:
    assert COMMAND_ROW + ("derived",) == tuple(f.name for f in dataclasses.fields(CommandReading))
    line = parse_line("sudo -u postgres psql -h db.prod -c 'drop table x'")
    reading = reading_of_row(line_row(line))
    for pc, model in zip(reading.commands, line.commands):
        for name in COMMAND_ROW:
            assert getattr(pc, name) == getattr(model, name), name


def test_what_a_row_derives_is_what_the_reading_derives() -> None:
    # Worked out where the line is parsed, from the command's reading: the same values the
    # actions step works out of a reading made here; a copy with fields changed has none.
    cfg = Config()
    derive = command_derivations(cfg)
    for text in TEXTS:
        line = parse_line(text)
        with_derived, plain = reading_of_row(line_row(line, derive)), reading_of_row(line_row(line))
        assert with_derived == plain  # ``derived`` is no part of a reading's value
        for pc, bare in zip(with_derived.commands, plain.commands):
            assert bare.derived is None and pc.derived == derive(bare)
            assert pc.derived[0] == action_verb(bare) and pc.derived[2] == is_noise(bare)
            assert pc.derived[1] == explicit_environment_signal(bare, cfg)
            assert pc.derived[3] == _safe_flags(bare.flags) and pc.derived[4] == target_candidates(bare)
            assert dataclasses.replace(pc, namespace="x").derived is None


def test_a_row_is_read_into_readings_of_its_own() -> None:
    # Each read gives new lists and dicts: a reading edited (or replaced) leaves the next alone.
    row = line_row(parse_line("kubectl -n prod --context east delete pod x"))
    a, b = reading_of_row(row), reading_of_row(row)
    assert a == b and a.commands[0].flags is not b.commands[0].flags and a.commands is not b.commands
