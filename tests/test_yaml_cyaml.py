"""The C composer (``_cyaml``) gives exactly what PyYAML's path gives, and the line table
gives the lines PyYAML's node tree gave.

Differential: each text is read by :func:`parse_documents` with the extension and without it
(``_yaml._cyaml = None``), and the documents (data with types and key order, lines, indexes,
line tables, every line answer) and problems must be identical: on snippets, every YAML file
of the fixtures and the example, random texts with the awkward cases, and (marked
``corpora``) the real repositories. Line answers are also checked against a walk over
PyYAML's own nodes (the code the line table replaced).
"""

from __future__ import annotations

import random
import shutil
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from inventory.scanners import _yaml
from inventory.scanners._yaml import Doc, Limits, iter_scalar_lines, iter_scalars, parse_documents
from tests.yaml_support import yaml_files, yaml_texts

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"

try:
    from inventory.scanners import _cyaml
except ImportError:
    _cyaml = None

needs_cyaml = pytest.mark.skipif(_cyaml is None, reason="the _cyaml extension is not built")


@contextmanager
def _pure() -> Iterator[None]:
    saved = _yaml._cyaml
    _yaml._cyaml = None
    try:
        yield
    finally:
        _yaml._cyaml = saved


def _paths(data: Any) -> list[tuple]:
    """Every path into ``data`` (collections too), and paths that leave it at every level."""
    out: list[tuple] = [()]
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        path, cur = stack.pop()
        if isinstance(cur, dict):
            items = list(cur.items())
            out.append(path + ("no such key",))
        elif isinstance(cur, list):
            items = list(enumerate(cur))
            out.extend([path + (len(cur),), path + (-1,), path + ("0",)])
        else:
            continue
        for k, v in items:
            out.append(path + (k,))
            if not isinstance(k, str):
                out.append(path + (str(k),))  # line_of matches the key's text
            stack.append((path + (k,), v))
    return out


def _answers(doc: Doc) -> tuple:
    """Every line answer a scanner can ask of ``doc``."""
    paths = _paths(doc.data)
    children = []
    for p in paths:
        child = doc.child(*p)
        children.append((p, child.line, list(iter_scalar_lines(child))))
    return ([(p, doc.line_of(p)) for p in paths], list(iter_scalar_lines(doc)), children)


def _read(text: str, use_c: bool, limits: Limits = _yaml.DEFAULT_LIMITS) -> tuple:
    if use_c:
        docs, problems = parse_documents(text, limits)
    else:
        with _pure():
            docs, problems = parse_documents(text, limits)
    return [(repr(d.data), d.line, d.index, d.node, _answers(d)) for d in docs], problems


def _same(text: str, limits: Limits = _yaml.DEFAULT_LIMITS) -> None:
    assert _read(text, True, limits) == _read(text, False, limits), text


# --- line answers from PyYAML's own node tree: the code the line table replaced -------------

def _pyyaml_line_of(node: yaml.Node, line: int, path: tuple) -> int:
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _pyyaml_nodes(text: str) -> list[yaml.Node] | None:
    """The constructed documents' nodes (merge keys flattened), or None when PyYAML fails."""
    loader = yaml.CSafeLoader(text)
    out = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if loader.construct_document(node) is not None:
                out.append(node)
    except Exception:
        return None
    finally:
        loader.dispose()
    return out


def _same_lines_as_pyyaml_nodes(text: str) -> None:
    nodes = _pyyaml_nodes(text)
    docs, problems = parse_documents(text)
    if nodes is None or problems or len(nodes) != len(docs):
        return  # limits or errors: documents the two do not pair up
    for doc, node in zip(docs, nodes):
        for p in _paths(doc.data):
            assert doc.line_of(p) == _pyyaml_line_of(node, doc.line, p), (text, p)


SNIPPETS = [
    "a: 1\nb: [1, 2.5, true, null, ~, 0x1F, 0o17, 017, .inf, -.nan, 1_000, 1:30, +12, -0]\n",
    "s: 'quoted'\nt: \"dq\\t\"\nu: |\n  block\n  text\nv: >-\n  folded\n  more\n",
    "when: 2024-01-02\nat: 2024-01-02T03:04:05Z\nsp: 2001-12-14 21:59:43.10 -5\n",
    "bad_month: 2024-13-02\n",
    "bin: !!binary aGVsbG8=\n",
    "yes: yes\nno: no\non: on\noff: off\nY: n\n",
    "? [a, b]\n: complex key\n",
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n  x: 3\n",
    "=: value key\n",
    "v: =\n",
    "x: !custom tag\n",
    "str_tag: !!str 123\n",
    "seq: !!seq [a]\n",
    "dup: 1\ndup: 2\nother: {dup: 3, dup: 4}\n",
    "1: int key\n0x10: hex\n2.5: float key\ntrue: bool key\nnull: null key\n~: tilde\n'1': str one\n",
    ".nan: a\n.NaN: b\nx: [.nan, .nan]\n",
    "---\n---\na: 1\n---\n- x\n- y\n...\n--- ~\n--- ''\n",
    "just a scalar\n",
    "", "# only a comment\n", "---\n", "...\n",
    "a: [\n",
    "a: 1\n---\nb: {\n",
    "k: " + "[" * 70 + "]" * 70 + "\n",
    "- " * 40 + "x\n",
    "a:\n  b:\n    c:\n      - d: [1, {e: f}]\n        g: h\n",
    "empty_map: {}\nempty_list: []\nempty:\nnested: {a: {}, b: []}\n",
    "\ufeffbom: 1\n",
    "nul: a\x00b\n",
    "tab:\tvalue\nx:\n\t- y\n",
    "uni: caf\u00e9 \u65e5\u672c \U0001f600\n'\u00e9': 1\n",
    "long: " + "x" * 100_000 + "\n",
    "kind: List\nitems:\n  - {kind: A, metadata: {name: n}}\n  -\n    kind: B\n",
    "paths:\n  /a:\n    get: {}\n    GET: {}\n  /a:\n    post: {}\n    get: {}\n",
    "surrogate: \ud800\n",
]


