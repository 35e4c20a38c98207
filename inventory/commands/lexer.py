"""A small, forgiving shell lexer: one shell text → its simple commands.

Why not ``shlex`` or ``bashlex``: ``shlex`` does not know operators, substitutions or
heredocs, and ``bashlex`` raises on much of what people paste into runbooks. This lexer
understands the parts that matter for *which commands would run* (quotes, escapes,
``&& || ; | &``, subshells, ``$( )``, backticks, process substitution, redirections,
heredocs and here-strings) and never raises: problems are reported in ``error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A run of characters with no special meaning to the shell (the fast path).
_PLAIN = re.compile(r"[^\s'\"\\$`;&|()<>#\[]+")
_SPACES = re.compile(r"[ \t\r]+")
_MAKE_VAR = re.compile(r"[A-Z_][A-Z0-9_]*$")
_TEST_PREFIX = frozenset({"if", "elif", "while", "until", "!", "then", "do"})
_CONTROL_OPS = frozenset({"&&", "||", ";", "|", "&", "|&", ";;"})
_REDIR_OPS = ("<<<", "<<-", "&>>", "<<", "<>", "<&", ">>", ">|", ">&", "&>", "<", ">")


@dataclass(slots=True)
class SimpleCommand:
    """One simple command: its words (quotes removed), redirections and nested texts."""

    words: list[str] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (operator, target)
    stdin: str | None = None  # heredoc / here-string body
    nested: list[str] = field(default_factory=list)  # inner texts of $( ), ` `, <( )
    op_before: str | None = None  # the operator that preceded it ("|" means piped input)
    function_def: bool = False

    def empty(self) -> bool:
        return not (self.words or self.redirects or self.nested)


@dataclass
class Lexed:
    """Every simple command of a text, in order, with the operators seen."""

    commands: list[SimpleCommand] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    error: str | None = None


def match_paren(text: str, i: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``i`` (quotes respected), or -1."""
    depth = 0
    n = len(text)
    j = i
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "'":
            k = text.find("'", j + 1)
            if k < 0:
                return -1
            j = k + 1
            continue
        if ch == '"':
            k = _end_of_double(text, j + 1)
            if k < 0:
                return -1
            j = k + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def _end_of_double(text: str, j: int) -> int:
    """Index of the closing ``"`` for a double-quoted string starting at ``j``, or -1."""
    n = len(text)
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == '"':
            return j
        if ch == "$" and text.startswith("$(", j):
            k = match_paren(text, j + 1)
            if k < 0:
                return -1
            j = k + 1
            continue
        j += 1
    return -1


def _end_of_backtick(text: str, j: int) -> int:
    n = len(text)
    while j < n:
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "`":
            return j
        j += 1
    return -1


_ANSI_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


def _ansi_c(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ANSI_ESCAPES.get(m.group(1), m.group(1)), body)


# Text made only of words, blanks and the operators `; & |`: split by regular expressions
# (C speed) instead of character by character. Same result as the general loop.
_SIMPLE_TEXT = re.compile(r"[^'\"\\$`()<>#\n\[\x0b\x0c]*")
_OPS_SPLIT = re.compile(r"(&&|\|\||;;|\|&|[;&|])")


def _blank_words(text: str) -> list[str]:
    """The runs of characters other than space, tab and CR in ``text`` (what ``re.findall(r"[^ \\t\\r]+")``
    gives), split by str methods in under half the regex's instructions."""
    return list(filter(None, text.replace("\t", " ").replace("\r", " ").split(" ")))


