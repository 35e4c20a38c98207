"""Environment and properties files (``.env``, ``.env.*``, ``*.env``, ``*.properties``).

These files hold the connection strings and credentials a service runs with. The scanner
keeps no values: secret values are recorded as locations in ``frag.secrets``; the others
are parsed for references (database hosts, Kafka topics and bootstrap servers) with
:func:`inventory.references.references_from_env`.

A reference needs a source entity, and a lone ``.env`` file names none. ``finalize`` gives
the file's references to the component that loads it (a compose ``env_file:``), else to the
single component seen in the same directory (or the nearest parent directory holding
exactly one). When no component qualifies, only the secrets are recorded.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from inventory.environments import detect_environment
from inventory.model import Evidence
from inventory.references import references_from_env
from inventory.scanners._common import keep
from inventory.scanners.base import Fragment, Reference, ScanContext, Scanner, SourceFile

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder

_ENV_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$")
_PROP_LINE_RE = re.compile(r"^\s*([^=:\s]+)\s*(?:[=:]\s*|\s+)(.*)$")
_PENDING_SOURCE = "envfile:"  # stands in for the source until finalize knows it


def parse_env(text: str, properties: bool = False) -> list[tuple[str, str, int]]:
    """``(key, value, line)`` for each assignment; quotes stripped, ``\\`` continuations joined.

    ``.env`` syntax: ``KEY=value``, ``export KEY=value``, ``# comments``. Properties also
    allow ``key: value`` and ``key value``, and ``!`` comments.
    """
    out: list[tuple[str, str, int]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or (properties and stripped.startswith("!")):
            continue
        if properties:
            while raw.endswith("\\") and i < len(lines):
                raw = raw[:-1] + lines[i].lstrip()
                i += 1
        m = (_PROP_LINE_RE if properties else _ENV_LINE_RE).match(raw)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if not properties:
            if value[:1] in ("'", '"'):
                q = value[0]
                end = value.find(q, 1)
                value = value[1:end] if end > 0 else value[1:]
            else:
                value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        out.append((key, value, start + 1))
    return out


class EnvFilesScanner(Scanner):
    """``.env`` / ``*.env`` / ``*.properties`` files."""

    name = "envfiles"
    version = 1

    def matches(self, path: PurePosixPath, head: str) -> bool:
        n = path.name
        if n == ".envrc":
            return False
        return n == ".env" or n.startswith(".env.") or (n.endswith(".env") and n != ".env") or n.endswith(".properties")

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        props = src.pure.name.endswith(".properties")
        refs: list[dict] = []
        keys: list[str] = []
        for key, value, line in parse_env(src.text, properties=props):
            ev = src.evidence(line)
            keys.append(key)
            keep(frag, key, value, ev)
            # Properties use dotted keys (spring.datasource.url); the reference rules speak env.
            env_key = re.sub(r"[.-]", "_", key).upper()
            for ref in references_from_env(_PENDING_SOURCE, env_key, value, ev):
                refs.append(ref.model_dump(mode="json") | {"via": key})
        name = src.pure.name
        env = detect_environment(name.replace(".env", "").replace(".properties", ""),
                                 patterns=ctx.config.environments)
        frag.extra = {"dir": str(src.pure.parent), "refs": refs, "keys": sorted(set(keys)), "env": env}
        return frag

    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Give each file's references to the component that uses it (see module doc)."""
        for frag in fragments:
            refs = frag.extra.get("refs") or []
            if not refs:
                continue
            owner = self._owner(frag.path, builder)
            if owner is None:
                continue
            for r in refs:
                data = dict(r)
                data["source"] = owner
                data["evidence"] = Evidence.model_validate(data["evidence"])
                builder.references.append(Reference.model_validate(data))

    @staticmethod
    def _owner(path: str, builder: "InventoryBuilder") -> str | None:
        comps = sorted(builder.components.values(), key=lambda c: c.id)
        # 1. A compose service that loads this file with `env_file:`.
        loaders = []
        for c in comps:
            files = c.attributes.get("env_file")
            if not isinstance(files, list):
                continue
            for ev in c.evidence:
                base = posixpath.dirname(ev.path)
                if any(posixpath.normpath(posixpath.join(base, str(f))) == path for f in files):
                    loaders.append(c.id)
                    break
        if len(loaders) == 1:
            return loaders[0]
        if loaders:
            return None
        # 2. The only component seen in the file's directory, or the nearest parent holding one.
        d = PurePosixPath(path).parent
        for cand in [d, *d.parents]:
            here = {c.id for c in comps if any(PurePosixPath(ev.path).parent == cand for ev in c.evidence)}
            if len(here) == 1:
                return next(iter(here))
            if len(here) > 1:
                return None
        return None