@pytest.mark.parametrize("text", SNIPPETS)
def test_c_path_matches_pyyaml_path(text: str) -> None:
    try:
        _same(text)
    except UnicodeEncodeError:
        # PyYAML cannot read a str with lone surrogates: both paths must raise the same.
        with pytest.raises(UnicodeEncodeError), _pure():
            parse_documents(text)
        with pytest.raises(UnicodeEncodeError):
            parse_documents(text)
        return
    _same(text, Limits(max_depth=2))
    _same_lines_as_pyyaml_nodes(text)


def _differential(paths: list[Path]) -> None:
    for path, text in yaml_texts(paths):
        assert _read(text, True) == _read(text, False), path
        _same_lines_as_pyyaml_nodes(text)


def test_fixture_and_example_yaml() -> None:
    paths = yaml_files(REPO / "tests") + yaml_files(REPO / "examples")
    assert paths
    _differential(paths)


@pytest.mark.corpora
def test_corpora_yaml() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    _differential(yaml_files(CORPORA))


# --- random texts --------------------------------------------------------------------------

KEYS = ["name", "image", "dup", "dup", "1", "0x1f", "true", "yes", "no", "on", "off", "null", "~", "2.5",
        "'quoted key'", '"1"', "<<", "=", "2024-01-02", "caf\u00e9", "a b", ".inf", "-1"]
SCALARS = ["yes", "no", "on", "off", "y", "n", "~", "null", "", ".inf", "-.inf", ".nan", "0o17", "017", "0x1f",
           "0b101", "1_000", "1:30", "-1:30:15", "190:20:30.15", "3.", "1e3", "6.8523015e+5", "+12",
           "2024-01-02", "2024-13-02", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
           "!!binary aGVsbG8=", "!!str 12", "!custom x", "'single'", "\"double \\u00e9\\n\"",
           "plain text", "caf\u00e9 \u65e5\u672c", "http://x:80/y", "a: b", "'it''s'", "<<", "=", "x" * 300,
           "&anchor value", "*anchor", "- not a list"]
BREAKERS = ["{", "]", ": :", "\t- tab", "key: [unclosed", "\x00", "%YAML 1.1", "? complex\n: key", "@bad"]


def _scalar(rng: random.Random) -> str:
    return rng.choice(SCALARS)


