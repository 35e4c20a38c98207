"""Operations CLIs with a ``tool GROUP [SUBGROUP] VERB NAME`` shape: consul, knife, gitlab-ctl,
gitlab-rake, gitlab-rails, docker-machine, runit's sv, helmfile, confluent, gh, pgbouncer,
chef-client.

The verb is read by position only: words are taken while they name a known command group,
then one more word (the verb); what follows is a target, never a verb. ``gh api`` gets its
HTTP method; ``knife ssh`` and ``docker-machine ssh`` get their remote command parsed;
``gitlab-rails runner`` gets its Ruby judged by :mod:`inventory.commands.ruby`.
"""

from __future__ import annotations

from collections.abc import Callable

from inventory.commands.model import ParsedCommand
from inventory.commands.options import OptSpec, parse_options, spec
from inventory.commands.ruby import ruby_kinds
from inventory.commands.tools import ToolContext

ToolParser = Callable[[ParsedCommand, list[str], ToolContext], "list[ParsedCommand] | None"]


def verb_path(positionals: list[str], groups: frozenset[str]) -> tuple[str, list[str]]:
    """``("kv get", rest)``: words while the path so far is a group, then the verb word."""
    words: list[str] = []
    for i, w in enumerate(positionals):
        words.append(w)
        if " ".join(words) not in groups:
            return " ".join(words), positionals[i + 1 :]
    return " ".join(words), []


