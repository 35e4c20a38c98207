"""Reading and writing inventory files: deterministic YAML/JSON, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from inventory.model import Inventory


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Multi-line strings as literal blocks: readable diffs of the committed files.
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


# libyaml's emitter when PyYAML has it (its wheels do): the documents are large and the
# pure-Python emitter would dominate `make policy`. Both give the same bytes.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Block-style YAML, no aliases, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
        return True


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any) -> str:
    """Deterministic YAML text (key order as given, no aliases, unicode kept)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def _target_mode(path: Path) -> int:
    """An existing file's mode, else the usual umask-based one (mkstemp creates 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# A file's text, or what writes it in pieces (called with the file's ``write``): a large
# document streamed to disk is never held whole in memory.
Text = str | Callable[[Callable[[str], Any]], None]


def write_files_atomically(root: str | Path, texts: dict[str, Text]) -> list[Path]:
    """Write ``texts`` (relative path -> text, or a writer of it) under ``root``. Every file is
    staged to a temp file beside its target before any is replaced, so an error while writing
    (a writer's too) leaves all old files untouched and a reader never sees half a file."""
    staged: list[tuple[str, Path]] = []
    try:
        for rel, text in texts.items():
            path = Path(root) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                if isinstance(text, str):
                    fh.write(text)
                else:
                    text(fh.write)
            os.chmod(tmp, _target_mode(path))
    except BaseException:
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
    return [p for _, p in staged]


def atomic_write(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file + rename, so a crash never leaves half a file."""
    path = Path(path)
    write_files_atomically(path.parent, {path.name: text})


def inventory_to_data(inv: Inventory) -> dict[str, Any]:
    """The inventory as plain data (defaults and empty values dropped for readability)."""
    return inv.model_dump(mode="json", exclude_defaults=False, exclude_none=True)


def inventory_to_yaml(inv: Inventory) -> str:
    """``inventory.yaml``'s text: the fast deterministic writer (:mod:`inventory.yamlout`), with
    multi-line strings as literal blocks. PyYAML's representer took most of a large estate's
    write time for the same content."""
    from inventory import yamlout

    return yamlout.dump(inventory_to_data(inv), literal=True)


# The inventory's long lists: written item by item (see inventory_yaml_writer).
_STREAMED = ("components", "resources", "edges", "actions")


def inventory_yaml_writer(inv: Inventory) -> Callable[[Callable[[str], Any]], None]:
    """What writes :func:`inventory_to_yaml`'s text (the same bytes) in pieces: each item of the
    long lists is dumped, written and dropped in turn, so a large estate's inventory is never
    held whole as data or as text."""
    from inventory import yamlout

    def write_to(write: Callable[[str], Any]) -> None:
        head = inv.model_dump(mode="json", exclude_defaults=False, exclude_none=True, exclude=set(_STREAMED))
        data: dict[str, Any] = {}
        for name in type(inv).model_fields:
            if name in _STREAMED:
                items = getattr(inv, name)
                data[name] = yamlout.Lazy((x.model_dump(mode="json", exclude_defaults=False, exclude_none=True)
                                           for x in items), empty=not items)
            elif name in head:
                data[name] = head[name]
        yamlout.dump_to(write, data, literal=True)

    return write_to


def inventory_to_json(inv: Inventory) -> str:
    return json.dumps(inventory_to_data(inv), indent=2, sort_keys=False) + "\n"


class InventoryLoadError(Exception):
    """An inventory file that cannot be read; the message names the file."""


def load_inventory(path: str | Path) -> Inventory:
    """Read an inventory written by `stackpolicy scan` (YAML or JSON)."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InventoryLoadError(f"{p}: no such file (run `stackpolicy scan` first)") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InventoryLoadError(f"{p}: cannot read inventory: {exc}") from exc
    try:
        return Inventory.model_validate(raw or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InventoryLoadError(f"{p}: not a stackpolicy inventory: {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc
