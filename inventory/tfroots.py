"""The Terraform root module a runbook command runs, from what the command names.

A README that walks through ``terraform -chdir=envs/production plan`` or
``./tf-wrapper.sh apply production`` operates one root module (the directory Terraform runs
in, with its state): that root is the system the command operates, and the root's own
per-environment directory (``envs/production/``) is its environment. Read from the command
only:

* ``terraform -chdir=<dir> …`` (or ``cd <dir>`` earlier in the runbook's session):
  ``<dir>``, relative to where the session is (the runbook's directory until a ``cd``), when
  the scan saw Terraform code there; after a ``cd`` out of the scanned tree (``cd
  gcp-environments``) relative paths name nothing;
* a bare ``terraform …`` in a runbook that sits in a Terraform root: that root (the README of
  a root module documents running it);
* a wrapper script the scan did not read (``./tf-wrapper.sh apply production``) or
  ``git push <remote> <branch>``: an argument that is the name of exactly one root module
  directory under the runbook's directory (``production`` → ``envs/production/``); several
  roots of that name, or none, resolve nothing;
* ``cp``/``mv`` with a path argument that is a root module directory or a file in one.

A scanned wrapper is read instead (:mod:`inventory.scripts` runs its lines). Paths with
variables or placeholders, and directories outside the scanned tree (``../gcp-bootstrap``),
name nothing. The index is built once per scan from the entities' evidence, so a lookup is a
dictionary access, not a walk over the inventory.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from inventory.commands.model import ParsedCommand

__all__ = ["TerraformRoots", "root_named"]

_TF_TOOLS = frozenset({"terraform", "terragrunt", "tofu"})
_PATH_TOOLS = frozenset({"cp", "mv", "rsync"})
# Terraform subcommands that act on the local machine or account, not on a root's state.
_LOCAL_TF = frozenset({"login", "logout", "version", "fmt", "-version", "--version", "-help", "--help", "help"})


@dataclass
class TerraformRoots:
    """Directories holding Terraform code (minus child modules other code calls), indexed by
    path and by directory name."""

    dirs: set[str] = field(default_factory=set)
    by_name: dict[str, list[str]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)  # every directory with Terraform code, and their parents
    first_file: dict[str, str] = field(default_factory=dict)  # root -> its first file (evidence)

    def cd(self, arg: str, bases: list[str]) -> str:
        """Where ``cd <arg>`` goes among the known directories, tried from each of ``bases``;
        ``""`` when it leaves them (or the session's directory is already unknown)."""
        if not bases or "" in bases or not arg or any(c in arg for c in "$<>{}*`") or arg.startswith(("/", "~", "-")):
            return ""
        for base in bases:
            p = posixpath.normpath(posixpath.join(base, arg)) if base != "." else posixpath.normpath(arg)
            if not p.startswith("..") and (p in self.known or p == "."):
                return p
        return ""

    @classmethod
    def from_entities(cls, entities) -> "TerraformRoots":
        """The index over ``entities`` (each Terraform entity's evidence gives its directory)."""
        dirs: set[str] = set()
        called: set[str] = set()
        for ent in entities:
            if "terraform_address" not in ent.attributes:
                continue
            source = ent.attributes.get("source") if ent.subtype == "terraform-module" else None
            for ev in ent.evidence:
                if not ev.path.endswith((".tf", ".tf.json")):
                    continue
                d = posixpath.dirname(ev.path) or "."
                dirs.add(d)
                if isinstance(source, str) and source.startswith("."):
                    called.add(posixpath.normpath(posixpath.join(d, source)) if d != "." else posixpath.normpath(source))
        roots = dirs - called
        by_name: dict[str, list[str]] = defaultdict(list)
        for d in sorted(roots):
            by_name[posixpath.basename(d)].append(d)
        known: set[str] = set()
        for d in dirs:
            parts = d.split("/")
            known.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        first: dict[str, str] = {}
        for ent in entities:
            for ev in ent.evidence if "terraform_address" in ent.attributes else ():
                d = posixpath.dirname(ev.path) or "."
                if d in roots and ev.path.endswith((".tf", ".tf.json")) and (d not in first or ev.path < first[d]):
                    first[d] = ev.path
        return cls(dirs=roots, by_name=dict(by_name), known=known, first_file=first)

    def under(self, name: str, base: str) -> list[str]:
        """Root directories named ``name`` at or below ``base``."""
        prefix = "" if base in ("", ".") else base + "/"
        return [d for d in self.by_name.get(name, []) if d.startswith(prefix)]

    def path(self, path: str, bases: list[str]) -> str | None:
        """The root ``path`` is (or is a file in), resolved against ``bases`` in order."""
        if not path or any(c in path for c in "$<>{}*`") or path.startswith(("/", "~")):
            return None
        for base in bases:
            p = posixpath.normpath(posixpath.join(base, path)) if base not in ("", ".") else posixpath.normpath(path)
            if p.startswith(".."):
                continue
            if p in self.dirs:
                return p
            parent = posixpath.dirname(p)
            if parent in self.dirs and posixpath.splitext(p)[1]:
                return parent
        return None


def root_named(roots: TerraformRoots, pc: ParsedCommand, runbook: str, cwd: str | None = None,
               script: bool = False) -> tuple[str, str] | None:
    """``(root directory, how)`` for the root module ``pc`` runs, else ``None``.

    ``runbook`` is the path of the file the command is in; ``cwd`` the directory an earlier
    ``cd`` of the runbook's session went to (``None``: none yet, the runbook's own directory;
    ``""``: somewhere outside the scanned tree, where relative paths name nothing);
    ``script``: ``pc`` runs a local script the scan did not read."""
    here = posixpath.dirname(runbook) or "."
    tool = pc.tool
    if script or (tool == "git" and pc.verb == "push"):
        # A root named by its directory's name: scoped to where the session is, else the
        # runbook's own directory (the copy a README has you `cd` into is of that directory).
        scope = cwd or here
        words = [a for a in pc.argv[1:] if not a.startswith("-")]
        hits: dict[str, str] = {}
        for w in words:
            found = roots.under(w, scope) if "/" not in w else []
            if len(found) == 1:
                hits.setdefault(found[0], w)
        if len(hits) == 1:
            (d, w), = hits.items()
            what = pc.argv[0] if script else "git push"
            return d, f"{what} … {w}: {d}/ is the one root module named {w} under {scope}/"
        return None
    if cwd == "":
        return None  # an earlier `cd` left the scanned tree: relative paths are not these
    base = cwd or here
    if tool in _TF_TOOLS:
        if (pc.verb or "") in _LOCAL_TF or not pc.verb:
            return None
        chdir = pc.flags.get("chdir")
        if isinstance(chdir, str):
            d = roots.path(chdir.rstrip("/"), [base])
            return (d, f"{tool} -chdir={chdir} runs the root module {d}/") if d else None
        if cwd is not None:
            return (cwd, f"{tool} runs in {cwd}/ (after cd), a root module") if cwd in roots.dirs else None
        if here in roots.dirs:
            return here, f"{tool} in {runbook}, the README of the root module {here}/"
        return None
    if tool in _PATH_TOOLS:
        found = {d for a in pc.argv[1:] if not a.startswith("-") for d in [roots.path(a.rstrip("/"), [base])] if d}
        if len(found) == 1:
            d = next(iter(found))
            return d, f"{tool} names a path in the root module {d}/"
    return None
