"""The fast HCL reader gives exactly what python-hcl2 gives, or steps aside (``None``).

Differential: every snippet below, every ``.tf`` / ``.tfvars`` of the fixtures, the example,
the benchmark's synthetic estate and (marked ``corpora``) the real repositories in
``../shared/corpora`` are read by both; where the fast reader accepts a file, the two results
must be identical, key order and value types included (compared as JSON text).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from inventory.scanners._hcl import loads_simple
from inventory.scanners.terraform import hcl2_loads, parse_hcl

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"

# Inside the subset: the fast reader must accept each of these.
ACCEPTED = [
    "",
    "# only a comment",
    'x = "plain"',
    "x = string",
    "x = var.a[0].b",
    'x = var.a["k"]',
    "x = var.a.0",
    "x = aws_s3_bucket.a.id",
    "x = var.a-b",
    'x = "a${var.x}b"',
    'x = "a${ var.x }b"',
    'x = " ${var.x} "',
    'x = "${var.a}${local.b}"',
    'x = "${foo}"',
    'x = "esc \\" \\\\ \\n \\t \\u0041 \\x"',
    'x = "a$b%c"',
    'x = "unicode é ✓"',
    "x = 1.5",
    "x = -1",
    "x = -1.25",
    "x = 007",
    "x = -0",
    "x = 10.50",
    "x = true",
    "x = null",
    "for_each = var.items",
    'x = [1, "a", var.b, ]',
    "x = []",
    "x = {}",
    'x = { a = 1, "b-c" = 2, d: 3 }',
    'x = {\n  a = 1\n  "b c" = "x"\n}',
    "x = {\n  a = 1,\n  b = 2,\n}",
    'x = {\n  "a" = 1 # c\n  /* d */ "b" = 2\n}',
    'x = [\n  # comment\n  "a", // c\n  /* b */ "b"\n]',
    'x = [\n  "a"\n  , "b"\n]',
    'x = { "a" = { b = [ { c = 1 } ] } }',
    "x = <<EOF\nhello ${var.x}\n  there \"q\" \\n\nEOF",
    "x = <<-EOF\n    hello\n      there \"q\" \\n\n    EOF",
    "x = <<EOT\n\n  blank first\n\nEOT",
    'x = [<<EOT\nline\nEOT\n, "b"]',
    "x = var.a # trailing",
    'x = "a" /* c */ # d',
    "resource a b {\n}",
    'resource "a" "b" {}',
    'r "a" { x = 1 }',
    'r "a" {\n  x = 1 }',
    "locals {\n  a = 1\n}\nlocals {\n  b = 2\n}",
    'r "a" {\n}\nx = 1\nr "a" {}',
    'r "t" "n" {\n  x = 1\n  blk {\n    y = 2\n  }\n  blk {\n    y = 3\n  }\n'
    '  dynamic "ingress" {\n    for_each = var.x\n    content {\n      a = ingress.value\n    }\n  }\n}',
    'r "a" "b" {\n  tags = {\n    "kubernetes.io/cluster" = "owned"\n    Name = "x"\n  }\n}',
]

# Outside it: left to python-hcl2 (which gives expressions as text, or an error).
FALLBACK = [
    "x = upper(\"a\")",
    "x = true ? 1 : 2",
    "x = var.a + 1",
    "x = var.a\n  + 1",
    "x = (var.a)",
    "x = aws_s3_bucket.a.*.id",
    "x = aws_s3_bucket.a[*].id",
    "x = var.a[var.b]",
    "x = { for k, v in var.m : k => v }",
    "x = [for s in var.l : upper(s)]",
    "x = 1e3",
    "x = - 1",
    "x = var.a.007",
    'x = "a$${var.x}b"',
    'x = "a%{if true}b%{endif}"',
    'x = "a${"b"}"',
    'x = "${var.a[0] }x${upper(var.b)}"',
    'x = "line\nbreak"',
    "a = 1\na = 2",
    "a = 1\na {}",
    "a {}\na = 1",
    "x = 1\r\n",
    'r "a"\n{\n}',
    "x = {a=1 b=2}",
    "x = 1 y = 2",
    "x = [,]",
    'x = "unterminated',
    "x = {",
    "x = <<EOF\nno end",
    "in = 1",
    "x = { (var.x) = 1 }",
    "x = { var.x = 1 }",
    "\ufeffx = 1",
]


def _same(text: str) -> None:
    fast = loads_simple(text)
    assert fast is not None, "expected the fast reader to accept this"
    assert json.dumps(fast) == json.dumps(hcl2_loads(text))


@pytest.mark.parametrize("text", ACCEPTED)
def test_fast_reader_matches_hcl2(text: str) -> None:
    _same(text)
    _same(text + "\n")


@pytest.mark.parametrize("text", FALLBACK)
def test_fast_reader_steps_aside(text: str) -> None:
    assert loads_simple(text) is None
    # parse_hcl then gives hcl2's answer (or its error), unchanged.
    try:
        expected = json.dumps(hcl2_loads(text))
    except Exception as exc:  # noqa: BLE001 - whatever hcl2 raises, parse_hcl raises too
        with pytest.raises(type(exc)):
            parse_hcl(text)
    else:
        assert json.dumps(parse_hcl(text)) == expected


def _differential(paths: list[Path]) -> tuple[int, int]:
    """(accepted, total) over ``paths``; fails on the first file where the two readers differ."""
    accepted = 0
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        fast = loads_simple(text)
        if fast is None:
            continue
        accepted += 1
        assert json.dumps(fast) == json.dumps(hcl2_loads(text)), f"fast reader differs from hcl2 on {path}"
    return accepted, len(paths)


def _hcl_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith((".tf", ".tfvars")))


def test_fixture_and_example_files_match_hcl2() -> None:
    paths = _hcl_files(REPO / "tests") + _hcl_files(REPO / "examples")
    accepted, total = _differential(paths)
    assert total and accepted  # the subset covers real files, not only snippets


def test_synthetic_estate_terraform_is_all_in_the_subset(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import synth  # noqa: PLC0415

    files = {p: t for p, t in synth.generate_files(40, 42).items() if str(p).endswith(".tf")}
    assert files
    for path, text in files.items():
        fast = loads_simple(text)
        assert fast is not None, f"{path} fell back to python-hcl2"
        assert json.dumps(fast) == json.dumps(hcl2_loads(text)), path


@pytest.mark.corpora
def test_corpora_terraform_matches_hcl2() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    accepted, total = _differential(_hcl_files(CORPORA))
    if not total:
        pytest.skip("no Terraform files in the corpora")
    assert accepted  # most real files use functions or operators somewhere; the rest must agree
