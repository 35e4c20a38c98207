"""Walk the source trees, run every matching scanner on every file, and build the inventory.

Per-file work is cached by content hash (``.stackpolicy/cache/scan.sqlite``) and spread over
the machine's cores; whole-tree steps (finalize, linking, implied actions) run once after.
"""

from __future__ import annotations

import fnmatch
import gc
import hashlib
import json
import marshal
import mmap
import os
import sqlite3
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from pathlib import Path, PurePosixPath
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING, Any, NamedTuple

from inventory import forked, store
from inventory.awaited import Awaited as _Awaited
from inventory.awaited import answers_into as _answers_into
from inventory.scanfile import (  # noqa: F401 - tests and callers reach these through this module
    _FRAGMENT_STORE,
    _FRAGMENTS,
    FRAGMENTS_MAGIC,
    HEAD_BYTES,
    _config_of,
    _decode,
    _dir_sig,
    _file_sig,
    _FileStat,
    _fragments_blob,
    _matcher,
    _read_and_scan,
    _read_regular,
    _Record,
    _scan_one,
    _scanners_by_name,
    records_in_order,
    settled_into,
)
from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import Inventory, Warning
from inventory.scanners import Matcher, all_scanners
from inventory.scanners.base import Fragment, Scanner, ScanPath

if TYPE_CHECKING:  # imported where used: a warm rescan needs none of them
    from inventory.resolve import ResolvedEarly
    from inventory.scrubjudge import FreeTextJudge, PendingScrub

CACHE_DIR = Path(".stackpolicy") / "cache"
# Directories no one wants scanned.
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".terraform",
             ".stackpolicy", ".tox", ".mypy_cache", ".pytest_cache", "vendor"}


class ScanError(Exception):
    """A scan that cannot start (a source path that does not exist...)."""


@dataclass(slots=True)
class FileJob:
    root: Path
    path: str  # absolute path (a string: the walk makes thousands; see ``abspath``)
    relpath: str  # evidence path

    @property
    def abspath(self) -> Path:
        """The absolute path as a :class:`Path`."""
        return Path(self.path)


@dataclass
class ScanStats:
    files_seen: int = 0
    files_scanned: int = 0
    cache_hits: int = 0
    bytes_read: int = 0
    skipped: int = 0
    warnings: list[Warning] = field(default_factory=list)
    # Wall seconds per stage, in the order the stages ran (see _stage): where a scan's time
    # goes. ``make bench`` reports them for the cold scan.
    stages: dict[str, float] = field(default_factory=dict)


@contextmanager
def _stage(stats: ScanStats | None, name: str) -> Iterator[None]:
    """Add the wall time of the ``with`` body to ``stats.stages[name]`` (nothing when ``stats`` is None)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if stats is not None:
            stats.stages[name] = stats.stages.get(name, 0.0) + time.perf_counter() - t0


def _excluded(rel: str, cfg: Config) -> bool:
    if cfg.include and not any(fnmatch.fnmatch(rel, g) for g in cfg.include):
        return True
    return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(rel, g.rstrip("/") + "/*") for g in cfg.exclude)


_BY_NAME = attrgetter("name")  # a C sort key: the walk sorts every directory of the tree

# How a directory entry is followed (see WalkCache): a directory, a regular file, a symlink
# (stat-ed again on every walk: where it points can change without its directory changing),
# anything else (sockets, fifos, devices: never scanned), and an entry whose name is not
# UTF-8 (skipped with a warning: it could be neither keyed nor shown in a document).
_DIR, _FILE, _LINK, _OTHER, _UNNAMED = "d", "f", "l", "o", "x"


def _shown_name(name: str) -> str:
    """A name read with surrogate escapes (bytes that are not UTF-8), as a warning can show it."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _root_labels(roots: list[Path]) -> list[str]:
    """The label the files of each root start their relpath with in a walk of several roots:
    its name, or, for roots named alike (two repositories called ``infra``), as many of its
    last path parts as tell it apart; nor is one label the folder of another (``a``,
    ``a/b``). Roots that no parts tell apart (one inside another under the same name) get
    ``~2``, ``~3``...: their files are never confused."""
    parts = [r.parts[1:] if r.is_absolute() else r.parts for r in roots]
    depth = [1] * len(roots)

    def clashes(labels: list[str]) -> list[int]:
        """The roots whose label is another's, or another's folder: to be made longer."""
        return sorted({j for i, a in enumerate(labels) for j, b in enumerate(labels)
                       if i != j and (a == b or b.startswith(a + "/"))})

    while True:
        labels = ["/".join(p[-d:]) or str(r) for p, d, r in zip(parts, depth, roots)]
        longer = [j for j in clashes(labels) if depth[j] < len(parts[j])]
        if not longer:
            break
        for j in longer:
            depth[j] += 1
    n = 1
    while len(clashing := clashes(labels)) > 1:
        n += 1
        labels[clashing[-1]] += f"~{n}"
    return labels


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, restoring it as it was whatever happens.

    For stages that allocate tens of thousands of objects that all stay alive and make no
    cycles (the walk, loading stored state): the collector would walk them again and again as
    they accumulate, for nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``); a no-op elsewhere.

    File texts and bytes are large objects on the C heap; once a stage lets them go, glibc
    keeps the pages for reuse, so the process (and every worker forked from it) still counts
    them. The cold scan's peak is held to a budget, so the stages that drop them trim.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM: Any = None

# Allocations between two young-generation collections in a scan worker (the default is 700).
_WORKER_GC_THRESHOLD = 20_000


def _worker_init() -> None:
    """A scan worker's start: the collector on (it may fork from a paused parent), run rarely.

    A worker parses tens of thousands of YAML nodes and builds as many small objects per
    batch, nearly all freed by reference counting; at the default threshold the collector ran
    over a thousand times per 10,000 files for almost nothing (5 % of a worker's CPU, a
    third of that at this threshold). Cycles are still collected, only later.
    """
    gc.enable()
    gc.set_threshold(_WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])


def _py_stat_sig(path: str, for_dir: bool, bases: object = None) -> tuple[bytes, int, int]:
    """``(sig, size, newest_ns)`` of ``os.stat(path)``: its :func:`_dir_sig` (``for_dir``) or
    :func:`_file_sig`, its size, and the newer of its modification and change times.
    (``bases``: see :func:`_stat_bases`; the same answer without them.)"""
    st = os.stat(path)
    return (_dir_sig(st) if for_dir else _file_sig(st)), st.st_size, max(st.st_mtime_ns, st.st_ctime_ns)


# Whether the extension's stats take ``bases`` (see _stat_bases): a build of an older
# _cbuild.c (a checkout's copy of another's) has the functions without them.
_STATS_FROM_BASES = bool(getattr(store._cbuild, "STATS_FROM_BASES", 0))


def _without_bases(fn: Callable[..., Any], n: int) -> Callable[..., Any]:
    """``fn`` of an older build, called with its first ``n`` arguments only (no ``bases``)."""
    def call(*args: Any) -> Any:
        return fn(*args[:n])
    return call


# The same in C where the extension is built (no os.stat_result made): the walk's stat of
# every file and directory was a fifth of a warm rescan's walk. (store imports it, optionally.)
stat_sig: Callable[..., tuple[bytes, int, int]] = getattr(store._cbuild, "stat_sig", None) or _py_stat_sig
if stat_sig is not _py_stat_sig and not _STATS_FROM_BASES:
    stat_sig = _without_bases(stat_sig, 2)
# A listed directory's file jobs and subdirectories, in C (see walk_files).
dir_entries: Callable[..., tuple[list[FileJob], list[tuple[str, str]]] | None] | None = \
    getattr(store._cbuild, "dir_entries", None)
# Each file's digest from the walk cache when its stat is unchanged, in C (see _walk_and_hash).
known_digests: Callable[..., tuple[list[str | None], int]] | None = getattr(store._cbuild, "known_digests", None)
if known_digests is not None and not _STATS_FROM_BASES:
    known_digests = _without_bases(known_digests, 4)
# A walk's stat records packed, and checked against the tree, in C (see TreeStats); None
# without them (or from an older build): every rescan then walks.
_pack_stats: Callable[..., bytes | None] | None = getattr(store._cbuild, "pack_stats", None)
# marshal.dumps(obj, 2) of plain data made with the GIL let go (None for anything else), where
# the extension is built: the walk cache is dumped so by the thread that writes it.
_marshal_v2: Callable[[object], bytes | None] | None = getattr(store._cbuild, "marshal_v2", None)
_stats_unchanged: Callable[..., tuple[int, int] | None] | None = getattr(store._cbuild, "stats_unchanged", None)


@contextmanager
def _stat_bases(roots: list[Path]) -> Iterator[tuple[tuple[bytes, int], ...] | None]:
    """Each root directory held open while a walk stats what is under it, as ``(its path's
    bytes and a "/", its fd)``: ``stat_sig`` and ``known_digests`` then stat a path under it
    relative to the open directory, which the kernel resolves from there rather than from
    "/" one component at a time (a fifth less time per stat at 2,000 services, ~36,000 of
    them in a warm rescan). The same answers: symlinks are followed either way, and the
    walk's paths hold no "..". ``None`` where the extension does not take them."""
    if not _STATS_FROM_BASES:
        yield None
        return
    bases: list[tuple[bytes, int]] = []
    try:
        for root in roots:
            try:
                fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                continue  # not a directory, or not readable: its paths are stat-ed as they are
            bases.append((os.fsencode(str(root)).rstrip(b"/") + b"/", fd))
        yield tuple(bases)
    finally:
        for _, fd in bases:
            os.close(fd)


class WalkCache:
    """What the last walks saw: each directory's listing by its stat, each file's digest by its stat.

    Creating, removing or renaming an entry changes its directory's mtime and ctime (ctime
    cannot be set back), so a directory whose (mtime, ctime, inode, device) are what they were
    when it was listed still holds exactly the entries it held: it is not listed again. Its
    files are still stat-ed one by one (an edit in place changes the file, not its
    directory) and symlinks are followed afresh. Only what had settled when it was listed or
    hashed is remembered (see :func:`_settled_ns`): a change in the same timestamp tick could
    leave the stat as it was. Stored as one checksummed ``marshal`` blob, read in one query.
    The walk (:func:`walk_files`) and the hashing (:func:`_walk_and_hash`) read ``dirs`` and
    ``files`` themselves, marking what they use in ``used_dirs`` and ``used_files``.
    """

    MAGIC = b"stackpolicy-walk\x003\x00"  # 3: names that are not UTF-8 listed as such

    def __init__(self, dirs: dict[str, tuple] | None = None, files: dict[str, tuple] | None = None) -> None:
        # dir path -> (_dir_sig, entry names (sorted), their kinds)
        self.dirs: dict[str, tuple] = dirs or {}
        # file path -> (_file_sig, content sha256)
        self.files: dict[str, tuple] = files or {}
        self.started_ns = time.time_ns()  # what this walk lists or hashes, it does after this
        self.changed = False
        self.used_dirs: set[str] = set()
        self.used_files: set[str] = set()
        # What TreeStats needs to know of this walk: how many directories it listed (each
        # is in used_dirs if it settled), and whether it followed a symlink or took a root
        # that is not a directory (what those lead to is not in the stats it keeps).
        self.listed = 0
        self.followed = False

    def record_listing(self, d: str, sig: bytes, newest_ns: int, names: tuple[str, ...], kinds: str) -> None:
        """Remember the listing of ``d`` made during this walk (its stat's :func:`_dir_sig` and
        newer time, see :func:`stat_sig`), if its directory had settled."""
        if _settled_ns(newest_ns, self.started_ns):
            self.dirs[d] = (sig, names, kinds)
            self.used_dirs.add(d)
            self.changed = True

    def record_digest(self, path: str, sig: bytes, newest_ns: int, digest: str) -> None:
        """Remember the content sha256 of ``path`` hashed during this walk (its stat's
        :func:`_file_sig` and newer time, see :func:`stat_sig`), if the file had settled."""
        if _settled_ns(newest_ns, self.started_ns):
            self.files[path] = (sig, digest)
            self.used_files.add(path)
            self.changed = True

    def record_digests(self, hashed: list[tuple[str, _FileStat, str]]) -> None:
        """:meth:`record_digest` of each (path, (sig, newest_ns), digest) of ``hashed`` (see
        :data:`_FileStat`): one call for a whole walk's files (a first walk records every file
        of the tree)."""
        if settled_into(self.files, self.used_files, self.started_ns - _SETTLE_NS, hashed):
            self.changed = True

    def dump(self, roots: list[Path]) -> bytes:
        """The stored form; entries under ``roots`` that this walk did not see are dropped."""
        inside = tuple(f"{r}/" for r in roots)
        exact = {str(r) for r in roots}

        def kept(entries: dict[str, tuple], used: set[str]) -> dict[str, tuple]:
            if len(used) == len(entries):  # every entry was used (a first walk's were): none to drop
                return entries
            return {k: v for k, v in entries.items() if k in used or not (k in exact or k.startswith(inside))}

        # Version 2: no table of the objects written (its names are shared with the walk's
        # jobs, so version 4 tracked nearly every one: ~0.018 s against ~0.013 s of a cold
        # scan's serial tail at 2,000 services, for a file 7 % smaller).
        entries = (kept(self.dirs, self.used_dirs), kept(self.files, self.used_files))
        payload = _marshal_v2(entries) if _marshal_v2 is not None else None
        if payload is None:
            payload = marshal.dumps(entries, 2)
        return self.MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload

    @classmethod
    def load(cls, blob: object) -> "WalkCache":
        """The cache stored by :meth:`dump` (its bytes, or a map of a file holding them); an
        empty one for anything damaged or unknown."""
        head = len(cls.MAGIC) + 4
        if not isinstance(blob, (bytes, mmap.mmap)) or blob[: len(cls.MAGIC)] != cls.MAGIC:
            return cls()
        with memoryview(blob) as whole, whole[head:] as payload:  # let go before a map is closed
            if zlib.crc32(payload).to_bytes(4, "big") != blob[head - 4 : head]:
                return cls()
            try:
                with _collector_paused():  # tens of thousands of tuples, no cycles
                    dirs, files = marshal.loads(payload)
            except (ValueError, EOFError, TypeError):
                return cls()
        if type(dirs) is not dict or type(files) is not dict:
            return cls()
        return cls(dirs, files)

    @classmethod
    def read(cls, path: Path | None) -> "WalkCache":
        """:meth:`load` of the file ``path`` (see ``FragmentCache.walk_file``), read in place
        through a map of it; an empty cache when there is none or it cannot be read."""
        if path is None:
            return cls()
        try:
            with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return cls.load(mapped)
        except (OSError, ValueError):  # none yet, unreadable, or empty (nothing to map)
            return cls()


