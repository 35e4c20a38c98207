"""READMEs: what a repository says about how it is meant to be run.

No entities: the scanner records, in ``Fragment.extra["readme"]``, where a README says a
setup is for local development ("## Local development", "for local development", "run it
locally with docker compose"). The resolve stage reads it (``inventory/resolve/compose.py``)
to tell a laptop stack from a compose deployment, without opening the file again.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

_README_RE = re.compile(r"^readme(\.[\w-]+)?\.(md|markdown|rst|txt|adoc)$", re.IGNORECASE)
_LOCAL_DEV_RE = re.compile(
    r"\b(local[ -]development|develop(?:ing)? locally|local dev(?:elopment)? (?:setup|environment|stack)|"
    r"for (?:local )?development(?: only| purposes)?|development environment|run (?:it )?locally)\b",
    re.IGNORECASE)
_COMPOSE_RE = re.compile(r"docker[ -]compose|podman[ -]compose|compose\.ya?ml", re.IGNORECASE)
_WINDOW = 25  # lines after a local-development mention in which compose must be named


class ReadmeScanner(Scanner):
    """README files: statements that a compose stack is for local development."""

    name = "readme"
    version = 1
    suffixes = (".md", ".markdown", ".rst", ".txt", ".adoc")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        return bool(_README_RE.match(path.name))

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        lines = src.text.splitlines()
        for i, text in enumerate(lines):
            m = _LOCAL_DEV_RE.search(text)
            if not m:
                continue
            if any(_COMPOSE_RE.search(t) for t in lines[i:i + _WINDOW]):
                frag.extra = {"readme": {"dir": str(src.pure.parent), "local_development": i + 1,
                                         "says": text.strip().lstrip("#").strip()[:100]}}
                break
        return frag
