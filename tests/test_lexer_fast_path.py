"""The lexer's fast paths (words and `; & |` only; one command with double quotes and variables)
give what the general loop gives."""

from __future__ import annotations

import random
import re
import time

import pytest

from inventory.commands import lexer
from inventory.commands.shell import parse_line


def _general(text: str) -> lexer.Lexed:
    saved = lexer._SIMPLE_TEXT, lexer._QUOTED_TEXT
    # Never match: force the character loop (and past lex's memo of recent texts, which would
    # give back what the fast path made).
    lexer._SIMPLE_TEXT = lexer._QUOTED_TEXT = re.compile(r"(?!)")
    try:
        return lexer._lex(text)
    finally:
        lexer._SIMPLE_TEXT, lexer._QUOTED_TEXT = saved


def _dedupe(lexed: lexer.Lexed) -> list[tuple[tuple[str, ...], str | None]]:
    out, seen, prev = [], set(), ()
    for sc in lexed.commands:
        key = (prev, sc.op_before, tuple(sc.words))
        if key not in seen:
            seen.add(key)
            out.append((tuple(sc.words), sc.op_before))
        prev = tuple(sc.words)
    return out


def _samples() -> list[str]:
    rng = random.Random(7)
    alpha = ["a", "b", " ", "\t", "|", "&", ";", "ab", "\xa0", "\r"]
    fixed = ["a | b", "a|b|c", "a ; ; b", "a |; b", "a && b || c & d", "  a\tb\r c ", "a;;b", "a |& b",
             "| a", "a |", ";", "", "a&b", "x | | y", "a\xa0b c", "a | a | a | b | a | a"]
    return fixed + ["".join(rng.choice(alpha) for _ in range(rng.randint(0, 14))) for _ in range(3000)]


@pytest.mark.parametrize("text", _samples()[:40])
def test_fast_path_is_taken_for_plain_text(text: str) -> None:
    assert lexer._SIMPLE_TEXT.fullmatch(text)


def test_fast_path_equals_general_loop() -> None:
    for text in _samples():
        fast, slow = lexer.lex(text), _general(text)
        assert fast.operators == slow.operators, text
        assert fast.error == slow.error, text
        assert [(tuple(c.words), c.op_before) for c in fast.commands] == _dedupe(slow), text


def test_special_characters_take_the_general_loop() -> None:
    for text in ("echo 'a|b'", "a > f", "a $(b)", "a # c", "a\nb", "[[ a ]]", "f() { a; }"):
        assert not lexer._SIMPLE_TEXT.fullmatch(text)


def _quoted_samples() -> list[str]:
    rng = random.Random(11)
    alpha = ["a", "B", " ", "\t", '"', "$", "(", ")", "A_", "{", "}", "'", "|", "\xa0", "\r", "\\", "`", "#", "="]
    fixed = ['kubectl -n "$NAMESPACE" rollout restart deployment/x', 'psql -c "SELECT count(*) FROM t WHERE s = \'x\';"',
             "kubectl -n $(NAMESPACE) get pods", "echo $HOME $", 'a "" b', 'a"b"c "d e"f', 'helm -n "$NS" x --set "a=b c"']
    return fixed + ["".join(rng.choice(alpha) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]


@pytest.mark.parametrize("text", _quoted_samples()[:7])
def test_quoted_fast_path_is_taken_for_quoted_words_and_variables(text: str) -> None:
    assert not lexer._SIMPLE_TEXT.fullmatch(text) and lexer._QUOTED_TEXT.fullmatch(text)


def test_quoted_fast_path_equals_general_loop() -> None:
    taken = 0
    for text in _quoted_samples():
        if not lexer._SIMPLE_TEXT.fullmatch(text) and lexer._QUOTED_TEXT.fullmatch(text):
            taken += 1
            assert lexer._lex(text) == _general(text), text
    assert taken > 300  # the samples do exercise the fast path


def test_substitutions_escapes_and_redirections_take_the_general_loop() -> None:
    for text in ('echo "$(id)"', 'a "b\\"c"', 'a ${X:-"y z"}', 'a "b`c`"', "echo $'x'", 'a "b" > f', 'a "b" | c',
                 "a $(b c)", "a 'b'", 'a "b\nc"', 'a "b" # c'):
        assert not lexer._QUOTED_TEXT.fullmatch(text), text


def test_hundred_thousand_pipes_parse_to_the_distinct_commands() -> None:
    line = "cat x | " * 100_000 + "kubectl delete ns prod"
    parsed = parse_line(line)
    assert len(parsed.operators) == 100_000
    assert [(c.tool, c.verb) for c in parsed.commands] == [("cat", "read"), ("kubectl", "delete")]


def test_shell_join_equals_shlex_join() -> None:
    import shlex

    from inventory.commands.shell import shell_join

    rng = random.Random(3)
    alpha = ["a", "b", "-", "/", ".", " ", "'", '"', "$", "*", "é", "=", ",", "@", "%", "+", ":", "\t", "", "\n", "_"]
    for _ in range(20_000):
        args = ["".join(rng.choice(alpha) for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(1, 4))]
        assert shell_join(args) == shlex.join(args), args
