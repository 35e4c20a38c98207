"""The system a runbook command operates, when the estate has no inventory entity for it.

A runbook-only estate (alert runbooks for a platform) defines nothing: its commands are the
only evidence of the systems it operates. A command that resolves to no inventory entity is
read for what it names, most specific first:

1. a Kubernetes object by name (``deployment/cluster-monitoring-operator``,
   ``statefulset alertmanager-main``, the pod ``prometheus-k8s-0`` → its owner
   ``prometheus-k8s``), or a workload picked by a well-known label selector
   (``-l app=etcd``, ``-l app.kubernetes.io/name=thanos-query``);
2. the system a tool only ever operates (``etcdctl`` → etcd, ``ceph``/``rados``/``rbd`` →
   ceph; table in ``inventory/data/operated.yaml``), or the systemd unit a
   ``systemctl``/``journalctl`` command names (``kubelet.service`` → the kubelet daemon);
3. a Google Cloud bucket, dataset or project it names (``gsutil rm gs://acme-exports``,
   ``bq rm analytics``, ``--project acme-prod``), or a host it connects to
   (``ssh db1.gprd.example.net``, ``curl https://grafana.example.com``);
4. a literal namespace (``-n openshift-monitoring``);
5. a kube context (``--context prod-eu``); a Terraform root module it runs
   (``terraform -chdir=envs/production plan``, ``./tf-wrapper.sh apply production``:
   :mod:`inventory.tfroots`) — else, for ``kubectl``/``oc`` commands that name
   only placeholders (``-n $NAMESPACE describe deployment $NAME``), the cluster of the
   current kube context (``k8s-cluster:current-context``): that is where they run.

The first of these found becomes (or is found as) a system with its kind from the object or
tool, the runbook line as evidence, and ``attributes.operated_from`` saying how it was named.
No environment is invented: it is unresolved (production's tiers) unless the command itself
names one. Placeholders (``$NAME``, ``<pod>``, ``{name}``) never name anything.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from importlib import resources

import yaml

from inventory.builder import InventoryBuilder
from inventory.commands.model import ParsedCommand
from inventory.commands.verbs import pod_owner_names
from inventory.kinds import kind_for_image
from inventory.environments import environment_of_path
from inventory.model import Component, Entity, Evidence, Resource, entity_id
from inventory.resolve import add_source
from inventory.scanners.base import CommandSighting
from inventory.tfroots import TerraformRoots, root_named

__all__ = ["CURRENT_CONTEXT", "cluster_scoped_kinds", "context_name", "literal_name", "operated_system", "named_system"]

# The name of the cluster a kubectl/oc command without --context runs against.
CURRENT_CONTEXT = "current-context"

# A Kubernetes object name (DNS-1123 subdomain): anything else (placeholders, jsonpath,
# shell substitutions) names nothing.
_K8S_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_IP = re.compile(r"^\d+(\.\d+){3}$")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1"})
_KUBE_TOOLS = frozenset({"kubectl", "oc"})
# Marks a guessed kind (a pod's owner, a selected workload): any entity of that name wins.
_ANY_KIND = "_any_kind"
# Daemonset and bare pod names: `kube-proxy-b9g23` (a 5-character suffix with a digit).
_DS_POD = re.compile(r"^(.+)-(?=[a-z0-9]*\d)[a-z0-9]{5}$")


@lru_cache(maxsize=1)
def _table() -> dict:
    text = resources.files("inventory.data").joinpath("operated.yaml").read_text(encoding="utf-8")
    # libyaml: the pure-Python loader is most of the first runbook command's time.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def _literal(name: str | None) -> str | None:
    """``name`` when it is a real Kubernetes-style name, else ``None`` (placeholders)."""
    if not isinstance(name, str):
        return None
    n = name.strip().strip("'\"")
    return n if _K8S_NAME.match(n) else None


# A kube context's name: GKE's `gke_<project>_<zone>_<cluster>`, EKS's cluster ARN, `user@cluster`.
_CONTEXT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.:@/-]{0,251}[A-Za-z0-9])?$")


def context_name(name: str | None) -> str | None:
    """``name`` when it is a real kube context name (not a placeholder), else ``None``."""
    if not isinstance(name, str):
        return None
    n = name.strip().strip("'\"")
    return n if _CONTEXT_NAME.match(n) else None


def literal_name(name: str | None) -> str | None:
    """``name`` when it is a real Kubernetes-style name (not a placeholder), else ``None``."""
    return _literal(name)


@lru_cache(maxsize=1)
def cluster_scoped_kinds() -> frozenset[str]:
    """kubectl object kinds that are cluster-wide (a command on them operates the cluster)."""
    return frozenset(str(k) for k in _table().get("cluster_scoped", []))


def _owner_of_pod(pod: str) -> str:
    names = pod_owner_names(pod)
    owner = names[-1]
    if owner == pod:
        m = _DS_POD.match(pod)
        owner = m.group(1) if m else pod
    return owner


def _object_kinds(object_kind: str) -> tuple[str, str | None, str]:
    """(entity kind, subtype, Kubernetes kind) for a kubectl object kind (``statefulset``)."""
    table = _table().get("kubernetes_objects", {})
    row = table.get(object_kind)
    if row:
        return str(row[0]), (str(row[1]) if row[1] else None), str(row[2])
    # A custom resource: a resource of its own kind.
    return "other", object_kind, object_kind


@lru_cache(maxsize=1)
def _selector_keys() -> frozenset[str]:
    """Label keys that name a workload (``app``, ``app.kubernetes.io/name``...)."""
    return frozenset(_table().get("selector_keys", []))


# A project's own label key: `kubevirt.io`, `strimzi.io/cluster`.
_PROJECT_LABEL = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+(/(cluster|name|instance|app))?")


def _selector_names(selector: str) -> list[str]:
    """Workload names a label selector picks by a well-known key (``app=etcd`` → etcd)."""
    keys = _selector_keys()  # read once, not per selector (a runbook's `get pods -l` on every service)
    out: list[str] = []
    for part in selector.split(","):
        key, sep, value = part.strip().partition("=")
        key, value = key.rstrip("!").strip(), value.lstrip("=").strip().strip("'\"")
        if not sep or key.endswith("!"):
            continue
        # `kubevirt.io=virt-handler`: a bare domain key is the project's own name label;
        # `strimzi.io/cluster=events`: a project's cluster/name/instance label.
        if (key in keys or _PROJECT_LABEL.fullmatch(key)) \
                and _literal(value):
            out.append(value)
    return out


def named_system(pc: ParsedCommand) -> tuple[str, str, str | None, str, dict[str, str]] | None:
    """What ``pc`` names as the system it operates: ``(kind, name, subtype, how, attributes)``.

    ``None`` when the command names nothing (only placeholders, or a tool that runs on the
    local machine).
    """
    tool, kind, target = pc.tool, (pc.object_kind or "").lower(), pc.target
    table = _table()
    switched = _context_switch(pc)
    if switched:
        return switched
    if tool in _KUBE_TOOLS and _subcommand(pc) in _LOCAL_SUBCOMMANDS:
        return None  # kubeconfig, completion, plugins: the local machine, not a cluster
    if tool in _KUBE_TOOLS:
        found = _kube_named(pc, kind, target)
        if found:
            return found
    row = table.get("tools", {}).get(tool)
    if row:
        name = str(row["name"])
        k = kind_for_image(name)
        return (str(row.get("kind") or (k[0] if k else "other")), name, str(row.get("subtype") or (k[1] if k else name)),
                f"{tool} operates {name}", {})
    if tool in table.get("unit_tools", []) and kind == "unit" and target:
        unit = target.strip().rsplit("/", 1)[-1]
        unit = re.sub(r"\.(service|socket|timer)$", "", unit)
        if _literal(unit):
            return "daemon", unit, "systemd", f"{tool} names the systemd unit {unit}", {}
    cloud = _cloud_named(pc)
    if cloud:
        return cloud
    host = _host_of(pc)
    if host:
        return "other", host, "host", f"{tool} connects to the host {host}", {}
    managed = _managed_named(pc)
    if managed:
        return managed
    if tool in _KUBE_TOOLS or tool in _KUBE_AWARE:
        ns = _literal(pc.namespace)
        if ns:
            return "k8s-namespace", ns, "kubernetes", f"{tool} -n {ns}", {"k8s_kind": "Namespace"}
        flag = "context" if isinstance(pc.flags.get("context"), str) else "kube-context"
        ctx = context_name(str(pc.flags.get(flag) or "") or None)
        if ctx:
            return "k8s-cluster", ctx, "kubernetes", f"{tool} --{flag} {ctx}", {}
        return ("k8s-cluster", CURRENT_CONTEXT, "kube-context",
                f"{tool} names no context: the cluster of the current kube context", {})
    return None


def _kube_named(pc: ParsedCommand, kind: str, target: str | None) -> tuple | None:
    objects = _table().get("kubernetes_objects", {})
    cluster_scoped = cluster_scoped_kinds()
    name = _literal(target.split("/", 1)[1] if target and "/" in target else target)
    if name in {v for v in pc.flags.values() if isinstance(v, str)}:
        name = None  # an option's value (`-o yaml`), not the object's name
    if name and kind and "," not in kind and kind not in cluster_scoped and kind != "manifest" \
            and _subcommand(pc) != "run":  # `kubectl run x`: a new pod in the namespace, no system
        if kind == "pod":
            owner = _owner_of_pod(name)
            ekind, sub, k8s = "service", None, "Pod"
            return (ekind, owner, sub, f"{pc.tool} names the pod {name} (of {owner})",
                    {"k8s_kind": "Pod", _ANY_KIND: "yes"}) if owner else None
        if kind in objects:
            ekind, sub, k8s = _object_kinds(kind)
            return ekind, name, sub, f"{pc.tool} names {kind}/{name}", {"k8s_kind": k8s}
        elif re.fullmatch(r"[a-z][a-z0-9]*(\.[a-z0-9-]+)*", kind) and _subcommand(pc) in _OBJECT_SUBCOMMANDS:
            # A custom resource: named with its kind, since singletons share names (`cluster`).
            crd = kind.split(".", 1)[0]
            return "other", f"{crd}/{name}", crd, f"{pc.tool} names {kind}/{name}", {"k8s_kind": crd}
    selector = pc.flags.get("selector")
    if isinstance(selector, str):
        for wl in _selector_names(selector):
            k = kind_for_image(wl)
            if k:
                return k[0], wl, k[1], f"{pc.tool} selects -l {selector}", {}
            return "service", wl, None, f"{pc.tool} selects -l {selector}", {"k8s_kind": "Deployment", _ANY_KIND: "yes"}
    return None


# kubectl/oc subcommands whose object kind and name are read from their arguments.
_OBJECT_SUBCOMMANDS = frozenset({"get", "describe", "edit", "patch", "delete", "scale", "label", "annotate",
                                 "rollout", "logs", "wait", "set", "apply", "replace"})
_LOCAL_SUBCOMMANDS = frozenset({"config", "completion", "plugin", "kustomize", "krew", "login", "logout", "whoami"})
_KUBE_VALUE_FLAGS = frozenset({"-n", "--namespace", "--context", "--cluster", "--kubeconfig", "--user", "-s",
                               "--server"})


_CLOUD_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
# Tools that run against a kube context and namespace of their own flags (`helm -n x
# --kube-context y`): with nothing more specific named, those name the system.
_KUBE_AWARE = frozenset({"helm", "helmfile", "flux", "argocd", "istioctl", "velero", "stern", "kustomize", "virtctl"})


def _context_switch(pc: ParsedCommand) -> tuple[str, str, str | None, str, dict[str, str]] | None:
    """``kubectx prod-eu`` / ``kubectl config use-context prod-eu``: the cluster it selects."""
    name: str | None = None
    if pc.tool == "kubectx" and pc.object_kind == "context" and len(pc.argv) == 2:
        name = pc.target
    elif pc.tool in _KUBE_TOOLS and pc.argv[1:3] == ["config", "use-context"] and len(pc.argv) == 4:
        name = pc.argv[3]
    lit = context_name(name)
    if not lit:
        return None
    return "k8s-cluster", lit, "kubernetes", f"{pc.tool} selects the context {lit}", {}


def _managed_named(pc: ParsedCommand) -> tuple[str, str, str | None, str, dict[str, str]] | None:
    """What a tool that manages named things names (table ``managed_objects``): a Helm release,
    a Chef role a ``knife`` query or command names, a docker-machine machine."""
    row = (_table().get("managed_objects", {}).get(pc.tool) or {}).get((pc.object_kind or "").lower())
    target = (pc.target or "").strip().strip("'\"")
    if not row or not target:
        return None
    if pc.tool == "knife" and pc.object_kind == "query":
        # `roles:gprd-base-db` / `role:x`: the nodes of one role; any other query names nothing.
        key, sep, value = target.partition(":")
        if not sep or key not in ("role", "roles") or not _literal(value):
            return None
        target = value
    if not _literal(target):
        return None
    kind, sub = str(row[0]), str(row[1])
    if pc.tool == "helm" and isinstance(pc.flags.get("chart"), str):
        k = kind_for_image(str(pc.flags["chart"]).rstrip("/").rsplit("/", 1)[-1])
        if k and k[0] != "other":
            kind, sub = k[0], k[1] or sub
    what = str(row[2]) if len(row) > 2 else (pc.object_kind or "")
    return kind, target, sub, f"{pc.tool} names the {what} {target}", {}


def _cloud_named(pc: ParsedCommand) -> tuple[str, str, str | None, str, dict[str, str]] | None:
    """The bucket, dataset or project a gcloud/gsutil/bq command names (table ``cloud_objects``)."""
    table = _table()
    objects = table.get("cloud_objects", {}).get(pc.tool) or {}
    kind, target = (pc.object_kind or "").lower(), (pc.target or "").strip("'\"")
    group = (pc.verb or "").split(" ", 1)[0] if pc.tool == "gcloud" else ""
    row = objects.get(f"{group} {kind}") or objects.get(kind)  # `sql instances` vs `compute instances`
    if row and target:
        name = target.split(":", 1)[-1].split(".", 1)[0] if pc.tool == "bq" else target
        if _CLOUD_NAME.match(name):
            what = "dataset" if pc.tool == "bq" else " ".join(w for w in (group, kind) if w)
            return str(row[0]), name, str(row[1]), f"{pc.tool} names the {what} {name}", {}
    if pc.tool in table.get("cloud_project_tools", []):
        project = pc.flags.get("project") or pc.flags.get("project_id")
        if isinstance(project, str) and _CLOUD_NAME.match(project.strip("'\"")):
            p = project.strip("'\"")
            return "other", p, "gcp-project", f"{pc.tool} --project {p}", {}
    return None


def _on_remote(pc: ParsedCommand, remote: tuple[ParsedCommand, str | None] | None) -> tuple | None:
    """The host or Chef role a command naming nothing runs on, by the command carrying it there."""
    if remote is None:
        return None
    found = named_system(remote[0])
    if found is None or found[1] == CURRENT_CONTEXT:
        return None
    kind, name, sub, how, attrs = found
    where = f" (in the shell opened by {remote[1]})" if remote[1] else f" (through {remote[0].tool})"
    return kind, name, sub, f"{pc.tool} runs where {how}{where}", dict(attrs)


def _defined_by_path(builder: InventoryBuilder) -> dict[str, list[Entity]]:
    """Scanned file path → the entities it defines (not what runbooks named), built once."""
    idx = builder.__dict__.get("_defined_by_path")
    if idx is None:
        idx = {}
        for ent in sorted([*builder.components.values(), *builder.resources.values()], key=lambda e: e.id):
            if ent.attributes.get("operated_from"):
                continue
            for path in {ev.path for ev in ent.evidence}:
                idx.setdefault(path, []).append(ent)
        builder.__dict__["_defined_by_path"] = idx
    return idx


def _defined_in_file(builder: InventoryBuilder, pc: ParsedCommand, runbook: str, cwd: str | None) -> Entity | None:
    """``kubectl apply -f examples/kafka/kafka-ephemeral.yaml``: the one system the manifest file
    defines (its one workload when it also holds that workload's Service or ConfigMap, the one
    Kafka when it also holds its node pools), found
    from the runbook's folder, the session's directory or the repository root; ``None`` when
    the path is not one scanned file, or the file defines several systems."""
    path = str(pc.flags.get("filename") or "")
    if not path or "," in path or any(c in path for c in "$<>{}*`") or path.startswith(("/", "~", "-")) \
            or "://" in path or cwd == "":
        return None
    idx = _defined_by_path(builder)
    here = runbook.rsplit("/", 1)[0] if "/" in runbook else "."
    for base in [b for b in (cwd, here, ".") if b is not None]:
        p = posixpath.normpath(posixpath.join(base, path)) if base != "." else posixpath.normpath(path)
        found = idx.get(p)
        if p.startswith("..") or not found:
            continue
        comps = [e for e in found if isinstance(e, Component)]
        if len(comps) == 1:
            return comps[0]
        # A Kafka with its node pools, a database with its ConfigMap: the one real system.
        systems = [e for e in found if e.kind != "other"] if not comps else []
        if len(systems) == 1:
            return systems[0]
        return found[0] if len(found) == 1 else None
    return None


_IMAGE_TOOLS = frozenset({"docker", "podman", "nerdctl", "buildah"})


def _image_repository(ref: str) -> str | None:
    """``registry.example.com:5000/team/app:1.2@sha256:..`` → ``team/app`` (no registry, tag or
    digest); ``None`` for placeholders and build contexts."""
    ref = ref.strip().strip("'\"").split("@", 1)[0]
    if not ref or any(c in ref for c in "$<>{}`") or ref in (".", "..") or ref.startswith(("./", "/", "-")):
        return None
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    last = parts[-1].split(":", 1)[0]
    repo = "/".join([*parts[:-1], last]).lower()
    return repo if re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", repo) else None


def _running_image(builder: InventoryBuilder, pc: ParsedCommand) -> Entity | None:
    """``docker build -t flink-beam-example:latest .`` / ``docker push acme/orders:1``: the one
    scanned workload that runs that image (same repository, any registry and tag)."""
    idx = builder.__dict__.get("_by_image")
    if idx is None:
        idx = {}
        for ent in sorted(builder.components.values(), key=lambda e: e.id):
            repo = _image_repository(ent.image) if ent.image and not ent.attributes.get("operated_from") else None
            if repo:
                idx.setdefault(repo, []).append(ent)
        builder.__dict__["_by_image"] = idx
    refs: list[str] = []
    args = pc.argv[1:]
    for i, a in enumerate(args):
        if a in ("-t", "--tag") and i + 1 < len(args):
            refs.append(args[i + 1])
        elif a.startswith("--tag="):
            refs.append(a.split("=", 1)[1])
    if pc.verb in ("push", "tag") and pc.target:
        refs.append(pc.target)
    found = {e.id: e for r in refs for e in idx.get(_image_repository(r) or "", [])}
    return next(iter(found.values())) if len(found) == 1 else None


def terraform_roots(builder: InventoryBuilder) -> TerraformRoots:
    """The builder's Terraform root index, built once (the actions stage adds no Terraform code)."""
    idx = builder.__dict__.get("_terraform_roots")
    if idx is None:
        idx = TerraformRoots.from_entities([*builder.components.values(), *builder.resources.values()])
        builder.__dict__["_terraform_roots"] = idx
    return idx