class TreeStats:
    """What a walk's result followed from, kept per scope beside the inventory: the stat of
    each directory the walk listed and of each file it hashed (``_cbuild.pack_stats``), and
    the tree key the walk gave (see :func:`_inventory_key`).

    While every one of those stats is what it was, the walk would list the same entries and
    find the same digests (the walk cache's reasoning, see :class:`WalkCache`), so it would
    give the same key: a warm rescan checks the stats, one C loop with no object made per
    entry, and walks only when one differs (at 2,000 services, ~0.06 s instead of a ~0.14 s
    walk on the rescan's longer half). Kept only for a walk whose result follows from its
    stats alone: each listing and digest settled (so recorded in the walk cache), no symlink
    followed (a link is read afresh, its target is in no stat kept), every root a directory,
    no warning. Stored as one checksummed blob, read in place.
    """

    MAGIC = b"stackpolicy-treestats\x001\x00"
    _KEY = 64  # a tree key: a sha256, in hex

    @classmethod
    def dump(cls, walk: WalkCache, files: int, warned: bool, key: str) -> bytes | None:
        """The stored form for ``walk``, done, which hashed ``files`` files, met a warning
        (``warned``) or not, and gave the tree ``key``; None where the walk's result does not
        follow from its stats alone (see above), or without the extension."""
        if (_pack_stats is None or warned or walk.followed or walk.listed != len(walk.used_dirs)
                or files != len(walk.used_files) or len(key) != cls._KEY or not key.isascii()):
            return None
        records = _pack_stats(walk.dirs, walk.used_dirs, walk.files, walk.used_files)
        if records is None:  # a path too long for a record
            return None
        payload = key.encode() + records
        return cls.MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload

    @classmethod
    def unchanged(cls, path: Path | None, roots: list[Path]) -> tuple[str, int, int] | None:
        """(tree key, files, their total size) of the walk stored in ``path`` when every stat
        it recorded is still the same under ``roots``; None when one differs, or nothing
        usable is stored there (none, damaged, another version's)."""
        if path is None or _stats_unchanged is None:
            return None
        head = len(cls.MAGIC) + 4
        try:
            with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                if mapped[: len(cls.MAGIC)] != cls.MAGIC:
                    return None
                key = mapped[head : head + cls._KEY].decode("ascii")
                with memoryview(mapped) as whole, whole[head:] as payload, payload[cls._KEY:] as records:
                    if zlib.crc32(payload).to_bytes(4, "big") != mapped[head - 4 : head]:
                        return None
                    with _stat_bases(roots) as bases:
                        counts = _stats_unchanged(records, bases)
        except (OSError, ValueError, UnicodeDecodeError):  # none yet, unreadable, empty, or not ours
            return None
        return None if counts is None else (key, *counts)


def _py_list_dir(d: str) -> tuple[tuple[str, ...], str, bool]:
    """(sorted entry names, their kinds, whether every kind is known) of directory ``d``; raises OSError."""
    with os.scandir(d) as it:
        entries = sorted(it, key=_BY_NAME)
    kinds = []
    known = True
    for entry in entries:
        try:
            if not entry.name.isascii() and not _utf8(entry.name):
                kind = _UNNAMED
            elif entry.is_symlink():
                kind = _LINK
            elif entry.is_dir(follow_symlinks=False):
                kind = _DIR
            elif entry.is_file(follow_symlinks=False):
                kind = _FILE
            else:
                kind = _OTHER
        except OSError:  # vanished while listed, or unreadable: skipped, and not remembered
            kind = _OTHER
            known = False
        kinds.append(kind)
    return tuple(e.name for e in entries), "".join(kinds), known


def _utf8(name: str) -> bool:
    """Whether ``name`` (as os.scandir reads it) was UTF-8 on disk: no surrogate escapes."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


# The same in C where the extension is built (_cbuild.list_dir): a cold walk lists every
# directory of the tree (~16,000 at 2,000 services), and the loop over os.scandir's entries
# was a sixth of it (the rest is the system calls).
_list_dir: Callable[[str], tuple[tuple[str, ...], str, bool]] = getattr(store._cbuild, "list_dir", None) or _py_list_dir


def iter_files(roots: list[Path], cfg: Config, stats: ScanStats, walk: WalkCache | None = None) -> Iterator[FileJob]:
    """Every regular file under ``roots``, sorted, following directory symlinks once.

    With ``walk``, a directory unchanged since it was last listed is not listed again (see
    :class:`WalkCache`), and the listings made now are recorded in it.
    """
    found: list[FileJob] = []
    for _, job in walk_files(roots, cfg, stats, walk):
        if job is not None:
            found.append(job)
        else:  # a root walked: its files, before the next root is walked
            found.sort(key=_BY_RELPATH)
            yield from found
            found = []


_BY_RELPATH = attrgetter("relpath")


def walk_files(roots: list[Path], cfg: Config, stats: ScanStats,
               walk: WalkCache | None = None) -> Iterator[tuple[int, FileJob | None]]:
    """What :func:`iter_files` yields, as (index of its root, job), in the order the walk finds
    them, and (index, None) once each root is walked.

    The same files and warnings; a caller that sorts each root's files by ``relpath`` itself
    (as :func:`iter_files` does) can start on them before the walk ends.
    """
    with _stat_bases(roots) as bases:
        yield from _walk_files(roots, cfg, stats, walk, bases)


def _walk_files(roots: list[Path], cfg: Config, stats: ScanStats, walk: WalkCache | None,
                bases: tuple[tuple[bytes, int], ...] | None) -> Iterator[tuple[int, FileJob | None]]:
    multi = len(roots) > 1
    labels = _root_labels(roots) if multi else [root.name for root in roots]
    filtered = bool(cfg.include or cfg.exclude)
    dirs_get = walk.dirs.get if walk is not None else None
    entries = dir_entries
    for index, root in enumerate(roots):
        label = labels[index]
        seen_dirs: set[bytes] = set()
        if root.is_file():
            if walk is not None:
                walk.followed = True
            yield index, FileJob(root.parent, str(root), root.name)
            yield index, None
            continue
        # Plain strings, not Path objects: on a tree of thousands of files pathlib's parsing
        # and relative_to() took most of the walk (it runs on every warm rescan).
        stack: list[tuple[str, str]] = [(str(root), "")]  # (absolute dir, its relative path + "/")
        kit = (FileJob, root, FileJob.root, FileJob.path, FileJob.relpath, f"{label}/" if multi else None)
        while stack:
            d, rel_dir = stack.pop()
            try:
                sig, _, newest_ns = stat_sig(d, True, bases)
            except OSError as exc:
                stats.warnings.append(Warning(path=d, message=f"cannot read directory: {exc.strerror}", scanner="walk"))
                continue
            key = sig[16:]  # (inode, device), packed
            if key in seen_dirs:
                stats.warnings.append(Warning(path=rel_dir[:-1], message="symlink loop: directory already visited, skipped", scanner="walk"))
                continue
            seen_dirs.add(key)
            # Listed before, with the same stat: it cannot have changed since (asked of every
            # directory of every walk, so read here rather than through a method).
            listed = dirs_get(d) if walk is not None else None
            if listed is not None and listed[0] == sig:
                walk.used_dirs.add(d)  # type: ignore[union-attr]
                names, kinds = listed[1], listed[2]
            else:
                try:
                    names, kinds, known = _list_dir(d)
                except OSError as exc:
                    stats.warnings.append(Warning(path=rel_dir[:-1] or ".", message=f"cannot read directory: {exc.strerror}", scanner="walk"))
                    continue
                if walk is not None and known:
                    walk.record_listing(d, sig, newest_ns, names, kinds)
            if walk is not None:
                walk.listed += 1
            prefix = d if d.endswith("/") else d + "/"
            if entries is not None and not filtered:
                # A directory of files and directories only (most), made in C: the same jobs
                # and subdirectories, in the same order, as the loop below makes.
                made = entries(prefix, rel_dir, names, kinds, SKIP_DIRS, kit)
                if made is not None:
                    files, below = made
                    stack.extend(below)
                    for job in files:
                        yield index, job
                    continue
            for name, kind in zip(names, kinds):
                if kind == _OTHER:
                    continue
                if kind == _UNNAMED:
                    stats.warnings.append(Warning(path=_shown_name(rel_dir + name), scanner="walk",
                                                  message="name is not UTF-8: skipped"))
                    continue
                path = prefix + name
                rel = rel_dir + name
                if kind == _LINK:
                    # Followed afresh every time; anything it does not lead to is a broken link.
                    if walk is not None:
                        walk.followed = True
                    try:
                        mode = os.stat(path).st_mode
                    except OSError:
                        mode = 0
                    if S_ISDIR(mode):
                        kind = _DIR
                    elif S_ISREG(mode):
                        kind = _FILE
                    else:
                        stats.warnings.append(Warning(path=rel, message="broken symlink, skipped", scanner="walk"))
                        continue
                if kind == _DIR:
                    if name not in SKIP_DIRS:
                        stack.append((path, rel + "/"))
                    continue
                if filtered and _excluded(rel, cfg):
                    continue
                yield index, FileJob(root, path, f"{label}/{rel}" if multi else rel)
        yield index, None


# A stat entry is trusted only for files last modified well before it was written: a write in
# the same timestamp tick as the hashing (coarse file systems) could otherwise go unseen.
_SETTLE_NS = 2_000_000_000


def _settled_ns(newest_ns: int, hashed_at_ns: int) -> bool:
    """Whether a file last modified or changed at ``newest_ns`` cannot have changed unseen since
    it was hashed at ``hashed_at_ns``."""
    return newest_ns < hashed_at_ns - _SETTLE_NS


def _file_key(cfg_tag: str, relpath: str, digest: str) -> str:
    """The cache key of one file: scanner versions and config, its evidence path, its content,
    and the form its fragments are stored in (code that stored another form never finds them)."""
    return hashlib.sha256(f"{cfg_tag}\0{relpath}\0{digest}\0".encode() + FRAGMENTS_MAGIC).hexdigest()


def _scan_batch(batch: list[tuple[str, str, str, list[str]]], cfg_json: str) -> tuple[list[bytes], dict[str, bytes]]:
    """Fragments (stored form) of each file of ``batch``, and the batch's command lines parsed (rows by line)."""
    parsed: dict[str, bytes] = {}
    frags = [_scan_one(p, rel, text, names, cfg_json, parsed) for p, rel, text, names in batch]
    return frags, parsed


# Files with stored fragments from which a rescan has their command lines parsed in the scan
# workers (forked for it if no file needs scanning) rather than by the builder, serially:
# ~30,000 lines at 2,000 services, more CPU than the rest of the rebuild's command step.
PARSE_IN_POOL_FROM_FILES = 2000


