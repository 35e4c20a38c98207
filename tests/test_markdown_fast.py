"""The plain-markdown tokenizer gives what markdown-it gives the runbook scanner, or ``None``.

Differential: for every document it accepts (snippets, fixtures, the example, the synthetic
estate's runbooks and, marked ``corpora``, every markdown file of ``../shared/corpora``),
the fields the runbook scanner reads must equal markdown-it's: heading levels and text,
paragraph and heading line ranges with their code spans, fence info strings, first lines
and contents.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from inventory.scanners._markdown import simple_tokens

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"

ACCEPTED = [
    "",
    "# Title\n\nSome prose with `kubectl get pods` inline.\n",
    "# Title #\n## Sub ##  \n### x#\n#### `code` in heading\n##### #\n###### 6\n####### seven is text\n",
    "#hashtag is text\n",
    "Para line one\ncontinued `with a\nspan` here\n\nnext",
    "``` bash\nkubectl get pods\n\n  indented\n```\ntext\n",
    "~~~~ {.sh} extra\nls\n~~~\nstill code\n~~~~~\n",
    "```\nunclosed fence\n",
    "```sh\nnot closed at all",
    "```\n```",
    "Prose\n```bash\necho interrupts\n```\n",
    "Prose\n# heading interrupts\n",
    "`` a ` b `` and ``` unmatched ` and `  ` and ` x `\n",
    "text ```not a fence opener in prose``` end\n",
    "   three spaces of indent\n",
    "a | b | c\n---|---\n",  # no tables in CommonMark: one paragraph
    "It's 2024. Fine\n1 apple\n",
    "Ünïcödé `spån`\u00a0\n",
]

LEFT_TO_MARKDOWN_IT = [
    "- a list\n",
    "1. ordered\n",
    "> quote\n",
    "<div>html</div>\n",
    "    indented code\n",
    "Title\n=====\n",
    "Title\n---\n",
    "***\n",
    "a [link](`x`)\n",
    "an <span>`x`</span>\n",
    "escaped \\`x\\`\n",
    "tab\there\n",
    "crlf\r\n",
    "  # indented heading\n",
    " ```\nindented fence\n```\n",
    "```a`b\n```\n",
]


def _project(tokens: list) -> list:
    out = []
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            out.append(("heading_open", t.tag, tokens[i + 1].content))
        elif t.type in ("fence", "code_block"):
            out.append((t.type, t.info, t.content, list(t.map or [])))
        elif t.type == "inline":
            codes = [c.content for c in (t.children or []) if c.type == "code_inline"]
            out.append(("inline", t.content, list(t.map or []), codes))
    return out


_MD = MarkdownIt("commonmark")


def _same(text: str) -> bool:
    """Whether the tokenizer accepted ``text``; asserts it agrees with markdown-it when it did."""
    fast = simple_tokens(text)
    if fast is None:
        return False
    assert _project(fast) == _project(_MD.parse(text))
    return True


@pytest.mark.parametrize("text", ACCEPTED)
def test_plain_documents_match_markdown_it(text: str) -> None:
    assert _same(text)


@pytest.mark.parametrize("text", LEFT_TO_MARKDOWN_IT)
def test_other_constructs_are_left_to_markdown_it(text: str) -> None:
    assert simple_tokens(text) is None


def _md_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".md", ".markdown", ".mdx"))


def _differential(paths: list[Path]) -> tuple[int, int]:
    accepted = 0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        accepted += _same(text)
    return accepted, len(paths)


def test_fixture_and_example_markdown_matches() -> None:
    accepted, total = _differential(_md_files(REPO / "tests") + _md_files(REPO / "examples"))
    assert total and accepted


def test_synthetic_runbooks_are_all_plain() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import synth  # noqa: PLC0415

    docs = [t for p, t in synth.generate_files(30, 42).items() if str(p).endswith(".md")]
    assert docs
    assert all(_same(t) for t in docs)


@pytest.mark.corpora
def test_corpora_markdown_matches() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    accepted, total = _differential(_md_files(CORPORA))
    if not total:
        pytest.skip("no markdown in the corpora")
    assert accepted