def _unread_script(pc: ParsedCommand) -> bool:
    """``pc`` runs a local script (one the scan read is expanded before it gets here)."""
    prog = pc.argv[0] if pc.argv else ""
    return prog.startswith(("./", "../")) or prog.endswith(".sh")


def _subcommand(pc: ParsedCommand) -> str | None:
    """The first word after the tool that is not an option or an option's value."""
    skip = False
    for arg in pc.argv[1:]:
        if skip:
            skip = False
            continue
        if arg in _KUBE_VALUE_FLAGS:
            skip = True
            continue
        if not arg.startswith("-"):
            return arg
    return None


def _host_of(pc: ParsedCommand) -> str | None:
    """The remote host a command connects to, when it is a real hostname."""
    texts: list[str] = []
    if pc.tool == "ssh" and pc.target:
        texts.append(pc.target)
    if pc.object_kind == "url" and pc.target:
        texts.append(pc.target)
    for key in ("host", "hostname", "server", "url", "endpoint", "connect"):
        val = pc.flags.get(key)
        if isinstance(val, str):
            texts.append(val)
    # `poetry run locust --host=https://api.staging.example.com`: a tool the parser does not
    # know still names the host it is pointed at in a `--host=`/`--url=` option.
    texts += [a.split("=", 1)[1] for a in pc.argv[1:]
              if a.startswith(("--host=", "--url=", "--endpoint=", "--server=", "--base-url="))]
    for text in texts:
        h = text.split("@", 1)[-1].split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].lower()
        if h and h not in _LOCAL_HOSTS and not _IP.match(h) and _HOSTNAME.match(h) and not h.endswith(".local"):
            return h
    return None


