"""The guard of the compiled modules (see :mod:`inventory.compiled`): a compiled module is
imported only while its source is the one it was compiled from.

Installed by the package's ``__init__``, before any of its modules is imported. Kept apart
from the build, and to the modules every Python start has loaded already (no ``json``, no
``pathlib``), so that ``import inventory`` costs no more than it did.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

PACKAGE = "inventory"
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# Beside the modules; not a suffix the scan cache's code tag hashes (scan._code_tag): the
# same source gives the same inventory compiled or not, so a build does not empty the cache.
MANIFEST = os.path.join(PACKAGE_DIR, ".compiled-manifest")
PURE_ENV = "STACKPOLICY_PURE_PYTHON"

# The extension suffixes the import system tries, most specific first.
SUFFIXES: tuple[str, ...] = tuple(importlib.machinery.EXTENSION_SUFFIXES)
# The manifest's first line: its format, and the suffix its compiled files were built for.
_HEADER = f"stackpolicy-compiled 1 {SUFFIXES[0]}"


class Entry:
    """What a module was compiled from, and what that made: a manifest line. (Not a
    NamedTuple: ``typing`` is not among what every Python start loads.)"""

    __slots__ = ("source_size", "source_mtime_ns", "sha256", "compiled_size", "compiled_mtime_ns")

    def __init__(self, source_size: int, source_mtime_ns: int, sha256: str, compiled_size: int,
                 compiled_mtime_ns: int) -> None:
        self.source_size, self.source_mtime_ns, self.sha256 = source_size, source_mtime_ns, sha256
        self.compiled_size, self.compiled_mtime_ns = compiled_size, compiled_mtime_ns

    def fields(self) -> tuple[int, int, str, int, int]:
        """The line's fields, in order."""
        return self.source_size, self.source_mtime_ns, self.sha256, self.compiled_size, self.compiled_mtime_ns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and self.fields() == other.fields()

    def __repr__(self) -> str:
        return f"Entry{self.fields()!r}"


def pure_wanted() -> bool:
    """Whether :data:`PURE_ENV` asks for every module from its source."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def sha256_of(path: str) -> str:
    """The sha256 of a file's bytes."""
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def read_manifest(path: str = MANIFEST) -> dict[str, Entry]:
    """The manifest's entries by module; empty when there is none, or it is not one this
    interpreter's build wrote (a line it cannot read makes it none: nothing compiled is used)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return {}
    if not lines or lines[0] != _HEADER:
        return {}
    out: dict[str, Entry] = {}
    for line in lines[1:]:
        parts = line.split("\t")
        try:
            module, (size, mtime, digest, csize, cmtime) = parts[0], parts[1:]
            out[module] = Entry(int(size), int(mtime), digest, int(csize), int(cmtime))
        except ValueError:
            return {}
    return out


def write_manifest(entries: dict[str, Entry], path: str = MANIFEST) -> None:
    """Write ``entries`` whole (under a temporary name first: a reader sees the old or the new)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    lines = [_HEADER, *("\t".join([m, *map(str, e.fields())]) for m, e in sorted(entries.items()))]
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def entry_for(source: str, compiled: str, sha256: str) -> Entry:
    """The manifest line for ``compiled``, just built from ``source`` (whose bytes hash to ``sha256``)."""
    s, c = os.stat(source), os.stat(compiled)
    return Entry(s.st_size, s.st_mtime_ns, sha256, c.st_size, c.st_mtime_ns)


def is_current(entry: Entry, source: str, compiled: str) -> bool:
    """Whether ``compiled`` is what the build made from ``source`` as it is now."""
    try:
        c = os.stat(compiled)
        if (c.st_size, c.st_mtime_ns) != (entry.compiled_size, entry.compiled_mtime_ns):
            return False  # replaced since the build
        s = os.stat(source)
        if (s.st_size, s.st_mtime_ns) == (entry.source_size, entry.source_mtime_ns):
            return True
        # Touched (a checkout, a copy) rather than changed, maybe: the content decides.
        return sha256_of(source) == entry.sha256
    except OSError:
        return False


class Guard:
    """A meta path finder: a module of ``package`` with a compiled file beside its source is
    imported from the source unless the manifest says the compiled file was built from that
    source as it is now (or, ``pure``, always). It finds nothing itself otherwise: the import
    system's own finders do."""

    def __init__(self, package: str, package_dir: str, manifest: dict[str, Entry], pure: bool) -> None:
        self.prefix = package + "."
        self.package_dir, self.manifest, self.pure = package_dir, manifest, pure
        self.from_source: list[str] = []  # modules imported from their source although compiled

    # (The annotations are strings: not evaluated, and their modules not imported here.)
    def find_spec(self, name: str, path: "Sequence[str] | None" = None,
                  target: object = None) -> "importlib.machinery.ModuleSpec | None":
        """The source's spec for a compiled module that must not be used; else ``None``."""
        if not name.startswith(self.prefix):
            return None
        base = os.path.join(self.package_dir, *name[len(self.prefix):].split("."))
        here = [s for s in SUFFIXES if os.path.isfile(base + s)]
        if not here:
            return None  # nothing compiled: the usual import (a package, a plain module)
        source = base + ".py"
        if not os.path.isfile(source):
            return None  # an extension module of its own (the C builders, the YAML composer)
        entry = None if self.pure else self.manifest.get(name)
        if entry is not None and here == [SUFFIXES[0]] and is_current(entry, source, base + SUFFIXES[0]):
            return None  # the compiled module, which the usual import finds first
        self.from_source.append(name)
        import importlib.util

        return importlib.util.spec_from_file_location(name, source)


_GUARD: Guard | None = None


def guard() -> Guard:
    """Install (once) the finder that keeps an out-of-date compiled module from being imported."""
    global _GUARD
    if _GUARD is None:
        pure = pure_wanted()
        _GUARD = Guard(PACKAGE, PACKAGE_DIR, {} if pure else read_manifest(), pure)
        sys.meta_path.insert(0, _GUARD)
    return _GUARD
