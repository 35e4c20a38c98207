"""The one small interface every environment resolver implements.

A resolver reads one kind of *explicit* signal (a per-environment directory, a Kustomize
overlay, a Terraform module call from an environment root, the mapping in
`stackpolicy.yaml`...) and says which entity is in which environment, how it knows (in words
a reviewer can check) and where (path:line). It works from the fragments the scanners
already produced and the merged builder: it never walks the tree or parses a file again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import Entity, Evidence
from inventory.scanners.base import Fragment

# Scanners whose files are prose (runbooks, docs): where they are filed says nothing about
# where the things they mention run.
PROSE_SCANNERS: frozenset[str] = frozenset({"runbooks"})


@dataclass(frozen=True)
class Assignment:
    """``entity_id`` is in ``environment``: ``how`` in words, ``evidence`` where it was seen."""

    entity_id: str
    environment: str
    how: str
    evidence: tuple[Evidence, ...]


@dataclass
class ResolveContext:
    """What every resolver may read: the merged builder, the fragments, the configuration."""

    builder: InventoryBuilder
    fragments: list[Fragment]
    config: Config
    # Command lines the scan parsed already: each ``CommandLine``'s row (``commands.reading.line_row``)
    # keyed by the text parsed.
    parsed: Mapping[str, bytes] | None = None
    _by_path: dict[str, list[str]] | None = field(default=None, repr=False)
    # Derived views several resolvers share, computed once per resolve stage (see ``memo``).
    _memo: dict[str, object] = field(default_factory=dict, repr=False)

    def memo(self, key: str, compute):
        """``compute()`` the first time ``key`` is asked for, the same value after.

        For views of the fragments and sightings (directories seen, sightings in path order)
        that several resolvers need: each used to rebuild them from every fragment.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def entities_by_path(self) -> dict[str, list[str]]:
        """File path → ids of the entities that file defines (prose files left out), built once."""
        if self._by_path is None:
            out: dict[str, list[str]] = {}
            for frag in self.fragments:
                if frag.scanner in PROSE_SCANNERS:
                    continue
                ids = [e.id for e in (*frag.components, *frag.resources)]
                if ids:
                    out.setdefault(frag.path, []).extend(i for i in ids if i not in out.get(frag.path, ()))
            self._by_path = out
        return self._by_path

    def of_scanner(self, scanner: str) -> list[Fragment]:
        """The fragments ``scanner`` produced, in the order of ``fragments``.

        Grouped in one pass for every resolver: most read one scanner's few fragments, and
        a pass over all of them (tens of thousands) was most of their time.
        """
        groups: dict[str, list[Fragment]] = self.memo("by_scanner", self._group_by_scanner)  # type: ignore[assignment]
        return list(groups.get(scanner, ()))

    def _group_by_scanner(self) -> dict[str, list[Fragment]]:
        out: dict[str, list[Fragment]] = {}
        for frag in self.fragments:
            out.setdefault(frag.scanner, []).append(frag)
        return out

    def entity(self, ent_id: str) -> Entity | None:
        """The merged entity (``None`` when a finalize step folded or dropped it)."""
        return self.builder.entity(ent_id)

    def defining_evidence(self, ent_id: str, path: str) -> Evidence:
        """The entity's first evidence in ``path`` (else line 1 of it)."""
        ent = self.entity(ent_id)
        for ev in ent.evidence if ent is not None else ():
            if ev.path == path:
                return ev
        return Evidence(path=path, line=1)


class Resolver(ABC):
    """Base class for environment resolvers. Subclasses set ``name`` and implement ``resolve``."""

    name: ClassVar[str] = "base"
    # Resolvers run in (order, name) order; a later one sees what earlier ones assigned
    # (module calls from an environment root need the root's environment first).
    order: ClassVar[int] = 50
    # Whether it reads command sightings or parsed lines (the builder's ``commands``,
    # ``ctx.parsed``). One that reads neither, and only fragments' entities and ``extra``,
    # may run before the scan's late files (runbooks, scripts: commands only) are merged: a
    # cold scan runs the leading such resolvers while the workers scan those (see
    # ``resolve_before_commands``). Conservative by default.
    reads_commands: ClassVar[bool] = True

    @abstractmethod
    def resolve(self, ctx: ResolveContext) -> Iterable[Assignment]:
        """The environments this signal kind gives. Must not raise on odd input."""
