"""Map images, Helm charts, Terraform types and operator CRs to resource kinds.

The table lives in ``inventory/data/kinds.yaml`` so a team can read it; this module only
does the matching.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _table() -> dict[str, list[tuple[str, str, str]]]:
    import yaml  # on first use: `stackpolicy classify` imports this module but rarely needs the table

    text = resources.files("inventory.data").joinpath("kinds.yaml").read_text(encoding="utf-8")
    # libyaml: every scan process loads this table, and the pure-Python loader is ~6x slower.
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {section: [(str(p).lower(), k, s) for p, k, s in rows] for section, rows in raw.items()}


def image_repository(image: str) -> str:
    """``registry.example.com:5000/bitnami/postgresql:16@sha256:..`` → ``bitnami/postgresql``."""
    ref = image.strip().split("@", 1)[0]
    parts = ref.split("/")
    # A first segment with a dot or colon (or "localhost") is a registry host.
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    repo = "/".join(parts)
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    if repo.startswith("library/"):
        repo = repo[len("library/") :]
    return repo.lower()


@lru_cache(maxsize=1)
def _image_rows() -> tuple[dict[str, int], dict[str, int]]:
    """The images table as lookups from a pattern to its first row: bare names, and patterns
    with a path (``bitnami/postgresql``)."""
    bare: dict[str, int] = {}
    paths: dict[str, int] = {}
    for row, (pattern, _, _) in enumerate(_table()["images"]):
        (paths if "/" in pattern else bare).setdefault(pattern, row)
    return bare, paths


@lru_cache(maxsize=4)
def _exact_rows(section: str) -> dict[str, tuple[str, str]]:
    """A table section matched by whole name, as a lookup from each pattern to its first row's
    ``(kind, subtype)``: the scan asks about every operator CR (~5,600 per 2,000 services),
    which were compared row by row."""
    rows: dict[str, tuple[str, str]] = {}
    for pattern, kind, subtype in _table()[section]:
        rows.setdefault(pattern, (kind, subtype))
    return rows


def kind_for_image(image: str) -> tuple[str, str] | None:
    """``(kind, subtype)`` for a container image of a known datastore, else ``None``.

    ``postgres:16`` and ``docker.io/bitnami/postgresql`` → postgres; ``nginx`` → None.
    Matches the whole repository, or its last path segment for the bare names
    (``postgres``), so ``acme/postgres-exporter`` is not mistaken for a database.
    """
    repo = image_repository(image)
    bare, paths = _image_rows()
    segments = repo.split("/")
    # The table's first row that fits, looked up rather than tried row by row (the scan and
    # the actions stage ask for thousands of images): a pattern with a path fits the whole
    # repository or its last segments, a bare name the last segment.
    rows = [paths[tail] for tail in ("/".join(segments[i:]) for i in range(len(segments) - 1)) if tail in paths]
    if segments[-1] in bare:
        rows.append(bare[segments[-1]])
    if not rows:
        return None
    _, kind, subtype = _table()["images"][min(rows)]
    return kind, subtype


def kind_for_chart(name: str) -> tuple[str, str] | None:
    """``(kind, subtype)`` for a Helm chart name (``bitnami/postgresql`` or ``postgresql``)."""
    base = name.strip().lower().rsplit("/", 1)[-1]
    return _exact_rows("charts").get(base)


def kind_for_terraform(resource_type: str) -> tuple[str, str] | None:
    """``(kind, subtype)`` for a Terraform resource type (prefix match), else ``None``."""
    t = resource_type.strip().lower()
    for pattern, kind, subtype in _table()["terraform"]:
        if t.startswith(pattern):
            return None if kind == "skip" else (kind, subtype)
    return None


def kind_for_crd(api_version: str, kind: str) -> tuple[str, str] | None:
    """``(kind, subtype)`` for a custom resource, by API group and kind."""
    group = api_version.split("/", 1)[0].lower() if "/" in api_version else api_version.lower()
    key = f"{group}/{kind}".lower()
    return _exact_rows("crds").get(key)
