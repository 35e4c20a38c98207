"""Infrastructure as code and cloud CLIs: terraform, aws, gcloud, gsutil, bq, az."""

from __future__ import annotations

import re

from inventory.commands.model import ParsedCommand
from inventory.commands.options import parse_options, spec
from inventory.commands.sql import primary_object, sql_kinds
from inventory.commands.tools import ToolContext

_TF = spec(
    values="target var var-file out state state-out backup replace lock-timeout parallelism chdir "
    "backend-config plugin-dir from-module",
    multi="target replace",
    drop="var backend-config",
    single_dash_long=True,
)
_TF_SUB = {"state": {"rm", "mv", "list", "show", "pull", "push", "replace-provider", "identities"},
           "workspace": {"select", "new", "delete", "list", "show"},
           "providers": {"lock", "mirror", "schema"}}


def parse_terraform(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """terraform/tofu/terragrunt: verb (``apply -destroy`` → destroy), targets, addresses, workspace."""
    p = parse_options(args, _TF)
    pos = p.positionals
    if not pos:
        return
    verb, rest = pos[0], pos[1:]
    if pc.tool == "terragrunt" and verb in ("run-all", "run") and rest:
        pc.flags["run-all"] = True
        verb, rest = rest[0], rest[1:]
    if verb in _TF_SUB and rest and rest[0] in _TF_SUB[verb]:
        verb, rest = f"{verb} {rest[0]}", rest[1:]
    flags = dict(p.flags)
    if verb in ("apply", "plan") and flags.pop("destroy", None):
        pc.flags["destroy"] = True
        verb = "destroy" if verb == "apply" else "plan"
    pc.verb = verb
    pc.flags.update(flags)
    if isinstance(flags.get("target"), str):
        pc.object_kind, pc.target = "resource", str(flags["target"])
    if verb in ("import",) and rest:
        pc.object_kind, pc.target = "resource", rest[0]
    elif verb in ("state rm", "state mv", "state show", "taint", "untaint") and rest:
        pc.object_kind, pc.target = "resource", rest[0]
        if len(rest) > 1 and verb != "state mv":
            pc.flags["addresses"] = ",".join(rest)
    elif verb.startswith("workspace") and rest:
        pc.object_kind, pc.target = "workspace", rest[0]
    elif verb == "apply" and rest:
        pc.flags["plan-file"] = rest[0]
    elif verb == "output" and rest:
        pc.object_kind, pc.target = "output", rest[0]


_AWS_GLOBAL = ("region profile output endpoint-url query color cli-read-timeout cli-connect-timeout "
               "ca-bundle cli-binary-format")
_AWS = spec(
    values=_AWS_GLOBAL + " bucket key acl policy secret-id secret-string secret-binary value name role-name user-name "
    "group-name policy-arn db-instance-identifier db-cluster-identifier target-db-instance-identifier "
    "instance-ids table-name key-id function-name queue-url topic-arn stack-name log-group-name cluster "
    "cluster-name cluster-arn hosted-zone-id change-batch include exclude storage-class sse grants "
    "replication-group-id cache-cluster-id snapshot-identifier db-snapshot-identifier pending-window-in-days "
    "service task-definition desired-count repository-name image-ids parameter-name body cli-input-json "
    "force-failover alias profile-name distribution-id paths",
    secret="secret-string secret-binary value cli-input-json body",
    drop="policy change-batch grants image-ids",
)
_AWS_ID_OPTS = re.compile(r"^(.+?)-(name|id|ids|identifier|arn|url)$")


def _bucket(url: str) -> str | None:
    m = re.match(r"^(?:s3|gs|az)://([^/]+)", url)
    return m.group(1) if m else None


def parse_aws(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """aws: ``service subcommand`` as verb; target from the S3 URL or the first ``--*-name/-id`` option."""
    p = parse_options(args, _AWS)
    pos = p.positionals
    if not pos:
        return
    service = pos[0]
    op = pos[1] if len(pos) > 1 else ""
    rest = pos[2:]
    pc.verb = f"{service} {op}".strip()
    flags = {k: v for k, v in p.flags.items() if k not in ("output", "query", "color", "cli-binary-format")}
    pc.flags.update(flags)
    if service == "s3":
        pc.object_kind = "bucket"
        urls = [r for r in rest if r.startswith("s3://")]
        if urls:
            pc.target = _bucket(urls[0])
            if op in ("cp", "sync", "mv") and len(rest) >= 2:
                src, dst = rest[0], rest[1]
                pc.flags["direction"] = (
                    "download" if src.startswith("s3://") and not dst.startswith("s3://")
                    else "upload" if dst.startswith("s3://") and not src.startswith("s3://") else "copy"
                )
        return
    if isinstance(p.flags.get("bucket"), str):
        pc.object_kind, pc.target = "bucket", str(p.flags["bucket"])
        return
    for key, values in p.raw_values.items():
        m = _AWS_ID_OPTS.match(key)
        if m and key not in ("profile-name", "key-name"):
            pc.object_kind = m.group(1)
            pc.target = values[0].split()[0] if values[0] else None
            break
    else:
        if isinstance(p.flags.get("name"), str):
            pc.object_kind = {"eks": "cluster", "ssm": "parameter", "ecr": "repository"}.get(service, service)
            pc.target = str(p.flags["name"])


_GCLOUD = spec(
    values="project zone region format account configuration impersonate-service-account verbosity filter limit "
    "sort-by location cluster instance database member role secret data-file keyring key version "
    "image tag platform service-account quiet-mode command ssh-flag",
    aliases={"q": "quiet"},
    drop="data-file",
    public="secret",
)
_GCLOUD_VERBS = {
    "list", "describe", "create", "delete", "update", "get-credentials", "set-iam-policy", "get-iam-policy",
    "add-iam-policy-binding", "remove-iam-policy-binding", "ssh", "scp", "deploy", "start", "stop", "reset",
    "resize", "failover", "restart", "export", "import", "patch", "connect", "set", "get-value", "login",
    "activate-service-account", "print-access-token", "access", "add", "remove", "cp", "rm", "ls", "cat",
    "mv", "rsync", "promote-replica", "clone", "execute-sql", "disable", "enable", "destroy", "restore",
    "apply", "rollback", "submit", "run", "cancel", "publish", "pull", "ack", "seek", "call", "logs", "read",
    "tail", "upgrade", "get-server-config", "set-value", "execute", "replace", "wait", "resume", "suspend", "reboot",
    "attach", "detach", "move", "sign-url", "config-helper", "print-identity-token", "print-refresh-token", "get",
    "unset", "activate", "revoke", "submit", "switchover", "reencrypt", "decrypt", "encrypt",
    "create-auto", "snapshot", "add-labels", "remove-labels", "set-machine-type",
}


def _group_verb(pos: list[str], verbs: set[str]) -> tuple[list[str], str, list[str]]:
    for i, w in enumerate(pos):
        if w in verbs:
            return pos[:i], w, pos[i + 1 :]
    return pos[:-1], (pos[-1] if pos else "unknown"), []


# gcloud groups spelled like verbs: `gcloud run services list`, `gcloud functions logs read`.
_GCLOUD_GROUP_FIRST = frozenset({"run", "access-context-manager", "deploy"})
_GCLOUD_GROUP_BEFORE_VERB = frozenset({"logs", "access", "set", "import", "export", "connect", "run"})


def _gcloud_path(pos: list[str]) -> tuple[list[str], str, list[str]]:
    """``(groups, verb, rest)`` of a gcloud command by position: a verb-like word is a group
    when it opens the command (``run``) or when another verb follows it (``logs read``)."""
    for i, w in enumerate(pos):
        if w not in _GCLOUD_VERBS:
            continue
        if i == 0 and w in _GCLOUD_GROUP_FIRST and len(pos) > 1:
            continue
        if w in _GCLOUD_GROUP_BEFORE_VERB and i + 1 < len(pos) and pos[i + 1] in _GCLOUD_VERBS:
            continue
        return pos[:i], w, pos[i + 1 :]
    return pos[:-1], (pos[-1] if pos else "unknown"), []


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def parse_gcloud(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """gcloud: ``group... verb`` as verb (``sql instances delete``), object kind from the last group."""
    p = parse_options(args, _GCLOUD)
    pos = [w for w in p.positionals if w not in ("alpha", "beta")]
    groups, verb, rest = _gcloud_path(pos)
    pc.verb = " ".join([*groups, verb]).strip() or "unknown"
    pc.flags.update({k: v for k, v in p.flags.items() if k not in ("format", "verbosity", "filter", "sort-by")})
    if groups:
        pc.object_kind = _singular(groups[-1])
    members = p.raw_values.get("member", [])
    if any(m in ("allUsers", "allAuthenticatedUsers") for m in members):
        pc.flags["public"] = True
    if groups and groups[0] == "storage":
        urls = [r for r in rest if r.startswith("gs://")]
        pc.object_kind = "bucket"
        pc.target = _bucket(urls[0]) if urls else None
        return
    if rest:
        pc.target = rest[0]
    elif isinstance(p.flags.get("secret"), str):
        pc.object_kind, pc.target = "secret", str(p.flags["secret"])
    command = p.flags.get("command")
    if verb == "ssh" and isinstance(command, str):
        # `gcloud compute ssh VM --command CMD`: CMD runs on the VM.
        return ctx.parse_script(command, "gcloud compute ssh")
    if verb == "ssh" and p.after_dashdash:
        return ctx.parse_script(" ".join(p.after_dashdash), "gcloud compute ssh")
    return None


_GSUTIL_SUB = {"acl", "iam", "defacl", "versioning", "lifecycle", "retention", "label", "logging", "web", "cors",
               "kms", "notification", "requesterpays", "ubla", "bucketpolicyonly", "pap", "autoclass", "rpo"}


def parse_gsutil(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """gsutil: ls/cp/rsync/rm/mb/rb and ``acl ch``/``iam ch``; public grants flagged."""
    p = parse_options(args, spec(values="u o h p", aliases={}), stop_at_positional=True)
    pos = p.positionals
    if not pos:
        return
    verb, rest = pos[0], pos[1:]
    if verb in _GSUTIL_SUB and rest:
        verb, rest = f"{verb} {rest[0]}", rest[1:]
    sub = parse_options(rest, spec(values="u g p d x c i", aliases={}))
    pc.verb = verb
    pc.object_kind = "bucket"
    urls = [r for r in sub.positionals if r.startswith("gs://")]
    pc.target = _bucket(urls[0]) if urls else None
    for key, name in (("r", "recursive"), ("R", "recursive"), ("d", "delete"), ("m", "parallel")):
        if sub.flags.get(key) is True or (key == "m" and p.flags.get("m")):
            pc.flags[name] = True
    text = " ".join(rest)
    if re.search(r"\b(allUsers|AllUsers|allAuthenticatedUsers|AllAuthenticatedUsers)\b", text):
        pc.flags["public"] = True
    if verb in ("cp", "rsync", "mv") and len(sub.positionals) >= 2:
        src, dst = sub.positionals[0], sub.positionals[-1]
        pc.flags["direction"] = ("download" if src.startswith("gs://") and not dst.startswith("gs://")
                                 else "upload" if dst.startswith("gs://") and not src.startswith("gs://") else "copy")


def parse_bq(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """bq: query (SQL kinds), rm/ls/show/mk/extract/load/cp of datasets and tables."""
    p = parse_options(args, spec(values="project_id location format dataset_id destination_table max_rows "
                                       "parameter api", aliases={}))
    pos = p.positionals
    if not pos:
        return
    pc.verb, rest = pos[0], pos[1:]
    pc.flags.update({k: v for k, v in p.flags.items() if k in ("f", "r", "force", "recursive", "project_id",
                                                                "location", "use_legacy_sql", "dataset",
                                                                "table", "destination_table", "replace")})
    if pc.verb == "query":
        sql = " ".join(rest) or ctx.stdin
        if sql:
            pc.sql = sql
            pc.sql_kinds = sql_kinds(sql)
            pc.object_kind, pc.target = primary_object(sql)
        return
    pc.object_kind = "dataset"
    if rest:
        pc.target = rest[0]
        if "." in rest[0] or ":" in rest[0].split(".", 1)[-1]:
            pc.object_kind = "table" if rest[0].count(".") >= 1 and not p.flags.get("d") else "dataset"
    if pc.verb == "extract" and len(rest) > 1:
        pc.flags["destination"] = rest[1]


_AZ = spec(values="name resource-group subscription vault-name account-name container-name output query "
           "location ids scope role assignee file id key value secret password", aliases={
               "n": "name", "g": "resource-group", "o": "output", "l": "location", "f": "file"},
           secret="value secret password")
_AZ_VERBS = _GCLOUD_VERBS | {"show", "purge", "download", "upload", "upload-batch", "download-batch",
                             "get-access-token", "set-policy", "assign", "recover", "scale", "swap"}


def parse_az(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """az: ``group... verb`` as verb; target from --name/-n (or --vault-name)."""
    p = parse_options(args, _AZ)
    groups, verb, rest = _group_verb(p.positionals, _AZ_VERBS)
    pc.verb = " ".join([*groups, verb]).strip() or "unknown"
    if groups:
        pc.object_kind = _singular(groups[-1])
    for key in ("name", "vault-name", "account-name", "container-name", "resource-group"):
        if isinstance(p.flags.get(key), str):
            pc.target = str(p.flags[key])
            break
    pc.flags.update({k: v for k, v in p.flags.items() if k not in ("output", "query", "name")})


PARSERS = {
    "terraform": parse_terraform,
    "terragrunt": parse_terraform,
    "aws": parse_aws,
    "awslocal": parse_aws,
    "gcloud": parse_gcloud,
    "gsutil": parse_gsutil,
    "bq": parse_bq,
    "az": parse_az,
}
