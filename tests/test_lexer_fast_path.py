"""The lexer's fast path (words and `; & |` only) gives what the general loop gives."""

from __future__ import annotations

import random
import re
import time

import pytest

from inventory.commands import lexer
from inventory.commands.shell import parse_line


def _general(text: str) -> lexer.Lexed:
    saved = lexer._SIMPLE_TEXT
    lexer._SIMPLE_TEXT = re.compile(r"(?!)")  # never matches: force the character loop
    try:
        return lexer.lex(text)
    finally:
        lexer._SIMPLE_TEXT = saved


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
