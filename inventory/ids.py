"""The inventory's stable ids: ``slug``, ``entity_id`` and ``action_id``; and an evidence's hash.

Apart from :mod:`inventory.model` (whose pydantic models keep it from being compiled) so that
they are compiled (:mod:`inventory.compiled`): a scan makes an id for every entity and action
(~60,000 at 2,000 services), each call into interpreted code a fraction of a microsecond more.
:mod:`inventory.model` imports them, so ``from inventory.model import slug`` still works.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SLUG_RE = re.compile(r"[^a-z0-9._-]+")


@lru_cache(maxsize=4096)  # the same verbs and kinds, again and again per estate (bounded: memory)
def slug(text: str) -> str:
    """A lower-case, ID-safe form of ``text`` (keeps dots, dashes and underscores)."""
    return _SLUG_RE.sub("-", text.strip().lower()).strip("-") or "unnamed"


def entity_id(kind: str, name: str) -> str:
    """The stable id of a component or resource: ``kind:name``."""
    return f"{kind}:{slug(name)}"


def action_id(target_or_scope: str, verb: str, environment: str | None = None) -> str:
    """The stable id of an action class: ``<target id>/<verb>[@env]``."""
    base = f"{target_or_scope}/{slug(verb)}"
    return f"{base}@{environment}" if environment else base


def evidence_hash(ev: object) -> int:
    """``hash(ev)`` of an :class:`~inventory.model.Evidence`: what pydantic gives a frozen
    model, the hash of its fields' values in order (``hash((path, line))``), computed here
    (compiled) rather than by pydantic's interpreted function. A scan hashes ~80,000 as it
    merges evidence lists (sets, ``dict.fromkeys``) at 2,000 services. The same number, so
    sets and dicts of evidence keep the order they had."""
    d = ev.__dict__
    return hash((d.get("path"), d.get("line")))