def _parse_commands(commands: list[str], cfg_json: str) -> dict[str, bytes]:
    """A pool task: ``actions.parse_sightings(commands)`` (as :func:`_scan_one` parses a file's)."""
    from inventory.actions import parse_sightings

    return parse_sightings(commands, cfg=_config_of(cfg_json))


class _PoolParse:
    """The command lines of stored fragments, parsed in the scan's workers as a rescan loads
    the fragments (which no worker scanned, so none parsed their lines): what
    :func:`_parse_commands` answers, for the builder to validate instead of parsing each
    line itself. Handed out in chunks as they fill; a chunk the pool cannot take, or whose
    worker died, is left to the builder, as without a pool."""

    CHUNK = 2048  # distinct commands per task

    def __init__(self, pool: ProcessPoolExecutor, cfg_json: str) -> None:
        self.pool = pool
        self.cfg_json = cfg_json
        self.seen: set[str] = set()
        self.chunk: list[str] = []
        self.futures: list[Future] = []
        self.manager: Any = None  # the pool's thread, once the pool is stopped without waiting (see close)

    def add(self, frags: list[Fragment]) -> None:
        """Queue the sighted commands of ``frags`` not queued yet."""
        self.add_texts([sighting.command for frag in frags for sighting in frag.commands])

    def add_texts(self, commands: Iterable[str]) -> None:
        """Queue those of ``commands`` not queued yet."""
        seen, chunk = self.seen, self.chunk
        for command in commands:
            if command not in seen:
                seen.add(command)
                chunk.append(command)
        if len(chunk) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        """Hand the commands queued so far to the pool."""
        if self.chunk:
            try:
                self.futures.append(self.pool.submit(_parse_commands, self.chunk, self.cfg_json))
            except (BrokenExecutor, RuntimeError):
                pass
            self.chunk = []

    def collect(self, parsed: dict[str, bytes]) -> None:
        """Wait for the tasks, and add their readings to ``parsed`` (keeping any it has)."""
        for future in self.futures:
            if not _answers_into(future, parsed):
                break
        self.futures = []
        self.seen = set()

    def awaited(self, parsed: dict[str, bytes]) -> "_Awaited":
        """``parsed`` and what the tasks answer, each task waited for only when a text asked
        for is not there yet (see :class:`_Awaited`); the pool is stopped once all are in."""
        out = _Awaited(parsed, self.futures, self.close)
        self.futures = []
        self.seen = set()
        return out

    def close(self, wait: bool = False) -> None:
        """Stop the pool (its tasks cancelled, if any are left): it has nothing more to do.

        Its workers' exit (each letting its memory go: ~6 ms in all at 2,000 services) is left
        to the pool's own thread unless ``wait``: the build goes on meanwhile. (A later close
        that waits joins that thread, which the pool itself forgets once told to stop.)"""
        manager = getattr(self.pool, "_executor_manager_thread", None)
        if manager is not None:
            self.manager = manager
        self.pool.shutdown(wait=wait, cancel_futures=True)
        if wait and self.manager is not None:
            self.manager.join()
            self.manager = None

    def behind(self) -> None:
        """Put the pool's workers behind this process for the CPU from now on: once the files
        are scanned, their parsing is work ahead of need, and this process, building the
        inventory meanwhile, is the scan's critical path (see :func:`_put_behind`)."""
        _put_behind(self.pool)


def _queue_parsing(parsing: _PoolParse, records: list, positions: Iterable[int], *, flush: bool = True) -> None:
    """Hand ``parsing`` the distinct sighted commands of the streamed records at ``positions``
    (in that order; a text queued before is not again); ``flush``: the last, part-full chunk too."""
    for pos in positions:
        rec = records[pos]
        if rec is not None and rec[8]:
            parsing.add_texts(rec[8])
    if flush:
        parsing.flush()


def _pool(n_jobs: int) -> ProcessPoolExecutor:
    """The scan's worker pool. Its task and result pipes are widened (see
    ``forked.widen_pipe``): a worker's answer (a batch's records, a chunk's parsed lines) is
    ~1 MB, read by a thread of this process, and the worker starts its next task only once
    the answer is all in the pipe."""
    pool = ProcessPoolExecutor(max_workers=n_jobs, initializer=_worker_init)
    for queue in (getattr(pool, "_call_queue", None), getattr(pool, "_result_queue", None)):
        reader = getattr(queue, "_reader", None)  # the executor's private pipes: kept as they are without them
        if reader is not None:
            forked.widen_pipe(reader.fileno())
    return pool


def _put_behind(pool: ProcessPoolExecutor) -> None:
    """Lower the priority of ``pool``'s workers to :data:`WORK_AHEAD_NICE` (never raise it).

    For work that is ahead of need while this process does what the scan waits for: three
    processes on two cores would otherwise each get two thirds of one. The build was slowed
    by ~0.1 s at 2,000 services, and so was the early merge while the workers scanned the
    late files (see :class:`_LateFiles`).
    """
    # ProcessPoolExecutor keeps its workers by pid in _processes; without it, nothing changes.
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:  # never ahead of where it was (a scan run under `nice` stays as nice)
            now = os.getpriority(os.PRIO_PROCESS, proc.pid)
            if now < WORK_AHEAD_NICE:
                os.setpriority(os.PRIO_PROCESS, proc.pid, WORK_AHEAD_NICE)
        except (OSError, AttributeError):
            pass  # not allowed here, or already gone: it only costs speed


@contextmanager
def _stopped_on_failure(parsing: _PoolParse | None) -> Iterator[None]:
    """Stop ``parsing``'s pool if the body fails: the build, which stops it otherwise, never starts."""
    try:
        yield
    except BaseException:
        if parsing is not None:
            parsing.close(wait=True)
        raise


def _fragment_tag(scanners: list[Scanner], scan_json: str) -> str:
    """The tag of every stored file and inventory key: the scanners' versions and the scan's
    settings. Both scan paths key with it, so either one finds what the other stored."""
    version_tag = ",".join(f"{s.name}@{s.version}" for s in scanners)
    return hashlib.sha256((version_tag + scan_json).encode()).hexdigest()[:16]


def _tree_tag(scan_json: str) -> str:
    """The tag of a stored tree's key: the scan's settings alone (the code tag in every key
    covers the scanners' code), so a warm rescan does not import them."""
    return "tree:" + hashlib.sha256(scan_json.encode()).hexdigest()[:16]


def _worker_count(jobs: int | None) -> int:
    """Scan workers: ``jobs`` if given, else one per core, at most four."""
    return jobs or min(os.cpu_count() or 1, 4)


# Files scanned from which the scrub's free text is judged in a helper process while the
# inventory is encoded (see inventory.scrubjudge): below, starting an interpreter costs more
# than judging the text does (about 0.1 s per 2,000 files).
JUDGE_FROM_FILES = 5000

# The nice value of the scan's pool workers once what is left for them is ahead of need (see
# _put_behind), as for the other work done ahead of need (inventory.forked).
WORK_AHEAD_NICE = 10

# Files a stream worker is handed at a time, and how many the walk must find before the
# workers are started at all (a small tree is scanned in this process, as scan_paths does).
STREAM_BATCH = 128


def _scan_streaming(roots: list[Path], cfg: Config, cfg_json: str, scan_json: str, sources: list[str],
                    cache: "FragmentCache", stats: ScanStats, jobs: int | None,
                    progress: Callable[[int, int], None] | None) -> tuple[Inventory, ScanStats]:
    """:func:`scan_paths` when nothing is stored to consult (see :func:`_stream_and_build`)."""
    # What is walked, loaded and put in order here all lives until the inventory is built
    # and makes no cycles: the collector would walk it again and again as it grows (as in
    # scan_paths). Paused until then, and restored as it was.
    with _collector_paused():
        pending, keys = _stream_and_build(roots, cfg, cfg_json, scan_json, sources, cache, stats, jobs, progress)
    _give_back_memory()  # the fragments, merged into the inventory
    inv = _scrubbed_and_stored(pending, cache, keys, stats)
    cache.close()
    return inv, stats


def _judge(cache: "FragmentCache", stats: ScanStats) -> FreeTextJudge | None:
    """A helper to judge the scrub's free text while the inventory is encoded for ``cache``,
    started before the build (it is ready by the time the strings are); ``None`` when
    nothing is stored or the tree is too small for it to pay (see JUDGE_FROM_FILES)."""
    if cache.db is None or stats.files_scanned < JUDGE_FROM_FILES:
        return None
    from inventory.scrubjudge import FreeTextJudge

    return FreeTextJudge.start()


def _scrubbed_and_stored(pending: PendingScrub, cache: "FragmentCache", keys: tuple[str, str, tuple[str, str, int, int]],
                         stats: ScanStats) -> Inventory:
    """The scrubbed inventory of ``pending``, stored in ``cache`` under ``keys`` (scope, key, tree).

    The stored form is encoded while the helper judges the free text (see
    :mod:`inventory.scrubjudge`), but written only as the scrubbed inventory: encoded again
    if the scrub masked anything.
    """
    try:
        if cache.db is None:
            with _stage(stats, "scrub secrets"):
                return pending.result()
        with _stage(stats, "store the inventory"):
            parts = pending.stored_form()
        with _stage(stats, "scrub secrets"):
            inv = pending.result()
        with _stage(stats, "store the inventory"):
            if inv is not pending.inventory:
                parts = _stored_form(inv)
            if parts is not None:
                cache.put_parts(*keys, parts)
        return inv
    finally:
        pending.close()


