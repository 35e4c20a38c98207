"""IDs of the document's table rows, and the decision table entries each one stands for.

A class row stands for one class (``delete/kafka-topic@prod``) or for classes of one verb class
and kind that differ only in environment, scope or data sensitivity and share everything a
reviewer decides (tier, model tier, review, note): ``read/pod@{dev,prod,prod+sensitive}``. An exception row stands for one exception
(``<class id>!<entity id>``) or, at scale, for the exceptions of one class that share their
deciding factors (``<class id>!*<factor>+<factor>``). A reviewer's edit to a row applies to
every entry it stands for.
"""

from __future__ import annotations

import re

_ENV_SET = re.compile(r"@\{([^{}]*)\}")


def class_row_id(class_ids: list[str]) -> str:
    """The row id of classes of one verb class and kind that differ only in environment, scope
    or data sensitivity: ``read/pod@{dev,prod,prod+sensitive}`` (sorted, deduplicated)."""
    ids = sorted(set(class_ids))
    if len(ids) == 1:
        return ids[0]
    heads, tails = set(), []
    for cid in ids:
        head, _, tail = cid.partition("@")
        heads.add(head)
        tails.append(tail)
    if len(heads) != 1:
        raise ValueError(f"classes of more than one verb class and kind: {ids}")
    return f"{heads.pop()}@{{{','.join(sorted(tails))}}}"


def expand_class_row(row_id: str) -> list[str]:
    """The class ids a class row stands for (the inverse of :func:`class_row_id`;
    ``x@{a,b}+sensitive`` also reads as ``x@a+sensitive``, ``x@b+sensitive``)."""
    m = _ENV_SET.search(row_id)
    if m is None:
        return [row_id]
    items = [e.strip() for e in m.group(1).split(",") if e.strip()]
    return sorted(f"{row_id[:m.start()]}@{e}{row_id[m.end():]}" for e in items)


def exception_group_id(class_id: str, deciding: list[str]) -> str:
    """The row id of one class's exceptions that share their deciding factors."""
    return f"{class_id}!*{'+'.join(sorted(set(deciding))) or 'target'}"


def is_exception_group(row_id: str) -> bool:
    """Whether an exception row stands for a group (``...!*factors``)."""
    return row_id.partition("!")[2].startswith("*")
