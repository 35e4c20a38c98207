"""Scanner plug-ins: every module in this package that defines a :class:`Scanner` subclass.

Adding a scanner means adding one module here (and its tests); nothing else to register.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import PurePosixPath

from inventory.scanners.base import Scanner


@lru_cache(maxsize=1)
def _scanner_classes() -> tuple[type[Scanner], ...]:
    found: dict[str, type[Scanner]] = {}
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_") or mod.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, Scanner)
                and obj is not Scanner
                and obj.__module__ == module.__name__
            ):
                found[obj.name] = obj
    return tuple(found[k] for k in sorted(found))


def all_scanners() -> list[Scanner]:
    """One instance of every scanner, sorted by name (deterministic order)."""
    return [cls() for cls in _scanner_classes()]


class Matcher:
    """Which of ``scanners`` want a file: ``[s.name for s in scanners if s.matches(path, head)]``.

    Only the scanners whose :attr:`Scanner.suffixes` the file's name may end with are asked
    (the candidates of each distinct lower-cased file name are worked out once): a tree of
    20,000 files would otherwise ask every scanner about every file.
    """

    def __init__(self, scanners: list[Scanner]) -> None:
        self.scanners = scanners
        self._candidates: dict[str, list[Scanner]] = {}

    def candidates(self, name: str) -> list[Scanner]:
        """The scanners that may want a file called ``name`` (a superset of those that do)."""
        low = name.lower()
        found = self._candidates.get(low)
        if found is None:
            # `$` in a scanner's name pattern also matches before a final newline: such a
            # name is asked of every scanner.
            found = [s for s in self.scanners if s.suffixes is None or "\n" in low or low.endswith(s.suffixes)]
            self._candidates[low] = found
        return found

    def names(self, path: PurePosixPath, head: str) -> list[str]:
        """Names of the scanners whose ``matches(path, head)`` is true, in scanner order."""
        return [s.name for s in self.candidates(path.name) if s.matches(path, head)]

    def any(self, path: PurePosixPath, head: str) -> bool:
        """Whether any scanner wants the file."""
        return any(s.matches(path, head) for s in self.candidates(path.name))