def operated_system(builder: InventoryBuilder, pc: ParsedCommand, sighting: CommandSighting,
                    environment: str | None = None, named_by: str | None = None,
                    session: str | None = None, cwd: str | None = None,
                    patterns: dict[str, list[str]] | None = None,
                    remote: tuple[ParsedCommand, str | None] | None = None) -> Entity | None:
    """The system ``pc`` (seen in a runbook) operates: an existing entity of that name and kind,
    else a new one with the runbook line as evidence; ``None`` when it names nothing.

    ``environment`` is what the command line itself names (its namespace, context, project or
    host): a system made here is placed there, with the line as evidence; ``named_by`` says what
    on the line names it (``the host api.gprd.example.com``); ``session``: where the namespace
    the command runs in was set, when an earlier line of the runbook set it
    (:mod:`inventory.kubesession`); ``cwd``: where a ``cd`` earlier on the line went (``""``:
    out of the scanned tree). A command that runs a Terraform root module operates that root
    (:mod:`inventory.tfroots`), placed by the root's per-environment directory. ``remote``: the
    command that carries this one to another machine (``ssh host cmd``, ``knife ssh 'roles:x'
    cmd``) with, for a shell an earlier ``ssh host`` opened, the note saying where: a command
    that names nothing of its own operates that host or role."""
    if pc.tool in _KUBE_TOOLS and (pc.object_kind or "") == "manifest":
        defined = _defined_in_file(builder, pc, sighting.evidence.path, cwd)
        if defined is not None:
            return defined
    if pc.tool in _IMAGE_TOOLS and pc.verb in ("build", "push", "tag", "buildx build"):
        running = _running_image(builder, pc)
        if running is not None:
            return running
    named = named_system(pc)
    root_env: tuple[str, str, Evidence] | None = None
    if named is None:
        found_root = root_named(terraform_roots(builder), pc, sighting.evidence.path, cwd, _unread_script(pc))
        if found_root is None:
            named = _on_remote(pc, remote)
            if named is None:
                return None
        else:
            root, how = found_root
            named = ("other", root, "terraform-root", how, {"terraform_root": root})
            hit = environment_of_path(root + "/x", patterns)
            if hit:
                ev = Evidence(path=terraform_roots(builder).first_file.get(root, root), line=1)
                root_env = (hit[0], f"the root module {root}/ is in the per-environment directory {hit[1]}/", ev)
    kind, name, subtype, how, attrs = named
    if session:
        how = f"{how} ({session})"
    found = builder.find(name, kind)
    if not found and attrs.pop(_ANY_KIND, None):
        # A pod's owner or a selected workload: its kind was a guess, the inventory knows better.
        found = builder.find(name)
    attrs.pop(_ANY_KIND, None)
    if len(found) > 1:
        return None  # ambiguous: several systems of that name
    if found:
        ent = found[0]
        if ent.attributes.get("operated_from") and sighting.evidence not in ent.evidence:
            ent.evidence.append(sighting.evidence)
    else:
        ent_id = entity_id(kind, f"tf-root-{name}" if subtype == "terraform-root" else name)
        cls = Component if kind in ("service", "job", "cron-job", "daemon") else Resource
        ns = _literal(pc.namespace) if kind not in ("k8s-namespace", "k8s-cluster") and pc.tool in _KUBE_TOOLS else None
        ent = builder.add_entity(cls(id=ent_id, kind=kind, name=name, subtype=subtype, namespace=ns,
                                     attributes={**attrs, "operated_from": how}, evidence=[sighting.evidence]))
        builder.seen_by.setdefault(ent_id, set()).add("runbooks")
    if root_env and ent.attributes.get("terraform_root"):
        add_source(ent, root_env[0], root_env[1], "terraform-root", [root_env[2]])
    # A command's environment places what it names; the current context's cluster is never
    # named (one `-n acme-staging` does not make the whole cluster staging).
    if environment and ent.attributes.get("operated_from") and ent.name != CURRENT_CONTEXT:
        how = (f"a runbook command on it names {environment}: {named_by}" if named_by else
               f"runbook commands on it name {environment} (namespace, context, project or host)")
        add_source(ent, environment, how, "runbook-command", [sighting.evidence])
    return ent
