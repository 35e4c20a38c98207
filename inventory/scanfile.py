"""One file read, hashed, decoded, matched and scanned, as a scan's workers do it.

The per-file half of :mod:`inventory.scan`, apart from it so that it is compiled
(:mod:`inventory.compiled`): it runs once for every file of the tree (~20,000 at 2,000
services) in the scan's workers, beside the parse floor, where each interpreted line was time
the floor does not spend. :mod:`inventory.scan` hands the workers :func:`_read_and_scan` and
imports the rest from here.
"""

from __future__ import annotations

import hashlib
import os
import struct
from functools import lru_cache
from pathlib import PurePosixPath
from stat import S_ISREG

from pydantic import TypeAdapter

from inventory import store
from inventory.config import Config
from inventory.model import Warning
from inventory.scanners import Matcher, all_scanners
from inventory.scanners.base import Fragment, ScanContext, Scanner, ScanPath, SourceFile

_FRAGMENTS: TypeAdapter[list[Fragment]] = TypeAdapter(list[Fragment])
# A file's fragments as a scan worker hands them to the main process and the cache keeps them
# (see store.Codec): loaded as validating their JSON would give them, without validating.
FRAGMENTS_MAGIC = b"stackpolicy-fragments\x002\x00"
_FRAGMENT_STORE = store.Codec(Fragment, FRAGMENTS_MAGIC, exact=True)


HEAD_BYTES = 2048


_SIG = struct.Struct("<4q").pack  # four stat fields as one bytes value: one comparison, no ints to load