def grouped(groups: str, sp: OptSpec, kinds: dict[str, str] | None = None,
            default_kind: str | None = None) -> ToolParser:
    """A parser for a grouped CLI; ``groups`` are space-free paths joined by ``|`` (``kv|acl|acl token``)."""
    known = frozenset(g.strip() for g in groups.split("|") if g.strip())

    def parse(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
        p = parse_options(args, sp)
        if not p.positionals:
            pc.verb = "unknown" if not p.flags else "flags"
            pc.flags.update({k: v for k, v in p.flags.items() if not isinstance(v, str) or len(v) < 200})
            return
        pc.verb, rest = verb_path(p.positionals, known)
        group = pc.verb.rsplit(" ", 1)[0] if " " in pc.verb else ""
        pc.object_kind = (kinds or {}).get(group, default_kind or (group.split(" ")[-1] if group else None))
        pc.target = rest[0] if rest else None
        pc.flags.update({k: v for k, v in p.flags.items() if not isinstance(v, str) or len(v) < 200})
        ns = p.flags.get("namespace")
        if isinstance(ns, str):
            pc.namespace = ns

    return parse


_CONSUL = spec(values="http-addr address token token-file datacenter namespace partition policy-name policy-id "
               "description node service id name", secret="token", single_dash_long=True)
_CONSUL_GROUPS = ("kv|catalog|operator|operator raft|operator autopilot|operator area|operator usage|acl|acl token|"
                  "acl policy|acl role|acl auth-method|acl binding-rule|acl templated-policy|snapshot|services|intention|"
                  "config|connect|connect ca|connect envoy|connect proxy|namespace|partition|peering|tls|tls ca|"
                  "tls cert|keyring|license|debug|resource|troubleshoot")

_KNIFE = spec(values="environment run-list secret secret-file format attribute config server-url user key "
              "ssh-user ssh-password identity-file ssh-port concurrency ssh-gateway",
              aliases={"E": "environment", "r": "run-list", "C": "concurrency", "G": "ssh-gateway",
                                                                       "F": "format", "a": "attribute", "c": "config",
                                                                       "s": "server-url", "u": "user", "k": "key",
                                                                       "x": "ssh-user", "P": "ssh-password",
                                                                       "i": "identity-file", "p": "ssh-port"},
              secret="ssh-password")
_KNIFE_GROUPS = ("node|node run_list|node environment|node policy|role|role env_run_list|role run_list|cookbook|"
                 "cookbook site|supermarket|client|client key|environment|data|data bag|vault|ssl|user|user key|org|"
                 "acl|tag|job|config|group|policy|opc|opc user|opc org")


def parse_knife(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """knife: ``node list``, ``data bag show BAG ITEM``; ``knife ssh QUERY CMD`` parses CMD."""
    grouped(_KNIFE_GROUPS, _KNIFE, default_kind=None)(pc, args, ctx)
    for key in ("secret", "secret-file"):
        if key in pc.flags:
            pc.flags["decrypt"] = True
    if (pc.verb or "").endswith(" from") and pc.target == "file":
        # `knife role from file roles/x.json`: uploads a file; the role is named inside it.
        pos = parse_options(args, _KNIFE).positionals
        pc.object_kind, pc.target = "file", (pos[-1] if len(pos) > 3 else None)
    if pc.verb == "ssh":
        p = parse_options(args, _KNIFE)
        rest = p.positionals[1:]
        if rest:
            # The search query picking the nodes (`roles:gprd-base-db`, `name:web-01*`).
            pc.object_kind, pc.target = "query", rest[0]
        if len(rest) >= 2:
            return ctx.parse_script(" ".join(rest[1:]), "knife ssh")
    return None


def parse_docker_machine(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """docker-machine: verb and machine; ``ssh MACHINE CMD`` parses CMD."""
    p = parse_options(args, spec(values="driver storage-path", aliases={"d": "driver", "s": "storage-path"}),
                      stop_at_positional=True)
    pos = p.positionals
    if not pos:
        return None
    pc.verb = pos[0]
    pc.object_kind = "machine"
    o = parse_options(pos[1:], spec(values="driver", aliases={"d": "driver", "f": "force", "y": "yes"}))
    pc.flags.update({k: v for k, v in o.flags.items() if k in ("force", "yes")})
    pc.target = o.positionals[0] if o.positionals else None
    if pc.verb == "ssh" and len(o.positionals) > 1:
        return ctx.parse_script(" ".join(o.positionals[1:]), "docker-machine ssh")
    return None


def parse_sv(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """runit ``sv [-w sec] COMMAND SERVICE...``: the command and the service (its directory's name)."""
    p = parse_options(args, spec(values="w", aliases={}))
    pos = p.positionals
    pc.verb = pos[0] if pos else "unknown"
    pc.object_kind = "unit"
    if len(pos) > 1:
        pc.target = pos[1].rstrip("/").rsplit("/", 1)[-1]


def parse_gitlab_ctl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """gitlab-ctl: the command (``status``, ``restart``, ``reconfigure``, ``cleanse``...) and the service."""
    pos = [a for a in args if not a.startswith("-")]
    pc.verb = " ".join(pos[:2]) if pos[:1] in (["patroni"], ["geo"], ["consul"], ["pgbouncer"]) else (pos[0] if pos else "status")
    pc.object_kind = "gitlab-service"
    rest = pos[2:] if " " in pc.verb else pos[1:]
    pc.target = rest[0] if rest else None
    pc.flags.update({a.lstrip("-"): True for a in args if a.startswith("-")})


def parse_gitlab_rake(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """gitlab-rake / rake: the task name (``gitlab:backup:restore``) is the verb; KEY=VALUE are flags."""
    tasks = [a for a in args if not a.startswith("-") and "=" not in a]
    pc.verb = tasks[0] if tasks else "default"
    pc.object_kind = "rake-task"
    for a in args:
        if "=" in a and not a.startswith("-"):
            key, _, value = a.partition("=")
            pc.flags[key.lower()] = value if len(value) < 100 else True
    if len(tasks) > 1:
        pc.flags["tasks"] = ",".join(tasks)


def parse_gitlab_rails(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """gitlab-rails / rails: ``runner CODE`` (its Ruby judged), ``console`` / ``dbconsole`` sessions."""
    p = parse_options(args, spec(values="environment e", aliases={"e": "environment"}))
    pos = p.positionals
    pc.verb = pos[0] if pos else "unknown"
    if pc.verb in ("r", "runner") and len(pos) > 1:
        pc.verb = "runner"
        code = pos[1]
        if code.endswith(".rb") and " " not in code:
            pc.object_kind, pc.target = "script", code
            pc.sql_kinds = ["unknown"]
            return
        pc.sql = code
        pc.sql_kinds = ruby_kinds(code)
        pc.object_kind = "ruby"
    elif pc.verb in ("c", "console", "dbconsole", "db"):
        pc.verb = "console"
    if isinstance(p.flags.get("environment"), str):
        pc.flags["environment"] = p.flags["environment"]


def parse_helmfile(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """helmfile: the verb (``diff``, ``apply``, ``sync``, ``destroy``...) and the environment (``-e prod``)."""
    p = parse_options(args, spec(values="environment file selector namespace kube-context state-values-set "
                                        "state-values-file", aliases={"e": "environment", "f": "file", "l": "selector",
                                                                      "n": "namespace"}))
    pos = p.positionals
    pc.verb = pos[0] if pos else "sync"
    pc.object_kind = "release"
    for key in ("environment", "selector", "kube-context", "file", "dry-run"):
        if key in p.flags:
            pc.flags[key] = p.flags[key]
    if isinstance(p.flags.get("namespace"), str):
        pc.namespace = str(p.flags["namespace"])


_CONFLUENT = spec(values="cluster environment resource service-account api-key api-secret context output group "
                  "partitions config value key-format value-format schema-registry-endpoint",
                  secret="api-secret")
_CONFLUENT_GROUPS = ("kafka|kafka topic|kafka cluster|kafka acl|kafka consumer|kafka consumer group|kafka consumer-group|"
                     "kafka link|kafka mirror|kafka quota|kafka client-config|kafka client-config create|kafka broker|"
                     "kafka partition|kafka replica|kafka region|iam|iam rbac|iam rbac role|iam rbac role-binding|"
                     "iam service-account|iam user|iam user invitation|iam pool|iam provider|iam acl|iam ip-filter|"
                     "iam ip-group|api-key|environment|schema-registry|schema-registry schema|schema-registry subject|"
                     "schema-registry cluster|schema-registry exporter|schema-registry config|connect|connect cluster|"
                     "connect plugin|connect custom-plugin|connect event|ksql|ksql cluster|audit-log|audit-log config|"
                     "audit-log route|context|local|local kafka|local kafka topic|local services|flink|"
                     "flink compute-pool|flink statement|flink region|network|stream-share|billing|organization|"
                     "service-quota|cloud-signup|plugin|secret|secret file")
_CONFLUENT_KINDS = {"kafka topic": "topic", "kafka cluster": "kafka-cluster", "kafka acl": "acl",
                    "kafka consumer group": "consumer-group", "kafka consumer-group": "consumer-group",
                    "api-key": "api-key", "environment": "environment", "iam service-account": "iam",
                    "iam rbac role-binding": "iam", "iam user": "iam", "schema-registry schema": "schema",
                    "schema-registry subject": "schema", "connect cluster": "connector", "ksql cluster": "ksql"}

_GH = spec(values="repo R method X field f raw-field F header H input jq q template t hostname json limit L "
           "workflow w branch b body title label assignee state", aliases={
               "R": "repo", "X": "method", "f": "field", "F": "raw-field", "H": "header", "q": "jq", "t": "template",
               "L": "limit", "w": "workflow", "b": "body", "y": "yes"}, drop="body header field raw-field")
_GH_GROUPS = ("pr|issue|repo|release|run|workflow|secret|variable|auth|gist|label|project|codespace|ssh-key|gpg-key|"
              "cache|extension|ruleset|attestation|org|search|config|alias|repo deploy-key|repo autolink|repo gitignore|"
              "repo license|agent-task|copilot")


def parse_gh(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """gh: ``GROUP VERB`` by position; ``gh api PATH`` gets its method (``-X``; fields imply POST)."""
    p = parse_options(args, _GH)
    pos = p.positionals
    if not pos:
        pc.verb = "unknown"
        return
    if pos[0] == "api":
        method = p.flags.get("method")
        if not isinstance(method, str):
            sends = any(k in p.flags for k in ("field", "raw-field", "input"))
            method = "POST" if sends else "GET"
        pc.verb = f"api {method.lower()}"
        pc.object_kind = "api-path"
        pc.target = pos[1] if len(pos) > 1 else None
        if pc.target == "graphql" and any("mutation" in v for v in p.raw_values.get("raw-field", []) +
                                          p.raw_values.get("field", [])):
            pc.verb = "api mutation"
        return
    pc.verb, rest = verb_path(pos, frozenset(_GH_GROUPS.split("|")))
    pc.object_kind = pc.verb.split(" ")[0]
    pc.target = rest[0] if rest else None
    pc.flags.update({k: v for k, v in p.flags.items() if k in ("admin", "yes", "force", "show-token", "repo", "auto",
                                                                "squash", "merge", "rebase", "delete-branch")})


def parse_chef_client(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """chef-client / chef-solo: a converge of the node, or a why-run (dry run)."""
    p = parse_options(args, spec(values="override-runlist runlist config environment json-attributes log_level",
                                 aliases={"o": "override-runlist", "r": "runlist", "c": "config", "E": "environment",
                                          "j": "json-attributes", "l": "log_level", "W": "why-run", "z": "local-mode"}))
    pc.verb = "why-run" if p.flags.get("why-run") else "converge"
    pc.object_kind = "node"
    for key in ("override-runlist", "runlist", "environment", "local-mode"):
        if key in p.flags:
            pc.flags[key] = p.flags[key]


def parse_pgbouncer(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """pgbouncer: starting it (``-d``), an online restart (``-R``), or a version print."""
    p = parse_options(args, spec(values="user", aliases={"d": "daemon", "R": "reboot", "u": "user", "q": "quiet",
                                                         "v": "verbose", "V": "version"}))
    pc.verb = "restart" if p.flags.get("reboot") else "start"
    pc.object_kind = "pgbouncer"
    pc.target = p.positionals[0] if p.positionals else None


_CEPH = spec(values="cluster conf id name keyring format connect-timeout", aliases={"c": "conf", "n": "name",
                                                                                   "k": "keyring", "f": "format"})
_CEPH_GROUPS = ("osd|osd pool|osd crush|osd tier|osd erasure-code-profile|pg|mon|mgr|mgr module|fs|fs subvolume|"
                "fs subvolumegroup|mds|auth|config|config-key|crash|orch|orch host|orch daemon|health|balancer|"
                "device|log|telemetry|dashboard|rbd|nfs|nfs export|osd blocklist|osd blacklist|progress|tell")
_RBD_GROUPS = "snap|mirror|mirror image|mirror pool|trash|group|namespace|pool|device|migration|journal|image-meta|lock|feature"
_RADOS_GROUPS = ""
_VIRTCTL = spec(values="namespace kubeconfig context", aliases={"n": "namespace"})
_CRICTL = spec(values="runtime-endpoint image-endpoint timeout config", aliases={"r": "runtime-endpoint",
                                                                               "i": "image-endpoint", "t": "timeout"})


def parse_ceph(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """ceph: ``-s`` / ``status`` / ``osd pool set ...`` by position."""
    if not [a for a in args if not a.startswith("-")] and any(a in ("-s", "--status", "-w", "--watch") for a in args):
        pc.verb = "status"
        return
    grouped(_CEPH_GROUPS, _CEPH, default_kind="ceph")(pc, args, ctx)


PARSERS = {
    "ceph": parse_ceph,
    "rbd": grouped(_RBD_GROUPS, spec(values="pool namespace image snap size", aliases={"p": "pool", "s": "size"}),
                   default_kind="rbd-image"),
    "rados": grouped(_RADOS_GROUPS, spec(values="pool namespace", aliases={"p": "pool", "N": "namespace"}),
                     default_kind="rados-object"),
    "virtctl": grouped("", _VIRTCTL, default_kind="vm"),
    "crictl": grouped("", _CRICTL, default_kind="container"),
    "consul": grouped(_CONSUL_GROUPS, _CONSUL, {"kv": "key", "acl token": "token", "acl policy": "policy",
                                                  "services": "service", "snapshot": "snapshot",
                                                  "operator raft": "consul-cluster"}),
    "knife": parse_knife,
    "docker-machine": parse_docker_machine,
    "sv": parse_sv,
    "gitlab-ctl": parse_gitlab_ctl,
    "gitlab-rake": parse_gitlab_rake,
    "rake": parse_gitlab_rake,
    "gitlab-rails": parse_gitlab_rails,
    "rails": parse_gitlab_rails,
    "helmfile": parse_helmfile,
    "confluent": grouped(_CONFLUENT_GROUPS, _CONFLUENT, _CONFLUENT_KINDS),
    "gh": parse_gh,
    "chef-client": parse_chef_client,
    "chef-solo": parse_chef_client,
    "pgbouncer": parse_pgbouncer,
}
