"""A fast tokenizer for plain markdown: ATX headings, paragraphs and fenced code blocks.

The runbook scanner reads four things from markdown-it's tokens: headings (level and text),
fenced and indented code blocks (info string, first line, content) and inline code spans
(content, paragraph lines). Most runbooks are headings, prose and fences; building those
tokens directly takes a fraction of markdown-it's time. :func:`simple_tokens` does so for a
document that uses nothing else, giving exactly what ``MarkdownIt("commonmark").parse``
gives for those fields (``tests/test_markdown_fast.py`` compares the two on the fixtures,
the synthetic estate and every markdown file of the corpora), and returns ``None`` for any
document with another construct (lists, block quotes, HTML, links, indented code, setext
headings, tabs...), which the scanner then hands to markdown-it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import accumulate

# markdown-it's mdTrim set (the CommonMark whitespace characters).
_TRIM = "".join(chr(c) for c in sorted({0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x202F, 0x205F, 0x3000,
                                        0x2028, 0x2029} | set(range(0x2000, 0x200B))))
# Lines that may start a construct this tokenizer does not build: block quotes, HTML blocks,
# list items, thematic breaks and setext underlines.
_OTHER_BLOCK = re.compile(r"[><]|[-+*](?:[ \t]|$)|[0-9]{1,9}[.)](?:[ \t]|$)|[-=_* ]+$")
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")


@dataclass
class Tok:
    """The fields of a markdown-it token the runbook scanner reads."""

    type: str
    tag: str = ""
    content: str = ""
    info: str = ""
    map: list[int] | None = None
    children: list["Tok"] = field(default_factory=list)


class _Other(Exception):
    """The document uses a construct left to markdown-it."""


def _code_spans(text: str) -> list[Tok]:
    """The code spans of inline ``text``, as markdown-it's backtick rule finds them."""
    out: list[Tok] = []
    pos = text.find("`")
    n = len(text)
    while pos != -1:
        end = pos + 1
        while end < n and text[end] == "`":
            end += 1
        run = end - pos
        search = end
        found = -1
        while True:
            start = text.find("`", search)
            if start == -1:
                break
            stop = start + 1
            while stop < n and text[stop] == "`":
                stop += 1
            if stop - start == run:
                found = start
                break
            search = stop
        if found == -1:
            pos = text.find("`", end)  # an unmatched run is literal text
            continue
        content = text[end:found].replace("\n", " ")
        if content.startswith(" ") and content.endswith(" ") and any(c != " " for c in content):
            content = content[1:-1]
        out.append(Tok("code_inline", "code", content))
        pos = text.find("`", stop)
    return out


def _inline(content: str, line_map: list[int]) -> Tok:
    # Inline syntax that can take backticks away from code spans (links, HTML, autolinks,
    # escapes). Each character looked for on its own: a single character is found in bulk, a
    # regex character set ([...]) is tried a character at a time (0.76 against 0.05 us on a
    # runbook paragraph).
    if "[" in content or "]" in content or "<" in content or "\\" in content:
        raise _Other
    return Tok("inline", content=content, map=line_map, children=_code_spans(content))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def simple_tokens(text: str) -> list[Tok] | None:
    """Heading, inline and fence tokens of ``text`` as markdown-it gives them, or ``None``."""
    if "\r" in text or "\0" in text or "\v" in text or "\f" in text:
        return None  # markdown-it normalises these; left to it
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    # The length of the lines before each line (for fence contents cut from the source as
    # markdown-it does: line k starts at lengths[k] + k, after k newlines), summed in C.
    lengths = list(accumulate(map(len, lines), initial=0))
    n = len(lines)
    tokens: list[Tok] = []
    try:
        i = 0
        while i < n:
            line = lines[i]
            if not line.strip(" \t"):
                i += 1
                continue
            kind = _block_kind(line)
            if kind == "fence":
                i = _fence(text, lines, lengths, i, tokens)
            elif kind == "heading":
                level = len(line) - len(line.lstrip("#"))
                body = line[level:].rstrip(" \t")
                stripped = body.rstrip("#")  # a closing sequence goes only after a space
                if len(stripped) < len(body) and stripped and stripped[-1] == " ":
                    body = stripped
                tokens.append(Tok("heading_open", "h" + str(level)))
                tokens.append(_inline(body.strip(_TRIM), [i, i + 1]))
                i += 1
            else:  # a paragraph: up to a blank line, a heading or a fence
                first = i
                i += 1
                while i < n and lines[i].strip(" \t"):
                    nxt = _block_kind(lines[i])
                    if nxt != "text":
                        break
                    i += 1
                content = "\n".join(lines[first:i]).strip(_TRIM)
                tokens.append(_inline(content, [first, i]))
    except _Other:
        return None
    return tokens


def _block_kind(line: str) -> str:
    """``fence``, ``heading`` or ``text`` for a non-blank line; raises :class:`_Other` otherwise."""
    if "\t" in line:
        raise _Other  # tab stops change indentation rules
    rest = line.lstrip(" ")
    indent = len(line) - len(rest)
    if indent:
        if indent >= 4:
            raise _Other  # indented code, or a lazy continuation line
        if rest[0] in "#`~":
            raise _Other  # indented headings and fences: left to markdown-it
    if rest.startswith(("```", "~~~")):
        m = _FENCE.match(rest)
        if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            return "fence"
        raise _Other
    if rest.startswith("#"):
        level = len(rest) - len(rest.lstrip("#"))
        if level <= 6 and (len(rest) == level or rest[level] == " "):
            return "heading"
        return "text"
    if _OTHER_BLOCK.match(rest):
        raise _Other
    return "text"


def _fence(text: str, lines: list[str], lengths: list[int], i: int, tokens: list[Tok]) -> int:
    """Add the fence opening at line ``i``; returns the line after it."""
    m = _FENCE.match(lines[i])
    marker, params = m.group(1), m.group(2)  # type: ignore[union-attr]
    fence_char = marker[0]
    n = len(lines)
    j = i + 1
    closed = False
    while j < n:
        ln = lines[j]
        if fence_char not in ln:  # cannot close the fence (most lines of a block): one test, no copy
            j += 1
            continue
        body = ln.lstrip(" \t")
        if body.startswith(fence_char):
            if "\t" in ln[: len(ln) - len(body)]:
                raise _Other
            if _indent(ln) < 4:
                run = len(body) - len(body.lstrip(fence_char))
                if run >= len(marker) and not body[run:].strip(" \t"):
                    closed = True
                    break
        j += 1
    content = text[lengths[i + 1] + i + 1 : lengths[j] + j] if i + 1 < j else ""
    end = j + 1 if closed else j
    tokens.append(Tok("fence", "code", content, params, [i, end]))
    return end
