"""Recognise environments (prod, staging, dev...) from names, paths and labels."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from inventory.config import DEFAULT_ENVIRONMENT_PATTERNS

_TOKEN_RE = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-case tokens of ``text`` split on anything that is not a letter or digit."""
    return list(_tokens(text))


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in _TOKEN_RE.split(text.lower()) if t)


@lru_cache(maxsize=32)
def _compile(pats: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    """Each environment's patterns as token sequences (the patterns rarely change: cache them)."""
    return tuple((env, tuple(_tokens(p) for p in plist)) for env, plist in pats)


def detect_environment(
    *texts: str | None, patterns: Mapping[str, Iterable[str]] | None = None
) -> str | None:
    """The environment the first matching text names, or ``None`` when none does.

    Texts are tried in order (most specific first: namespace, then labels, then path);
    within a text, a whole-token match is required so ``product-api`` is not ``prod``.
    Multi-token patterns (``pre-prod``) match as a token sequence.
    """
    pats = patterns or DEFAULT_ENVIRONMENT_PATTERNS
    compiled = _compile(tuple((env, tuple(plist)) for env, plist in pats.items()))
    for text in texts:
        if not text:
            continue
        toks = _tokens(text)
        present = set(toks)
        for env, seqs in compiled:
            for seq in seqs:
                n = len(seq)
                if not n or seq[0] not in present:
                    continue
                if n == 1 or any(toks[i : i + n] == seq for i in range(len(toks) - n + 1)):
                    return env
    return None
