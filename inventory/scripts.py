"""Scripts a command runs, resolved to their bodies among the scanned files.

A runbook step ``./scripts/failover.sh prod`` or ``bash hack/rotate-certs.sh`` says nothing
on its own: what it does is what the script runs. When the script is one of the scanned
files, the shell scanner has already read its command lines (one :class:`CommandSighting`
per logical line, secrets redacted); :class:`ScriptIndex` finds the script a command names
and expands it into those lines, following scripts that call scripts, with cycles and depth
bounded. A script that is not among the scanned files resolves to nothing: the command stays
what it was (an unknown program, judged as such).
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from inventory.commands.model import ParsedCommand
from inventory.commands.shell import parse_line

# File names the shell scanner reads as scripts (files with a shell shebang are scripts too).
SCRIPT_SUFFIXES = (".sh", ".bash", ".ksh", ".zsh")
# Interpreters that run a script file given as their first operand (`bash x.sh`, `sh -e x.sh`).
SHELLS = frozenset({"bash", "sh", "zsh", "ksh", "dash"})
# Builtins that run a script in the current shell (`source env.sh`, `. ./env.sh`).
SOURCING = frozenset({"source", "."})
# Scripts calling scripts: how deep the expansion follows them.
MAX_DEPTH = 4
# Lines of all expanded scripts for one command, at most (a guard against generated scripts).
MAX_LINES = 2_000
# A leading `$DIR/`, `${ROOT}/` or `"$(dirname "$0")"/`: a path relative to somewhere the
# shell computes, tried as relative to the calling file and its ancestors.
_VAR_PREFIX = re.compile(r"^(?:\$\{?\w+\}?|\$\(dirname [^)]*\))/")


@dataclass(frozen=True)
class ScriptLine:
    """One command line of an expanded script: where it is and what it says."""

    path: str
    line: int
    command: str
    depth: int  # 1: the script the command named; 2: a script that one runs...


def script_reference(pc: ParsedCommand) -> str | None:
    """The path of the script ``pc`` runs, as written (``./scripts/failover.sh``), or ``None``.

    A program named by a path (``./x.sh``, ``hack/x``), a shell given a script file
    (``bash -e x.sh``; ``bash -c`` is unwrapped by the parser), or a sourced file.
    """
    argv = pc.argv
    if not argv or (pc.via and ("exec" in pc.via or "ssh" in pc.via)):
        return None  # run inside a container or on another host: not this repository's file
    if pc.tool in SOURCING and argv[0] in SOURCING:
        return argv[1] if len(argv) > 1 else None
    if pc.tool in SHELLS and pc.verb == "script":
        for arg in argv[1:]:
            if arg == "--":
                continue
            if arg.startswith(("-", "+")):
                continue
            return arg
        return None
    if "/" in argv[0]:
        return argv[0]
    return None


def _clean(ref: str) -> str | None:
    """``ref`` as a relative POSIX path, or ``None`` when it cannot name a scanned file."""
    ref = ref.strip().strip("'\"")
    ref = _VAR_PREFIX.sub("", ref)
    if not ref or ref.startswith(("/", "~")) or any(ch in ref for ch in "$*?[`<>"):
        return None
    ref = posixpath.normpath(ref)
    if ref.startswith("../") or ref == "..":
        return ref  # relative to a directory: resolved against the caller's folder only
    return ref.removeprefix("./")


class ScriptIndex:
    """Scanned scripts by path (each path as the inventory's evidence writes it), with their lines."""

    def __init__(self, bodies: dict[str, list[tuple[int, str]]]) -> None:
        self.bodies = {p: sorted(set(lines)) for p, lines in bodies.items()}
        self._by_name: dict[str, list[str]] = defaultdict(list)
        for path in sorted(self.bodies):
            self._by_name[posixpath.basename(path)].append(path)

    @classmethod
    def from_sightings(cls, sightings: Iterable[object]) -> ScriptIndex:
        """The scripts among command sightings (``source_kind == "script"``), by evidence path."""
        bodies: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for s in sightings:
            if getattr(s, "source_kind", None) == "script":
                ev = s.evidence  # type: ignore[attr-defined]
                bodies[ev.path].append((ev.line, s.command))  # type: ignore[attr-defined]
        return cls(dict(bodies))

    @classmethod
    def from_actions(cls, actions: Iterable[object]) -> ScriptIndex:
        """The scripts an inventory's actions were seen in (their command lines with evidence in a
        ``*.sh`` file). Lines that became no action (``echo``, ``cd``) are not among them, so
        this view can only add to what a call of the script is judged by, never replace it."""
        bodies: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for action in actions:
            for ref in getattr(action, "commands", ()):
                if ref.evidence.path.lower().endswith(SCRIPT_SUFFIXES):
                    bodies[ref.evidence.path].append((ref.evidence.line, ref.command))
        return cls(dict(bodies))

    def __bool__(self) -> bool:
        return bool(self.bodies)

    def resolve(self, ref: str, from_path: str | None = None) -> str | None:
        """The scanned script ``ref`` names, seen from the file ``from_path`` (its folder, then
        each folder above it); else the one script whose path ends with ``ref``. ``None``
        when no scanned script, or more than one, fits."""
        rel = _clean(ref)
        if rel is None:
            return None
        if from_path is not None:
            folder = posixpath.dirname(from_path)
            while True:
                cand = posixpath.normpath(posixpath.join(folder, rel)) if folder else posixpath.normpath(rel)
                if cand in self.bodies:
                    return cand
                if not folder or rel.startswith("../"):
                    break
                folder = posixpath.dirname(folder)
        elif rel in self.bodies:
            return rel
        if rel.startswith("../"):
            return None
        fits = [p for p in self._by_name.get(posixpath.basename(rel), []) if p == rel or p.endswith("/" + rel)]
        return fits[0] if len(fits) == 1 else None

    def script_of(self, pc: ParsedCommand, from_path: str | None = None) -> str | None:
        """The scanned script a simple command runs, if any."""
        ref = script_reference(pc)
        return self.resolve(ref, from_path) if ref else None

    def expand(self, path: str) -> list[ScriptLine]:
        """Every command line ``path`` runs, with the lines of the scripts it runs in turn
        (after the line that calls them), each script at most once per expansion (cycles),
        at most :data:`MAX_DEPTH` scripts deep and :data:`MAX_LINES` lines in all."""
        out: list[ScriptLine] = []
        self._expand(path, 1, {path}, out)
        return out

    def _expand(self, path: str, depth: int, seen: set[str], out: list[ScriptLine]) -> None:
        for line, text in self.bodies.get(path, []):
            if len(out) >= MAX_LINES:
                return
            out.append(ScriptLine(path, line, text, depth))
            if depth >= MAX_DEPTH:
                continue
            for pc in parse_line(text).commands:
                inner = self.script_of(pc, path)
                if inner is not None and inner not in seen:
                    seen.add(inner)
                    self._expand(inner, depth + 1, seen, out)