def _lex_simple(text: str) -> Lexed:
    """The fast path of :func:`lex`. A command that repeats the previous pair exactly (same
    words, same operator before it, same words before that) runs the same thing on the same
    input, so it is listed once: ``a | a | a ...`` with 100,000 pipes is one pair to judge."""
    if "|" not in text and ";" not in text and "&" not in text:
        # No operator (most lines): at most one command, nothing to repeat. Three substring
        # tests cost a fifth of the split that would find no operator either.
        words = _blank_words(text)
        return Lexed([SimpleCommand(words, [], None, [], None)] if words else [], [])
    parts = _OPS_SPLIT.split(text)
    out = Lexed()
    out.operators = parts[1::2]
    op_before: str | None = None
    words_cache: dict[str, tuple[str, ...]] = {}
    seen: set[tuple[tuple[str, ...], str | None, tuple[str, ...]]] = set()
    prev: tuple[str, ...] = ()
    for k in range(0, len(parts), 2):
        seg = parts[k]
        words = words_cache.get(seg)
        if words is None:
            words = words_cache[seg] = tuple(_blank_words(seg))
        op = parts[k + 1] if k + 1 < len(parts) else None
        if words:
            key = (prev, op_before, words)
            if key not in seen:
                seen.add(key)
                out.commands.append(SimpleCommand(list(words), [], None, [], op_before))
            prev = words
        # As in the general loop: an empty command before `;` carries the pipe on.
        op_before = op if op in ("|", "|&") else (op_before if not words and op == ";" else None)
    return out


# One command whose words may be double-quoted (`kubectl -n "$NAMESPACE" ...`, `psql -c "SELECT
# ..."`) or hold a variable (`$NS`, a Makefile's `$(NAMESPACE)`), and nothing else the general
# loop would act on: no operator, redirection, comment, escape, single quote, `${`, `$'` or
# substitution outside the quotes, no escape, backtick or `$(` inside them, no newline. Its
# words are the general loop's: blank-separated outside the quotes, the quotes removed (what
# they hold is literal, and so is such a `$`).
# Written as runs of plain characters between the constructs that start with `$` or `"` (the
# runs cannot start one), so the engine reads each run in one step and never backtracks.
_PLAIN_RUN = r'[^\'"\\$`()<>#\n\[\x0b\x0c|;&]*'
_IN_QUOTES = r'[^"\\`$\n\x0b\x0c]*(?:\$(?!\()[^"\\`$\n\x0b\x0c]*)*'
_QUOTED_TEXT = re.compile(rf'{_PLAIN_RUN}(?:(?:\$(?![(\'{{])|\$\([A-Z_][A-Z0-9_]*\)|"{_IN_QUOTES}"){_PLAIN_RUN})*')
_QUOTED_WORDS = re.compile(r'(?:[^ \t\r"]+|"[^"]*")+')


def _lex_quoted(text: str) -> Lexed:
    """The second fast path of :func:`lex` (see ``_QUOTED_TEXT``): two fifths of the general
    loop's instructions on such a line, and one in six of the estate's lines is one."""
    words = [w.replace('"', "") for w in _QUOTED_WORDS.findall(text)]
    return Lexed([SimpleCommand(words, [], None, [], None)] if words else [], [])


# The last few texts lexed and their results: a classified line is lexed by the parser and
# again for its OPA facts (its redirections), right after. Results are shared, so callers
# treat them as read-only (none changes them).
_RECENT: dict[str, Lexed] = {}
_RECENT_MAX = 16
_RECENT_CHARS = 1_000_000  # the longest line classify reads: at most ~16 MB kept


def lex(text: str) -> Lexed:
    """Split shell ``text`` into simple commands. Never raises. The result is shared with
    later calls on the same text: read it, do not change it."""
    hit = _RECENT.get(text)
    if hit is None:
        hit = _lex(text)
        if len(text) <= _RECENT_CHARS:  # longer texts (whole files) are not kept
            if len(_RECENT) >= _RECENT_MAX:
                _RECENT.clear()
            _RECENT[text] = hit
    return hit