def _stream_and_build(roots: list[Path], cfg: Config, cfg_json: str, scan_json: str, sources: list[str],
                      cache: "FragmentCache", stats: ScanStats, jobs: int | None,
                      progress: Callable[[int, int], None] | None,
                      ) -> tuple[PendingScrub, tuple[str, str, tuple[str, str, int, int]]]:
    """:func:`scan_paths` when nothing is stored to consult (no cache, or an empty one).

    With stored results, every file's hash is needed before anything is scanned (an unchanged
    tree is answered from the stored inventory, unchanged files from their fragments), so the
    main process reads every file first. With none, that only kept the workers idle: here
    they read, hash, decode, match and scan the files in batches as the walk finds them, and
    the main process walks, and loads and stores what comes back. The records are put
    back in the walk's sorted order before any key, warning, count or fragment list is made
    from them, so the inventory, the stored entries and their keys are those of
    :func:`scan_paths`' own passes (a rescan then finds them).

    The files only command-only scanners want (runbooks, scripts: see ``Scanner.commands_only``)
    are handed out last, and the main process merges the other files' fragments while the
    workers scan them (see :class:`_EarlyMerge`): the one step of the build that needs no
    command sighting, done while both cores are busy rather than on the build's one.
    """
    scanners = all_scanners()
    cfg_tag = _fragment_tag(scanners, scan_json)
    n_jobs = _worker_count(jobs)
    walk = cache.get_walk() if cache.db is not None else None
    jobs_found: list[tuple[int, FileJob]] = []  # (root index, job), in walk order
    marks: list[int] = []  # len(stats.warnings) as each root's walk ended
    records: list[_Record | None] = []  # by position in jobs_found
    built: dict[int, list[Fragment]] = {}  # position -> fragments of the file
    keys: dict[int, str] = {}  # position -> the file's cache key (made as its fragments are stored)
    parsed: dict[str, bytes] = {}  # command lines the workers parsed (see _scan_batch)
    parsing: _PoolParse | None = None  # the rest, being parsed by the pool after the scan
    merges_late = _LateFiles(scanners) if n_jobs > 1 else None
    later: list[int] = []  # positions of the files handed out last (see _LateFiles)
    late_set: set[int] = set()
    # The stored fragments of the other files, kept until the early merge is settled: should
    # a late file break the promise, they are loaded again as they were, and merged as usual.
    blobs: dict[int, bytes] = {}
    keep_blobs = merges_late is not None
    early: _EarlyMerge | None = None
    done = 0

    def take(positions: list[int], res: list[_Record], lines: dict[str, bytes]) -> None:
        # Loaded and stored as each batch arrives (while the workers scan the next ones); the
        # fragments' stored form goes once stored.
        nonlocal done
        parsed.update(lines)
        items = []
        for pos, rec in zip(positions, res):
            frags = rec[7]
            if frags is not None:
                built[pos] = _FRAGMENT_STORE.load_many(frags)
                keys[pos] = _file_key(cfg_tag, jobs_found[pos][1].relpath, rec[1])  # type: ignore[arg-type]
                items.append((keys[pos], frags))
                if keep_blobs and pos not in late_set:
                    blobs[pos] = frags
                rec = (*rec[:7], None, rec[8])  # type: ignore[assignment]
            records[pos] = rec
        cache.put_many(items, commit=False)
        done += len(res)
        if progress:
            progress(done, len(jobs_found))

    pool: ProcessPoolExecutor | None = None
    broken = False  # no pool to be had (no fork, a worker died): batches are scanned here from then on
    pending: deque[tuple[list[int], Any]] = deque()  # (positions, future) of batches handed to the pool

    def batch(positions: list[int]) -> list[tuple[str, str]]:
        return [(jobs_found[pos][1].path, jobs_found[pos][1].relpath) for pos in positions]

    def collect(wait: bool, early_only: bool = False) -> None:
        # Batches are taken in the order handed out (``early_only``: up to the first of the late
        # files); one whose worker died is scanned here (the same result: scanning a file
        # depends on nothing but the file and the config).
        nonlocal broken
        while pending and (wait or pending[0][1].done()) and not (early_only and pending[0][0][0] in late_set):
            positions, fut = pending.popleft()
            try:
                res = fut.result()
            except BrokenExecutor:
                broken = True
                res = _read_and_scan(batch(positions), cfg_json)
            take(positions, *res)
            if parsing is not None and positions[0] in late_set:
                # Their command lines to the workers as they come in, in the files' order (the
                # order the actions step reads them in): the first worker done with the late
                # files parses them while the other scans on.
                _queue_parsing(parsing, records, positions, flush=False)

    def hand_out(positions: list[int]) -> None:
        nonlocal pool, broken
        if not broken:
            try:
                if pool is None:  # forked now, while this process is small
                    pool = _pool(n_jobs)
                # Not their command lines: those are parsed after the scan (see below).
                pending.append((positions, pool.submit(_read_and_scan, batch(positions), cfg_json, False)))
                return
            except (BrokenExecutor, OSError, NotImplementedError):
                broken = True
        take(positions, *_read_and_scan(batch(positions), cfg_json))

    stats.stages.setdefault("walk, read and scan files", 0.0)  # first in the report, though merging ends first
    with _stage(stats, "walk, read and scan files"):
        try:
            ready: list[int] = []  # positions found and not handed out yet
            for index, job in walk_files(roots, cfg, stats, walk):
                if job is None:  # a root walked: where its walk's warnings end
                    marks.append(len(stats.warnings))
                    continue
                pos = len(jobs_found)
                jobs_found.append((index, job))
                records.append(None)
                if merges_late is not None and merges_late.wanted_only_by_them(job.relpath):
                    later.append(pos)
                    continue
                ready.append(pos)
                if len(ready) >= STREAM_BATCH and n_jobs > 1:
                    hand_out(ready)
                    ready = []
                    collect(wait=False)
            stats.files_seen = len(jobs_found)
            if n_jobs > 1 and (pool is not None or len(jobs_found) >= STREAM_BATCH):
                if ready:
                    hand_out(ready)
                late_set.update(later)
                if later and pool is not None and not broken:
                    # The late files' scan is ahead of need while this process merges the
                    # others' fragments: the merge gets a core of its own (~0.1 s at 2,000 services).
                    _put_behind(pool)
                    # They hold the sighted commands the actions step reads in the files' order:
                    # handed out in that order, their lines can be parsed as their batches come
                    # back (see collect), in the order the step asks for them.
                    later.sort(key=lambda i: (jobs_found[i][0], jobs_found[i][1].relpath))
                    parsing = _PoolParse(pool, cfg_json)
                for first in range(0, len(later), STREAM_BATCH):
                    hand_out(later[first:first + STREAM_BATCH])
                if later:
                    # The others' fragments merged while the workers scan the late files.
                    collect(wait=True, early_only=True)
                    if parsing is not None:
                        # The other files' lines (few: most sighted commands are in the late
                        # files) go first: they are parsed while the late files are scanned, and
                        # are in by the time the actions step reads any line.
                        _queue_parsing(parsing, records, [pos for pos in range(len(records)) if pos not in late_set],
                                       flush=False)
                    t0 = time.perf_counter()
                    early = _EarlyMerge.run(built, late_set, jobs_found, scanners, cfg, sources)
                    t1 = time.perf_counter()
                    if early is not None:  # and the resolvers that read no command, meanwhile too
                        early.resolve(cfg)
                    t2 = time.perf_counter()
                    _import_build_steps()  # while the workers scan, not on the build's serial path
                    # Counted once, as merging and resolving.
                    stats.stages["merge fragments"] = stats.stages.get("merge fragments", 0.0) + t1 - t0
                    stats.stages["resolve environments"] = stats.stages.get("resolve environments", 0.0) + t2 - t1
                    stats.stages["walk, read and scan files"] = \
                        stats.stages.get("walk, read and scan files", 0.0) - (t2 - t0)
                if early is None:
                    keep_blobs = False
                    blobs.clear()
            else:  # a small tree (or one core): scanned here, in the walk's order
                everything = list(range(len(jobs_found)))
                for first in range(0, len(everything), STREAM_BATCH):
                    part = everything[first:first + STREAM_BATCH]
                    take(part, *_read_and_scan(batch(part), cfg_json))
            collect(wait=True)
            # Back in the order scan_paths' passes see the files: each root's, sorted by relpath
            # (with one root, by the relpaths alone: a key looked up in C, not a Python call per file).
            if len(roots) == 1:
                positions = sorted(range(len(jobs_found)), key=[job.relpath for _, job in jobs_found].__getitem__)
            else:
                positions = sorted(range(len(jobs_found)), key=lambda i: (jobs_found[i][0], jobs_found[i][1].relpath))
            if pool is not None and not broken:
                # The command lines of what the pool scanned are parsed by its workers while this
                # process resolves environments, which needs few of them (see _build_inventory):
                # the one core this process leaves idle then, not both while they scan (~0.3 s of
                # a cold scan at 2,000 services). In the files' order, which the actions step reads
                # them in (see _Awaited); the late files' as they came back, and the others'
                # before them (above): only the last, part-full chunk is left.
                if parsing is None:
                    parsing = _PoolParse(pool, cfg_json)
                    _queue_parsing(parsing, records, positions)
                parsing.behind()
                parsing.flush()
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            raise
        if pool is not None and parsing is None:
            pool.shutdown(wait=True, cancel_futures=True)
    with _stopped_on_failure(parsing):
        cache.commit()
        _give_back_memory()

        # Each root's pass-1 warnings after its walk's (iter_files walks a root, then yields it).
        walked = stats.warnings
        stats.warnings = []
        # The keys of every file read (the tree's key), (path, stat, sha256) of each for the walk
        # cache, the positions of the files scanned and their keys, pass 2's warnings (after
        # every pass-1 one).
        seen_keys, hashed, order, file_keys, late, skipped, late_skips, read = records_in_order(
            positions, jobs_found, records, marks, walked, keys, stats.warnings)
        stats.skipped += skipped
        stats.bytes_read += read
        del records, walked
        tree_tag = _tree_tag(scan_json)
        tree_scope, tree_key = _inventory_key(tree_tag, sources, seen_keys, stats.warnings)
        walk_warned = bool(stats.warnings)  # (pass 1's: the late ones do not change the tree key)
        skipped_before = stats.skipped
        stats.warnings.extend(late)
        stats.skipped += late_skips
        if walk is not None:
            walk.record_digests(hashed)
            cache.put_walk(walk, roots)
            cache.put_tree_stats(tree_scope, TreeStats.dump(walk, len(seen_keys), walk_warned, tree_key))
        del walk, hashed
        stats.files_scanned = len(order)
        inv_scope, inv_key = _inventory_key(cfg_tag, sources, file_keys, stats.warnings)
        if early is not None and not early.kept(built, late_set):
            # A late file's fragments hold more than its scanners promised: merged as usual,
            # from the other files' fragments as they were loaded (the early merge edits them).
            for pos in early.positions:
                built[pos] = _FRAGMENT_STORE.load_many(blobs[pos])
            early = None
        blobs.clear()
        fragments = [f for pos in order for f in built.pop(pos)]
        # Only the fragments and parsed lines go on: the build is the scan's peak.
        del jobs_found, positions, seen_keys, file_keys, order, built, keys
    pending = _build_pending(fragments, scanners, cfg, sources, stats, parsed, _judge(cache, stats), loaded=True,
                             parsing=parsing, early=early)
    return pending, (inv_scope, inv_key, (tree_scope, tree_key, stats.files_scanned, stats.skipped - skipped_before))


def _stored_form(inv: Inventory) -> tuple[bytes, bytes] | None:
    """``store.dump_parts(inv)``, or ``None`` for an inventory with a value the stored form
    cannot hold (it is then not stored: the next scan builds it again)."""
    try:
        return store.dump_parts(inv)
    except TypeError:
        return None


# An ``inventories`` row whose inventory is stored in a ``trees`` row: this, then that row's
# scope and key (NUL-separated). Not a stored inventory's header, so code that does not know
# it takes the row for one it cannot load: a rebuild, never a wrong inventory.
_IN_TREES = b"stackpolicy-inventory-in-trees\x00"
# The value of a trees row whose inventory is in a file of its own beside the database
# (FragmentCache.tree_file): read in place through a map of the file, not copied out of the
# database into new memory (~17 MB at 2,000 services: ~15 ms of a warm rescan, most of it
# the page faults of the copy). Not a stored inventory's header either (see _IN_TREES).
_IN_FILE = b"stackpolicy-inventory-in-file\x00"


def _write_whole(path: Path, parts: list[bytes]) -> bool:
    """Write ``parts`` one after the other into ``path``: under a temporary name, then renamed
    over it, so that a reader finds the old file or the new one, never a part. False (and
    nothing left behind) when it cannot be written: a cache that cannot be written only costs speed."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            for part in parts:
                fh.write(part)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False


def _tree_file_head(scope: str, key: str) -> bytes:
    """What a tree's inventory file starts with: the tree it is of (checked as it is read)."""
    return b"stackpolicy-tree\x00" + f"{scope}\x00{key}\n".encode()


