"""kubectl (and oc), helm, argocd, flux, velero, istioctl, kubectx/kubens, stern."""

from __future__ import annotations

import re

from inventory.commands.model import ParsedCommand
from inventory.commands.options import parse_options, spec
from inventory.commands.tools import ToolContext

# kubectl resource spellings → one canonical singular name.
KIND_ALIASES: dict[str, str] = {
    "po": "pod", "pods": "pod", "deploy": "deployment", "deployments": "deployment",
    "svc": "service", "services": "service", "ns": "namespace", "namespaces": "namespace",
    "sts": "statefulset", "statefulsets": "statefulset", "ds": "daemonset", "daemonsets": "daemonset",
    "rs": "replicaset", "replicasets": "replicaset", "cm": "configmap", "configmaps": "configmap",
    "secrets": "secret", "jobs": "job", "cj": "cronjob", "cronjobs": "cronjob",
    "pvc": "persistentvolumeclaim", "persistentvolumeclaims": "persistentvolumeclaim",
    "pv": "persistentvolume", "persistentvolumes": "persistentvolume", "no": "node", "nodes": "node",
    "ing": "ingress", "ingresses": "ingress", "sa": "serviceaccount", "serviceaccounts": "serviceaccount",
    "hpa": "horizontalpodautoscaler", "horizontalpodautoscalers": "horizontalpodautoscaler",
    "netpol": "networkpolicy", "networkpolicies": "networkpolicy", "ep": "endpoints",
    "ev": "event", "events": "event", "pdb": "poddisruptionbudget", "poddisruptionbudgets": "poddisruptionbudget",
    "crd": "customresourcedefinition", "crds": "customresourcedefinition",
    "customresourcedefinitions": "customresourcedefinition", "roles": "role", "rolebindings": "rolebinding",
    "clusterroles": "clusterrole", "clusterrolebindings": "clusterrolebinding",
    "kt": "kafkatopic", "kafkatopics": "kafkatopic", "kafkas": "kafka", "ku": "kafkauser",
    "kafkausers": "kafkauser", "kafkaconnects": "kafkaconnect", "kafkaconnectors": "kafkaconnector",
    "kafkanodepools": "kafkanodepool", "sc": "storageclass", "storageclasses": "storageclass",
    "all": "all",
}

_KUBECTL = spec(
    values="namespace context cluster user kubeconfig selector output filename container field-selector "
    "grace-period timeout replicas to-revision revision type from from-literal from-file from-env-file image "
    "port target-port name overrides since since-time tail limit-bytes max-log-requests as as-group server "
    "request-timeout current-replicas resource-version sort-by template patch subresource for min max "
    "cpu-percent schedule restart role clusterrole serviceaccount verb resource group pod-running-timeout "
    "address chunk-size kustomize label-columns env field-manager token password username "
    "certificate-authority client-certificate client-key profile image-pull-policy limits requests raw "
    "docker-password docker-username docker-server docker-email",
    aliases={"n": "namespace", "l": "selector", "o": "output", "f": "filename", "c": "container",
             "A": "all-namespaces", "i": "stdin", "t": "tty", "k": "kustomize", "L": "label-columns",
             "w": "watch", "R": "recursive", "s": "server", "e": "env", "q": "quiet", "a": "all-containers"},
    secret="token password client-key docker-password from-literal",
    multi="filename selector",
)
_KUBECTL_PATCH = spec(values=" ".join(_KUBECTL.values | {"p"}), aliases=_KUBECTL.aliases | {"p": "patch"},
                      secret=" ".join(_KUBECTL.secret), multi="filename")
_KUBECTL_LOGS = spec(values=" ".join(_KUBECTL.values - {"filename"}),
                     aliases=_KUBECTL.aliases | {"f": "follow", "p": "previous"}, secret=" ".join(_KUBECTL.secret))
# The verbs whose options differ from the rest.
_VERB_SPECS = {"patch": _KUBECTL_PATCH, "logs": _KUBECTL_LOGS}
_NO_TYPE_VERBS = {"logs", "exec", "attach", "port-forward", "cp", "drain", "cordon", "uncordon", "debug"}
_SUBVERBS = {
    "rollout": {"restart", "undo", "status", "history", "pause", "resume"},
    "set": {"image", "env", "resources", "selector", "serviceaccount", "subject"},
    "auth": {"can-i", "whoami", "reconcile"},
    "config": {"use-context", "view", "get-contexts", "current-context", "set-context", "set-cluster",
               "set-credentials", "delete-context", "delete-cluster", "rename-context", "unset", "set"},
    "certificate": {"approve", "deny"},
    "create": set(),  # `create TYPE` is an object kind, handled below
}
_NODE_VERBS = {"drain", "cordon", "uncordon"}
_ADM_GROUPS = {"adm policy", "adm top", "adm groups", "adm certificate", "adm prune", "adm release", "adm upgrade",
               "adm ocp-certificates", "adm node-image", "adm pod-network", "adm migrate"}


