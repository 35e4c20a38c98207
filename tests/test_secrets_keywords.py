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


def test_a_registered_detector_with_a_non_ascii_keyword_is_still_found(monkeypatch: pytest.MonkeyPatch) -> None:
    # Registering marks the detectors changed for the rest of the process (no judging helper):
    # put back as it was for the tests after this one.
    monkeypatch.setattr(secrets, "_BUILT_IN", secrets._BUILT_IN)
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


def test_the_free_text_judgement_is_the_same_with_the_c_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_chunk_masks_any`` (the scrub's judgement of free text, in the helper and here) answers
    the same through the C search as through the keywords' regexes: for clean texts, texts
    with a keyword and no secret, a keyword that only a detector's own pattern may wake
    (``-us``), and real secrets."""
    rnd = random.Random(11)
    words = list(_words())
    plain = ["kubectl -n prod rollout restart deploy/api", "see the runbook", "ssh deploy@host", "ké café"]
    secretish = ["AKIAIOSFODNN7EXAMPLE", "password: hunter2hunter2", "ghp_" + "a" * 36, "kafka-user -us x",
                 "postgres://app:s3cr3tpw@db/orders", "token=abc", "sk_live_" + "x" * 24, "-us nothing here"]
    chunks = []
    for _ in range(400):
        chunk = [rnd.choice(plain) + " " + rnd.choice(words) * rnd.randint(0, 1) for _ in range(rnd.randint(1, 30))]
        if rnd.random() < 0.4:
            chunk.insert(rnd.randrange(len(chunk) + 1), rnd.choice(secretish))
        chunks.append(chunk)
    with_c = [secrets._chunk_masks_any(c) for c in chunks]
    assert 0 < sum(with_c) < len(chunks)
    regex = secrets._prefilter()
    monkeypatch.setattr(secrets, "_has_keyword", lambda: lambda low: regex.search(low) is not None)
    assert [secrets._chunk_masks_any(c) for c in chunks] == with_c