class FragmentCache:
    """Fragments keyed by (scanner versions, config, path, content hash) in one SQLite file."""

    def __init__(self, directory: Path | None) -> None:
        self.db: sqlite3.Connection | None = None
        self.path = directory / "scan.sqlite" if directory is not None else None
        self._writers: list[threading.Thread] = []  # writing the walk and its stats (see put_walk_blob)
        self.damaged = False  # a read found the file damaged: close() removes it
        if directory is None:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._open()
        except sqlite3.DatabaseError as exc:
            self.db = None  # busy, locked, read-only: not the file's fault, and left as it is
            if type(exc) is sqlite3.DatabaseError:
                # Not a database, or a damaged one (what a crash of the machine mid-write can
                # leave, see _open): started afresh, once.
                try:
                    self._remove()
                    self._open()
                except (OSError, sqlite3.Error):
                    self.db = None
        except OSError:
            self.db = None  # an unwritable cache only costs speed

    def _open(self) -> None:
        assert self.path is not None
        self.db = sqlite3.connect(self.path)
        # Written without waiting for the disk: this is a cache, and each wait for it (the
        # tables made, the fragments, the walk, the inventory: ~30 MB at 2,000 services) was
        # ~0.15-0.2 s of a cold scan spent idle. A crash of the process loses nothing (the
        # writes are the kernel's); a crash of the machine may leave the file damaged, and a
        # damaged file is removed and rebuilt (see _lost), never read as results.
        self.db.execute("PRAGMA synchronous=OFF")
        # Large pages for a new file (a no-op on an existing one): the stored inventory is one
        # ~17 MB value, the fragments ~20,000 of ~1 KB each at 2,000 services; with 64 KB pages
        # sqlite walks a sixteenth of the overflow pages to write or read the inventory, and
        # inserting the fragments took a third less time than with the default 4 KB.
        self.db.execute("PRAGMA page_size=65536")
        self.db.execute("CREATE TABLE IF NOT EXISTS fragments (key TEXT PRIMARY KEY, value TEXT)")
        # One built inventory per scope (sources + config + code), so the table stays small.
        self.db.execute("CREATE TABLE IF NOT EXISTS inventories (scope TEXT PRIMARY KEY, key TEXT, value BLOB)")
        # The same inventory keyed by the whole tree's bytes (see scan_paths), with the
        # counts a rescan reports.
        self.db.execute("CREATE TABLE IF NOT EXISTS trees (scope TEXT PRIMARY KEY, key TEXT, value BLOB, "
                        "scanned INTEGER, skipped INTEGER)")
        # What the walk saw (see WalkCache) is in a file beside it (walk_file), read in place.

    def _remove(self) -> None:
        """Close and delete the cache file (and a rollback journal left beside it)."""
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None
        assert self.path is not None
        for name in (self.path, self.path.with_name(self.path.name + "-journal"), self.path.with_name("walk.bin"),
                     *self._tree_files()):
            try:
                name.unlink()
            except FileNotFoundError:
                pass

    def _tree_files(self) -> list[Path]:
        """The files of stored trees' inventories (see :meth:`tree_file`)."""
        assert self.path is not None
        try:
            return sorted(self.path.with_name("trees").iterdir())
        except OSError:
            return []

    def tree_file(self, scope: str, key: str) -> Path:
        """The file holding the inventory stored for the tree (``scope``, ``key``): named by both,
        so that a file of that name only ever holds that inventory (written whole, then renamed)."""
        assert self.path is not None
        return self.path.with_name("trees") / (hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:40] + ".bin")

    def load_tree(self, scope: str, key: str, value: bytes) -> Inventory:
        """The inventory a trees row (``scope``, ``key``, ``value``) holds: in the row, or in its
        file (:data:`_IN_FILE`), read through a map of it. Raises :class:`store.StoreError` for
        anything that cannot be read as one (a missing, damaged or foreign file included)."""
        if value != _IN_FILE:
            return store.load(value)
        named = _tree_file_head(scope, key)
        try:
            with open(self.tree_file(scope, key), "rb") as fh, \
                    mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped, memoryview(mapped) as whole:
                if whole[: len(named)] != named:  # another tree's (a copied or edited cache)
                    raise store.StoreError("not this tree's")
                with whole[len(named):] as stored:
                    return store.load(stored)
        except (OSError, ValueError) as exc:  # gone, unreadable, or empty (nothing to map)
            raise store.StoreError(f"unreadable: {exc}") from None

    def _lost(self, exc: sqlite3.Error) -> None:
        """Note a read or write that failed: a damaged file (not a busy or locked one) is removed
        by :meth:`close`, so the next scan starts a fresh cache rather than missing every time."""
        if type(exc) is sqlite3.DatabaseError:
            self.damaged = True

    def is_empty(self) -> bool:
        """Whether nothing is stored to consult: no cache at all, or no fragment or inventory in it."""
        if self.db is None:
            return True
        try:
            return self.db.execute("SELECT NOT (EXISTS (SELECT 1 FROM fragments) OR EXISTS (SELECT 1 FROM inventories)"
                                   " OR EXISTS (SELECT 1 FROM trees))").fetchone()[0] == 1
        except sqlite3.Error as exc:
            self._lost(exc)
            return False  # the usual path decides what it can use

    @property
    def walk_file(self) -> Path | None:
        """The file the walk is stored in (see :class:`WalkCache`), beside the database; None without a cache."""
        return self.path.with_name("walk.bin") if self.path is not None else None

    def get_walk(self) -> WalkCache:
        """What earlier walks saw (an empty :class:`WalkCache` when nothing usable is stored)."""
        self._written()
        return WalkCache.read(self.walk_file) if self.db is not None else WalkCache()

    def put_walk(self, walk: WalkCache, roots: list[Path]) -> None:
        """Store ``walk`` if it learnt anything (see :meth:`WalkCache.dump` for what is kept):
        dumped, too, by the thread that writes it (see :meth:`put_walk_blob`; the C marshal lets
        the GIL go: ~20 ms of a cold scan's serial tail at 2,000 services). Nothing may change
        ``walk`` after this."""
        if self.db is None or not walk.changed or self.walk_file is None:
            return
        self._written()
        self._write_beside(self.walk_file, lambda: walk.dump(roots))

    def put_walk_blob(self, blob: bytes) -> None:
        """Store a walk already dumped (:meth:`WalkCache.dump`), in :attr:`walk_file`: written
        whole under another name, then renamed (a reader finds the old walk or the new one).

        By a thread of its own, done by :meth:`close` (and before this cache reads the walk
        again): the write waits on the file system, not on this process, and a cold scan's
        (~7 MB at 2,000 services) took 2 to 40 ms of its serial tail as the file system flushed
        earlier writes.
        """
        if self.db is None or self.walk_file is None:
            return
        self._written()
        self._write_beside(self.walk_file, blob)

    def _write_beside(self, path: Path, blob: bytes | Callable[[], bytes]) -> None:
        """``_write_whole(path, [blob])`` by a thread of its own, joined by :meth:`_written`
        (``blob`` made there when it is a function)."""
        def write() -> None:
            try:
                data = blob() if callable(blob) else blob
            except (MemoryError, RuntimeError, ValueError):
                return  # not written: a cache that cannot be written only costs speed
            _write_whole(path, [data])

        writer = threading.Thread(target=write, name="walk-writer")
        writer.start()
        self._writers.append(writer)

    def _written(self) -> None:
        """Wait for the walk and its stats being written, if they are (see :meth:`put_walk_blob`)."""
        while self._writers:
            self._writers.pop().join()

    def tree_stats_file(self, scope: str) -> Path | None:
        """The file the stats of the last walk of ``scope`` are kept in (see :class:`TreeStats`),
        beside the trees' inventories; None without a cache."""
        return self.path.with_name("trees") / f"{scope[:40]}.stats" if self.path is not None else None

    def put_tree_stats(self, scope: str, blob: bytes | None) -> None:
        """Keep ``blob`` (:meth:`TreeStats.dump`) as the stats of ``scope``'s last walk, written
        as the walk is (:meth:`put_walk_blob`); with None, forget those kept (the last walk's
        result did not follow from its stats: the next rescan walks)."""
        path = self.tree_stats_file(scope)
        if self.db is None or path is None:
            return
        if blob is None:
            try:
                path.unlink()
            except OSError:  # none kept (or it cannot go: its tree key will not be the stored one)
                pass
            return
        try:
            path.parent.mkdir(exist_ok=True)
        except OSError:
            return
        self._write_beside(path, blob)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The stored values of those of ``keys`` that are stored (bytes, unless another version wrote them)."""
        if self.db is None or not keys:
            return {}
        out: dict[str, Any] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = "SELECT key, value FROM fragments WHERE key IN (%s)" % ",".join("?" * len(chunk))
                out.update(dict(self.db.execute(q, chunk).fetchall()))
        except sqlite3.Error as exc:
            self._lost(exc)
            return {}  # misses: the files are scanned again
        return out

    def stored_keys(self, keys: list[str]) -> set[str]:
        """Those of ``keys`` that have a stored value (not read)."""
        if self.db is None or not keys:
            return set()
        out: set[str] = set()
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = "SELECT key FROM fragments WHERE key IN (%s)" % ",".join("?" * len(chunk))
                out.update(key for key, in self.db.execute(q, chunk))
        except sqlite3.Error as exc:
            self._lost(exc)
            return set()
        return out

    def put_many(self, items: list[tuple[str, bytes]], commit: bool = True) -> None:
        """Store (file key, fragments' stored form) pairs; ``commit=False`` leaves the commit to :meth:`commit`."""
        if self.db is None or not items:
            return
        try:
            self.db.executemany("INSERT OR REPLACE INTO fragments VALUES (?, ?)", items)
            if commit:
                self.db.commit()
        except sqlite3.Error as exc:
            self._lost(exc)

    def commit(self) -> None:
        """Commit what :meth:`put_many` stored uncommitted."""
        if self.db is None:
            return
        try:
            self.db.commit()
        except sqlite3.Error as exc:
            self._lost(exc)

    def get_inventory(self, scope: str, key: str) -> Inventory | None:
        """The inventory stored for ``scope`` if it was built from exactly ``key``."""
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT value FROM inventories WHERE scope = ? AND key = ?", (scope, key)).fetchone()
            if row and isinstance(row[0], bytes) and row[0].startswith(_IN_TREES):
                tree_scope, _, tree_key = row[0][len(_IN_TREES):].decode().partition("\0")
                row = self.db.execute("SELECT value FROM trees WHERE scope = ? AND key = ?", (tree_scope, tree_key)).fetchone()
                return self.load_tree(tree_scope, tree_key, row[0]) if row else None
            return store.load(row[0]) if row else None
        except (sqlite3.Error, store.StoreError, UnicodeDecodeError) as exc:
            if isinstance(exc, sqlite3.Error):
                self._lost(exc)
            return None  # a damaged entry only costs a rebuild

    def put_inventory(self, scope: str, key: str, inv: Inventory,
                      tree: tuple[str, str, int, int] | None = None) -> None:
        """Store ``inv`` under (scope, key), and under ``tree`` (scope, key, scanned, skipped) when given."""
        if self.db is None:
            return
        parts = _stored_form(inv)
        if parts is not None:
            self.put_parts(scope, key, tree, parts)

    def put_parts(self, scope: str, key: str, tree: tuple[str, str, int, int] | None,
                  parts: tuple[bytes, bytes]) -> None:
        """:meth:`put_inventory` with the inventory already encoded (``store.dump_parts``)."""
        if self.db is None:
            return
        head, payload = parts
        if tree is not None and self._put_tree_file(scope, key, tree, parts):
            return
        try:
            # Written piece by piece into room made for it: binding the whole as a parameter
            # would make sqlite copy it, and joining the parts would copy it once more.
            size = len(head) + len(payload)
            if tree is None:
                table, rowid = "inventories", self.db.execute(
                    "INSERT OR REPLACE INTO inventories VALUES (?, ?, zeroblob(?))", (scope, key, size)).lastrowid
            else:
                # Stored once, in the row a rescan of an unchanged tree reads; the inventories
                # row only names it (see get_inventory). The two are always written together,
                # and a name whose row was replaced since is a miss.
                self.db.execute("INSERT OR REPLACE INTO inventories VALUES (?, ?, ?)",
                                (scope, key, _IN_TREES + f"{tree[0]}\0{tree[1]}".encode()))
                table, rowid = "trees", self.db.execute("INSERT OR REPLACE INTO trees VALUES (?, ?, zeroblob(?), ?, ?)",
                                                        (tree[0], tree[1], size, *tree[2:])).lastrowid
            with self.db.blobopen(table, "value", rowid) as out:
                out.write(head)
                out.write(payload)
            self.db.commit()
        except sqlite3.Error as exc:
            self._lost(exc)

    def _put_tree_file(self, scope: str, key: str, tree: tuple[str, str, int, int], parts: tuple[bytes, bytes]) -> bool:
        """:meth:`put_parts` of a tree's inventory into its own file (:meth:`tree_file`), the rows
        naming it; False when the file cannot be written (then it goes into the row, as before).

        The file is written whole under a temporary name and renamed, then the rows are
        committed, then the file of the tree the scope held before is removed: a reader finds
        either the old rows and file or the new ones, and a file left by a crash is a miss.
        """
        assert self.db is not None
        path = self.tree_file(tree[0], tree[1])
        try:
            path.parent.mkdir(exist_ok=True)
        except OSError:
            return False
        if not _write_whole(path, [_tree_file_head(*tree[:2]), *parts]):
            return False
        try:
            old = self.db.execute("SELECT key FROM trees WHERE scope = ?", (tree[0],)).fetchone()
            self.db.execute("INSERT OR REPLACE INTO inventories VALUES (?, ?, ?)",
                            (scope, key, _IN_TREES + f"{tree[0]}\0{tree[1]}".encode()))
            self.db.execute("INSERT OR REPLACE INTO trees VALUES (?, ?, ?, ?, ?)", (tree[0], tree[1], _IN_FILE, *tree[2:]))
            self.db.commit()
        except sqlite3.Error as exc:
            self._lost(exc)
            try:  # not named by any row: only room taken
                path.unlink()
            except OSError:
                pass
            return True
        if old is not None and old[0] != tree[1]:
            try:
                self.tree_file(tree[0], old[0]).unlink()
            except OSError:
                pass
        return True

    def get_tree(self, scope: str, key: str) -> tuple[Inventory, int, int] | None:
        """(inventory, files scanned, files skipped) stored for exactly this tree, or None."""
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT value, scanned, skipped FROM trees WHERE scope = ? AND key = ?",
                                  (scope, key)).fetchone()
            return (self.load_tree(scope, key, row[0]), int(row[1]), int(row[2])) if row else None
        except (sqlite3.Error, store.StoreError, ValueError, TypeError) as exc:
            if isinstance(exc, sqlite3.Error):
                self._lost(exc)
            return None  # a damaged entry only costs a rebuild

    def close(self) -> None:
        """Close the file (the walk written, see :meth:`put_walk_blob`); remove it if a read
        found it damaged (see :meth:`_lost`)."""
        self._written()
        if self.damaged:
            try:
                self._remove()
            except OSError:
                pass
        elif self.db is not None:
            self.db.close()


# Config fields the scan never reads: where documents go and how they are drafted, and the
# configured ``sources`` (the roots are passed to :func:`scan_paths` and keyed on their own).
# They stay out of the cache keys, so a changed output directory or provider, or a config
# file in another folder, still finds the scan cache warm. A field not listed here is part
# of the keys (a new field costs a rescan, never a stale hit).
NOT_SCAN_CONFIG = frozenset({"sources", "output", "prompts_dir", "provider", "evals", "rules", "tiers", "base_dir"})


