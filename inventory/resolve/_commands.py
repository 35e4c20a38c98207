"""Shared reading of command sightings for resolvers whose signal is a command
(``terraform workspace select prod``, ``-var-file=envs/prod.tfvars``, ``--context prod-eu``).

Only lines containing one of the caller's words are parsed, so the cost stays with the few
lines that can carry the signal. Paths a command names are resolved against the directories
the scan saw: relative to a ``cd`` earlier on the line, to ``-chdir``, to the file the command
is in (a Makefile runs in its directory), else to the repository root.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from inventory.commands.model import CommandLine, ParsedCommand
from inventory.commands.shell import parse_line
from inventory.resolve.base import ResolveContext
from inventory.scanners.base import CommandSighting


@dataclass(frozen=True)
class Seen:
    """One simple command of a sighting, with the directory it runs in (``None``: not known)."""

    sighting: CommandSighting
    command: ParsedCommand
    cwd: str | None


def known_dirs(ctx: ResolveContext) -> set[str]:
    """Every directory (and file) path the scan produced a fragment for (shared: do not edit)."""
    return ctx.memo("known_dirs", lambda: _known_dirs(ctx))


def _known_dirs(ctx: ResolveContext) -> set[str]:
    out: set[str] = {"."}
    for f in ctx.fragments:
        if f.path in out:
            continue  # several scanners read the same file
        out.add(f.path)
        d = posixpath.dirname(f.path)
        while d and d not in out:  # a directory already in means its parents are too
            out.add(d)
            d = posixpath.dirname(d)
    return out


def resolve_path(path: str, bases: list[str], known: set[str]) -> str | None:
    """``path`` joined to the first base under which the scan saw it, normalised."""
    if not path or any(c in path for c in "$<>{}*") or path.startswith("/"):
        return None
    for base in bases:
        p = posixpath.normpath(posixpath.join(base, path)) if base not in ("", ".") else posixpath.normpath(path)
        if not p.startswith("..") and p in known:
            return p
    return None


def _parsed_line(ctx: ResolveContext, text: str) -> CommandLine:
    """``parse_line(text)``, once per text for the whole resolve stage.

    Lines the scan's workers parsed already (``ctx.parsed``: ``CommandLine`` JSON by the
    exact text parsed) are only validated back; several resolvers and sightings share a line.
    """
    cache: dict[str, CommandLine] = ctx.memo("parsed_lines", dict)  # type: ignore[assignment]
    line = cache.get(text)
    if line is None:
        known = ctx.parsed.get(text) if ctx.parsed else None
        line = cache[text] = CommandLine.model_validate_json(known) if known is not None else parse_line(text)
    return line


@lru_cache(maxsize=32)
def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    """A pattern found in a text when one of ``words`` is (one search per sighting, not one per word)."""
    return re.compile("|".join(map(re.escape, words)))


def commands(ctx: ResolveContext, words: tuple[str, ...]) -> Iterator[Seen]:
    """Simple commands of every sighting whose text contains one of ``words``, in path order."""
    if not words:
        return
    known = None
    mentions = _any_of(words).search
    # Only the few sightings that mention a word are put in order (what filtering all of
    # them sorted gives: the sort is stable).
    mentioning = sorted((s for s in ctx.builder.commands if mentions(s.command)),
                        key=lambda x: (x.evidence.path, x.evidence.line, x.command))
    for s in mentioning:
        if known is None:
            known = known_dirs(ctx)
        line = _parsed_line(ctx, s.command)
        here = posixpath.dirname(s.evidence.path) or "."
        cwd: str | None = None
        for pc in line.commands:
            if pc.tool == "cd" and len(pc.argv) > 1:
                cwd = resolve_path(pc.argv[1], [here, "."], known)
                continue
            yield Seen(s, pc, cwd)
