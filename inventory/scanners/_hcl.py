"""A fast reader for the plain subset of HCL most Terraform files are written in.

python-hcl2 (a Lark grammar) is exact but slow: on a typical estate it takes most of the
Terraform scanner's time. :func:`loads_simple` reads the common subset directly — blocks
with string or name labels, attributes, comments, strings with plain ``${a.b[0]}``
interpolations and escapes, numbers, ``true``/``false``/``null``, references
(``aws_s3_bucket.x.id``), lists, objects and heredocs — and gives **exactly** the
structure ``hcl2.loads(text, serialization_options=<the Terraform scanner's options>)``
gives for it (same values, types and key order; see ``tests/test_hcl_fast.py``, which
compares the two on every ``.tf`` file of the fixtures and corpora).

Anything outside that subset (function calls, operators, conditionals, ``for``
expressions, splats, template directives, CRLF line endings, duplicate keys...) makes it
return ``None``, and the caller falls back to python-hcl2. It never raises on bad input:
a syntax error is also ``None``, so python-hcl2 reports it as it always did.
"""

from __future__ import annotations

import re
from typing import Any

# Names as the grammar's NAME terminal reads them (a dash is part of a name).
_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]*")
# Words the grammar lexes as keywords or literals: reading them as names could differ.
_KEYWORDS = frozenset({"if", "in", "for", "for_each", "else", "endif", "endfor", "true", "false", "null"})
# A keyword that is an ordinary attribute name (hcl2 gives it back as the name).
_NAME_KEYWORDS = frozenset({"for_each"})
_LITERALS = {"true": True, "false": False, "null": None}
# A plain reference: a name, then `.name`, `.0`, `[0]` or `["key"]` steps, written without
# spaces (hcl2 prints it back verbatim only then). Leading zeros are left to hcl2 (`.007` → `.7`).
_INDEX = r'(?:\.[a-zA-Z_][a-zA-Z0-9_-]*|\.(?:0|[1-9][0-9]*)(?![0-9])|\[(?:0|[1-9][0-9]*)\]|\["[^"\\$%\n{}\[\]]*"\])'
_TRAVERSAL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]*" + _INDEX + "*")
_STEP_NAMES = re.compile(r"\.([a-zA-Z_][a-zA-Z0-9_-]*)")
_INTERPOLATION = re.compile(r"[ \t]*(" + _TRAVERSAL.pattern + r")[ \t]*")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Whitespace, newlines and comments (the grammar's NL_OR_COMMENT and ignored blanks).
_SKIP = re.compile(r"(?:[ \t]+|\n|#[^\n]*\n|//[^\n]*\n|/\*[\s\S]*?\*/)*")
_BLANKS = re.compile(r"[ \t]*")
# Literal text of a quoted string: anything but a quote, a backslash escape (not of a
# newline), or a `$` / `%` that does not start `${`, `$$`, `%{` or `%%` (left to hcl2).
_STRING_RUN = re.compile(r'(?:[^"\\$%\n]|\\[^\n]|\$(?![{$])|%(?![{%]))*')
# The grammar's heredoc terminals, and the patterns its serializer applies to them.
_HEREDOC = re.compile(r"<<(?P<heredoc>[a-zA-Z][a-zA-Z0-9._-]*)\r?\n(?:(?:.|\n)*?\r?\n)??\s*(?P=heredoc)\r?\n")
_HEREDOC_TRIM = re.compile(r"<<-(?P<heredoc_trim>[a-zA-Z][a-zA-Z0-9._-]*)\r?\n(?:(?:.|\n)*?\r?\n)??\s*(?P=heredoc_trim)\r?\n")
_HEREDOC_BODY = re.compile(r"<<([a-zA-Z][a-zA-Z0-9._-]*)\r?\n([\s\S]*)\1", re.S)
_HEREDOC_TRIM_BODY = re.compile(r"<<-([a-zA-Z][a-zA-Z0-9._-]*)\r?\n([\s\S]*)\1", re.S)
_TRAILING_BLANKS = re.compile(r"[ \t]*\Z")
_TRAILING_NEWLINE = re.compile(r"\r?\n\Z")

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_HEX = frozenset("0123456789abcdefABCDEF")


class _Unsupported(Exception):
    """Outside the subset (or invalid): the caller uses python-hcl2."""


def _unescape(value: str) -> str:
    """HCL escapes of a string's literal text, as python-hcl2 resolves them (unknown ones kept)."""
    if "\\" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        marker = value[i + 1]
        if marker in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[marker])
            i += 2
            continue
        if marker in ("u", "U"):
            width = 4 if marker == "u" else 8
            digits = value[i + 2 : i + 2 + width]
            if len(digits) == width and all(d in _HEX for d in digits):
                code = int(digits, 16)
                if code <= 0x10FFFF and not 0xD800 <= code < 0xE000:
                    out.append(chr(code))
                    i += 2 + width
                    continue
        out.append(c)
        out.append(marker)
        i += 2
    return "".join(out)


