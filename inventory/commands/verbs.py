"""Parsed commands → the action vocabulary shared with implied actions and the classifier.

Tools have their own words (``kubectl rollout restart``, ``kafka-topics --delete``,
``redis-cli FLUSHALL``, ``psql -c 'DROP TABLE'``); action classes use one vocabulary so a
runbook command and the implied standard operation on the same entity get the same id
(``service:orders-api/restart``). The vocabulary is documented in
``inventory/data/implied_actions.yaml``.

Also here: which entity kinds a command's target can be (``kubectl delete kafkatopic x`` →
``kafka-topic``), and which names to try (``orders-db.acme-prod.svc`` → ``orders-db``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from inventory.commands.model import ParsedCommand
from inventory.commands.tools.system import UTILITIES
from inventory.kinds import kind_for_terraform

COMPONENTS = ("service", "daemon", "job", "cron-job")
DATABASES = ("postgres", "mysql", "clickhouse", "document-db", "search")
_SENSITIVE_FILE = re.compile(r"(?i)(\.pem$|\.key$|id_rsa|id_ed25519|\.env$|shadow$|kubeconfig|credentials|"
                             r"secret|token|\.p12$|\.pfx$|\.kube/config|\.pgpass|\.netrc|\.my\.cnf)")

# kubectl kind → entity kinds its name may refer to (None: any kind).
_K8S_KINDS: dict[str, tuple[str, ...] | None] = {
    "deployment": COMPONENTS, "pod": None, "service": None, "replicaset": COMPONENTS,
    "statefulset": None, "daemonset": ("daemon", "service"), "job": ("job", "cron-job"),
    "cronjob": ("cron-job",), "namespace": ("k8s-namespace",), "kafkatopic": ("kafka-topic",),
    "kafka": ("kafka-cluster",), "kafkauser": ("kafka-user",), "secret": ("secret",),
    "persistentvolumeclaim": ("volume",), "persistentvolume": ("volume",),
    "horizontalpodautoscaler": COMPONENTS, "ingress": ("service", "dns"), "networkpolicy": ("network",),
    "serviceaccount": ("iam",), "role": ("iam",), "rolebinding": ("iam",), "clusterrole": ("iam",),
    "clusterrolebinding": ("iam",),
}


# A word that can name a program: output lines pasted into runbooks ("HTTP/1.1 200",
# "...", "]") start with words that cannot.
_PROGRAM = re.compile(r"^[A-Za-z_$~./][\w.+@:$/{}()-]*$")


@lru_cache(maxsize=4096)  # the same few tools on every line (bounded: any first word is a tool)
def _names_program(tool: str) -> bool:
    """Whether ``tool`` is a word that can name a program (of a program's characters, with a letter)."""
    return bool(_PROGRAM.match(tool)) and any(ch.isalpha() for ch in tool)


def is_noise(pc: ParsedCommand) -> bool:
    """Shell builtins, text utilities and non-program words are not actions; reading a sensitive file is."""
    tool, verb = pc.tool, pc.verb  # read once: a model's attribute is a slower lookup than a local
    if not _names_program(tool):
        return True
    if tool in ("write-file", "read-file"):
        # `> out.txt`, `curl -o f`, `-d @f`: part of the command they belong to, not an operation
        # of their own (the line's classification still judges the path).
        return True
    if tool == "env" and verb in ("exec-var", "load-code"):
        return True
    if verb == "shell" and pc.via and "exec" in pc.via:
        return True  # `kubectl exec -it pod -- bash`: the exec itself is the action
    group = UTILITIES.get(tool)
    if group is None:
        return False
    if group[0] == "read":
        return not (pc.target and _SENSITIVE_FILE.search(pc.target))
    return True


def _sql_verb(kinds: list[str]) -> str:
    k = set(kinds)
    for kind, verb in (("program", "remote-exec"), ("drop", "drop"), ("truncate", "truncate"),
                       ("delete-all", "truncate"), ("update-all", "truncate"), ("revoke", "revoke"),
                       ("grant", "grant"), ("create user", "grant"), ("create role", "grant"),
                       ("alter user", "grant"), ("alter role", "grant"), ("admin", "db-admin"),
                       ("file-access", "copy-out"), ("copy-out", "copy-out"), ("remote-sql", "migrate"),
                       ("unknown", "migrate"), ("alter", "migrate"), ("create", "migrate"),
                       ("rename", "migrate"), ("comment", "migrate")):
        if kind in k:
            return verb
    if k & {"delete", "update", "insert", "copy", "merge", "replace", "upsert", "load", "call", "do",
            "vacuum", "reindex", "cluster", "refresh", "lock", "set", "admin"}:
        return "query-write"
    if not k or k <= {"select", "explain", "show", "describe", "meta", "with", "values", "table", "use"}:
        return "query-read"
    return "query-write"


# kubectl/oc subcommand -> action verb, for those not decided above (a constant: asked for most
# commands of a runbook).
_KUBECTL_VERBS = {
    "logs": "logs", "exec": "exec", "attach": "exec", "debug": "exec", "cp": "copy", "delete": "delete",
    "apply": "deploy", "replace": "deploy", "set image": "deploy", "create": "create", "edit": "edit",
    "patch": "edit", "label": "edit", "annotate": "edit", "set env": "edit", "set resources": "edit",
    "taint": "edit", "scale": "scale", "autoscale": "scale", "rollout restart": "restart",
    "rollout undo": "rollback", "rollout status": "describe", "rollout history": "describe",
    "rollout pause": "suspend", "rollout resume": "resume", "port-forward": "port-forward",
    "drain": "drain", "cordon": "cordon", "uncordon": "uncordon", "run": "run", "diff": "describe",
    "wait": "describe", "auth can-i": "describe", "config use-context": "use-context",
    "expose": "create",
}


def _kubectl(pc: ParsedCommand) -> str:
    v = pc.verb
    kind = pc.object_kind or ""
    if v in ("get", "describe", "top", "explain"):
        if kind == "secret" and (pc.flags.get("output") or v == "describe") and pc.target:
            out = str(pc.flags.get("output", ""))
            return "read-value" if out.startswith(("yaml", "json", "jsonpath", "go-template", "template")) else "describe"
        if kind == "secret" and str(pc.flags.get("output", "")).startswith(("yaml", "json", "jsonpath")):
            return "read-value"
        return "describe" if pc.target else "list"
    if v == "create" and kind == "job" and str(pc.flags.get("from", "")).startswith(("cronjob/", "cj/")):
        return "rerun"
    if v == "patch" and kind == "cronjob" and "suspend" in str(pc.flags.get("patch", "")):
        return "resume" if '"suspend":false' in str(pc.flags.get("patch", "")).replace(" ", "") else "suspend"
    if kind == "pod" and v in ("delete", "edit", "patch", "label", "annotate"):
        # Acting on one pod is not acting on its workload: deleting a pod restarts it.
        return "delete-pod" if v == "delete" else "edit-pod"
    if v.startswith("config") and v != "config use-context":
        return "describe" if v in ("config view", "config current-context", "config get-contexts") else "edit"
    return _KUBECTL_VERBS.get(v, v)


# kafka-topics/kafka-configs/... subcommand -> action verb.
_KAFKA_VERBS = {"alter": "alter-config", "describe": "describe", "list": "list", "create": "create",
                "delete": "delete", "delete-records": "delete-records", "consume": "consume",
                "produce": "produce", "elect-leaders": "elect-leaders"}


def _kafka(pc: ParsedCommand) -> str:
    if pc.tool == "kafka-acls":
        return {"add": "alter-acls", "remove": "alter-acls", "list": "describe"}.get(pc.verb, pc.verb)
    if pc.tool == "kafka-consumer-groups":
        return {"reset-offsets": "reset-offsets", "delete-offsets": "reset-offsets",
                "describe": "describe", "list": "list", "delete": "delete"}.get(pc.verb, pc.verb)
    if pc.tool == "kafka-reassign-partitions":
        return "reassign-partitions" if pc.verb == "execute" else "describe"
    return _KAFKA_VERBS.get(pc.verb, pc.verb)


def _redis(pc: ParsedCommand) -> str:
    v = pc.verb
    if v in ("flushall", "flushdb"):
        return "flush"
    if v == "config set":
        return "config-set"
    if v in ("shutdown", "debug segfault", "replicaof", "slaveof", "failover", "cluster failover"):
        return "failover" if "failover" in v or v in ("replicaof", "slaveof") else "shutdown"
    if v in ("connect", "monitor"):
        return "connect" if v == "connect" else "read"
    reads = {"get", "mget", "keys", "scan", "info", "ttl", "type", "exists", "hget", "hgetall", "lrange",
             "smembers", "zrange", "strlen", "dbsize", "ping", "config get", "client list", "slowlog get",
             "memory usage", "bigkeys", "memkeys", "hotkeys", "stat", "latency", "xrange", "xinfo stream",
             "llen", "scard", "zcard", "hlen", "hkeys", "object encoding", "cluster info", "cluster nodes"}
    return "read" if v in reads else "write"


def _aws(pc: ParsedCommand) -> str:
    service, _, op = pc.verb.partition(" ")
    if service == "s3":
        if op == "cp" and pc.argv[-1:] == ["-"] and not (pc.flags.get("recursive") or pc.flags.get("r")):
            return "read"  # one object printed to the terminal: `aws s3 cp s3://b/k -`
        if op in ("cp", "sync", "mv"):
            return {"download": "copy-out", "upload": "write"}.get(str(pc.flags.get("direction")), "copy-out")
        # A presigned URL lets anyone holding it read the object: an export, not a read.
        return {"ls": "list", "rm": "delete", "rb": "delete", "mb": "create", "presign": "copy-out"}.get(op, op)
    if service == "s3api":
        acl = str(pc.flags.get("acl", ""))
        if op in ("put-bucket-acl", "put-object-acl") and acl.startswith("public"):
            return "make-public"
        if op in ("put-bucket-policy", "delete-public-access-block", "put-public-access-block"):
            return "make-public" if op == "delete-public-access-block" else "change-policy"
        if op in ("get-object",):
            return "copy-out"
        if op in ("put-object", "copy-object"):
            return "write"
    if service == "rds":
        if op.startswith("failover"):
            return "failover"
        if op.startswith("reboot"):
            return "restart"
        if op.startswith(("delete-db-instance", "delete-db-cluster")) and "snapshot" not in op:
            return "drop"
        if op.startswith("create-db") and "snapshot" in op:
            return "dump"
        if op.startswith("modify"):
            return "alter-config"
    if service == "secretsmanager":
        return {"get-secret-value": "read-value", "list-secrets": "list", "describe-secret": "describe",
                "put-secret-value": "write", "update-secret": "write", "create-secret": "write",
                "delete-secret": "delete", "rotate-secret": "write"}.get(op, op)
    if service == "ssm" and op in ("get-parameter", "get-parameters", "get-parameters-by-path"):
        return "read-value" if pc.flags.get("with-decryption") else "describe"
    if service == "ssm" and op == "put-parameter":
        return "write"
    if service == "iam":
        if re.match(r"(attach|put|add|create-access-key|create-login-profile|update-assume-role)", op):
            return "grant"
        if re.match(r"(detach|remove|delete-(role|user|group)-policy)", op):
            return "revoke"
        if op.startswith(("get", "list")):
            return "read"
    if service == "kms":
        return {"disable-key": "disable", "schedule-key-deletion": "schedule-deletion",
                "describe-key": "describe"}.get(op, op)
    if service == "route53" and op == "change-resource-record-sets":
        return "change"
    if service == "eks" and op == "update-kubeconfig":
        return "use-context"
    for prefix, verb in (("describe-", "describe"), ("list-", "list"), ("get-", "read"), ("delete-", "delete"),
                         ("create-", "create"), ("update-", "change"), ("modify-", "change"), ("put-", "change")):
        if op.startswith(prefix):
            return verb
    return op or "unknown"


def _cloud_cli(pc: ParsedCommand) -> str:
    """gcloud / az: the last word of the verb path, in the shared vocabulary."""
    words = pc.verb.split()
    last = words[-1] if words else "unknown"
    if "secrets" in words and ("access" in words or last == "show") and ("versions" in words or pc.tool == "az"):
        return "read-value"
    if last == "add-iam-policy-binding":
        return "make-public" if pc.flags.get("public") else "grant"
    if last == "remove-iam-policy-binding":
        return "revoke"
    if pc.tool == "gcloud" and "storage" in words and last in ("cp", "rsync"):
        return "copy-out"
    return {"list": "list", "describe": "describe", "show": "describe", "delete": "delete", "create": "create",
            "update": "change", "patch": "change", "get-credentials": "use-context", "failover": "failover",
            "restart": "restart", "export": "copy-out", "deploy": "deploy", "ssh": "exec", "connect": "connect",
            "rm": "delete", "ls": "list", "cat": "read", "purge": "delete", "set-iam-policy": "grant",
            "get-iam-policy": "read", "stop": "stop", "start": "start", "disable": "disable",
            "destroy": "delete", "promote-replica": "failover", "resize": "scale", "scale": "scale"}.get(last, last)


def _gsutil(pc: ParsedCommand) -> str:
    if pc.flags.get("public"):
        return "make-public"
    v = pc.verb
    if v in ("cp", "rsync", "mv"):
        return "write" if pc.flags.get("direction") == "upload" else "copy-out"
    if v.startswith(("acl ch", "iam ch", "acl set", "iam set", "defacl")):
        return "grant"
    return {"ls": "list", "du": "list", "cat": "read", "rm": "delete", "rb": "delete", "mb": "create",
            "stat": "describe"}.get(v, v)


def _databases(pc: ParsedCommand) -> str:
    if pc.tool in ("psql", "mysql", "clickhouse-client", "bq") and pc.verb in ("sql", "query"):
        return _sql_verb(pc.sql_kinds)
    if pc.tool == "bq":
        return {"rm": "delete", "ls": "list", "show": "describe", "head": "read", "extract": "copy-out",
                "load": "write", "mk": "create", "cp": "copy"}.get(pc.verb, pc.verb)
    if pc.tool in ("pg_dump", "pg_dumpall", "mysqldump"):
        return "dump"
    if pc.tool in ("pg_ctl", "pg_ctlcluster"):
        return {"promote": "failover", "status": "describe"}.get(pc.verb, pc.verb)
    if pc.tool == "patronictl":
        return {"switchover": "failover", "failover": "failover", "list": "describe", "topology": "describe",
                "history": "describe", "show-config": "describe", "edit-config": "alter-config",
                "pause": "suspend", "resume": "resume", "query": _sql_verb(pc.sql_kinds)}.get(pc.verb, pc.verb)
    if pc.tool in ("mongosh", "mongo"):
        k = set(pc.sql_kinds)
        if k & {"dropdatabase", "drop"}:
            return "drop"
        if k & {"deletemany", "deleteone", "remove", "updatemany", "updateone", "insertone", "insertmany",
                "renamecollection", "createindex", "dropindex"}:
            return "query-write"
        return "query-read" if pc.verb == "eval" else pc.verb
    if pc.tool == "mysqladmin":
        return {"drop": "drop", "shutdown": "shutdown", "status": "describe", "processlist": "describe"}.get(
            pc.verb, pc.verb)
    if pc.tool == "etcdctl":
        return {"get": "read", "put": "write", "delete": "delete", "snapshot save": "dump",
                "snapshot restore": "restore", "endpoint health": "describe", "endpoint status": "describe",
                "member list": "describe"}.get(pc.verb, pc.verb)
    return pc.verb


def _gitops(pc: ParsedCommand) -> str:
    last = pc.verb.split()[-1] if pc.verb else "unknown"
    if pc.tool == "helm":
        return {"install": "deploy", "upgrade": "deploy", "rollback": "rollback", "uninstall": "delete",
                "status": "describe", "history": "describe", "list": "list", "template": "render",
                "lint": "render", "diff upgrade": "describe", "test": "test"}.get(
            pc.verb, "describe" if pc.verb.startswith("get") else pc.verb)
    if pc.tool == "argocd":
        return {"sync": "deploy", "rollback": "rollback", "delete": "delete", "get": "describe",
                "list": "list", "diff": "describe", "history": "describe", "terminate-op": "cancel"}.get(last, last)
    if pc.tool == "flux":
        return {"reconcile": "deploy", "suspend": "suspend", "resume": "resume", "get": "describe",
                "delete": "delete", "logs": "logs"}.get(pc.verb.split()[0], last)
    if pc.tool == "velero":
        return {"backup create": "backup", "restore create": "restore"}.get(pc.verb, last)
    if pc.tool == "istioctl":
        return {"install": "deploy", "upgrade": "deploy", "uninstall": "delete", "analyze": "describe",
                "proxy-status": "describe"}.get(pc.verb, "describe" if pc.verb.startswith("proxy-config") else last)
    return last


def _system(pc: ParsedCommand) -> str:
    if pc.tool in ("curl", "wget", "http", "https"):
        return f"http-{pc.verb}"
    if pc.tool == "git":
        if pc.verb == "push" and (pc.flags.get("force") or pc.flags.get("force-with-lease")):
            return "force-push"
        if pc.verb == "reset" and pc.flags.get("hard"):
            return "reset-hard"
        return pc.verb
    if pc.tool in ("systemctl", "service"):
        return {"status": "describe", "is-active": "describe", "list-units": "list", "show": "describe"}.get(
            pc.verb, pc.verb)
    if pc.tool in ("docker", "podman", "nerdctl", "docker-compose"):
        v = pc.verb
        return {"ps": "list", "logs": "logs", "inspect": "describe", "exec": "exec", "run": "run", "rm": "delete",
                "image rm": "delete", "volume rm": "delete", "network rm": "delete", "system prune": "prune",
                "volume prune": "prune", "image prune": "prune", "container prune": "prune",
                "compose up": "deploy", "compose down": "delete" if pc.flags.get("volumes") else "stop",
                "compose restart": "restart", "compose logs": "logs", "compose ps": "list",
                "compose exec": "exec", "compose run": "run", "restart": "restart", "stop": "stop",
                "kill": "stop", "start": "start", "stats": "describe", "top": "describe"}.get(v, v)
    if pc.tool == "vault":
        return {"kv get": "read-value", "read": "read-value", "kv put": "write", "kv patch": "write",
                "write": "write", "kv delete": "delete", "kv destroy": "delete", "kv metadata delete": "delete",
                "delete": "delete", "kv list": "list", "list": "list", "policy write": "grant",
                "policy delete": "revoke", "token create": "grant", "token revoke": "revoke",
                "secrets disable": "delete", "auth disable": "delete", "kv rollback": "write",
                "kv undelete": "write", "operator seal": "seal", "lease revoke": "revoke"}.get(pc.verb, pc.verb)
    if pc.tool == "make":
        return pc.target or "default"
    return pc.verb


def terraform_address(address: str) -> tuple[str, str] | None:
    """``module.db.aws_db_instance.orders[0]`` → ``("aws_db_instance", "orders")``."""
    parts = [p for p in re.sub(r"\[[^\]]*\]", "", address).split(".") if p]
    while len(parts) > 2 and parts[0] in ("module", "data"):
        parts = parts[2:] if parts[0] == "module" else parts[1:]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


_TF_RESOLVED_VERBS = ("destroy", "taint", "state rm", "apply")


def _terraform(pc: ParsedCommand) -> str:
    """``terraform destroy -target=aws_db_instance.orders`` deletes (drops, for a database) one resource."""
    if pc.verb == "destroy" and pc.target:
        addr = terraform_address(pc.target)
        found = kind_for_terraform(addr[0]) if addr else None
        return "drop" if found and found[0] in DATABASES + ("postgres", "mysql") else "delete"
    return pc.verb


_FAMILIES = {
    **{t: _kubectl for t in ("kubectl", "oc")},
    **{t: _kafka for t in ("kafka-topics", "kafka-consumer-groups", "kafka-configs", "kafka-acls",
                           "kafka-reassign-partitions", "kafka-leader-election", "kafka-delete-records",
                           "kafka-preferred-replica-election", "kafka-console-consumer", "kafka-console-producer",
                           "kafka-avro-console-consumer", "kafka-avro-console-producer")},
    **{t: _redis for t in ("redis-cli", "valkey-cli", "keydb-cli")},
    "aws": _aws, "awslocal": _aws, "gcloud": _cloud_cli, "az": _cloud_cli, "gsutil": _gsutil,
    **{t: _databases for t in ("psql", "mysql", "clickhouse-client", "bq", "pg_dump", "pg_dumpall", "mysqldump",
                               "pg_ctl", "pg_ctlcluster", "patronictl", "mongosh", "mongo", "mysqladmin",
                               "etcdctl")},
    **{t: _gitops for t in ("helm", "argocd", "flux", "velero", "istioctl")},
    "terraform": _terraform, "terragrunt": _terraform,
}


def action_verb(pc: ParsedCommand) -> str:
    """The action-vocabulary verb of a parsed command (``kubectl rollout restart`` → ``restart``)."""
    family = _FAMILIES.get(pc.tool, _system)
    verb = family(pc)
    if verb == "unknown":
        return "run"
    return verb


def _host_label(host: str) -> str:
    return host.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].split(".", 1)[0]