def _dir_sig(st: os.stat_result) -> bytes:
    return _SIG(st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _file_sig(st: os.stat_result) -> bytes:
    return _SIG(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


@lru_cache(maxsize=4)
def _config_of(cfg_json: str) -> Config:
    """The scan's config, validated once per worker process rather than once per file."""
    return Config.model_validate_json(cfg_json)


@lru_cache(maxsize=1)
def _scanners_by_name() -> dict[str, Scanner]:
    """The scanners by name, made once per process (they keep no state between files)."""
    return {s.name: s for s in all_scanners()}


def _scan_one(job_path: str, relpath: str, text: str, scanner_names: list[str], cfg_json: str,
              parsed: dict[str, bytes] | None = None, pure: PurePosixPath | None = None,
              sighted: list[str] | None = None) -> bytes:
    """Run the named scanners on one file; returns its fragments in their stored form (the cache value).

    Bytes are cheap to pickle back to the parent, go into the cache as they are, and load
    there without validation (see :func:`_fragments_blob`). When ``parsed`` is given, the
    command lines the fragments saw are parsed into it (see ``actions.parse_sightings``);
    ``sighted`` gets each command they saw (in the fragments' order).
    """
    ctx = ScanContext(config=_config_of(cfg_json))
    src = SourceFile(path=relpath, text=text, _pure=(relpath, pure) if pure is not None else None)
    by_name = _scanners_by_name()
    out = []
    for name in scanner_names:
        scanner = by_name[name]
        try:
            frag = scanner.scan(src, ctx)
        except RecursionError:
            frag = scanner.fragment(src)
            frag.warn("nesting too deep to parse; file skipped")
        except Exception as exc:  # a scanner bug must not end the scan; report it instead
            frag = scanner.fragment(src)
            frag.warn(f"scanner {name} failed: {type(exc).__name__}: {exc}")
        if parsed is not None and frag.commands:
            from inventory.actions import parse_sightings

            parse_sightings((c.command for c in frag.commands), parsed, src.commands, ctx.config)
        if sighted is not None:
            sighted.extend(c.command for c in frag.commands)
        out.append(frag)
    return _fragments_blob(out)


def _fragments_blob(frags: list[Fragment]) -> bytes:
    """``frags`` in their stored form: loaded as validating their JSON would give them.

    The stored form only holds values that validation would give back unchanged; a fragment
    with any other (a scanner that assigned a tuple, a str subclass, a str for an int...) is
    validated through its JSON first, as the main process did with every fragment before.
    """
    try:
        return _FRAGMENT_STORE.dump_many(frags)
    except TypeError:
        return _FRAGMENT_STORE.dump_many(_FRAGMENTS.validate_json(_FRAGMENTS.dump_json(frags)))


# What :class:`WalkCache` keeps of the stat of a file a stream worker read: its
# :func:`_file_sig` and the newer of its modification and change times (``newest_ns``), worked
# out in the worker: two values to send back rather than a stat to pickle, unpickle and read
# again in the main process (~20,000 at 2,000 services).
_FileStat = tuple[bytes, int]


# One file as a stream worker leaves it (see _read_and_scan): its stat (None when not read),
# sha256, bytes read, the pass-1 warning that skipped it, whether it is not UTF-8 text, the
# pass-2 warning about that, the scanners that matched it, their fragments (stored form), and
# the distinct commands they sighted, in order (for :class:`_PoolParse`: read off the
# fragments where they were made, not off the models the main process loads).
_Record = tuple[_FileStat | None, str | None, int, str | None, bool, str | None, list[str] | None, bytes | None,
                tuple[str, ...] | None]


@lru_cache(maxsize=1)
def _matcher() -> Matcher:
    """The matcher over every scanner, made once per process."""
    return Matcher(list(_scanners_by_name().values()))


def _read_regular(path: str, limit: int) -> tuple[os.stat_result, bytes] | None:
    """The stat and bytes of ``path`` when it is a regular file of at most ``limit`` bytes that
    reads without error; else ``None``.

    Read with os.read on a plain descriptor, sized by its fstat: stat() would look the path up
    a second time, and an unbuffered ``open()`` stats the file itself and its readall() stats
    and seeks again (8 system calls a file instead of 4; a third less CPU to read the estate's
    files). Read to the end as readall() does, should the file have grown since.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        data = os.read(fd, st.st_size + 1)
        # A regular file's read returns less than asked for only at its end: the size fstat
        # gave is then all there was (no read of the end to confirm it, a fifth of the system
        # calls). More than that size, it grew since; less, it may have shrunk or the read was
        # cut short: read on to the end.
        if len(data) != st.st_size:
            more = os.read(fd, _READ_CHUNK)
            while more:
                data += more
                more = os.read(fd, _READ_CHUNK)
        return st, data
    except OSError:
        return None
    finally:
        os.close(fd)


_READ_CHUNK = 1 << 16


def _read_and_scan(batch: list[tuple[str, str]], cfg_json: str,
                   parse: bool = True) -> tuple[list[_Record], dict[str, bytes]]:
    """Stream mode's unit of work (see :func:`_scan_streaming`): each (path, relpath) of ``batch``
    read, hashed, decoded, matched and scanned, exactly as passes 1 and 2 of :func:`scan_paths`
    and :func:`_scan_one` do it; and, ``parse``, the batch's command lines parsed (as
    :func:`_scan_batch`)."""
    cfg = _config_of(cfg_json)
    matcher = _matcher()
    parsed: dict[str, bytes] | None = {} if parse else None
    out: list[_Record] = []
    for path, rel in batch:
        # A regular file within the size limit is read through its descriptor, its size from
        # the open file (see _read_regular). Anything else (an error, a large or special file)
        # takes the plain route below, which decides and words what happens to it as it always did.
        read = _read_regular(path, cfg.max_file_bytes)
        if read is not None:
            st, data = read
        else:
            try:
                st = os.stat(path)
                if st.st_size > cfg.max_file_bytes:
                    out.append((None, None, 0, f"file larger than {cfg.max_file_bytes} bytes, skipped", False, None, None, None,
                                None))
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                out.append((None, None, 0, f"cannot read file: {exc.strerror or exc}", False, None, None, None, None))
                continue
        stat = (_file_sig(st), max(st.st_mtime_ns, st.st_ctime_ns))
        digest = hashlib.sha256(data).hexdigest()
        size = len(data)
        text = _decode(data)
        del data
        pure = ScanPath.of(rel)
        if text is None:
            # Binary files are expected (images, archives); only warn when a scanner wanted it.
            warning = "not UTF-8 text (binary or another encoding), skipped" if matcher.any(pure, "") else None
            out.append((stat, digest, size, None, True, warning, None, None, None))
            continue
        names = matcher.names(pure, text[:HEAD_BYTES])
        sighted: list[str] = []
        frags = _scan_one(path, rel, text, names, cfg_json, parsed, pure, sighted) if names else None
        out.append((stat, digest, size, None, False, None, names or None, frags, tuple(dict.fromkeys(sighted)) or None))
    return out, parsed if parsed is not None else {}


# -- the main process's side of a streamed scan: its records put in the tree's order ------------


def records_in_order(positions: list[int], jobs_found: list, records: list, marks: list[int], walked: list,
                     keys: dict[int, str], warnings: list) -> tuple[list[str], list[tuple], list[int], list[str],
                                                                   list, int, int, int]:
    """The streamed records (see ``scan._Record``) of the files at ``positions`` (the tree's
    order), read as ``scan_paths``' own passes read theirs: each root's walk warnings
    (``walked``, up to ``marks``) before its files', and each file's skip warning, added to
    ``warnings``. Returns the files' keys for the tree's key (relpath, NUL, digest), (path,
    stat, digest) of every file read for the walk cache, the positions of the files with
    fragments and their cache keys (taken out of ``keys``), the warnings of the files read
    but not decoded, and the counts of files skipped, read but not decoded, and bytes read.

    Here rather than in :mod:`inventory.scan` so that it is compiled: a loop over every file
    of the tree on the cold scan's serial tail (~20,000 at 2,000 services).
    """
    seen_keys: list[str] = []
    hashed: list[tuple] = []
    order: list[int] = []
    file_keys: list[str] = []
    late: list = []
    skipped = late_skips = bytes_read = 0
    root = -1
    for pos in positions:
        index, job = jobs_found[pos]
        while root < index:  # the walk's warnings up to the end of this root
            root += 1
            warnings.extend(walked[marks[root - 1] if root else 0 : marks[root]])
        stat, digest, size, skip_warning, undecodable, warning, names, _, _ = records[pos]
        relpath = job.relpath
        if skip_warning is not None:
            warnings.append(Warning(path=relpath, message=skip_warning, scanner="walk"))
            skipped += 1
            continue
        bytes_read += size
        seen_keys.append(f"{relpath}\0{digest}")
        hashed.append((job.path, stat, digest))
        if undecodable:
            late_skips += 1
            if warning is not None:
                late.append(Warning(path=relpath, message=warning, scanner="walk"))
            continue
        if names:
            order.append(pos)
            file_keys.append(keys.pop(pos))
    warnings.extend(walked[marks[root] if root >= 0 else 0 :])  # roots with no file
    return seen_keys, hashed, order, file_keys, late, skipped, late_skips, bytes_read


def settled_into(files: dict, used: set, limit: int, hashed: list[tuple]) -> bool:
    """``WalkCache.record_digests``' loop (compiled, as :func:`records_in_order`): each (path,
    (sig, newest_ns), digest) of ``hashed`` whose file had settled (``newest_ns < limit``) put
    in ``files`` and ``used``; whether any was."""
    changed = False
    for path, (sig, newest_ns), digest in hashed:
        if newest_ns < limit:  # scan._settled_ns, inline
            files[path] = (sig, digest)
            used.add(path)
            changed = True
    return changed
