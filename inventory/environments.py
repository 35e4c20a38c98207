"""Recognise environments (prod, staging, dev...) from names, paths and labels."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from inventory.config import DEFAULT_ENVIRONMENT_PATTERNS

_TOKEN_RE = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-case tokens of ``text`` split on anything that is not a letter or digit."""
    return [t for t in _TOKEN_RE.split(text.lower()) if t]


def detect_environment(
    *texts: str | None, patterns: Mapping[str, Iterable[str]] | None = None
) -> str | None:
    """The environment the first matching text names, or ``None`` when none does.

    Texts are tried in order (most specific first: namespace, then labels, then path);
    within a text, a whole-token match is required so ``product-api`` is not ``prod``.
    Multi-token patterns (``pre-prod``) match as a token sequence.
    """
    pats = patterns or DEFAULT_ENVIRONMENT_PATTERNS
    compiled = [(env, [tokens(p) for p in plist]) for env, plist in pats.items()]
    for text in texts:
        if not text:
            continue
        toks = tokens(text)
        for env, seqs in compiled:
            for seq in seqs:
                n = len(seq)
                if n and any(toks[i : i + n] == seq for i in range(len(toks) - n + 1)):
                    return env
    return None
