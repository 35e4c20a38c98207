"""An evidence's hash is pydantic's own for a frozen model, computed by inventory.ids.

Sets and dicts of evidence are how the build merges and dedupes evidence lists, and what
some steps iterate: the number must be the one pydantic would give, or orders (and so
outputs) could change.
"""

from __future__ import annotations

import pytest
from pydantic._internal._model_construction import make_hash_func

from inventory.ids import evidence_hash
from inventory.model import Evidence


@pytest.mark.parametrize("path, line", [("runbooks/x.md", 3), ("", 1), ("ünïcode/ファイル.yaml", 2**40), ("a\udcffb", 7)])
def test_the_hash_is_pydantics_for_a_frozen_model(path: str, line: int) -> None:
    ev = Evidence(path=path, line=line)
    assert Evidence.__hash__ is evidence_hash
    assert hash(ev) == make_hash_func(Evidence)(ev) == hash((path, line))


def test_equal_evidence_hashes_alike_and_dedupes() -> None:
    a, b, c = Evidence(path="k8s/app.yaml", line=4), Evidence(path="k8s/app.yaml", line=4), Evidence(path="k8s/app.yaml", line=5)
    assert a is not b and hash(a) == hash(b)
    assert list(dict.fromkeys([a, c, b])) == [a, c]
    assert {a, b, c} == {a, c}


def test_evidence_stays_frozen() -> None:
    ev = Evidence(path="x", line=1)
    with pytest.raises(Exception):
        ev.line = 2  # type: ignore[misc]