def kind_name(word: str) -> str:
    """Canonical kubectl kind: ``deploy`` → ``deployment``, ``kafkatopics.kafka.strimzi.io`` → ``kafkatopic``."""
    w = word.lower().split(".", 1)[0]
    return KIND_ALIASES.get(w, w)


def _apply_common(pc: ParsedCommand, flags: dict[str, str | bool]) -> None:
    ns = flags.pop("namespace", None)
    if isinstance(ns, str):
        pc.namespace = ns
    if flags.get("all-namespaces"):
        pc.namespace = None
    pc.flags.update(flags)


def _objects(pos: list[str]) -> tuple[str | None, str | None]:
    """``(kind, name)`` from ``TYPE NAME`` or ``TYPE/NAME`` positionals."""
    if not pos:
        return None, None
    first = pos[0]
    if "/" in first and "/" in pos[-1]:
        kind, _, name = first.partition("/")
        return kind_name(kind), name or None
    if "/" in first:
        kind, _, name = first.partition("/")
        return kind_name(kind), name or None
    kinds = kind_name(first) if "," not in first else ",".join(kind_name(k) for k in first.split(","))
    return kinds, (pos[1] if len(pos) > 1 else None)


def _yaml_object(text: str) -> tuple[str | None, str | None, str | None]:
    """``(kind, name, namespace)`` of the first object in a YAML manifest (for ``apply -f -``)."""
    kind = re.search(r"^kind:\s*([\w.-]+)", text, re.M)
    name = re.search(r"^\s{2,4}name:\s*([\w.-]+)", text, re.M)
    ns = re.search(r"^\s{2,4}namespace:\s*([\w.-]+)", text, re.M)
    return (kind_name(kind.group(1)) if kind else None, name.group(1) if name else None,
            ns.group(1) if ns else None)


