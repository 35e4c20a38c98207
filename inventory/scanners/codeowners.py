"""CODEOWNERS: who owns which paths, applied to every entity by where it was seen.

Per file, the rules (pattern, owners, line) go to ``frag.extra``; the whole-tree step gives
each component and resource the owners of the *last* rule matching each of its evidence
paths (GitHub's semantics), with an ``owner`` fact citing the CODEOWNERS line. Owners are
written without the leading ``@`` so ``@acme/payments`` here and ``group:acme/payments`` in a
Backstage catalog name the same team.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from inventory.model import Evidence, Owner
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder

# Where GitHub / GitLab look for the file, in order of precedence.
_LOCATIONS = (".github", "", "docs", ".gitlab")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=4096)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a CODEOWNERS (gitignore-style) pattern, matched against a relative path.

    ``/x`` and patterns with an inner ``/`` are anchored at the root, others match at any
    depth; ``*`` stays within a path segment, ``**`` crosses segments; a pattern naming a
    directory covers everything below it, except ``dir/*`` which covers only direct children.
    """
    pat = pattern.strip()
    dir_only = pat.endswith("/")
    body = pat.strip("/")
    anchored = pat.startswith("/") or "/" in body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    prefix = "^" if anchored else "^(?:.*/)?"
    if body == "" or body == "*" and not anchored:
        return re.compile(r"^.*$")
    if dir_only:
        suffix = "/.*"
    elif body.endswith("/*"):
        suffix = ""
    else:
        suffix = "(?:/.*)?"
    return re.compile(prefix + "".join(out) + suffix + "$")


def _owner(token: str) -> tuple[str, str]:
    """``@org/team`` → (``team``, team); ``@user`` → (``user``, user); an e-mail → user.

    Teams are named by their slug without the GitHub org, so ``@acme/orders`` here and
    ``group:orders`` in a Backstage catalog are the same owner.
    """
    if token.startswith("@"):
        name = token[1:]
        return (name.rsplit("/", 1)[-1], "team") if "/" in name else (name, "user")
    return token, "user"


def parse_codeowners(text: str) -> tuple[list[tuple[str, list[str], int]], list[tuple[int, str]]]:
    """Rules ``(pattern, owners, line)`` in file order, and problems ``(line, message)``."""
    rules: list[tuple[str, list[str], int]] = []
    problems: list[tuple[int, str]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line or line.startswith("["):  # blank, comment, GitLab section header
            continue
        parts = line.split()
        pattern, tokens = parts[0], parts[1:]
        owners = []
        for t in tokens:
            if t.startswith("@") or _EMAIL_RE.match(t):
                owners.append(t)
            else:
                problems.append((n, f"CODEOWNERS: {t!r} is not an @owner or e-mail; ignored"))
        rules.append((pattern, owners, n))
    return rules, problems


@lru_cache(maxsize=64)
def _last_rule_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a file's rule ``patterns``: a match is the last rule that matches, named
    ``r<index>`` (its ``lastgroup``).

    The rules' regexes, last first, as one alternation: ``match`` tries them in that order
    and takes the first that matches, as a loop over them would, without a Python call per
    rule (the whole-tree step asks it of every entity's paths, and most rules miss).
    """
    return re.compile("|".join(f"(?P<r{i}>{pattern_regex(p).pattern})" for i, p in reversed(list(enumerate(patterns)))))


def owners_for(path: str, rules: list[tuple[str, list[str], int]],
               regex: re.Pattern[str] | None = None) -> tuple[list[str], int] | None:
    """Owners of ``path`` by the last matching rule, and that rule's line; None when none match.

    ``regex``: ``_last_rule_regex`` of the rules' patterns, for a caller asking of many paths.
    """
    if not rules:
        return None
    m = (regex or _last_rule_regex(tuple(p for p, _, _ in rules))).match(path)
    if m is None:
        return None
    _, owners, line = rules[int(m.lastgroup[1:])]  # type: ignore[index]
    return owners, line


class CodeownersScanner(Scanner):
    """``CODEOWNERS`` in the root, ``.github/`` or ``docs/``."""

    name = "codeowners"
    version = 2
    suffixes = ("codeowners",)

    def matches(self, path: PurePosixPath, head: str) -> bool:
        return path.name == "CODEOWNERS"

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        rules, problems = parse_codeowners(src.text)
        for line, message in problems:
            frag.warn(message, line=line)
        parent = src.pure.parent
        # The repository root is the directory holding .github/ or docs/ (or the file itself).
        base = parent.parent if parent.name in (".github", "docs", ".gitlab") else parent
        base_str = "" if str(base) == "." else str(base)
        location = parent.name if parent.name in (".github", "docs", ".gitlab") else ""
        seen: set[str] = set()
        for _, owners, line in rules:
            for token in owners:
                name, kind = _owner(token)
                if name not in seen:
                    seen.add(name)
                    frag.owners.append(Owner(name=name, kind=kind, evidence=[src.evidence(line)]))
        frag.extra = {
            "base": base_str,
            "precedence": _LOCATIONS.index(location),
            "rules": [[p, o, n] for p, o, n in rules],
        }
        return frag

    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Give every entity the owners of the last rule matching each of its evidence paths."""
        by_base: dict[str, Fragment] = {}
        for f in sorted(fragments, key=lambda f: (f.extra.get("precedence", 9), f.path)):
            by_base.setdefault(f.extra.get("base", ""), f)
        if not by_base:
            return
        # Longest base first: a nested repository's CODEOWNERS governs its own files.
        bases = sorted(by_base, key=lambda b: (-len(b), b))
        rules_of = {b: [(p, list(o), int(n)) for p, o, n in by_base[b].extra.get("rules", [])] for b in bases}
        regex_of = {b: _last_rule_regex(tuple(p for p, _, _ in rules)) for b, rules in rules_of.items()}
        # Evidence path -> (owner names, the rule's citation), or None: entities share files
        # (a manifest defines several), and each lookup tries every rule. The answers are
        # made once per rule (a tree has a few dozen rules and thousands of paths).
        found: dict[str, tuple[list[str], Evidence] | None] = {}
        by_rule: dict[tuple[str, int], tuple[list[str], Evidence]] = {}
        for table in (builder.components, builder.resources):
            for ent in table.values():
                for ev in sorted({e.path for e in ent.evidence}):
                    if ev not in found:
                        found[ev] = self._owners_of(ev, bases, by_base, rules_of, regex_of, by_rule)
                    hit = found[ev]
                    if hit:
                        names, cite = hit
                        for o in names:
                            if o not in ent.owners:
                                ent.owners.append(o)
                            builder.set_fact(ent, "owner", o, [cite])

    @staticmethod
    def _owners_of(path: str, bases: list[str], by_base: dict[str, Fragment],
                   rules_of: dict[str, list[tuple[str, list[str], int]]], regex_of: dict[str, re.Pattern[str]],
                   by_rule: dict[tuple[str, int], tuple[list[str], Evidence]]) -> tuple[list[str], Evidence] | None:
        """The owner names of ``path`` by the innermost CODEOWNERS covering it, with the rule's citation.

        ``by_rule``: the answers made so far, by (base, rule line); shared, not to be edited.
        """
        for base in bases:
            if base and not path.startswith(base + "/"):
                continue
            hit = owners_for(path[len(base) + 1 :] if base else path, rules_of[base], regex_of[base])
            if not hit:
                return None
            owners, line = hit
            answer = by_rule.get((base, line))
            if answer is None:
                answer = by_rule[(base, line)] = ([_owner(t)[0] for t in owners], Evidence(path=by_base[base].path, line=line))
            return answer
        return None
