"""A runbook read as one shell session: the namespace an earlier command made current (and
the directory an earlier ``cd`` went to, see :mod:`inventory.tfroots`).

An SRE runs a runbook's blocks in one terminal, top to bottom. What a command there changes
for the commands after it is part of what those commands name, exactly as a shell would see
it:

* ``oc project openshift-storage`` / ``oc new-project x``, ``kubectl config set-context
  --current --namespace=x`` and ``kubens x`` make a namespace current: a later
  ``oc get pvc`` (no ``-n``) runs in it;
* ``NAMESPACE=openshift-monitoring`` / ``export NAMESPACE=...`` (a literal value) gives a
  later ``-n $NAMESPACE`` its value;
* ``kubectx cluster1`` / ``kubectl config use-context cluster1`` make a context current: a
  later ``kubectl``/``oc`` command without ``--context`` runs against that cluster;
* ``ssh db1.gprd.example.net`` (no remote command) opens a shell there: a later command of the
  same section (up to the next heading, an ``exit`` or another ``ssh``) that names no system of
  its own (``sudo gitlab-psql``, ``sudo systemctl restart patroni``) runs on that host.

Nothing else carries: a ``-n x`` on one command does not change the current namespace (a
shell would not either), cluster-wide objects (nodes, CRDs, events...) and ``-A`` take no
namespace, and placeholders or computed values (``$(oc get ...)``, ``<namespace>``) name
nothing. Each carried namespace comes with a note saying which line set it, so the system it
places and the reason are both readable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from inventory.commands.model import ParsedCommand
from inventory.operated import cluster_scoped_kinds, context_name, literal_name
from inventory.scanners.base import CommandSighting

__all__ = ["KubeSession"]

_KUBE_TOOLS = frozenset({"kubectl", "oc"})
# Subcommands that do not run against a namespace (or change it themselves).
_NO_NAMESPACE = frozenset({"config", "project", "new-project", "projects", "adm", "login", "logout", "whoami",
                           "completion", "plugin", "version", "cluster-info", "api-resources", "api-versions",
                           "explain", "kustomize", "krew", "auth"})
# The tools a session gives a namespace or context to, or learns from (see _learn).
_SESSION_TOOLS = _KUBE_TOOLS | {"exit", "logout", "ssh", "export", "kubectx", "kubens"}
# The kubectl/oc subcommands that change the session (`config use-context`, `config set-context`,
# `oc project`, `oc new-project`).
_KUBE_SESSION_SUBCOMMANDS = frozenset({"config", "project", "new-project"})
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(['\"]?)([^'\"\s;&|$`<>(){}]+)\2\s*$")
_VAR = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


@dataclass
class KubeSession:
    """The current namespace and the literal shell variables of one runbook, in line order."""

    namespace: str | None = None
    set_by: str | None = None  # "`oc project x` at path:line"
    variables: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (value, where)
    # The directory an earlier `cd` went to (None: none yet; "": outside the scanned tree);
    # kept by the actions stage, read by inventory.tfroots.
    cwd: str | None = None
    context: str | None = None
    context_set_by: str | None = None
    # The remote shell a bare `ssh host` opened: (that command, note, section).
    remote: tuple[ParsedCommand, str, int | None] | None = None

    def remote_of(self, sighting: CommandSighting) -> tuple[ParsedCommand, str] | None:
        """``(ssh command, note)`` when ``sighting`` is typed into a remote shell an earlier line
        of its section opened (read before the line's own commands are learnt)."""
        if self.remote is None:
            return None
        if sighting.section != self.remote[2] or sighting.source_kind != "runbook":
            self.remote = None  # a new section: back at the workstation
            return None
        return self.remote[0], self.remote[1]

    def walk(self, commands: list[ParsedCommand],
             sighting: CommandSighting) -> list[tuple[str | None, str | None, str] | None]:
        """For each command of one line, in order: ``(namespace, context, note)`` it runs in by
        the session's state (each ``None`` when it names its own or takes none; the whole
        entry ``None`` when the session gives it nothing), learning from each."""
        out: list[tuple[str | None, str | None, str] | None] = []
        # A bare assignment runs no command: only a line without any is matched against it.
        assigned = _ASSIGN.match(sighting.command) if not commands else None
        if assigned:
            value = literal_name(assigned.group(3))
            if value:
                self.variables[assigned.group(1)] = (value, f"`{assigned.group(1)}={value}` at {sighting.evidence}")
        for pc in commands:
            tool = pc.tool  # read once: a model's attribute is a slower lookup than a local
            if tool not in _SESSION_TOOLS:
                out.append(None)  # neither runs in nor changes the session (most commands)
                continue
            namespace, argv = pc.namespace, pc.argv
            if tool in _KUBE_TOOLS and namespace and namespace[0] != "$" and not self.context \
                    and (len(argv) < 2 or argv[1] not in _KUBE_SESSION_SUBCOMMANDS):
                # Most kubectl/oc commands: a literal `-n x`, no current context, no session change
                # (what namespace_of, context_of and _learn each conclude, without calling them).
                out.append(None)
                continue
            ns, ctx = self.namespace_of(pc), self.context_of(pc)
            if ns or ctx:
                notes = [x[1] for x in (ns, ctx) if x]
                out.append((ns[0] if ns else None, ctx[0] if ctx else None, "; ".join(notes)))
            else:
                out.append(None)  # the session gives it nothing (most commands name their namespace)
            self._learn(pc, sighting)
        return out

    def context_of(self, pc: ParsedCommand) -> tuple[str, str] | None:
        """``(context, note)`` when ``pc`` runs against a context only the session gives."""
        if pc.tool not in _KUBE_TOOLS or not self.context or not self.context_set_by:
            return None
        if isinstance(pc.flags.get("context"), str) or any(a.startswith("--context") for a in pc.argv[1:]):
            return None
        sub = next((a for a in pc.argv[1:] if not a.startswith("-")), None)
        if sub in _NO_NAMESPACE - {"adm", "auth"}:
            return None
        return self.context, f"context made current by {self.context_set_by}"

    def namespace_of(self, pc: ParsedCommand) -> tuple[str, str] | None:
        """``(namespace, note)`` when ``pc`` runs in a namespace only the session gives."""
        if pc.tool not in _KUBE_TOOLS or pc.flags.get("all-namespaces") is True:
            return None
        # What the session could give is looked at first: mostly nothing (a literal `-n x`, or
        # no current namespace), and then the subcommand need not be read.
        known: tuple[str, str] | None = None
        if pc.namespace:
            m = _VAR.match(pc.namespace) if pc.namespace[0] == "$" else None  # most: a literal `-n x`
            known = self.variables.get(m.group(1)) if m else None
            if known is None:
                return None
        elif not (self.namespace and self.set_by):
            return None
        sub = next((a for a in pc.argv[1:] if not a.startswith("-")), None)
        if sub in _NO_NAMESPACE or (pc.object_kind or "").lower() in cluster_scoped_kinds():
            return None
        if known is not None:
            return known[0], f"namespace from {known[1]}"
        if any(a in ("-n", "--namespace") or a.startswith(("--namespace=", "-n=")) for a in pc.argv[1:]):
            return None  # it names its own namespace (a placeholder: `-n <namespace>`)
        return self.namespace, f"namespace made current by {self.set_by}"  # type: ignore[return-value]

    def _learn(self, pc: ParsedCommand, sighting: CommandSighting) -> None:
        if pc.tool in _KUBE_TOOLS and (len(pc.argv) < 2 or pc.argv[1] not in _KUBE_SESSION_SUBCOMMANDS):
            return  # most kubectl/oc commands: only `config ...`, `oc project` and `oc new-project` change the session
        if pc.tool in ("exit", "logout") and pc.via is None:
            self.remote = None
            return
        if pc.tool == "ssh" and pc.via is None:
            # A bare `ssh host` opens a shell there; `ssh host cmd` runs cmd and comes back.
            host = pc.target if pc.verb == "connect" else None
            lit = host if host and (_HOST.match(host) or literal_name(host)) else None
            self.remote = (pc, f"`{' '.join(pc.argv)}` at {sighting.evidence}", sighting.section) if lit else None
            return
        if pc.tool == "export":
            for arg in pc.argv[1:]:
                name, sep, value = arg.partition("=")
                lit = literal_name(value) if sep else None
                if lit and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    self.variables[name] = (lit, f"`export {name}={lit}` at {sighting.evidence}")
            return
        ctx: str | None = None
        if pc.tool == "kubectx" and len(pc.argv) > 1:
            ctx = pc.target or pc.argv[-1]  # `kubectx -` (the previous one): unknown from here
        elif pc.tool in _KUBE_TOOLS and pc.argv[1:3] == ["config", "use-context"]:
            ctx = pc.target or ""
        if ctx is not None:
            lit = context_name(ctx)
            self.context, self.context_set_by = (lit, f"`{' '.join(pc.argv)}` at {sighting.evidence}") if lit \
                else (None, None)  # `kubectx -` or a placeholder: the current context is unknown
            return
        ns: str | None = None
        if pc.tool == "oc" and len(pc.argv) > 2 and pc.argv[1] in ("project", "new-project"):
            ns = pc.argv[2]
        elif pc.tool in _KUBE_TOOLS and pc.argv[1:3] == ["config", "set-context"] and pc.flags.get("current") is True:
            ns = pc.namespace
        elif pc.tool == "kubens" and pc.target:
            ns = pc.target
        lit = literal_name(ns)
        if lit:
            self.namespace, self.set_by = lit, f"`{' '.join(pc.argv)}` at {sighting.evidence}"
