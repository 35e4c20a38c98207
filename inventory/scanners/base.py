"""The one small interface every scanner implements.

A scanner looks at one file at a time and returns a :class:`Fragment`: what that file says
on its own (entities, edges, command lines, references by name, warnings). Per-file results
are cached by content hash and computed in parallel. Anything that needs the whole tree
(Kustomize overlays giving environments to bases, CODEOWNERS giving owners to paths) is done
in the optional :meth:`Scanner.finalize` step, which sees every fragment and the merged
inventory builder.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from inventory.commands.model import CommandLine, plain_reads, trusted
from inventory.commands.shell import parse_line
from inventory.model import Action, Component, Edge, Evidence, Owner, Resource, Warning

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder
    from inventory.config import Config


class CommandSighting(BaseModel):
    """A (redacted) command line seen in a runbook, script, Makefile or workflow."""

    model_config = ConfigDict(extra="forbid")

    command: str
    evidence: Evidence
    environment: str | None = None  # a hint from context (workflow environment, heading...)
    source_kind: str = "runbook"  # runbook | script | makefile | workflow | compose | other
    # Runbooks: the line of the heading the command is under (0: before any heading). A
    # remote shell an earlier command opened (`ssh host`) lasts until the next heading.
    section: int | None = None


class Reference(BaseModel):
    """``source`` refers to something by name; the linker turns it into an edge if it exists.

    ``target_kind`` narrows the lookup (``kafka-topic``); ``None`` means any kind.
    """

    model_config = ConfigDict(extra="forbid")

    source: str
    target_name: str
    target_kind: str | None = None
    edge_kind: str = "depends-on"
    via: str | None = None
    evidence: Evidence


def reference(source: str, target_name: str, target_kind: str | None = None, edge_kind: str = "depends-on",
              via: str | None = None, *, evidence: Evidence) -> Reference:
    """``Reference(source=..., target_name=..., ...)``: built without validating again when every
    value is of its declared type (~28,000 per 2,000 services, at ~2 us of validation each)."""
    if type(source) is str and type(target_name) is str and (target_kind is None or type(target_kind) is str) \
            and type(edge_kind) is str and (via is None or type(via) is str) and type(evidence) is Evidence:
        return trusted(Reference, {"source": source, "target_name": target_name, "target_kind": target_kind,
                                   "edge_kind": edge_kind, "via": via, "evidence": evidence})
    return Reference(source=source, target_name=target_name, target_kind=target_kind, edge_kind=edge_kind, via=via,
                     evidence=evidence)


class Fragment(BaseModel):
    """What one file contributed to the inventory."""

    model_config = ConfigDict(extra="forbid")

    path: str
    scanner: str = ""
    components: list[Component] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    commands: list[CommandSighting] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    owners: list[Owner] = Field(default_factory=list)
    secrets: list[Evidence] = Field(default_factory=list)
    warnings: list[Warning] = Field(default_factory=list)
    # Free-form, scanner-specific data for `finalize` (e.g. kustomize overlay → bases map,
    # CODEOWNERS rules). Must be JSON-serialisable: it is cached.
    extra: dict = Field(default_factory=dict)

    def warn(self, message: str, line: int = 1) -> None:
        """Record a warning about this file."""
        self.warnings.append(Warning(path=self.path, line=line, message=message, scanner=self.scanner))


class _Once:
    """A property worked out on first use and kept in the instance's ``__dict__`` (which is
    then read instead): ``functools.cached_property`` without its lock, which made the first
    use cost more than the property (Python 3.11)."""

    def __init__(self, fget: Callable[[Any], Any]) -> None:
        self.fget = fget

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name

    def __get__(self, obj: Any, cls: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.attr] = self.fget(obj)
        return value


class ScanPath(PurePosixPath):
    """A scanned file's relative path: a :class:`PurePosixPath` that works its ``name``,
    ``suffix`` and ``parts`` out once. Matching and scanning ask each file for them about ten
    times (every candidate scanner's ``matches``), and pathlib computes them again on every
    call (``parts``: a property call each, ~80,000 per 2,000 services)."""

    name = _Once(PurePosixPath.name.fget)  # type: ignore[assignment]
    suffix = _Once(PurePosixPath.suffix.fget)  # type: ignore[assignment]
    parts = _Once(PurePosixPath.parts.fget)  # type: ignore[assignment]

    @classmethod
    def of(cls, path: str) -> ScanPath:
        """``ScanPath(path)``. Before Python 3.12 pathlib parses every path in Python (~4 us, a
        scan makes one per file); a plain relative path (no empty or ``.`` segment, what the
        walk makes) is split as that parse would split it, and the path built from its parts
        (3.12 parses paths lazily)."""
        if _PARSED_PARTS and path[:1] != "/":
            parts = path.split("/")
            if "" not in parts and "." not in parts:
                return cls._from_parsed_parts("", "", parts)  # type: ignore[attr-defined]
        return cls(path)


# Whether pathlib builds a path from (drive, root, parts) (Python < 3.12; see ScanPath.of).
_PARSED_PARTS = sys.version_info < (3, 12)


# Parsed command lines a SourceFile keeps at most (the estate's scripts and runbooks have tens).
MAX_KEPT_COMMANDS = 2_000
# Texts at most this long are parsed through :func:`_recent_command_line` (a longer one, a
# script in a heredoc, is parsed on its own: the memo must stay small).
RECENT_COMMAND_CHARS = 1_000


@lru_cache(maxsize=256)
def _recent_command_line(text: str) -> CommandLine:
    """``parse_line(text)``, remembered across files: scripts and Makefiles copied from one
    template repeat the same lines in every service (on the synthetic estate, three in five of
    the lines the shell scanner parses; the last 256 texts catch nearly all the repeats). The
    result is shared: callers only read it."""
    return parse_line(text)


@dataclass
class SourceFile:
    """A file handed to a scanner: path relative to the root, and its decoded text."""

    path: str  # POSIX, relative to the scanned root
    text: str
    root: str = ""  # label of the scanned root (for multi-root scans)
    # What ``_yaml.load_documents`` read from ``text`` (limits, docs, problems): a file that
    # several scanners read (a Backstage catalog-info.yaml is also a manifest) is parsed
    # once. Scanners only read the documents, never edit them.
    parsed: Any = field(default=None, repr=False, compare=False)
    # ``pure`` is asked for again and again per file (by every scanner): made once.
    _pure: tuple[str, PurePosixPath] | None = field(default=None, repr=False, compare=False)
    # Evidence by line: scanners ask for the same lines again and again (a workload's name,
    # kind and namespace lines), and each is a model. Frozen, so shared safely.
    _evidence: dict[tuple[str, int], Evidence] = field(default_factory=dict, repr=False, compare=False)
    # Command lines a scanner parsed to decide what to keep (see :meth:`command_line`), by
    # text: the scan parses each sighting's text once more for its actions, and looks here
    # first. Held no longer than the file's text, which they come from, and at most
    # MAX_KEPT_COMMANDS of them (a script of 50,000 lines would hold 50,000 parses).
    commands: dict[str, CommandLine] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pure(self) -> PurePosixPath:
        cached = self._pure
        if cached is None or cached[0] != self.path:
            cached = self._pure = (self.path, ScanPath.of(self.path))
        return cached[1]

    def command_line(self, text: str) -> CommandLine:
        """``parse_line(text)``, kept in :attr:`commands` while there is room. Callers only read it."""
        line = self.commands.get(text)
        if line is None:
            line = _recent_command_line(text) if len(text) <= RECENT_COMMAND_CHARS else parse_line(text)
            if len(self.commands) < MAX_KEPT_COMMANDS:
                self.commands[text] = line
        return line

    def evidence(self, line: int) -> Evidence:
        """Evidence for ``line`` (clamped to 1) of this file."""
        # An int line >= 1 (nearly every call) is its own key, without the two conversions.
        key = (self.path, line if type(line) is int and line >= 1 else max(1, int(line)))
        ev = self._evidence.get(key)
        if ev is None:
            # Built without validating again when the path is a str (the line is an int >= 1
            # by construction): ~40,000 per 2,000 services, at ~3 us of validation each.
            ev = trusted(Evidence, {"path": key[0], "line": key[1]}) if type(key[0]) is str \
                else Evidence(path=key[0], line=key[1])
            self._evidence[key] = ev
        return ev


@dataclass
class ScanContext:
    """Read-only settings a scanner may consult (environment patterns, overrides...)."""

    config: "Config"
    extra: dict = field(default_factory=dict)


class Scanner(ABC):
    """Base class for scanners. Subclasses set ``name`` and implement ``matches``/``scan``."""

    name: ClassVar[str] = "base"
    # Bump when the scanner's output changes, so cached fragments are recomputed.
    version: ClassVar[int] = 1
    # A promise that lets the scan skip asking: when set, :meth:`matches` is False for every
    # file whose lower-cased name ends with none of these (``None``: no promise, always
    # asked). Only ever a superset of what ``matches`` accepts (tests/test_scan_fast_paths.py).
    suffixes: ClassVar[tuple[str, ...] | None] = None
    # A promise the scan schedules by: every fragment of this scanner holds command sightings,
    # secrets and warnings only, and it has no finalize step. A file only such scanners may
    # want (by its name) is scanned last, while the main process merges the others' fragments
    # (see scan._EarlyMerge, which checks the promise and merges as usual where it is broken).
    commands_only: ClassVar[bool] = False

    @abstractmethod
    def matches(self, path: PurePosixPath, head: str) -> bool:
        """Whether this scanner wants the file. ``head`` is the first 2 KiB of text."""

    @abstractmethod
    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        """Scan one file. Must not raise on bad input: record warnings on the fragment."""

    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Optional whole-tree step, run after every file is scanned and merged."""
        return None

    def fragment(self, src: SourceFile) -> Fragment:
        """An empty fragment for ``src``, labelled with this scanner."""
        path, name = src.path, self.name
        if type(path) is not str or type(name) is not str:
            return Fragment(path=path, scanner=name)
        # Built without validating again (one per scanned file and scanner): the same fragment
        # as Fragment(path=..., scanner=...), whose fields are two str and empty containers.
        return trusted(Fragment, {"path": path, "scanner": name, "components": [], "resources": [], "edges": [],
                                  "actions": [], "commands": [], "references": [], "owners": [], "secrets": [],
                                  "warnings": [], "extra": {}}, {"path", "scanner"})


plain_reads(CommandSighting, Reference, Fragment)  # see commands.model.plain_reads
