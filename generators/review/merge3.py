"""A line-based three-way merge (diff3), as in ``git merge-file``.

Stable regions are lines matched in all three versions (base, ours, theirs); between them,
a side that alone changed wins, identical changes are taken once, and differing changes are
a conflict. The matcher is :class:`difflib.SequenceMatcher` without its junk heuristic, so
frequent lines (blank lines, table separators) still anchor the alignment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher


@dataclass(frozen=True)
class Chunk:
    """One region of the merge: ``kind`` is ``ok`` (``lines`` settled) or ``conflict``."""

    kind: str
    lines: tuple[str, ...] = ()
    base: tuple[str, ...] = ()
    ours: tuple[str, ...] = ()
    theirs: tuple[str, ...] = ()


def _matches(base: Sequence[str], other: Sequence[str]) -> list[tuple[int, int, int]]:
    return [tuple(m) for m in SequenceMatcher(None, base, other, autojunk=False).get_matching_blocks()]  # type: ignore[misc]


def _sync_regions(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]) -> list[tuple[int, int, int, int, int, int]]:
    """Regions of ``base`` matched in both sides: (base start, end, ours start, end, theirs start, end)."""
    am, bm = _matches(base, ours), _matches(base, theirs)
    ia = ib = 0
    out: list[tuple[int, int, int, int, int, int]] = []
    while ia < len(am) and ib < len(bm):
        abase, amatch, alen = am[ia]
        bbase, bmatch, blen = bm[ib]
        lo, hi = max(abase, bbase), min(abase + alen, bbase + blen)
        if lo < hi:
            asub, bsub = amatch + (lo - abase), bmatch + (lo - bbase)
            out.append((lo, hi, asub, asub + hi - lo, bsub, bsub + hi - lo))
        if abase + alen < bbase + blen:
            ia += 1
        else:
            ib += 1
    out.append((len(base), len(base), len(ours), len(ours), len(theirs), len(theirs)))
    return out


def merge3(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]) -> Iterator[Chunk]:
    """Merge ``ours`` and ``theirs`` (both derived from ``base``), chunk by chunk."""
    iz = ia = ib = 0
    for zmatch, zend, amatch, aend, bmatch, bend in _sync_regions(base, ours, theirs):
        z, a, b = tuple(base[iz:zmatch]), tuple(ours[ia:amatch]), tuple(theirs[ib:bmatch])
        if a or b:
            if a == b:
                yield Chunk("ok", a)
            elif a == z:
                yield Chunk("ok", b)
            elif b == z:
                yield Chunk("ok", a)
            else:
                yield Chunk("conflict", base=z, ours=a, theirs=b)
        if zend > zmatch:
            yield Chunk("ok", tuple(base[zmatch:zend]))
        iz, ia, ib = zend, aend, bend