def _lex(text: str) -> Lexed:
    if _SIMPLE_TEXT.fullmatch(text):
        return _lex_simple(text)
    if _QUOTED_TEXT.fullmatch(text):
        return _lex_quoted(text)
    out = Lexed()
    cur = SimpleCommand()
    word: list[str] = []
    in_word = False
    expect: str | None = None  # a redirection operator waiting for its target word
    pending_heredocs: list[tuple[SimpleCommand, bool, str]] = []
    i = 0
    n = len(text)

    def end_word() -> None:
        nonlocal word, in_word, expect
        if not in_word:
            return
        w = "".join(word)
        word = []
        in_word = False
        if expect is None:
            cur.words.append(w)
            return
        op, expect = expect, None
        if op in ("<<", "<<-"):
            pending_heredocs.append((cur, op == "<<-", w))
            cur.redirects.append((op, w))
        elif op == "<<<":
            cur.stdin = w if cur.stdin is None else cur.stdin + "\n" + w
        else:
            cur.redirects.append((op, w))

    def finish(op: str | None) -> None:
        nonlocal cur, expect
        if in_word:
            end_word()
        expect = None
        empty = not (cur.words or cur.redirects or cur.nested)
        if not empty and not cur.function_def:
            out.commands.append(cur)
        if op in _CONTROL_OPS:
            out.operators.append(op)
        # A newline right after `|` (a pipe continued on the next line) keeps the pipe.
        carried = cur.op_before if empty and op == ";" else None
        cur = SimpleCommand([], [], None, [], op if op in ("|", "|&") else carried)

    def read_heredocs(pos: int) -> int:
        """Consume heredoc bodies that start at ``pos``; returns the index after them."""
        while pending_heredocs:
            owner, strip_tabs, delim = pending_heredocs.pop(0)
            body: list[str] = []
            while pos < n:
                eol = text.find("\n", pos)
                line = text[pos:] if eol < 0 else text[pos:eol]
                pos = n if eol < 0 else eol + 1
                if (line.lstrip("\t") if strip_tabs else line).strip() == delim:
                    break
                body.append(line)
            content = "\n".join(body)
            owner.stdin = content if owner.stdin is None else owner.stdin + "\n" + content
        return pos

    while i < n:
        m = _PLAIN.match(text, i)
        if m:
            word.append(m.group())
            in_word = True
            i = m.end()
            continue
        c = text[i]
        if c in " \t\r":
            if in_word:
                end_word()
            i = _SPACES.match(text, i).end()  # type: ignore[union-attr]
        elif c in ";&|":
            two = text[i : i + 2]
            if two in ("&>",):
                end_word()
                op = "&>>" if text.startswith("&>>", i) else "&>"
                expect = op
                i += len(op)
                continue
            if two in ("&&", "||", ";;", "|&"):
                op, i = two, i + 2
            else:
                op, i = c, i + 1
            finish(op)
        elif c == "\n":
            finish(";")
            i = read_heredocs(i + 1)
        elif (c == "[" and not in_word and text.startswith("[[", i) and "]]" in text[i:]
              and all(w in _TEST_PREFIX for w in cur.words)):
            # A [[ ... ]] test: its && and || are not command separators.
            k = text.index("]]", i)
            for inner in re.findall(r"\$\(([^()]*)\)", text[i:k]):
                cur.nested.append(inner)
            cur.words.extend(["[[", text[i + 2 : k].strip(), "]]"])
            i = k + 2
        elif c == "[":
            word.append(c)
            in_word = True
            i += 1
        elif c == "#":
            if in_word:
                word.append("#")
                i += 1
            else:
                eol = text.find("\n", i)
                i = n if eol < 0 else eol
        elif c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                out.error = f"unbalanced single quote at column {i + 1}"
                word.append(text[i + 1 :])
                in_word = True
                i = n
            else:
                word.append(text[i + 1 : j])
                in_word = True
                i = j + 1
        elif c == '"':
            j = i + 1
            buf: list[str] = []
            closed = False
            while j < n:
                ch = text[j]
                if ch == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    if nxt in '"\\$`':
                        buf.append(nxt)
                    elif nxt != "\n":
                        buf.append(ch + nxt)
                    j += 2
                elif ch == '"':
                    closed = True
                    break
                elif ch == "$" and text.startswith("$(", j) and not text.startswith("$((", j):
                    k = match_paren(text, j + 1)
                    if k < 0:
                        break
                    cur.nested.append(text[j + 2 : k])
                    buf.append(text[j : k + 1])
                    j = k + 1
                elif ch == "`":
                    k = _end_of_backtick(text, j + 1)
                    if k < 0:
                        break
                    cur.nested.append(text[j + 1 : k].replace("\\`", "`"))
                    buf.append(text[j : k + 1])
                    j = k + 1
                else:
                    buf.append(ch)
                    j += 1
            word.append("".join(buf))
            in_word = True
            if not closed:
                out.error = f"unbalanced double quote at column {i + 1}"
                i = n
            else:
                i = j + 1
        elif c == "\\":
            if i + 1 < n:
                if text[i + 1] != "\n":  # backslash-newline is a line continuation
                    word.append(text[i + 1])
                    in_word = True
                i += 2
            else:
                i += 1
        elif c == "$":
            if text.startswith("$((", i):
                k = match_paren(text, i + 1)
                k = n - 1 if k < 0 else k
                word.append(text[i : k + 1])
                i = k + 1
            elif text.startswith("$(", i):
                k = match_paren(text, i + 1)
                if k > 0 and _MAKE_VAR.match(text, i + 2, k):
                    # $(KUBECTL): a Makefile variable, not a command named KUBECTL.
                    word.append(text[i : k + 1])
                    i = k + 1
                elif k < 0:
                    out.error = f"unbalanced $( at column {i + 1}"
                    cur.nested.append(text[i + 2 :])
                    word.append(text[i:])
                    i = n
                else:
                    cur.nested.append(text[i + 2 : k])
                    word.append(text[i : k + 1])
                    i = k + 1
            elif text.startswith("$'", i):
                j = i + 2
                while j < n and text[j] != "'":
                    j += 2 if text[j] == "\\" else 1
                word.append(_ansi_c(text[i + 2 : min(j, n)]))
                if j >= n:
                    out.error = f"unbalanced $' quote at column {i + 1}"
                i = j + 1
            elif text.startswith("${", i):
                k = text.find("}", i)
                k = n - 1 if k < 0 else k
                word.append(text[i : k + 1])
                i = k + 1
            else:
                word.append("$")
                i += 1
            in_word = True
        elif c == "`":
            k = _end_of_backtick(text, i + 1)
            if k < 0:
                out.error = f"unbalanced backtick at column {i + 1}"
                cur.nested.append(text[i + 1 :])
                word.append(text[i:])
                i = n
            else:
                cur.nested.append(text[i + 1 : k].replace("\\`", "`"))
                word.append(text[i : k + 1])
                i = k + 1
            in_word = True
        elif c == "(":
            if in_word and "".join(word).endswith("="):
                # An array assignment: arr=(a b c).
                k = match_paren(text, i)
                k = n - 1 if k < 0 else k
                word.append(text[i : k + 1])
                i = k + 1
                continue
            rest = text[i + 1 :].lstrip(" \t")
            if in_word and rest.startswith(")"):
                # A function definition `name() {`: the name is not a command.
                cur.function_def = True
                i = text.index(")", i) + 1
                finish(None)
                continue
            finish("(")
            i += 1
        elif c == ")":
            finish(")")
            i += 1
        elif c in "<>":
            if text.startswith("<(", i) or text.startswith(">(", i):
                k = match_paren(text, i + 1)
                if k < 0:
                    out.error = f"unbalanced process substitution at column {i + 1}"
                    cur.nested.append(text[i + 2 :])
                    i = n
                else:
                    cur.nested.append(text[i + 2 : k])
                    word.append(text[i : k + 1])
                    in_word = True
                    i = k + 1
                continue
            if in_word and "".join(word).isdigit():
                word, in_word = [], False  # a file-descriptor prefix such as 2>
            else:
                end_word()
            op = next(o for o in _REDIR_OPS if text.startswith(o, i))
            i += len(op)
            if op in (">&", "<&"):
                m2 = re.match(r"\s*(\d+|-)", text[i:])
                if m2:  # fd duplication (2>&1): no file target
                    i += m2.end()
                    continue
            expect = op
        else:  # pragma: no cover - every special character is handled above
            word.append(c)
            in_word = True
            i += 1
    finish(None)
    if pending_heredocs:
        pending_heredocs.clear()
    # `finish` calls `end_word` through the closure: compiled (inventory.compiled), the one
    # scope of all three holds them, a reference cycle holding the line's words. Let go here.
    end_word = None  # type: ignore[assignment]
    return out
