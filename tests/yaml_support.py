"""The YAML files of a tree, read as text: what the YAML tests compare their paths on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def yaml_files(root: Path) -> list[Path]:
    """Every ``.yaml``/``.yml`` file under ``root``, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def yaml_texts(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """``(path, text)`` of each of ``paths`` that reads as UTF-8 (the others are skipped)."""
    for path in paths:
        try:
            yield path, path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