# A Deployment's pod (`<name>-<replicaset hash>-<suffix>`), a StatefulSet's (`<name>-<ordinal>`).
_REPLICASET_POD = re.compile(r"^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_ORDINAL_POD = re.compile(r"^(.+)-\d+$")


def pod_owner_names(pod: str) -> list[str]:
    """Names a pod may belong to: ``orders-api-7d9f8b6c4-x2x9z`` → ``orders-api``; ``db-0`` → ``db``."""
    out = [pod]
    m = _REPLICASET_POD.match(pod)
    if m:
        out.append(m.group(1))
    m = _ORDINAL_POD.match(pod)
    if m:
        out.append(m.group(1))
    return out


def target_candidates(pc: ParsedCommand) -> list[tuple[str, tuple[str, ...] | None]]:
    """``(name, entity kinds or None for any)`` to try, most specific first."""
    t = pc.target
    kind = pc.object_kind or ""
    tool = pc.tool
    out: list[tuple[str, tuple[str, ...] | None]] = []
    if tool in ("kubectl", "oc"):
        if kind == "job" and str(pc.flags.get("from", "")).startswith(("cronjob/", "cj/")):
            out.append((str(pc.flags["from"]).split("/", 1)[1], ("cron-job",)))
        if t and kind != "manifest" and "," not in kind:
            kinds = _K8S_KINDS.get(kind, None)
            if kind == "pod":
                out.extend((n, kinds) for n in pod_owner_names(t))
            else:
                out.append((t, kinds))
    elif tool.startswith("kafka-"):
        if pc.object_kind == "consumer-group" and isinstance(pc.flags.get("topic"), str):
            out.append((str(pc.flags["topic"]).split(",")[0], ("kafka-topic",)))
        if t:
            out.append((t, {"topic": ("kafka-topic",), "user": ("kafka-user",), "acl": ("kafka-user",),
                            "broker": ("kafka-cluster",)}.get(kind, None)))
        if isinstance(pc.flags.get("bootstrap-server"), str) and pc.verb in ("describe", "alter") and not t:
            out.append((_host_label(str(pc.flags["bootstrap-server"])), ("kafka-cluster",)))
    elif tool in ("psql", "mysql", "clickhouse-client", "pg_dump", "pg_dumpall", "mysqldump", "pg_restore",
                  "mongosh", "mongo", "mysqladmin", "patronictl", "pg_ctl"):
        dbk = DATABASES + ("postgres", "mysql")
        if tool == "patronictl" and t:
            out.append((t, ("postgres",)))
        if isinstance(pc.flags.get("host"), str):
            out.append((_host_label(str(pc.flags["host"])), dbk))
        if isinstance(pc.flags.get("database"), str):
            out.append((str(pc.flags["database"]), dbk))
    elif tool in ("redis-cli", "valkey-cli", "keydb-cli"):
        if isinstance(pc.flags.get("host"), str):
            out.append((_host_label(str(pc.flags["host"])), ("redis", "memcached")))
    elif tool in ("aws", "awslocal", "gsutil", "gcloud", "az", "bq"):
        cloud_kinds = {"bucket": ("object-bucket",), "db-instance": DATABASES, "db-cluster": DATABASES,
                       "secret": ("secret",), "role": ("iam",), "user": ("iam",), "policy": ("iam",),
                       "key": ("kms-key",), "hosted-zone": ("dns",), "queue": ("queue",), "table": None,
                       "cluster": ("k8s-cluster", "kafka-cluster"), "dataset": ("warehouse-dataset",),
                       "instance": DATABASES + ("other",), "keyring": ("kms-key",)}
        if t:
            name = t.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if tool in ("aws", "awslocal") and t.startswith("arn:") else t
            if tool == "bq":
                name = name.split(":")[-1].split(".")[0]
            out.append((name, cloud_kinds.get(kind)))
            if kind == "secret" and "/" in t:
                out.append((t.rsplit("/", 1)[-1], ("secret",)))
    elif tool in ("systemctl", "service", "journalctl", "docker", "podman", "argocd", "flux", "helm", "velero"):
        if t and kind not in ("image", "chart", "registry"):
            out.append((t, None))
    elif tool in ("curl", "wget", "http", "https"):
        if t:
            out.append((_host_label(t), COMPONENTS))
    elif tool == "vault":
        if t:
            out.append((t.rstrip("/").rsplit("/", 1)[-1], ("secret",)))
    elif tool in ("terraform", "terragrunt") and t and pc.verb in _TF_RESOLVED_VERBS:
        addr = terraform_address(t)
        found = kind_for_terraform(addr[0]) if addr else None
        if addr and found:
            out.append((addr[1], (found[0],)))
    return out
