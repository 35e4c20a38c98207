"""Rule globs are matched like ``fnmatch.fnmatchcase`` (the regex they were compiled to before),
with string methods where those say the same."""

from __future__ import annotations

import fnmatch

import pytest

from generators.risk.rules import _glob_re, load_rules

FIELDS = ("verb", "kind", "values", "args", "source", "target", "paths", "all_paths", "via")


def _all_globs() -> list[tuple[str, ...]]:
    rules = load_rules()
    out = set()
    for _, rows in [("global", rules.global_rules), *rules.tools.items()]:
        for row in rows:
            for f in FIELDS:
                pats = getattr(row, f)
                if pats:
                    out.add(tuple(p.lower() for p in pats))
    return sorted(out)


COMMON = ["", "x", "*", "get", "delete", "/", "~/.ssh/id_rsa", "/etc/passwd", "s3://bucket/key", "a/b/c", "--help",
          "prod", "secret", "my-secret-token", "[fd00:ec2::254]", "/[*]"]


def _texts(pats: tuple[str, ...]) -> list[str]:
    """Texts near the edges of ``pats``: each pattern with its wildcards filled, cut short or
    extended at either end, plus ordinary words and paths."""
    texts = set(COMMON)
    for p in pats:
        for fill in ("", "a", "x/y"):
            t = p.replace("*", fill).replace("?", "q")
            texts.update({t, t[1:], t[:-1], t + "z", "z" + t})
    return sorted(texts)


@pytest.mark.parametrize("patterns", [("abc*",), ("*abc",), ("*abc*",), ("*",), ("a*b",), ("*a*b*",), ("a?c",),
                                      ("[!/~.$]*",), ("**",), ("abc",), ("abc", "*xyz", "q*", "*mid*", "a*z")])
def test_each_shape_matches_like_fnmatch(patterns: tuple[str, ...]) -> None:
    m = _glob_re(list(patterns))
    for text in ["", "abc", "abcd", "zabc", "zabcz", "ab", "a/b", "axyz", "q", "mid", "amidz", "az", "a/z", "x",
                 "abc\nd", "[x]", "/x"]:
        expected = any(fnmatch.fnmatchcase(text, p) for p in patterns)
        assert bool(m.match(text)) == expected, (patterns, text)


def test_every_glob_of_the_bundled_rules_matches_like_fnmatch() -> None:
    globs = _all_globs()
    assert len(globs) > 100
    for pats in globs:
        m = _glob_re(list(pats))
        for text in _texts(pats):
            assert bool(m.match(text)) == any(fnmatch.fnmatchcase(text, p) for p in pats), (pats, text)
