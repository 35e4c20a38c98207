"""Recognise environments (prod, staging, dev...) from names, paths and labels."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

from inventory.config import DEFAULT_ENVIRONMENT_PATTERNS

_TOKEN_RE = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-case tokens of ``text`` split on anything that is not a letter or digit."""
    return list(_tokens(text))


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in _TOKEN_RE.split(text.lower()) if t)


class _Compiled:
    """Each environment's patterns as token sequences, and what each text was found to name.

    Built once per pattern set (see :func:`_compile`); the same namespaces, paths and labels
    are looked up thousands of times in a scan, so answers are memoised per text.
    """

    def __init__(self, pats: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        self.seqs = tuple((env, tuple(_tokens(p) for p in plist)) for env, plist in pats)
        # canonical_environment: a whole name (tokens joined by "-") -> the first env it is.
        self.names: dict[str, str] = {}
        for env, plist in pats:
            for name in (env, *("-".join(_tokens(p)) for p in plist)):
                self.names.setdefault(name, env)
        self.found: dict[str, str | None] = {}
        # environment_of_path: a directory -> (environment, its root directory) or None.
        self.dirs: dict[str, tuple[str, str] | None] = {}

    def detect(self, text: str) -> str | None:
        """The environment ``text`` names (whole tokens or a token sequence), or ``None``."""
        hit = self.found.get(text, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        if len(self.found) > 65536:
            self.found.clear()
        toks = _tokens(text)
        present = set(toks)
        env_found: str | None = None
        for env, seqs in self.seqs:
            for seq in seqs:
                n = len(seq)
                if not n or seq[0] not in present:
                    continue
                if n == 1 or any(toks[i : i + n] == seq for i in range(len(toks) - n + 1)):
                    env_found = env
                    break
            if env_found:
                break
        self.found[text] = env_found
        return env_found


_MISSING = object()


@lru_cache(maxsize=32)
def _compile(pats: tuple[tuple[str, tuple[str, ...]], ...]) -> _Compiled:
    """The compiled form of a pattern set (the patterns rarely change: cache them)."""
    return _Compiled(pats)


# The pattern mapping last compiled, a snapshot of it, and its compiled form: callers pass the
# same config dict on every one of a scan's ~100k lookups, and turning it into a hashable key
# each time cost more than the lookup. The snapshot (compared in C) catches a dict edited in place.
_last: tuple[object, dict, _Compiled] | None = None


def _compiled(patterns: Mapping[str, Iterable[str]] | None) -> _Compiled:
    global _last
    pats = patterns or DEFAULT_ENVIRONMENT_PATTERNS
    last = _last
    if last is not None and last[0] is pats and last[1] == pats:
        return last[2]
    compiled = _compile(tuple((env, tuple(plist)) for env, plist in pats.items()))
    _last = (pats, {env: list(plist) if isinstance(plist, list) else plist for env, plist in pats.items()}, compiled)
    return compiled


def detect_environment(
    *texts: str | None, patterns: Mapping[str, Iterable[str]] | None = None
) -> str | None:
    """The environment the first matching text names, or ``None`` when none does.

    Texts are tried in order (most specific first: namespace, then labels, then path);
    within a text, a whole-token match is required so ``product-api`` is not ``prod``.
    Multi-token patterns (``pre-prod``) match as a token sequence.
    """
    compiled = _compiled(patterns)
    for text in texts:
        if text:
            env = compiled.detect(text)
            if env:
                return env
    return None


def environment_detector(patterns: Mapping[str, Iterable[str]] | None = None) -> Callable[[str], str | None]:
    """:func:`detect_environment` of one text with ``patterns``, for a caller that asks about many
    texts in a row (the pattern set is looked up once, not on every call)."""
    return _compiled(patterns).detect


# Directory names under which each child directory is one environment's root
# (`envs/production/`, `clusters/staging/`, `overlays/prod/`, `variables/integration/`).
ENVIRONMENT_ROOTS: frozenset[str] = frozenset({
    "envs", "env", "environments", "environment", "variables", "stages", "tfvars", "workspaces",
})
# Roots whose children are environments only when named like one (`clusters/my-cluster` is not).
NAMED_ENVIRONMENT_ROOTS: frozenset[str] = frozenset({"clusters", "overlays"})
# Folder names that mean something else outside an environment root (`ci/`, `test/`, `local/`).
_AMBIGUOUS_FOLDERS: frozenset[str] = frozenset({"ci", "test", "tests", "testing", "local", "live", "qa", "sandbox"})


def canonical_environment(name: str, patterns: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """The environment ``name`` *is* (whole name, not a token inside it), else ``None``.

    ``production`` → ``prod``, ``stg`` → ``staging``; ``ci-runners`` → ``None`` (a folder that
    merely contains an environment word is not an environment).
    """
    key = "-".join(_tokens(name))
    if not key:
        return None
    return _compiled(patterns).names.get(key)


def environment_of_path(path: str, patterns: Mapping[str, Iterable[str]] | None = None) -> tuple[str, str] | None:
    """``(environment, directory)`` when a directory of ``path`` is an environment's root.

    Two explicit layouts count: a directory named exactly for an environment
    (``k8s/prod/``, ``apps/production/``), and any directory directly under an environments
    root (``envs/nonproduction/`` → ``nonproduction``). The innermost match wins. Words
    inside a name (``docs/ci-runners/``) never count.
    """
    head, sep, _ = path.rpartition("/")
    return _dir_environment(head, _compiled(patterns)) if sep else None


def _dir_environment(d: str, compiled: _Compiled) -> tuple[str, str] | None:
    """:func:`environment_of_path` of a file in directory ``d``: ``d`` itself, else its parent's.

    Memoised per directory: a scan asks about the same few thousand directories (and their
    shared parents) tens of thousands of times.
    """
    hit = compiled.dirs.get(d, _MISSING)
    if hit is not _MISSING:
        return hit  # type: ignore[return-value]
    head, sep, seg = d.rpartition("/")
    parent = head.rpartition("/")[2].lower()
    under_root = parent in ENVIRONMENT_ROOTS or parent in NAMED_ENVIRONMENT_ROOTS
    key = "-".join(_tokens(seg))
    env = compiled.names.get(key) if key else None  # canonical_environment(seg)
    if env is not None and seg.lower() in _AMBIGUOUS_FOLDERS and not under_root:
        env = None
    if env is None and parent in ENVIRONMENT_ROOTS and seg and not seg.startswith(".") \
            and not any(c in seg for c in "${}<>()*"):  # a template slot is not a name
        env = key or None
    found = (env, d) if env else _dir_environment(head, compiled) if sep else None
    if len(compiled.dirs) > 65536:
        compiled.dirs.clear()
    compiled.dirs[d] = found
    return found


_HOST_LABEL_RE = re.compile(r"^(\*|[a-z0-9]([a-z0-9-]*[a-z0-9])?)$")


def url_host(text: str) -> str | None:
    """The hostname of a URL or ``user@host:port`` (``https://api.gprd.example.com/v1`` →
    ``api.gprd.example.com``), or ``None`` when ``text`` holds no dotted hostname (a path, a
    placeholder, an IP address)."""
    if not text or any(c in text for c in "$<>{} "):
        return None
    rest = text.split("://", 1)[1] if "://" in text else text
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1].lower()
    host = host[:-1] if host.endswith(".") else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL_RE.match(lab) for lab in labels):
        return None
    if all(lab.isdigit() for lab in labels if lab != "*"):
        return None  # an IP address (or a version number)
    return host


def host_environment(host: str, patterns: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """The environment a hostname's own labels name: a whole label that *is* an environment
    word of the vocabulary (``api.gprd.example.com`` → prod, ``*.staging.*`` → staging).

    The last label (the top-level domain: ``svc.cluster.local``) and words that mean something
    else as a host label (``ci.example.com`` is a CI server, ``live``/``local`` are domains)
    never count; a word inside a label (``prod-reports``) does not either.
    """
    labels = host.lower().split(".")
    for lab in labels[:-1] if len(labels) > 1 else labels:
        if lab == "*" or lab in _AMBIGUOUS_FOLDERS:
            continue
        env = canonical_environment(lab, patterns)
        if env:
            return env
    return None
