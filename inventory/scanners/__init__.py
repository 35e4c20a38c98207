"""Scanner plug-ins: every module in this package that defines a :class:`Scanner` subclass.

Adding a scanner means adding one module here (and its tests); nothing else to register.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

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
