"""The prefilter's keyword search in C (``_cbuild.has_keyword``) answers as the regex does.

``secrets._has_keyword`` decides which lines the detectors look at: a line it wrongly calls
clean is a secret left in the inventory. So its answer must be the regex's on every text:
the real keywords, texts of every width, a keyword at each end, and a keyword the C search
cannot take (then the regex answers).
"""

from __future__ import annotations

import random
import re

import pytest

from inventory import secrets
from inventory.secrets import RegexDetector, register, unregister

cbuild = pytest.importorskip("inventory._cbuild")
if not hasattr(cbuild, "has_keyword"):
    pytest.skip("the C helpers are an older build", allow_module_level=True)


def _words() -> tuple[str, ...]:
    return tuple(sorted({k.lower() for d in secrets.DETECTORS for k in d.keywords if k}))


def _texts(words: tuple[str, ...]) -> list[str]:
    rnd = random.Random(7)
    # The keywords' own characters, so near misses are common; and wider ones (2- and 4-byte strings).
    alphabet = sorted({c for w in words for c in w}) + list(" \t=\"'") + ["é", "ż", "€", "😀", "\x00"]
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14))) for _ in range(30_000)]
    for w in words:
        texts += [w, w[:-1], w[1:], f"x{w}", f"{w}x", f"😀{w}", f"{w}é", f"ż {w[:-1]} {w[1:]}", w.upper().lower()]
    texts += ["", "a", "kubectl -n prod rollout restart deploy/api", "export TOKEN=abc".lower(), "sk", "s", "ke"]
    return texts


def test_the_c_search_answers_as_the_regex_on_every_text() -> None:
    words = _words()
    keywords = cbuild.keyword_set(words)
    regex = re.compile(secrets._trie_regex(words))
    texts = _texts(words)
    differ = [t for t in texts if cbuild.has_keyword(keywords, t) != (regex.search(t) is not None)]
    assert differ == []
    # Both answers occur (the texts test something).
    assert 0 < sum(cbuild.has_keyword(keywords, t) for t in texts) < len(texts)


def test_one_character_and_overlapping_keywords() -> None:
    words = ("ab", "abc", "b", "zz")
    keywords = cbuild.keyword_set(words)
    regex = re.compile(secrets._trie_regex(words))
    for text in ("", "a", "b", "ab", "xa", "ac", "z", "zz", "azaz", "yyyyb", "😀b", "éa"):
        assert cbuild.has_keyword(keywords, text) == (regex.search(text) is not None), text


def test_a_keyword_the_c_search_cannot_take_leaves_the_answer_to_the_regex() -> None:
    assert cbuild.keyword_set(("token", "clé")) is None
    assert cbuild.keyword_set(("",)) is None
    assert cbuild.keyword_set(("a\x00b",)) is None
    with pytest.raises(TypeError):
        cbuild.keyword_set(["token"])
    with pytest.raises(TypeError):
        cbuild.has_keyword(cbuild.keyword_set(("token",)), b"token")
    with pytest.raises(ValueError):
        cbuild.has_keyword(object(), "token")


def test_a_registered_detector_with_a_non_ascii_keyword_is_still_found() -> None:
    det = RegexDetector("acme-clé", ("clé_",), re.compile(r"(clé_[0-9a-f]{8})"))
    register(det)
    try:
        masked, n = secrets.redact_text("password reset: clé_0123abcd")
        assert n == 1 and "0123abcd" not in masked
    finally:
        unregister("acme-clé")
    # And the built-in search is back once it is gone.
    assert secrets.redact_text("clé_0123abcd") == ("clé_0123abcd", 0)
    assert secrets.redact_text("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")[1] == 1