def scan_config_json(cfg: Config) -> str:
    """The part of ``cfg`` a scan's result depends on, as JSON: what the scan cache is keyed by."""
    return cfg.model_dump_json(exclude=set(NOT_SCAN_CONFIG))


def _walk_and_hash(roots: list[Path], cfg: Config, stats: ScanStats,
                   walk: WalkCache | None) -> list[tuple[FileJob, bytes | None, str]]:
    """Pass 1 of :func:`scan_paths`: every file of the walk with its content sha256.

    Each item is (job, its bytes or None when they were not read, sha256). A file whose stat
    is what it was when ``walk`` last hashed it is not read (see :class:`WalkCache`).
    """
    seen: list[tuple[FileJob, bytes | None, str]] = []
    # Hashed before, with the same stat: it cannot have changed since (asked of every file by
    # a warm rescan, on its longer half, so read here rather than through a method).
    known, used = (walk.files, walk.used_files) if walk is not None else ({}, set())
    found: list[FileJob] = []
    with _stat_bases(roots) as bases:  # the walk's and the hashing's, opened once
        for _, job in _walk_files(roots, cfg, stats, walk, bases):
            if job is not None:
                found.append(job)
                continue
            _hash_walked(found, cfg, stats, walk, known, used, seen, bases)
            found = []
    return seen


def _hash_walked(found: list[FileJob], cfg: Config, stats: ScanStats, walk: WalkCache | None, known: dict[str, tuple],
                 used: set[str], seen: list[tuple[FileJob, bytes | None, str]],
                 bases: tuple[tuple[bytes, int], ...] | None) -> None:
    """:func:`_walk_and_hash` of the files of one root, its walk done: sorted (as iter_files
    gives them), before the next root is walked (its warnings come after theirs). Those the
    cache answers, answered in one call (_cbuild.known_digests), the others one by one.
    ``bases``: see :func:`_stat_bases`."""
    found.sort(key=_BY_RELPATH)
    answers, answered_bytes = known_digests(found, known, used, cfg.max_file_bytes, bases) \
        if known_digests is not None and known else ([None] * len(found), 0)
    stats.files_seen += len(found)
    stats.bytes_read += answered_bytes
    for job, digest in zip(found, answers):
        if digest is not None:
            seen.append((job, None, digest))
        else:
            _hash_one(job, cfg, stats, walk, known, used, seen)


def _hash_one(job: FileJob, cfg: Config, stats: ScanStats, walk: WalkCache | None, known: dict[str, tuple],
              used: set[str], seen: list[tuple[FileJob, bytes | None, str]]) -> None:
    """:func:`_walk_and_hash` of one file: its digest from ``known`` when its stat is unchanged,
    else read and hashed (and recorded in ``walk``); appended to ``seen``, or a warning."""
    try:
        sig, size, newest_ns = stat_sig(job.path, False)
        if size > cfg.max_file_bytes:
            stats.warnings.append(Warning(path=job.relpath, message=f"file larger than {cfg.max_file_bytes} bytes, skipped", scanner="walk"))
            stats.skipped += 1
            return
        data: bytes | None = None
        row = known.get(job.path)
        if row is not None and row[0] == sig:
            used.add(job.path)
            digest = row[1]
        else:
            with open(job.path, "rb") as fh:
                data = fh.read()
            digest = hashlib.sha256(data).hexdigest()
            if walk is not None:
                walk.record_digest(job.path, sig, newest_ns, digest)
    except OSError as exc:
        stats.warnings.append(Warning(path=job.relpath, message=f"cannot read file: {exc.strerror or exc}", scanner="walk"))
        stats.skipped += 1
        return
    stats.bytes_read += size if data is None else len(data)
    seen.append((job, data, digest))


class _Walked(NamedTuple):
    """What :func:`_walk_beside_loading` found: the stored inventory of an unchanged tree
    (``inventory``), or else the walk itself (``seen``, as ``_walk_and_hash`` returns it)."""

    inventory: Inventory | None
    seen: list[tuple[FileJob, bytes | None, str]] | None


def _walk_beside_loading(roots: list[Path], cfg: Config, tree_tag: str, sources: list[str], cache: "FragmentCache",
                         stats: ScanStats) -> _Walked | None:
    """Pass 1 of :func:`scan_paths` (walk and hash) in a forked child, while this process
    loads the inventory stored for the tree's scope: the warm rescan's two halves, of about
    the same length, whose results only meet at the end.

    The stored inventory is returned if the child's tree key is the stored one and the walk
    learnt nothing new to store; otherwise the child's walk is (the files it read, its
    warnings and counts in ``stats``, what it learnt stored in ``cache``), and the caller
    goes on from there as after its own walk. ``None`` (``stats`` untouched) when nothing is
    stored for the scope or the child cannot run: the caller walks itself.
    """
    if cache.db is None or not forked.available():
        return None
    scope = _scope(tree_tag, sources)
    try:
        row = cache.db.execute("SELECT key, scanned, skipped FROM trees WHERE scope = ?", (scope,)).fetchone()
    except sqlite3.Error as exc:
        cache._lost(exc)
        return None
    if row is None:
        return None
    stored_key, scanned, skipped = row
    walk_file, stats_file = cache.walk_file, cache.tree_stats_file(scope)

    def walk_and_report() -> tuple:
        # The tree as the stats kept say it was when its inventory was stored: nothing to walk.
        known = TreeStats.unchanged(stats_file, roots)
        if known is not None and known[0] == stored_key:
            return (known[1], known[2], 0, []), None, None, False, None
        # The collector is off for the whole of this short-lived child: the walk makes tens of
        # thousands of objects and no cycles, and the first collection after a pause only over
        # the walk itself walked them all (~10 ms of a warm rescan, on its longer half).
        gc.disable()
        walk = WalkCache.read(walk_file)  # in the child, off this process's path to the stored inventory
        mine = ScanStats()
        seen = _walk_and_hash(roots, cfg, mine, walk)
        key = _inventory_key(tree_tag, sources, [f"{job.relpath}\0{digest}" for job, _, digest in seen],
                             mine.warnings)[1]
        counts = (mine.files_seen, mine.bytes_read, mine.skipped, [w.model_dump() for w in mine.warnings])
        # The stats of this walk, for the next rescan; the ones kept are left as they are
        # when they still hold (their key is this one, not the stored inventory's).
        tree_stats = None if known is not None else TreeStats.dump(walk, len(seen), bool(mine.warnings), key)
        if key == stored_key and not walk.changed:
            return counts, None, None, known is None, tree_stats
        return (counts, walk.dump(roots) if walk.changed else None,
                [(str(job.root), job.path, job.relpath, data, digest) for job, data, digest in seen],
                known is None, tree_stats)

    # Not at a lower priority (as work ahead of need usually is): the rescan waits for it.
    # Started before the stored inventory is read (~17 MB at 2,000 services): the walk is
    # the longer half.
    job = forked.start(walk_and_report, nice=0)
    if job is None:
        return None
    try:
        with _stage(stats, "load the stored inventory"):
            try:
                row = cache.db.execute("SELECT value FROM trees WHERE scope = ? AND key = ?", (scope, stored_key)).fetchone()
                inv: Inventory | None = cache.load_tree(scope, stored_key, row[0]) if row is not None else None
            except store.StoreError:
                inv = None
            except sqlite3.Error as exc:
                cache._lost(exc)
                inv = None
            del row
        with _stage(stats, "walk and hash files"):  # what of it the load did not hide
            report = job.take()
    except BaseException:  # interrupted: the child goes too
        job.discard()
        raise
    if report is None:
        return None  # the child failed: walked here
    counts, walk_blob, files, walked_stats, tree_stats = report
    if walked_stats:  # the stats kept did not hold: this walk's, or none
        cache.put_tree_stats(scope, tree_stats)
    files_seen, bytes_read, walk_skipped, warnings = counts
    if files is None and inv is None:
        return None  # unchanged, but what is stored for it cannot be read: walked again and rebuilt
    stats.files_seen += files_seen
    stats.bytes_read += bytes_read
    stats.skipped += walk_skipped
    stats.warnings.extend(Warning(**w) for w in warnings)
    if files is None:
        stats.files_scanned = stats.cache_hits = int(scanned)
        stats.skipped += int(skipped)
        return _Walked(inv, None)
    del inv  # the tree changed: the inventory is built again
    if walk_blob is not None:
        cache.put_walk_blob(walk_blob)
    root_paths: dict[str, Path] = {}
    seen = [(FileJob(root_paths.setdefault(root, Path(root)), path, rel), data, digest)
            for root, path, rel, data, digest in files]
    return _Walked(None, seen)


