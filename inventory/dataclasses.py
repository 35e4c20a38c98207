"""Guess the classes of data a system holds from its names, labels and annotations.

Keyword-based and deliberately conservative: a keyword must be a whole token of a name
(``customer-db``, ``user_profiles``) so that ``userspace`` or ``cardinality`` do not count.
The result only *hints* at sensitivity for the risk model; teams confirm or override it in
``stackpolicy.yaml``.
"""

from __future__ import annotations

import re
from functools import lru_cache

# token → data classes it suggests. Tokens are matched whole, after splitting on
# non-alphanumerics and camelCase, singular or with a trailing "s".
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "customer": ("pii", "customer"),
    "user": ("pii", "customer"),
    "users": ("pii", "customer"),
    "userservice": ("pii", "customer"),
    "account": ("pii", "customer"),
    "accounts": ("pii", "customer"),
    "profile": ("pii", "customer"),
    "email": ("pii",),
    "contact": ("pii", "customer"),
    "contacts": ("pii", "customer"),
    "pii": ("pii",),
    "gdpr": ("pii",),
    "patient": ("pii",),
    "payment": ("payments",),
    "payments": ("payments",),
    "billing": ("payments",),
    "invoice": ("payments",),
    "card": ("payments",),
    "cards": ("payments",),
    "ledger": ("payments",),
    "transaction": ("payments",),
    "transactions": ("payments",),
    "pci": ("payments",),
    "training": ("training-data",),
    "dataset": ("training-data",),
    "datasets": ("training-data",),
    "ml-data": ("training-data",),
    "features": ("training-data",),
    "password": ("credentials",),
    "passwords": ("credentials",),
    "credential": ("credentials",),
    "credentials": ("credentials",),
    "secret": ("credentials",),
    "secrets": ("credentials",),
    "token": ("credentials",),
    "tokens": ("credentials",),
    "jwt": ("credentials",),
    "apikey": ("credentials",),
}

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT_RE = re.compile(r"[^a-z0-9]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _SPLIT_RE.split(_CAMEL_RE.sub("-", text).lower()) if t]


def data_classes_for(*texts: str | None) -> list[str]:
    """Data classes (sorted, unique) that any of ``texts`` hints at; ``[]`` when none.

    >>> data_classes_for("customer-db", None, "payments")
    ['customer', 'payments', 'pii']
    >>> data_classes_for("userspace-proxy", "cardinality-exporter")
    []
    """
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(_text_classes(str(text)))
    return sorted(found)


@lru_cache(maxsize=8192)
def _text_classes(text: str) -> frozenset[str]:
    """The data classes one text hints at. Memoised: a scan asks about the same names, labels
    and tags again and again (three in five texts of the 2,000-service estate)."""
    found: set[str] = set()
    toks = _tokens(text)
    for i, tok in enumerate(toks):
        found.update(_KEYWORDS.get(tok, ()))
        if i + 1 < len(toks):
            found.update(_KEYWORDS.get(f"{tok}-{toks[i + 1]}", ()))
    return frozenset(found)