def parse_kubectl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """kubectl/oc: verb (with sub-verb), object kind and name, namespace, flags; exec/run inner commands."""
    opts = _KUBECTL
    for a in args:  # the first word that is not an option: the verb, or the value of one before it
        if not a.startswith("-"):
            opts = _VERB_SPECS.get(a, _KUBECTL)
            break
    p = parse_options(args, opts)
    pos = p.positionals
    # Options that take a value but were written before the verb (`kubectl -n x get po`) are
    # handled by the spec; the first positional is the verb.
    if not pos:
        pc.verb = "unknown"
        _apply_common(pc, p.flags)
        return None
    verb = pos[0]
    rest = pos[1:]
    if verb in _SUBVERBS and rest and rest[0] in _SUBVERBS[verb]:
        verb = f"{verb} {rest[0]}"
        rest = rest[1:]
    elif verb == "adm" and rest:
        # oc adm: `adm drain NODE`, `adm policy add-cluster-role-to-user ROLE USER`, `adm top nodes`.
        verb, rest = f"adm {rest[0]}", rest[1:]
        if verb in _ADM_GROUPS and rest:
            verb, rest = f"{verb} {rest[0]}", rest[1:]
    pc.verb = verb
    flags = dict(p.flags)
    _apply_common(pc, flags)
    extra: list[ParsedCommand] = []
    base = verb.split(" ", 1)[0]
    if verb == "auth can-i":
        pc.flags["can-i"] = " ".join(rest[:2])
        pc.object_kind = kind_name(rest[1]) if len(rest) > 1 else None
        return None
    if verb.startswith("config"):
        pc.object_kind = "kubeconfig"
        pc.target = rest[0] if rest else None
        return None
    if verb.startswith("adm "):
        pc.object_kind = "node" if verb in ("adm drain", "adm cordon", "adm uncordon", "adm taint") else None
        pc.target = rest[0] if rest else None
    elif base in _NODE_VERBS:
        pc.object_kind, pc.target = "node", (rest[0] if rest else None)
    elif base == "cp":
        for loc in rest:
            if ":" in loc and not loc.startswith(("/", ".")):
                pod = loc.split(":", 1)[0]
                if "/" in pod:
                    pc.namespace, pod = pod.split("/", 1)
                pc.object_kind, pc.target = "pod", pod
                pc.flags["direction"] = "from-pod" if loc == rest[0] else "to-pod"
                break
    elif base in _NO_TYPE_VERBS:
        if rest and "/" in rest[0]:
            pc.object_kind, pc.target = _objects(rest)
        elif rest:
            pc.object_kind, pc.target = "pod", rest[0]
        if base == "exec":
            inner = p.after_dashdash if p.after_dashdash is not None else rest[1:]
            if inner:
                extra = ctx.resolve(inner, "kubectl exec", ctx.stdin)
            elif ctx.stdin:
                extra = ctx.parse_script(ctx.stdin, "kubectl exec")
    elif verb == "run":
        pc.object_kind, pc.target = "pod", (rest[0] if rest else None)
        inner = p.after_dashdash if p.after_dashdash is not None else []
        if inner:
            extra = ctx.resolve(inner, "kubectl run")
    elif verb == "create" and rest and "filename" not in pc.flags:
        pc.object_kind = kind_name(rest[0])
        sub = rest[1:]
        if pc.object_kind in ("secret", "service") and sub and sub[0] in ("generic", "tls", "docker-registry",
                                                                          "clusterip", "nodeport", "loadbalancer"):
            pc.flags["type"] = sub[0]
            sub = sub[1:]
        pc.target = sub[0] if sub else None
    elif verb in ("top",):
        pc.object_kind = kind_name(rest[0]) if rest else None
        pc.target = rest[1] if len(rest) > 1 else None
    elif verb.startswith("set "):
        pc.object_kind, pc.target = _objects(rest)
        if verb == "set image":
            imgs = [a.split("=", 1)[1] for a in rest if "=" in a]
            if imgs:
                pc.flags["image"] = ",".join(imgs)
    elif verb in ("apply", "create", "replace", "delete", "diff") and "filename" in pc.flags and not rest:
        fname = pc.flags["filename"]
        if fname == "-" and ctx.stdin:
            pc.object_kind, pc.target, ns = _yaml_object(ctx.stdin)
            pc.namespace = pc.namespace or ns
        elif isinstance(fname, str):
            pc.object_kind = "manifest"
            pc.target = fname
    elif verb in ("label", "annotate", "taint"):
        objs = [a for a in rest if "=" not in a and not a.endswith("-") and ":" not in a]
        pc.object_kind, pc.target = _objects(objs)
        if verb == "taint" and pc.object_kind in ("nodes", "no"):
            pc.object_kind = "node"
    else:
        pc.object_kind, pc.target = _objects(rest)
        more = _more_names(rest, pc.object_kind)
        if more:
            pc.flags["more-targets"] = ",".join(more)
    return extra or None


def _more_names(pos: list[str], kind: str | None) -> list[str]:
    """Further objects of one command: ``delete pod a b`` or ``restart deploy/a deploy/b`` (same kind only)."""
    if not pos or not kind:
        return []
    if "/" in pos[0]:
        return [p.split("/", 1)[1] for p in pos[1:] if "/" in p and kind_name(p.split("/", 1)[0]) == kind]
    return [p for p in pos[2:] if "/" not in p and "=" not in p]


_HELM = spec(
    values="namespace kube-context kubeconfig values set set-string set-file version timeout output "
    "revision repo username password max description post-renderer history-max",
    aliases={"n": "namespace", "f": "values", "o": "output", "a": "all"},
    secret="password set set-string username",
    multi="values",
)
_HELM_SUB = {"get": {"values", "manifest", "all", "hooks", "notes", "metadata"},
             "repo": {"add", "update", "list", "remove", "index"},
             "dependency": {"update", "build", "list"}, "show": {"values", "chart", "all", "readme", "crds"},
             "diff": {"upgrade", "release", "revision", "rollback"}, "plugin": {"install", "list", "uninstall"}}