def _flow(rng: random.Random, depth: int) -> str:
    if depth > 3 or rng.random() < 0.4:
        s = _scalar(rng)
        return s if s and s[0] not in "-:&*!?" and ": " not in s else f"'{s}'" if "'" not in s else "x"
    if rng.random() < 0.5:
        return "[" + ", ".join(_flow(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    return "{" + ", ".join(f"{rng.choice(KEYS)}: {_flow(rng, depth + 1)}" for _ in range(rng.randint(0, 3))) + "}"


def _block(rng: random.Random, indent: int, depth: int, out: list[str]) -> None:
    pad = " " * indent
    if depth > 6 or rng.random() < 0.25:
        return
    if rng.random() < 0.6:
        for _ in range(rng.randint(1, 4)):
            key = rng.choice(KEYS)
            r = rng.random()
            if r < 0.35:
                out.append(f"{pad}{key}: {_scalar(rng)}")
            elif r < 0.5:
                out.append(f"{pad}{key}: {_flow(rng, depth)}")
            elif r < 0.6:
                out.append(f"{pad}{key}: {rng.choice(['|', '>-', '|+', '>'])}")
                out.extend(f"{pad}  {_scalar(rng)}" for _ in range(rng.randint(1, 3)))
            elif r < 0.65:
                out.append(f"{pad}{key}: &a{rng.randint(0, 2)}")
                _block(rng, indent + 2, depth + 1, out)
            elif r < 0.7:
                out.append(f"{pad}{key}: *a{rng.randint(0, 2)}")
            else:
                out.append(f"{pad}{key}:" + (f"  # comment {key}" if rng.random() < 0.2 else ""))
                _block(rng, indent + 2, depth + 1, out)
    else:
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.4:
                out.append(f"{pad}- {_scalar(rng)}")
            else:
                out.append(f"{pad}-")
                _block(rng, indent + 2, depth + 1, out)


def _random_text(rng: random.Random) -> str:
    docs = []
    for _ in range(rng.randint(1, 3)):
        lines: list[str] = []
        if rng.random() < 0.1:
            lines.append(rng.choice(["[" * 70 + "x" + "]" * 70, "k: " + "{a: " * 40 + "1" + "}" * 40]))
        else:
            _block(rng, 0, 0, lines)
        docs.append("\n".join(lines))
    sep = rng.choice(["\n---\n", "\n...\n---\n", "\n--- # doc\n"])
    text = ("---\n" if rng.random() < 0.3 else "") + sep.join(docs) + "\n"
    if rng.random() < 0.1:
        lines = text.split("\n")
        at = rng.randrange(len(lines))
        lines.insert(at, rng.choice(BREAKERS))
        text = "\n".join(lines)
    if rng.random() < 0.05:
        text = "\ufeff" + text
    return text


def test_random_texts() -> None:
    rng = random.Random(20261205)
    taken = 0
    for _ in range(1500):
        text = _random_text(rng)
        _same(text)
        _same_lines_as_pyyaml_nodes(text)
        if _cyaml is not None and _cyaml.compose(text, 64, {}, _yaml._plain_value, _yaml._DECLINE) is not None:
            taken += 1
    if _cyaml is not None:
        assert 100 < taken < 1400  # both paths are exercised


# --- the extension itself -------------------------------------------------------------------

def test_the_extension_is_built_where_it_can_be() -> None:
    """A machine with a C compiler and libyaml's header must have the extension: an import
    failure there is a broken build, not a missing optional feature."""
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    header = any(Path(d, "yaml.h").is_file() for d in ("/usr/include", "/usr/local/include"))
    if not (shutil.which("gcc") or shutil.which("cc")) or not header or not include.is_file():
        pytest.skip("no C compiler, Python.h or yaml.h here: the pure-Python loader is used")
    assert _cyaml is not None, "the _cyaml extension should have been built (pip install -e .)"
    assert (_cyaml.MAPPING, _cyaml.SEQUENCE) == (_yaml.MAPPING, _yaml.SEQUENCE)


@needs_cyaml
def test_plain_texts_take_the_c_path_and_unusual_ones_decline() -> None:
    def compose(text: str) -> Any:
        return _cyaml.compose(text, 64, _yaml._PLAIN_VALUES, _yaml._plain_value, _yaml._DECLINE)

    assert compose("a: 1\nb: [x, {c: true}]\n") == [
        ({"a": 1, "b": ["x", {"c": True}]}, 1, 0, (1, 1, [("a", 1, 1), ("b", 2, (2, 2, [2, (1, 2, [("c", 2, 2)])]))]))]
    for text in ["a: &x 1\nb: *x\n", "a: !!str 1\n", "? [a]\n: b\n", "<<: {a: 1}\n", "a: [\n", "x: 2024-13-02\n",
                 "k: " + "[" * 65 + "]" * 65 + "\n", "a: 1\n---\n{\n"]:
        assert compose(text) is None, text


@needs_cyaml
def test_python_errors_come_through_and_leave_nothing_behind() -> None:
    def boom(text: str) -> Any:
        raise KeyError(text)

    with pytest.raises(KeyError):
        _cyaml.compose("a: [b, {c: d}]\n", 64, {}, boom, _yaml._DECLINE)
    with pytest.raises(TypeError):
        _cyaml.compose("a: 1\n", 64, [], _yaml._plain_value, _yaml._DECLINE)  # the memo must be a dict
    assert _cyaml.compose("a: [b, {c: d}]\n", 64, {}, lambda text: text, _yaml._DECLINE)[0][0] == {"a": ["b", {"c": "d"}]}


@needs_cyaml
def test_no_leaks() -> None:
    """Reference counts: reading the same texts again and again allocates nothing that stays."""
    import gc  # noqa: PLC0415
    import sys  # noqa: PLC0415

    texts = [p.read_text(encoding="utf-8") for p in yaml_files(REPO / "tests") + yaml_files(REPO / "examples")]
    texts += SNIPPETS[:-1] + [_random_text(random.Random(i)) for i in range(200)]
    texts += ["[" * 5000 + "]" * 5000, "a: &a [*a, *a]\n", "k: " + "{a: " * 900 + "1" + "}" * 900 + "\n"]

    def rounds(n: int) -> None:
        for _ in range(n):
            for text in texts:
                parse_documents(text)
                _cyaml.compose(text, 3, {}, _yaml._plain_value, _yaml._DECLINE)  # declines mid-document

    rounds(3)  # caches filled
    # The collector frees cycles (PyYAML's path makes some, with exceptions), never what a
    # reference count kept too high holds: only that garbage is taken out of the count.
    gc.collect()
    before = sys.getallocatedblocks()
    rounds(10)
    gc.collect()
    # A leak of one object per document or scalar would be tens of thousands of blocks.
    assert sys.getallocatedblocks() - before < 500
