"""The YAML loader's fast constructor and tag cache give exactly what PyYAML's own give.

Differential: each text is read twice by :func:`parse_documents`, once as shipped and once
with the fast constructor switched off (every document through ``construct_document``),
and the documents (data with types and key order, lines, indexes) and problems must be
identical: on the snippets below, every YAML file of the fixtures and the example, the
benchmark's synthetic estate and (marked ``corpora``) the real repositories.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from inventory.scanners import _yaml
from inventory.scanners._yaml import Limits, parse_documents
from tests.yaml_support import yaml_files, yaml_texts

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"

SNIPPETS = [
    "a: 1\nb: [1, 2.5, true, null, ~, 0x1F, 0o17, .inf, -.nan, 1_000]\n",
    "s: 'quoted'\nt: \"dq\"\nu: |\n  block\n  text\nv: >\n  folded\n",
    "when: 2024-01-02\nat: 2024-01-02T03:04:05Z\nbad_month: 2024-13-02\n",
    "bin: !!binary aGVsbG8=\n",
    "yes: yes\nno: no\non: on\n",
    "? [a, b]\n: complex key\n",
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",
    "=: value key\n",
    "x: !custom tag\n",
    "s: !!set {a, b}\n",
    "o: !!omap [a: 1, b: 2]\n",
    "dup: 1\ndup: 2\nother: 3\n",
    "1: int key\n2.5: float key\ntrue: bool key\nnull: null key\n",
    "---\n---\na: 1\n---\n- x\n- y\n...\n",
    "just a scalar\n",
    "a: [\n",  # a syntax error after nothing
    "a: 1\n---\nb: {\n",  # a syntax error after one good document
    "k: " + "[" * 70 + "]" * 70 + "\n",  # deeper than the limit
    "k: " + "[" * 70 + "]" * 70 + "\nbad: 2024-13-02\n",
    "- " * 40 + "x\n",
    "m: {a: {b: {c: [1, {d: e}]}}}\n",
    "empty_map: {}\nempty_list: []\nempty: \n",
    "str_tag: !!str 123\nint_tag: !!int '7'\nfloat_tag: !!float '1'\n",
    "ts_key:\n  2024-01-01: new year\n",
    # One text, three styles: the tag cache keys plain scalars by their text alone.
    "plain: 12\nsingle: '12'\ndouble: \"12\"\nnon_specific: ! 12\nlist: [12, '12', ! 12]\n12: '12'\n'12': 12\n",
]


def _read(text: str, fast: bool, limits: Limits = _yaml.DEFAULT_LIMITS) -> tuple:
    saved = _yaml._fast_construct, _yaml._LOADER, _yaml._cyaml
    if not fast:  # PyYAML's own constructor and resolver, nothing memoised, no C composer
        def slow(*_args: object) -> None:
            raise _yaml._Slow
        _yaml._fast_construct = slow  # type: ignore[assignment]
        _yaml._LOADER = _yaml._BASE_LOADER
        _yaml._cyaml = None
    try:
        docs, problems = parse_documents(text, limits)
    finally:
        _yaml._fast_construct, _yaml._LOADER, _yaml._cyaml = saved  # type: ignore[assignment]
    return [(repr(d.data), d.line, d.index) for d in docs], problems


def _same(text: str, limits: Limits = _yaml.DEFAULT_LIMITS) -> None:
    assert _read(text, True, limits) == _read(text, False, limits)


@pytest.mark.parametrize("text", SNIPPETS)
def test_fast_constructor_matches_pyyaml(text: str) -> None:
    _same(text)
    _same(text, Limits(max_depth=2))


def test_the_fast_path_is_taken_for_plain_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "_cyaml", None)  # the Python path's own fast constructor
    calls = []
    real = _yaml._LOADER.construct_document
    monkeypatch.setattr(_yaml._LOADER, "construct_document", lambda self, node: calls.append(1) or real(self, node))
    docs, _ = parse_documents("a: 1\nb: [x, {c: true}]\n")
    assert docs[0].data == {"a": 1, "b": ["x", {"c": True}]}
    assert not calls
    parse_documents("base: &b {x: 1}\nd:\n  <<: *b\n")
    assert calls  # anchors go through PyYAML's constructor


def _differential(paths: list[Path]) -> None:
    for path, text in yaml_texts(paths):
        assert _read(text, True) == _read(text, False), path


def test_fixture_and_example_yaml_matches_pyyaml() -> None:
    paths = yaml_files(REPO / "tests") + yaml_files(REPO / "examples")
    assert paths
    _differential(paths)


def test_synthetic_estate_yaml_matches_pyyaml() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import synth  # noqa: PLC0415

    files = [t for p, t in synth.generate_files(30, 42).items() if str(p).endswith((".yaml", ".yml"))]
    assert files
    for text in files:
        assert _read(text, True) == _read(text, False)


@pytest.mark.corpora
def test_corpora_yaml_matches_pyyaml() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    _differential(yaml_files(CORPORA))


@pytest.mark.parametrize("text", [
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {x: '1'}}\ndata:\n  k: [1, 2, {y: true}]\n---\nb: 2\n",
    "a: &x {b: 1}\nc: *x\n",          # aliases: PyYAML's own constructor
    "<<: {a: 1}\nb: 2\n",            # a merge key: the slow path too
    "a: [\n",                        # broken
])
def test_reading_a_file_leaves_no_garbage_for_the_cyclic_collector(text: str) -> None:
    # A scan worker runs the collector rarely: garbage made of reference cycles (a parser,
    # the nodes it holds) would pile up in it between collections.
    import gc

    parse_documents(text)  # anything made once per process (caches) is made now
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        docs, problems = parse_documents(text)
        del docs, problems
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