def parse_helm(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """helm: verb, release name (target), chart, namespace, flags."""
    p = parse_options(args, _HELM)
    pos = p.positionals
    if not pos:
        return
    verb = {"delete": "uninstall", "del": "uninstall", "un": "uninstall", "ls": "list"}.get(pos[0], pos[0])
    rest = pos[1:]
    if verb in _HELM_SUB and rest and rest[0] in _HELM_SUB[verb]:
        verb = f"{verb} {rest[0]}"
        rest = rest[1:]
    pc.verb = verb
    _apply_common(pc, p.flags)
    if verb in ("list",) or verb.startswith(("repo", "plugin", "dependency")):
        return
    pc.object_kind = "release"
    if verb in ("install", "upgrade", "template", "diff upgrade") and p.flags.get("generate-name"):
        pc.flags["chart"] = rest[0] if rest else ""
        return
    if verb.startswith("show") or verb in ("pull", "lint", "package"):
        pc.object_kind = "chart"
        pc.target = rest[0] if rest else None
        return
    pc.target = rest[0] if rest else None
    if verb in ("install", "upgrade", "template", "diff upgrade") and len(rest) > 1:
        pc.flags["chart"] = rest[1]
    if verb == "rollback" and len(rest) > 1:
        pc.flags["revision"] = rest[1]


def _subcommand_parser(groups: dict[str, set[str]], opts, kind_from_group: dict[str, str] | None = None,
                       object_kind: str | None = None):
    """A parser for ``tool GROUP VERB NAME`` CLIs (argocd, flux, velero, istioctl...)."""

    def parse(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
        p = parse_options(args, opts)
        pos = p.positionals
        if not pos:
            return
        verb, rest = pos[0], pos[1:]
        if verb in groups and rest and (not groups[verb] or rest[0] in groups[verb]):
            verb = f"{verb} {rest[0]}"
            rest = rest[1:]
        pc.verb = verb
        _apply_common(pc, p.flags)
        group = verb.split(" ", 1)[0]
        pc.object_kind = (kind_from_group or {}).get(group, object_kind)
        if rest and pc.object_kind is None and verb.split(" ")[-1] in ("reconcile", "suspend", "resume", "get",
                                                                       "delete", "export", "create"):
            pc.object_kind = kind_name(rest[0])
            rest = rest[1:]
            if pc.object_kind == "source" and rest:
                pc.object_kind = f"source-{rest[0]}"
                rest = rest[1:]
        pc.target = rest[0] if rest else None

    return parse


_ARGOCD = spec(values="revision server auth-token password username grpc-web-root-path project dest-namespace "
               "dest-server repo path sync-policy timeout output cascade propagation-policy",
               aliases={"o": "output", "N": "app-namespace"}, secret="auth-token password username")
_FLUX = spec(values="namespace context kubeconfig timeout source path interval", aliases={"n": "namespace"})
_VELERO = spec(values="namespace from-backup from-schedule include-namespaces exclude-namespaces "
               "schedule ttl selector", aliases={"n": "namespace", "l": "selector"})
_ISTIOCTL = spec(values="namespace context kubeconfig revision filename set output",
                 aliases={"n": "namespace", "f": "filename", "o": "output", "i": "istio-namespace"}, secret="set")


def parse_kubectx(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """kubectx / kubens: switch context or namespace (or list them)."""
    pos = [a for a in args if not a.startswith("-")]
    noun = "context" if pc.tool == "kubectx" else "namespace"
    pc.verb = f"use-{noun}" if pos else "list"
    pc.object_kind = noun
    pc.target = pos[0] if pos else None


def parse_stern(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """stern: tail logs of pods matching a query."""
    p = parse_options(args, spec(values="namespace context container selector since tail output",
                                 aliases={"n": "namespace", "c": "container", "l": "selector", "o": "output",
                                          "s": "since", "A": "all-namespaces"}))
    pc.verb = "logs"
    _apply_common(pc, p.flags)
    pc.object_kind = "pod"
    pc.target = p.positionals[0] if p.positionals else None


PARSERS = {
    "kubectl": parse_kubectl,
    "oc": parse_kubectl,
    "helm": parse_helm,
    "argocd": _subcommand_parser(
        {"app": set(), "cluster": set(), "proj": set(), "repo": set(), "account": set(), "appset": set()},
        _ARGOCD, {"app": "application", "cluster": "cluster", "proj": "project", "repo": "repository",
                  "appset": "applicationset", "account": "account"}),
    "flux": _subcommand_parser({"create": set(), "export": set(), "get": set(), "delete": set()}, _FLUX),
    "velero": _subcommand_parser(
        {"backup": set(), "restore": set(), "schedule": set(), "backup-location": set(), "snapshot-location": set()},
        _VELERO, {"backup": "backup", "restore": "restore", "schedule": "schedule"}),
    "istioctl": _subcommand_parser({"proxy-config": set(), "x": set(), "manifest": set(), "experimental": set()},
                                   _ISTIOCTL, object_kind=None),
    "kubectx": parse_kubectx,
    "kubens": parse_kubectx,
    "stern": parse_stern,
}