def _strip_closing_marker_line(text: str) -> str:
    return _TRAILING_NEWLINE.sub("", _TRAILING_BLANKS.sub("", text))


class _Reader:
    __slots__ = ("s",)

    def __init__(self, s: str) -> None:
        self.s = s

    # -- layout ----------------------------------------------------------------------
    def after_value(self, i: int, closers: str) -> int:
        """Position after the blanks following a value; it must end the line or be one of ``closers``."""
        s = self.s
        i = _BLANKS.match(s, i).end()
        c = s[i]
        if c == "\n" or c == "#" or c in closers or (c == "/" and s[i + 1] in "/*"):
            return i
        raise _Unsupported

    # -- values ----------------------------------------------------------------------
    def value(self, i: int) -> tuple[Any, int, bool]:
        """(value, position after it, whether it ended its line) of the expression at ``i``."""
        s = self.s
        c = s[i]
        if c == '"':
            text, i = self.string(i)
            return text, i, False
        if c == "[":
            return self.tuple(i)
        if c == "{":
            return self.object(i)
        if c == "<":
            return self.heredoc(i)
        if c == "-" or "0" <= c <= "9":
            m = _NUMBER.match(s, i)
            if m is None:
                raise _Unsupported
            end = m.end()
            nxt = s[end]
            if nxt.isalnum() or nxt in "._-":
                raise _Unsupported  # exponents, `1.`, `5-1`, names starting with digits...
            return (float(m.group()) if m.group(1) else int(m.group())), end, False
        m = _TRAVERSAL.match(s, i)
        if m is None:
            raise _Unsupported
        text = m.group()
        end = m.end()
        if s[end] in ".[(":
            raise _Unsupported  # splats, computed indexes, function calls
        head = _NAME.match(text).group()
        if len(head) == len(text):
            if head in _LITERALS:
                return _LITERALS[head], end, False
            if head in _KEYWORDS:
                raise _Unsupported
            return head, end, False
        self.check_steps(text, head)
        return "${" + text + "}", end, False

    @staticmethod
    def check_steps(text: str, head: str) -> None:
        if head in _KEYWORDS or any(step in _KEYWORDS for step in _STEP_NAMES.findall(text)):
            raise _Unsupported

    def string(self, i: int) -> tuple[str, int]:
        """A quoted string at ``i``: its value (escapes resolved) and the position after it."""
        s = self.s
        i += 1
        parts: list[str] = []
        while True:
            m = _STRING_RUN.match(s, i)
            run = m.group()
            i = m.end()
            c = s[i]
            parts.append(_unescape(run))
            if c == '"':
                return "".join(parts), i + 1
            if c == "$" and s[i + 1] == "{":
                close = s.find("}", i + 2)
                if close < 0:
                    raise _Unsupported
                inner = _INTERPOLATION.fullmatch(s, i + 2, close)
                if inner is None:
                    raise _Unsupported
                ref = inner.group(1)
                head = _NAME.match(ref).group()
                self.check_steps(ref, head)
                parts.append("${" + ref + "}")
                i = close + 1
                continue
            raise _Unsupported  # a newline, `$${`, `%{`, `%%`...

    def plain_string(self, i: int) -> tuple[str, int]:
        """A quoted string without interpolation (labels, object keys)."""
        text, end = self.string(i)
        if "${" in self.s[i:end]:
            raise _Unsupported
        return text, end

    def heredoc(self, i: int) -> tuple[str, int, bool]:
        s = self.s
        if s.startswith("<<-", i):
            m = _HEREDOC_TRIM.match(s, i)
            if m is None:
                raise _Unsupported
            body = _HEREDOC_TRIM_BODY.match(m.group())
            if body is None:
                raise _Unsupported
            lines = _strip_closing_marker_line(body.group(2)).split("\n")
            indent = min((len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip()), default=0)
            # python-hcl2 escapes backslashes and quotes of an indented heredoc even when it
            # returns the value unquoted; the result must be the same.
            return "\n".join(ln[indent:].replace("\\", "\\\\").replace('"', '\\"') for ln in lines), m.end(), True
        m = _HEREDOC.match(s, i)
        if m is None:
            raise _Unsupported
        body = _HEREDOC_BODY.match(m.group())
        if body is None:
            raise _Unsupported
        return _strip_closing_marker_line(body.group(2)), m.end(), True

    def tuple(self, i: int) -> tuple[list, int, bool]:
        s = self.s
        out: list = []
        i = _SKIP.match(s, i + 1).end()
        while s[i] != "]":
            item, i, ended = self.value(i)
            out.append(item)
            if not ended:
                i = self.after_value(i, ",]")
            i = _SKIP.match(s, i).end()
            if s[i] == ",":
                i = _SKIP.match(s, i + 1).end()
            elif s[i] != "]":
                raise _Unsupported
        return out, i + 1, False

    def object(self, i: int) -> tuple[dict, int, bool]:
        s = self.s
        out: dict = {}
        i = _SKIP.match(s, i + 1).end()
        while s[i] != "}":
            if s[i] == '"':
                key, i = self.plain_string(i)
            else:
                m = _NAME.match(s, i)
                if m is None:
                    raise _Unsupported
                key = m.group()
                if key in _KEYWORDS and key not in _NAME_KEYWORDS:
                    raise _Unsupported
                i = m.end()
            i = _BLANKS.match(s, i).end()
            c = s[i]
            if not ((c == "=" and s[i + 1] not in "=>") or (c == ":" and s[i + 1] != ":")):
                raise _Unsupported
            i = _BLANKS.match(s, i + 1).end()
            if key in out:
                raise _Unsupported
            out[key], i, ended = self.value(i)
            if not ended:
                i = self.after_value(i, ",}")
            start = i
            i = _SKIP.match(s, i).end()
            separated = ended or i > start
            if s[i] == ",":
                i = _SKIP.match(s, i + 1).end()
                separated = True
            if s[i] != "}" and not separated:
                raise _Unsupported
        return out, i + 1, False

    # -- bodies ----------------------------------------------------------------------
    def body(self, i: int, top: bool) -> tuple[dict, int]:
        s = self.s
        n = len(s)
        out: dict = {}
        attributes: set[str] = set()
        while True:
            i = _SKIP.match(s, i).end()
            if i >= n:
                if top:
                    return out, i
                raise _Unsupported
            if s[i] == "}" and not top:
                return out, i + 1
            m = _NAME.match(s, i)
            if m is None:
                raise _Unsupported
            name = m.group()
            if name in _KEYWORDS and name not in _NAME_KEYWORDS:
                raise _Unsupported
            i = _BLANKS.match(s, m.end()).end()
            closers = "" if top else "}"
            if s[i] == "=" and s[i + 1] not in "=>":
                if name in out:
                    raise _Unsupported  # redefined (or a block of that name): left to hcl2
                i = _BLANKS.match(s, i + 1).end()
                out[name], i, ended = self.value(i)
                attributes.add(name)
                if not ended:
                    i = self.after_value(i, closers)
                continue
            labels: list[str] = []
            while s[i] != "{":
                if s[i] == '"':
                    label, i = self.plain_string(i)
                else:
                    lm = _NAME.match(s, i)
                    if lm is None or lm.group() in _KEYWORDS:
                        raise _Unsupported
                    label, i = lm.group(), lm.end()
                labels.append(label)
                i = _BLANKS.match(s, i).end()
            block, i = self.body(i + 1, top=False)
            for label in reversed(labels):
                block = {label: block}
            if name in attributes:
                raise _Unsupported
            out.setdefault(name, []).append(block)
            i = self.after_value(i, closers)


def loads_simple(text: str) -> dict | None:
    """``text`` read as python-hcl2 reads it, or ``None`` when it is outside the plain subset."""
    if "\r" in text:
        return None  # CRLF: hcl2's handling of a carriage return depends on where it is
    s = text + "\n"  # python-hcl2 parses the text with a newline appended, too
    try:
        data, _ = _Reader(s).body(0, top=True)
    except (_Unsupported, IndexError, RecursionError):
        return None
    return data