def scan_paths(
    paths: list[str | Path],
    cfg: Config | None = None,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Inventory, ScanStats]:
    """Scan ``paths`` and return the inventory and some statistics.

    Raises :class:`ScanError` for a path that does not exist.
    """
    cfg = cfg or Config()
    roots = []
    for p in paths:
        rp = Path(p)
        if not rp.exists():
            raise ScanError(f"{p}: no such file or directory")
        if rp.resolve() not in roots:  # (the same tree given twice is walked once)
            roots.append(rp.resolve())
    stats = ScanStats()
    cfg_json = cfg.model_dump_json()
    scan_json = scan_config_json(cfg)  # what the cache keys: only what can change a scan's result

    pending: list[tuple[str, str, str, list[str], str]] = []  # abspath, rel, text, names, key
    order: list[str] = []
    keys_for: dict[str, str] = {}
    # (job, text, scanners, key) of each file some scanner reads; the text and scanners are
    # None for a file with stored fragments (see pass 2).
    texts: list[tuple[FileJob, str | None, list[str] | None, str]] = []
    # Pass 1: walk, read and hash every file. Which scanners match a file, and whether it is
    # text, are functions of its path and bytes (and the code and config, in the tags), so an
    # unchanged tree is recognised from these hashes alone: the stored inventory is returned
    # without decoding or matching any file, or even importing the scanners (the warm
    # rescan). A file whose stat (size, mtime, ctime, inode) is what it was when last hashed
    # is not even read, and a directory unchanged since it was last listed is not listed
    # again (see WalkCache).
    cache = FragmentCache((cache_dir or CACHE_DIR) if use_cache else None)
    if cache.is_empty():  # nothing stored to consult: scan as the walk goes
        return _scan_streaming(roots, cfg, cfg_json, scan_json, [str(p) for p in paths], cache, stats, jobs, progress)
    walked = _walk_beside_loading(roots, cfg, _tree_tag(scan_json), [str(p) for p in paths], cache, stats) \
        if use_cache else None
    if walked is not None and walked.inventory is not None:
        cache.close()
        if progress:
            progress(stats.files_scanned, stats.files_scanned)
        return walked.inventory, stats
    walk: WalkCache | None = None  # this process's own walk, if it walked
    if walked is not None and walked.seen is not None:
        seen = walked.seen
    else:
        with _collector_paused(), _stage(stats, "walk and hash files"):
            walk = cache.get_walk() if use_cache else None
            seen = _walk_and_hash(roots, cfg, stats, walk)
        if walk is not None:
            cache.put_walk(walk, roots)
    del walked
    sources = [str(p) for p in paths]
    # The tree's key needs no scanner: the code tag (part of every key) covers their code and
    # versions, so a warm rescan does not import them.
    tree_tag = _tree_tag(scan_json)
    tree_scope, tree_key = _inventory_key(tree_tag, sources, [f"{job.relpath}\0{digest}" for job, _, digest in seen],
                                          stats.warnings)
    if walk is not None:
        cache.put_tree_stats(tree_scope, TreeStats.dump(walk, len(seen), bool(stats.warnings), tree_key))
    del walk
    if use_cache:
        tree = cache.get_tree(tree_scope, tree_key)
        if tree is not None:
            stored, stats.files_scanned, skipped = tree
            stats.cache_hits = stats.files_scanned
            stats.skipped += skipped
            cache.close()
            if progress:
                progress(stats.files_scanned, stats.files_scanned)
            return stored, stats
    skipped_before = stats.skipped
    scanners = all_scanners()
    cfg_tag = _fragment_tag(scanners, scan_json)
    read = [(job, data, digest, _file_key(cfg_tag, job.relpath, digest)) for job, data, digest in seen]
    del seen
    # Pass 2: decode and match (a changed tree, or no stored inventory). A file with stored
    # fragments was scanned before with these very bytes (only a file some scanner read has
    # them, and its key covers its bytes and the scanners): it is not read, decoded or
    # matched again, which was most of a rescan after an edit. Its text is read only if its
    # stored fragments do not load (see _read_again).
    stored_keys = cache.stored_keys([key for *_, key in read]) if use_cache else set()
    matcher = Matcher(scanners)
    for job, data, digest, key in read:
        if key in stored_keys:
            texts.append((job, None, None, key))
            order.append(job.relpath)
            keys_for[job.relpath] = key
            continue
        if data is None:  # known from its stat in pass 1: read it now
            data = _read_or_skip(job, stats)
            if data is None:
                continue
            if hashlib.sha256(data).hexdigest() != digest:  # changed since pass 1
                key = _file_key(cfg_tag, job.relpath, hashlib.sha256(data).hexdigest())
        text = _decode(data)
        pure = ScanPath.of(job.relpath)
        if text is None:
            # Binary files are expected (images, archives); only warn when a scanner wanted it.
            if matcher.any(pure, ""):
                stats.warnings.append(Warning(path=job.relpath, message="not UTF-8 text (binary or another encoding), skipped", scanner="walk"))
            stats.skipped += 1
            continue
        head = text[:HEAD_BYTES]
        names = matcher.names(pure, head)
        if not names:
            continue
        texts.append((job, text, names, key))
        order.append(job.relpath)
        keys_for[job.relpath] = key
    del read, stored_keys
    _give_back_memory()  # the files' bytes: only their decoded texts are needed now
    stats.files_scanned = len(texts)
    # An unchanged tree (same files, config, scanners, code and sources) gives the same
    # inventory: return the stored one without rebuilding fragments or re-running the
    # whole-tree steps. Walk warnings are part of the output, so they are part of the key.
    inv_scope, inv_key = _inventory_key(cfg_tag, sources, [k for *_, k in texts], stats.warnings)
    if use_cache:
        stored = cache.get_inventory(inv_scope, inv_key)
        if stored is not None:
            stats.cache_hits = len(texts)
            # Only files no scanner reads changed: the next rescan can skip matching too.
            cache.put_inventory(inv_scope, inv_key, stored, (tree_scope, tree_key, stats.files_scanned,
                                                             stats.skipped - skipped_before))
            cache.close()
            if progress:
                progress(len(texts), len(texts))
            return stored, stats

    hits = cache.get_many([k for *_, k in texts]) if use_cache else {}
    n_jobs = _worker_count(jobs)
    # The workers are forked before the stored fragments are loaded, while this process is
    # small: each forked after would count every loaded fragment in its memory (a rescan
    # after editing a tenth of the estate's YAML files: 686 MB for the process tree, against
    # 495 MB with the fragments kept as stored bytes). Decided on the files with no stored
    # entry (one that does not load is scanned too, here when there is no pool), and on
    # those with one: their command lines are parsed again (see _parse_in_pool).
    missing = sum(1 for *_, key in texts if key not in hits)
    pool = _pool(n_jobs) \
        if n_jobs > 1 and (missing > 64 or len(texts) - missing >= PARSE_IN_POOL_FROM_FILES) else None
    try:
        if pool is not None:
            pool.submit(int)  # the workers start (fork) on the first task
        built: dict[str, list[Fragment]] = {}  # relpath -> the fragments of the file (cached or scanned now)
        # The stored fragments' command lines, parsed by the workers as they are loaded here.
        parsing = _PoolParse(pool, cfg_json) if pool is not None and len(texts) - missing >= PARSE_IN_POOL_FROM_FILES else None
        # A stored entry that does not load (damaged, or not of this form) is a miss: scanned again.
        with _collector_paused():  # the fragments all live until the build, and make no cycles
            for job, text, names, key in texts:
                frags = _cached_fragments(hits.get(key))
                if frags is not None:
                    built[job.relpath] = frags
                    stats.cache_hits += 1
                    if parsing is not None:
                        parsing.add(frags)
                else:
                    if text is None:
                        text, names, key = _read_again(job, cfg_tag, matcher, stats)
                        keys_for[job.relpath] = key
                    if names:
                        pending.append((job.path, job.relpath, text, names, key))  # type: ignore[arg-type]
                    else:  # changed since pass 1 (see _read_again): nothing of it to build
                        order.remove(job.relpath)
            # Nor after: the first collection once the collector runs again would walk every
            # fragment loaded here (~0.3 s at 2,000 services), and each older generation once
            # more. Frozen out of its reach, as the built inventory is (see _build_pending);
            # they are still freed as the build consumes them.
            gc.freeze()
        del hits, matcher

        total = len(texts)
        done = len(built)
        # Command lines the workers parsed next to their scanners, or for the stored fragments;
        # the builder parses the rest.
        parsed: dict[str, bytes] = {}
        if parsing is not None:
            parsing.flush()
        if progress:
            progress(done, total)
        with _stage(stats, "scan changed files"):
            if pending:
                batches: list[list[tuple[str, str, str, list[str]]]] = []
                size = max(8, min(256, len(pending) // (n_jobs * 8) or 8))
                for i in range(0, len(pending), size):
                    batches.append([(a, r, t, n) for a, r, t, n, _ in pending[i : i + size]])
                pending.clear()
                texts.clear()  # the batches hold the texts still needed; let the rest go

                def take(batch: list[tuple[str, str, str, list[str]]], res: list[bytes], lines: dict[str, bytes]) -> None:
                    # Each batch is loaded and stored as it arrives, while the workers scan the
                    # next ones: no serial pass after the pool, and no file's stored form kept.
                    nonlocal done
                    parsed.update(lines)
                    items = []
                    for (_, rel, *_rest), frags in zip(batch, res):
                        built[rel] = _FRAGMENT_STORE.load_many(frags)
                        items.append((keys_for[rel], frags))
                    cache.put_many(items, commit=False)
                    done += len(batch)
                    if progress:
                        progress(done, total)

                # The fragments loaded here all live until the inventory is built and make no
                # cycles; the collector would walk every one of them again as more arrive. Paused
                # (as build_inventory pauses it) and restored as it was.
                paused = gc.isenabled()
                gc.disable()
                try:
                    if pool is not None and len(batches) > 1:
                        # The workers collect, rarely (see _worker_init).
                        answers = pool.map(_scan_batch, batches, [cfg_json] * len(batches))
                        for i, (res, lines) in enumerate(answers):
                            take(batches[i], res, lines)
                            # A scanned batch's texts go now, not after the pool: the main
                            # process holds each file's text or its fragments, not both.
                            batches[i] = []
                            if i % 32 == 31:
                                _give_back_memory()
                    else:
                        for i, batch in enumerate(batches):
                            take(batch, *_scan_batch(batch, cfg_json))
                            batches[i] = []
                finally:
                    if paused:
                        gc.enable()
                batches.clear()
                cache.commit()
                _give_back_memory()  # the texts the workers scanned
        # The stored lines' readings are waited for here, and the pool stopped, before the
        # build: left to parse beside it (as a cold scan's pool is, see _stream_and_build),
        # its workers would count at the rebuild's memory peak (~55 MB more of a process
        # tree at ~410 MB for 2,000 services, to save ~0.1 s).
        if parsing is not None:
            with _stage(stats, "parse stored command lines"):
                parsing.collect(parsed)
            del parsing
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    fragments = [f for rel in order for f in built.pop(rel)]
    pending = _build_pending(fragments, scanners, cfg, sources, stats, parsed, _judge(cache, stats), loaded=True)
    _give_back_memory()  # the fragments, merged into the inventory
    inv = _scrubbed_and_stored(pending, cache, (inv_scope, inv_key, (tree_scope, tree_key, stats.files_scanned,
                                                                     stats.skipped - skipped_before)), stats)
    cache.close()
    return inv, stats


def _read_or_skip(job: FileJob, stats: ScanStats) -> bytes | None:
    """The bytes of ``job``'s file, or None (with a warning, the file counted as skipped) when it cannot be read."""
    try:
        with open(job.path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        stats.warnings.append(Warning(path=job.relpath, message=f"cannot read file: {exc.strerror or exc}", scanner="walk"))
        stats.skipped += 1
        return None


def _read_again(job: FileJob, cfg_tag: str, matcher: Matcher, stats: ScanStats) -> tuple[str | None, list[str], str]:
    """(text, scanners that read it, key) of a file pass 2 did not read because it had stored
    fragments, read now as pass 2 would have: they did not load. Under a new key if the file
    changed since it was hashed; no scanners (with a warning when it cannot be read or is no
    longer text) if it can no longer be scanned, and the build then goes on without it."""
    data = _read_or_skip(job, stats)
    if data is None:
        return None, [], ""
    key = _file_key(cfg_tag, job.relpath, hashlib.sha256(data).hexdigest())
    text = _decode(data)
    if text is None:
        stats.warnings.append(Warning(path=job.relpath, message="not UTF-8 text (binary or another encoding), skipped", scanner="walk"))
        stats.skipped += 1
        return None, [], key
    return text, matcher.names(ScanPath.of(job.relpath), text[:HEAD_BYTES]), key


def _cached_fragments(blob: Any) -> list[Fragment] | None:
    """The fragments of a cache entry, or None for a missing, damaged or foreign one."""
    if blob is None:
        return None
    try:
        return _FRAGMENT_STORE.load_many(blob)  # type: ignore[return-value]
    except store.StoreError:
        return None


@lru_cache(maxsize=1)
def _code_tag() -> str:
    """A hash of the inventory package's own files (code, the C extension's source, data tables).

    The whole-tree steps (merging, linking, implied actions, scrubbing) have no version
    number, so a stored inventory is only reused by the exact code that built it.
    """
    # Listed with os.scandir, not pathlib's rglob (a third of the time: it is on a warm
    # rescan's path, ahead of everything else); the files in the order of their paths'
    # parts, as sorted Paths are.
    files: list[tuple[list[str], str, str]] = []  # (parts, path, relpath)

    def visit(directory: str, rel: str) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                relpath = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir():
                    if entry.name != "__pycache__":
                        visit(entry.path, relpath)
                elif entry.name.endswith(_CODE_SUFFIXES) and entry.is_file():
                    files.append((relpath.split("/"), entry.path, relpath))

    visit(os.path.dirname(os.path.realpath(__file__)), "")
    # The digest of each file's bytes. A compiled module's source whose size and mtime are what
    # the compiled modules' manifest recorded has the manifest's digest (the guard trusts the
    # same, see inventory._guard): most of the package is read and hashed once per build, not
    # once per scan (~1.5 ms of a warm rescan, before its two halves start).
    from inventory._guard import guard

    manifest = guard().manifest
    h = hashlib.sha256()
    for _, path, relpath in sorted(files):
        entry = manifest.get(f"inventory.{relpath[:-3].replace('/', '.')}") if relpath.endswith(".py") else None
        digest = None
        if entry is not None:
            try:
                st = os.stat(path)
                if (st.st_size, st.st_mtime_ns) == (entry.source_size, entry.source_mtime_ns):
                    digest = entry.sha256
            except OSError:
                pass
        if digest is None:
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        h.update(f"{relpath}\0{digest}\0".encode())
    return h.hexdigest()


_CODE_SUFFIXES = (".py", ".c", ".yaml", ".yml", ".json", ".txt")  # the files of the package _code_tag hashes


def _scope(cfg_tag: str, sources: list[str]) -> str:
    """What is scanned how (the code, the config, the sources): the first half of :func:`_inventory_key`."""
    return hashlib.sha256(json.dumps([_code_tag(), cfg_tag, sources]).encode()).hexdigest()


def _inventory_key(cfg_tag: str, sources: list[str], file_keys: list[str], warnings: list[Warning]) -> tuple[str, str]:
    """(scope, key) of a built inventory: scope is what is scanned how, key is everything it was built from."""
    scope = _scope(cfg_tag, sources)
    h = hashlib.sha256(scope.encode())
    # The keys hashed as one string: the same digest as one update per key, without a call per key.
    h.update("".join(file_keys).encode())
    h.update(json.dumps([w.model_dump() for w in warnings], sort_keys=True).encode())
    return scope, h.hexdigest()


def build_inventory(
    fragments: list[Fragment], scanners: list[Scanner], cfg: Config, sources: list[str], stats: ScanStats | None = None,
    parsed: dict[str, bytes] | None = None,
) -> Inventory:
    """The whole-tree steps: merge, finalize, commands → actions, implied actions, links.

    ``parsed``: command lines already parsed (``CommandLine`` rows by ``actions.sighting_text``), optional.
    Both ``fragments`` and ``parsed`` are consumed (emptied once merged or used): on a large
    estate they are most of the scan's memory, and the inventory is built after them.
    """
    return _build_pending(fragments, scanners, cfg, sources, stats, parsed, None).result()


def _build_pending(
    fragments: list[Fragment], scanners: list[Scanner], cfg: Config, sources: list[str], stats: ScanStats | None,
    parsed: dict[str, bytes] | None, judge: FreeTextJudge | None, loaded: bool = False,
    parsing: _PoolParse | None = None, early: _EarlyMerge | None = None,
) -> PendingScrub:
    """:func:`build_inventory`, its scrub pending: the free text judged by ``judge`` if given
    (which it takes over), else here (then the result is ready). ``loaded``: the fragments were
    loaded from their stored form for this build alone, and the builder adopts their models
    (see ``InventoryBuilder.add_fragment``) instead of copying them. ``parsing``: command lines
    the scan's workers are parsing meanwhile, read with ``parsed`` as the actions are made
    (see :class:`_Awaited`; its pool is stopped here, whatever happens). ``early``: most of ``fragments`` merged
    already, while the scan went on (see :class:`_EarlyMerge`)."""
    # These steps allocate hundreds of thousands of small objects that all live until the
    # inventory is built, and make almost no reference cycles (a few hundred on a
    # 2,000-service tree). The cyclic collector would walk the whole heap (every fragment)
    # again and again as they accumulate: a third of this stage's time. It is paused here
    # and restored as it was, whatever happens.
    was_enabled = gc.isenabled()
    gc.disable()
    pending = None
    try:
        pending = _build_inventory(fragments, scanners, cfg, sources, stats, parsed, judge, loaded, parsing, early)
        return pending
    finally:
        if parsing is not None:
            # Stopped in the actions step without waiting (see _PoolParse.close): its workers have
            # long exited, and the pool's thread is joined here, before the error goes on or the
            # scan returns (a rescan in this process forks its walk only when it is the one thread).
            parsing.close(wait=True)
        if pending is None:
            if judge is not None:
                judge.close()
        else:
            # Nor later: everything made while paused sits in the youngest generation, and the
            # first collection after the pause would walk the whole inventory (0.6 s at 2,000
            # services), then each older generation once more. The inventory makes no cycles
            # and is kept for the rest of the run, so it is frozen out of collections, as a
            # loaded one is (store.load); its objects are still freed when no longer referenced.
            gc.freeze()
        if was_enabled:
            gc.enable()


def _merge_into(builder: InventoryBuilder, fragments: list[Fragment], scanners: list[Scanner], loaded: bool,
                warnings: list[Warning], spans: list[tuple[int, int, int]] | None = None) -> None:
    """The merge step once same-named entities are told apart: each fragment added in order, the
    scan's own ``warnings``, then each scanner's finalize step. ``spans``: where each fragment's
    command sightings, secrets and warnings start in the builder's lists, and (last) where the
    fragments' end (see :class:`_EarlyMerge`)."""
    for frag in fragments:
        if spans is not None:
            spans.append((len(builder.commands), len(builder.secrets), len(builder.warnings)))
        builder.add_fragment(frag, adopt=loaded)
    if spans is not None:
        spans.append((len(builder.commands), len(builder.secrets), len(builder.warnings)))
    builder.warnings.extend(warnings)
    by_scanner: dict[str, list[Fragment]] = {}
    for frag in fragments:
        by_scanner.setdefault(frag.scanner, []).append(frag)
    for scanner in scanners:
        scanner.finalize(by_scanner.get(scanner.name, []), builder)


class _LateFiles:
    """Which files the cold scan hands out last: those that, by their name, only scanners that
    promise command sightings alone (``Scanner.commands_only``, with no finalize step) may want.
    A guess from the name (a scanner may still want a file for its first lines): what the
    files' fragments hold is checked before they count as late (:meth:`_EarlyMerge.kept`)."""

    def __init__(self, scanners: list[Scanner]) -> None:
        self.late = {s.name for s in scanners if _promises_commands_only(s)}
        self.matcher = Matcher(scanners)
        self.by_name: dict[str, bool] = {}

    def wanted_only_by_them(self, relpath: str) -> bool:
        """Whether the file at ``relpath`` is one to hand out last (decided once per file name)."""
        name = relpath.rsplit("/", 1)[-1]
        late = self.by_name.get(name)
        if late is None:
            path = PurePosixPath(name)
            wanting = [s.name for s in self.matcher.candidates(name) if s.matches(path, "")]
            late = self.by_name[name] = bool(wanting) and all(n in self.late for n in wanting)
        return late


def _promises_commands_only(scanner: Scanner) -> bool:
    return scanner.commands_only and type(scanner).finalize is Scanner.finalize


class _EarlyMerge:
    """The merge step of a cold scan for every file but the late ones (:class:`_LateFiles`),
    run while the workers scan those. The result is the merge of every file's fragments:

    * a late file's fragments add command sightings, secrets and warnings and nothing else
      (checked: :meth:`kept`), and their scanners have no finalize step, so entities, edges,
      actions, owners, references and the finalize steps see exactly the others';
    * the same-named entities are told apart without the late files only when that did not
      read the deployment units (which every file's directory takes part in; else no early
      merge);
    * :meth:`finish` puts every file's sightings, secrets and warnings back in the order of the
      files, the scan's own warnings next, and what the finalize steps added after them;
    * :meth:`resolve` runs the first resolvers, those that read no command sighting (and so
      nothing a late file adds): the build runs the rest (``resolved``).
    """

    def __init__(self, builder: InventoryBuilder, positions: list[int], fragments: list[Fragment],
                 spans: list[tuple[int, int, int]], promised: set[str]) -> None:
        self.builder, self.positions, self.fragments, self.spans = builder, positions, fragments, spans
        self.promised = promised  # the scanners that may have scanned a late file (see _LateFiles)
        self.resolved: ResolvedEarly | None = None

    @classmethod
    def run(cls, built: dict[int, list[Fragment]], late: set[int], jobs_found: list[tuple[int, FileJob]],
            scanners: list[Scanner], cfg: Config, sources: list[str]) -> "_EarlyMerge | None":
        """The merge of the fragments in ``built`` of the files not ``late``, in the order of
        their paths (``built`` gets their fragments as told apart); ``None`` when it cannot be
        done without the late files."""
        from inventory.units import separate_same_named_alone

        positions = sorted((pos for pos in built if pos not in late),
                           key=lambda i: (jobs_found[i][0], jobs_found[i][1].relpath))
        owners = [pos for pos in positions for _ in built[pos]]
        separated = separate_same_named_alone([f for pos in positions for f in built[pos]], cfg)
        if separated is None:
            return None
        for pos in positions:
            built[pos] = []
        for pos, frag in zip(owners, separated):
            built[pos].append(frag)
        builder = InventoryBuilder(sources=sources)
        spans: list[tuple[int, int, int]] = []
        _merge_into(builder, separated, scanners, True, [], spans)
        return cls(builder, positions, separated, spans, {s.name for s in scanners if _promises_commands_only(s)})

    def resolve(self, cfg: Config) -> None:
        """Run the resolvers that read no command on the merged builder (see
        ``resolve.resolve_before_commands``): what they find is what they would find once the
        late files are merged, which add only sightings, secrets and warnings (:meth:`kept`).
        So are the views of the fragments the others start with, worked out here too (the
        late files' added as the build resolves: ``ResolvedEarly.views_of``)."""
        from inventory.resolve import resolve_before_commands

        self.resolved = resolve_before_commands(self.builder, self.fragments, cfg)

    def kept(self, built: dict[int, list[Fragment]], late: set[int]) -> bool:
        """Whether every late file's fragments hold what their scanners promised."""
        return all(f.scanner in self.promised and not (f.components or f.resources or f.edges or f.actions or f.owners
                                                  or f.references or f.extra)
                   for pos in late for f in built.get(pos, ()))

    def finish(self, fragments: list[Fragment], warnings: list[Warning]) -> tuple[InventoryBuilder, list[Fragment]]:
        """The builder, its lists of sightings, secrets and warnings as the merge of ``fragments``
        (every file's, in order: the early ones as :meth:`run` left them) and the scan's own
        ``warnings`` would have them; and the late files' fragments among ``fragments``."""
        b, spans = self.builder, self.spans
        index = {id(f): k for k, f in enumerate(self.fragments)}
        late: list[Fragment] = []
        commands: list = []
        secrets: list = []
        warned: list = []
        for frag in fragments:
            k = index.get(id(frag))
            if k is None:  # a late file's
                late.append(frag)
                commands += frag.commands
                secrets += frag.secrets
                warned += frag.warnings
            else:
                (c0, s0, w0), (c1, s1, w1) = spans[k], spans[k + 1]
                commands += b.commands[c0:c1]
                secrets += b.secrets[s0:s1]
                warned += b.warnings[w0:w1]
        end = spans[-1]
        b.commands = commands + b.commands[end[0]:]
        b.secrets = secrets + b.secrets[end[1]:]
        b.warnings = warned + warnings + b.warnings[end[2]:]
        # Held no longer: the build lets the fragments go once merged (its memory peak is later).
        self.fragments, self.spans, self.builder = [], [], None  # type: ignore[assignment]
        return b, late


def _import_build_steps() -> None:
    """Import the modules of :func:`_build_inventory`'s steps, and load the tables they read
    (~25 ms: done ahead of need where the scan has a moment the build does not)."""
    import inventory.actions
    import inventory.aliases  # noqa: F401
    import inventory.kinds
    import inventory.operated
    import inventory.overrides  # noqa: F401
    import inventory.perenv  # noqa: F401
    import inventory.resolve  # noqa: F401
    import inventory.scrubjudge  # noqa: F401

    inventory.actions.implied_table()
    inventory.operated._table()
    inventory.kinds._table()


def _build_inventory(
    fragments: list[Fragment], scanners: list[Scanner], cfg: Config, sources: list[str], stats: ScanStats | None,
    parsed: dict[str, bytes] | None, judge: FreeTextJudge | None, loaded: bool, parsing: _PoolParse | None = None,
    early: _EarlyMerge | None = None,
) -> PendingScrub:
    from inventory.actions import actions_from_commands, add_implied_actions
    from inventory.aliases import apply_aliases
    from inventory.resolve import resolve_environments, unresolved_summary
    from inventory.overrides import apply_overrides
    from inventory.units import separate_same_named
    from inventory.perenv import link_per_environment_names

    given = fragments
    resolved = early.resolved if early is not None else None
    late: list[Fragment] = []
    with _stage(stats, "merge fragments"):
        if early is not None:
            builder, late = early.finish(fragments, stats.warnings if stats else [])
        else:
            builder = InventoryBuilder(sources=sources)
            # The same name in unrelated deployment units is not the same thing: told apart first.
            fragments = separate_same_named(fragments, cfg)
            _merge_into(builder, fragments, scanners, loaded, stats.warnings if stats else [])
    with _stage(stats, "resolve environments"):
        resolve_environments(builder, fragments, cfg, parsed, done=resolved, late=late)
    # Nothing after this reads a fragment (commands and references live on in the builder).
    given.clear()
    del fragments, given, early, late
    with _stage(stats, "overrides, aliases, references"):
        apply_overrides(builder, cfg)
        link_per_environment_names(builder, cfg)
        apply_aliases(builder)
        builder.resolve_references()
    with _stage(stats, "commands to actions"):
        if parsing is not None:  # what the resolvers did not need: waited for as it is needed
            parsed = parsing.awaited(parsed if parsed is not None else {})
        # The text of the actions made is judged from now on, beside the rest of the build
        # (a string sent ahead is not sent again as the stored form is encoded: scrubjudge).
        made: list[str] | None = [] if judge is not None else None
        actions_from_commands(builder, cfg, parsed, made)
        if parsing is not None:
            parsing.close()
        if parsed:
            parsed.clear()
        if judge is not None and made:
            judge.send_ahead(made)
    with _stage(stats, "implied actions"):
        made = [] if judge is not None else None
        add_implied_actions(builder, cfg, made)
        if judge is not None and made:
            judge.send_ahead(made)
        del made
    with _stage(stats, "assemble the inventory"):
        builder.record_environments()
        unresolved = unresolved_summary(builder)
        inv = builder.build(consume=True)  # the builder's items become the inventory's, not copies
        inv.unresolved = unresolved
    with _stage(stats, "scrub secrets"):
        from inventory.scrubjudge import PendingScrub

        return PendingScrub(inv, judge)


def default_progress() -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A rich progress bar on a TTY; nothing otherwise. Returns (update, close)."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
    task = prog.add_task("scan", total=None)
    started = False

    # The bar is started (and with it rich's refresh thread) at the first update, not here: a
    # warm rescan walks in a forked child beside loading the stored inventory, and a process
    # with a second thread may not fork (forked.available), so a bar started before the scan
    # made every interactive warm rescan walk and load one after the other.
    def update(done: int, total: int) -> None:
        nonlocal started
        if not started:
            started = True
            prog.start()
        prog.update(task, completed=done, total=total)

    def close() -> None:
        if started:
            prog.stop()

    return update, close
