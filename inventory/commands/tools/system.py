"""Containers, services, HTTP, git, files, Vault, and the read-only shell utilities."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from inventory.commands.model import ParsedCommand
from inventory.commands.options import parse_options, spec
from inventory.commands.tools import ToolContext
from inventory.secrets import is_secret_key

_DOCKER_RUN = spec(
    values="env volume publish name network entrypoint workdir user mount label env-file platform restart memory "
    "cpus hostname add-host pull log-driver log-opt cap-add cap-drop device dns gpus ipc pid runtime "
    "security-opt shm-size tmpfs ulimit link expose health-cmd detach-keys cidfile",
    aliases={"e": "env", "v": "volume", "p": "publish", "w": "workdir", "u": "user", "l": "label",
             "m": "memory", "h": "hostname", "d": "detach", "i": "interactive", "t": "tty", "P": "publish-all"},
    drop="env env-file",
)
_DOCKER_GLOBAL = spec(values="host context config log-level tlscacert tlscert tlskey",
                      aliases={"H": "host", "c": "context", "l": "log-level"})
_COMPOSE = spec(values="file project-name profile env-file project-directory",
                aliases={"f": "file", "p": "project-name"}, multi="file")
_DOCKER_GROUPS = {"system", "volume", "network", "image", "container", "builder", "buildx", "swarm", "service",
                  "stack", "secret", "config", "node", "plugin", "context", "manifest", "trust"}


def parse_docker(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """docker/podman/docker-compose: verb (``system prune``, ``compose down``), target, exec/run inner."""
    g = parse_options(args, _DOCKER_GLOBAL, stop_at_positional=True)
    pos = g.positionals
    if pc.tool == "docker-compose":
        pos = ["compose", *pos]
    if not pos:
        return None
    verb, rest = pos[0], pos[1:]
    if verb == "compose":
        c = parse_options(rest, _COMPOSE, stop_at_positional=True)
        sub = c.positionals
        pc.verb = f"compose {sub[0]}" if sub else "compose"
        pc.object_kind = "compose-service"
        if isinstance(c.flags.get("project-name"), str):
            pc.flags["project"] = c.flags["project-name"]
        if sub and sub[0] in ("exec", "run"):
            o = parse_options(sub[1:], _DOCKER_RUN, stop_at_positional=True)
            if o.positionals:
                pc.target = o.positionals[0]
                if len(o.positionals) > 1:
                    return ctx.resolve(o.positionals[1:], f"docker compose {sub[0]}", ctx.stdin)
            return None
        o = parse_options(sub[1:], spec(values="timeout", aliases={"v": "volumes", "f": "force", "d": "detach",
                                                                    "t": "timeout"}))
        pc.flags.update({k: v for k, v in o.flags.items() if k in ("volumes", "force", "remove-orphans", "rmi")})
        pc.target = o.positionals[0] if o.positionals else None
        return None
    if verb in _DOCKER_GROUPS and rest:
        verb, rest = f"{verb} {rest[0]}", rest[1:]
    pc.verb = {"rmi": "image rm", "container rm": "rm", "container exec": "exec", "container run": "run"}.get(verb, verb)
    if pc.verb in ("exec", "run"):
        o = parse_options(rest, _DOCKER_RUN, stop_at_positional=True)
        pc.flags.update({k: v for k, v in o.flags.items() if k in ("privileged", "user", "rm", "detach",
                                                                    "interactive", "tty", "network")})
        if isinstance(o.flags.get("volume"), str):
            pc.flags["volume"] = o.flags["volume"]
        pc.object_kind = "container" if pc.verb == "exec" else "image"
        if o.positionals:
            pc.target = o.positionals[0]
            if len(o.positionals) > 1:
                return ctx.resolve(o.positionals[1:], f"docker {pc.verb}", ctx.stdin)
            if isinstance(o.flags.get("entrypoint"), str):
                return ctx.resolve([str(o.flags["entrypoint"])], f"docker {pc.verb}")
        return None
    o = parse_options(rest, spec(values="filter format time timeout signal tail since until", aliases={
        "f": "force", "a": "all", "v": "volumes", "t": "timeout", "s": "signal", "q": "quiet", "n": "tail"}))
    pc.flags.update({k: v for k, v in o.flags.items() if k in ("force", "all", "volumes", "filter", "signal")})
    pc.object_kind = {"volume": "volume", "network": "network", "image": "image", "system": "system",
                      "secret": "secret", "service": "swarm-service"}.get(pc.verb.split(" ")[0], "container")
    if pc.verb in ("push", "pull", "build", "tag"):
        pc.object_kind = "image"
    if pc.verb == "login":
        pc.object_kind = "registry"
    pc.target = o.positionals[0] if o.positionals else None
    return None


def parse_systemctl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """systemctl: verb and unit (``.service`` dropped)."""
    p = parse_options(args, spec(values="host machine signal kill-who property type state",
                                 aliases={"H": "host", "M": "machine", "s": "signal", "p": "property",
                                          "t": "type", "a": "all", "q": "quiet", "f": "force"}))
    pos = p.positionals
    pc.verb = pos[0] if pos else "list-units"
    pc.object_kind = "unit"
    pc.target = re.sub(r"\.service$", "", pos[1]) if len(pos) > 1 else None
    pc.flags.update({k: v for k, v in p.flags.items() if k in ("now", "user", "force", "host")})


def parse_service(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """SysV ``service NAME ACTION``."""
    pos = [a for a in args if not a.startswith("-")]
    pc.object_kind = "unit"
    pc.target = pos[0] if pos else None
    pc.verb = pos[1] if len(pos) > 1 else "status"


def parse_journalctl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """journalctl: read logs, optionally of one unit; ``--vacuum-*`` deletes them."""
    p = parse_options(args, spec(values="unit since until lines priority output identifier boot",
                                 aliases={"u": "unit", "n": "lines", "p": "priority", "o": "output",
                                          "t": "identifier", "b": "boot", "f": "follow"}))
    pc.verb = "logs"
    pc.object_kind = "unit"
    if isinstance(p.flags.get("unit"), str):
        pc.target = re.sub(r"\.service$", "", str(p.flags["unit"]))
    if any(k.startswith("vacuum") for k in p.flags):
        pc.verb = "vacuum"
    elif p.flags.get("rotate") or p.flags.get("flush") or p.flags.get("relinquish-var") or p.flags.get("setup-keys"):
        pc.verb = "rotate"


def safe_url(url: str) -> str:
    """``url`` without user:password and with secret-looking query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode([(k, "<redacted>" if is_secret_key(k) else v) for k, v in parse_qsl(parts.query, True)],
                      safe="<>/:,")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


_CURL = spec(
    values="request header data data-raw data-binary data-urlencode data-ascii form user output url "
    "upload-file cookie cookie-jar cert key cacert proxy max-time connect-timeout retry write-out "
    "user-agent referer oauth2-bearer json resolve",
    aliases={"X": "request", "H": "header", "d": "data", "F": "form", "u": "user", "o": "output",
             "T": "upload-file", "b": "cookie", "c": "cookie-jar", "E": "cert", "x": "proxy", "m": "max-time",
             "w": "write-out", "A": "user-agent", "e": "referer", "I": "head", "G": "get", "k": "insecure",
             "s": "silent", "S": "show-error", "L": "location", "f": "fail", "v": "verbose", "i": "include",
             "O": "remote-name"},
    secret="user cookie oauth2-bearer key",
    drop="header data data-raw data-binary data-urlencode data-ascii form json",
)
_CURL_KEEP = ("insecure", "output", "upload-file", "location", "fail", "data", "form", "json", "header", "user")


def _file_of_data(value: str) -> str | None:
    """The file a curl data/form value sends: ``@file`` or ``name=@file`` / ``name=<file``."""
    m = re.match(r"^(?:[^=@<]*=)?[@<](.+)$", value)
    if m and m.group(1) not in ("-",):
        return m.group(1).split(";", 1)[0]
    return None


def _file_commands(pc: ParsedCommand, writes: list[str], reads: list[str], how: str) -> list[ParsedCommand]:
    """``write-file``/``read-file`` commands for files a tool writes (``-o``) or sends (``-d @f``)."""
    out = []
    for tool, paths in (("write-file", writes), ("read-file", reads)):
        for path in paths:
            out.append(ParsedCommand(raw=f"{pc.tool} {how} {path}", argv=[tool, path], tool=tool,
                                     verb="write" if tool == "write-file" else "read", object_kind="file",
                                     target=path, via=f"{pc.via} > {pc.tool}" if pc.via else pc.tool))
    return out


def parse_curl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """curl: method (``-X``; ``-d`` implies POST, ``-I`` HEAD, ``-T`` PUT) and URL; headers kept out.

    Files it writes (``-o``) and sends (``-d @f``, ``-F x=@f``, ``-T f``) become ``write-file`` and
    ``read-file`` commands, so their paths are judged like any other file access; a file it
    sends makes the request an upload (``data-file``).
    """
    raw = parse_options(args, spec(values=" ".join(_CURL.values), aliases=_CURL.aliases, secret=" ".join(_CURL.secret)))
    sent = [f for key in ("data", "data-binary", "data-urlencode", "data-ascii", "form", "json", "data-raw")
            for v in raw.raw_values.get(key, []) if (f := _file_of_data(v)) and key != "data-raw"]
    sent += [v for v in raw.raw_values.get("upload-file", []) if v != "-"]
    written = [v for v in raw.raw_values.get("output", []) if v != "-"]
    p = parse_options(args, _CURL)
    f = p.flags
    method = f.get("request") if isinstance(f.get("request"), str) else None
    if not method:
        if f.get("head"):
            method = "HEAD"
        elif f.get("get"):
            method = "GET"
        elif any(k in f for k in ("data", "data-raw", "data-binary", "data-urlencode", "data-ascii", "form", "json")):
            method = "POST"
        elif "upload-file" in f:
            method = "PUT"
        else:
            method = "GET"
    pc.verb = str(method).lower()
    urls = p.raw_values.get("url") or [a for a in p.positionals if "://" in a or re.match(r"^[\w.-]+(:\d+)?/", a)]
    if not urls and p.positionals:
        urls = p.positionals[:1]
    if urls:
        pc.object_kind = "url"
        pc.target = safe_url(urls[0])
    for key in _CURL_KEEP:
        if key in f and key not in ("header",):
            pc.flags[key] = True if key in ("data", "form", "json", "user") else f[key]
    for key in ("data-raw", "data-binary", "data-urlencode", "data-ascii"):
        if key in f:
            pc.flags["data"] = True
    if sent:
        pc.flags["data-file"] = True
    return _file_commands(pc, written, sent, "") or None


def parse_wget(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """wget: GET (or POST with --post-data) of a URL; ``-O file`` and ``--post-file`` become file commands."""
    p = parse_options(args, spec(values="post-data post-file method output-document header user password "
                                      "http-user http-password body-data body-file directory-prefix output-file "
                                      "append-output input-file",
                                 aliases={"O": "output-document", "q": "quiet", "P": "directory-prefix",
                                          "o": "output-file", "a": "append-output", "i": "input-file"},
                                 secret="password http-password user http-user", drop="header post-data body-data"))
    pc.verb = str(p.flags.get("method") or ("post" if any(k in p.flags for k in ("post-data", "post-file", "body-data",
                                                                                 "body-file")) else "get")).lower()
    if p.positionals:
        pc.object_kind, pc.target = "url", safe_url(p.positionals[0])
    for key in ("output-document", "post-file", "body-file"):
        if isinstance(p.flags.get(key), str):
            pc.flags[key] = p.flags[key]
    written = [v for k in ("output-document", "output-file", "append-output") if isinstance(v := p.flags.get(k), str) and v != "-"]
    prefix = p.flags.get("directory-prefix")
    if isinstance(prefix, str):
        written.append(prefix.rstrip("/") + "/")
    sent = [v for k in ("post-file", "body-file") if isinstance(v := p.flags.get(k), str)]
    return _file_commands(pc, written, sent, "") or None


def parse_httpie(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """HTTPie ``http [METHOD] URL``."""
    pos = [a for a in args if not a.startswith("-")]
    if pos and pos[0].isupper():
        pc.verb, pos = pos[0].lower(), pos[1:]
    else:
        pc.verb = "post" if any("=" in a for a in pos[1:]) else "get"
    if pos:
        pc.object_kind, pc.target = "url", safe_url(pos[0])


_GIT = spec(values="C c git-dir work-tree message branch", aliases={"m": "message", "b": "branch"},
            drop="c message")


# `git -c key=value` settings whose value is a command git runs (or that make git run one).
_GIT_EXEC_KEYS = re.compile(r"^(core\.(sshcommand|pager|editor|fsmonitor|hookspath|askpass|gitproxy|alternaterefscommand)|"
                            r"diff\..*\.(textconv|command)|diff\.external|merge\..*\.driver|filter\..*\.(clean|smudge|process)|"
                            r"alias\..*|credential\.helper|credential\..*\.helper|protocol\..*allow|sequence\.editor|"
                            r"gpg\.program|gpg\..*\.program|uploadpack\.packobjectshook|pager\..*|ssh\.variant|"
                            r"remote\..*\.(uploadpack|receivepack)|include\.path|includeif\..*|init\.templatedir|"
                            r"core\.sshcommand|interactive\.difffilter|web\.browser|browser\..*\.cmd|man\..*\.cmd)$",
                            re.I)
_GIT_EXEC_OPTS = ("upload-pack", "receive-pack", "exec", "config-env")


def _git_exec(args: list[str], ctx: ToolContext) -> tuple[list[str], list[ParsedCommand]]:
    """Settings and options of a git line that run commands: their names, and the commands parsed."""
    found: list[str] = []
    inner: list[ParsedCommand] = []
    for i, a in enumerate(args):
        value = None
        if a == "-c" and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith("-c") and len(a) > 2 and "=" in a:
            value = a[2:]
        elif a.startswith("--config-env"):
            found.append("config-env")
        if value is not None:
            key, _, val = value.partition("=")
            if _GIT_EXEC_KEYS.match(key.strip()):
                found.append(key.strip().lower())
                cmd = val[1:] if val.startswith("!") else val
                if cmd and not key.lower().startswith(("protocol.", "include", "core.hookspath", "init.")) and " " in cmd.strip():
                    inner.extend(ctx.parse_script(cmd, f"git -c {key.strip().lower()}"))
        for opt in _GIT_EXEC_OPTS:
            if a.startswith(f"--{opt}=") or (a == f"--{opt}" and i + 1 < len(args)):
                found.append(opt)
        if a.startswith("ext::") or "::ext::" in a:
            found.append("ext-url")
    return found, inner


def parse_git(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """git: subcommand and the flags that make it destructive (push --force, reset --hard, clean -f).

    Settings that run commands (``-c core.sshCommand=...``, ``alias.x=!cmd``, ``--upload-pack``,
    ``ext::`` URLs) make the verb ``exec-config``; the command in the value is parsed too.
    """
    g = parse_options(args, spec(values="C c git-dir work-tree", drop="c"), stop_at_positional=True)
    pos = g.positionals
    found, inner = _git_exec(args, ctx)
    if pos and pos[0] == "config":
        # `git config [--global] core.sshCommand 'cmd'` stores a command git will run later.
        keys = [a for a in pos[1:] if _GIT_EXEC_KEYS.match(a)]
        if keys and len(pos) > 2:
            found.extend(k.lower() for k in keys)
            value = pos[-1]
            cmd = value[1:] if value.startswith("!") else value
            if " " in cmd.strip():
                inner.extend(ctx.parse_script(cmd, f"git config {keys[0].lower()}"))
    if found:
        pc.verb = "exec-config"
        pc.object_kind, pc.target = "setting", ",".join(sorted(set(found)))
        return inner or None
    if not pos:
        return None
    pc.verb, rest = pos[0], pos[1:]
    o = parse_options(rest, spec(values="message branch upstream set-upstream-to", aliases={
        "m": "message", "f": "force", "d": "delete", "D": "force-delete", "x": "ignored", "n": "dry-run",
        "q": "quiet", "u": "set-upstream", "b": "branch", "a": "all"}, drop="message"))
    keep = ("force", "force-with-lease", "hard", "soft", "mixed", "delete", "force-delete", "mirror", "prune",
            "ignored", "dry-run", "all", "tags", "no-verify")
    pc.flags.update({k: v for k, v in o.flags.items() if k in keep})
    if pc.verb == "push":
        pc.object_kind = "branch"
        refs = o.positionals[1:]
        if refs:
            ref = refs[0]
            if ref.startswith("+"):
                pc.flags["force"] = True
                ref = ref[1:]
            if ref.startswith(":"):
                pc.flags["delete"] = True
            pc.target = ref.split(":")[-1]
        if o.positionals:
            pc.flags["remote"] = o.positionals[0]
    elif pc.verb == "clean" and o.positionals:
        pc.object_kind, pc.target = "path", o.positionals[0]
    elif pc.verb in ("reset", "checkout", "switch", "rebase", "merge", "revert", "branch", "tag"):
        pc.object_kind = "ref"
        pc.target = o.positionals[0] if o.positionals else None
    elif pc.verb == "clone" and o.positionals:
        pc.object_kind, pc.target = "repository", safe_url(o.positionals[0])
    return None


def parse_rm(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """rm: recursive/force flags and the paths (from stdin via xargs when none are given)."""
    p = parse_options(args, spec(aliases={"r": "recursive", "R": "recursive", "f": "force", "i": "interactive",
                                          "v": "verbose", "d": "dir"}))
    pc.verb = "delete"
    pc.object_kind = "path"
    for key in ("recursive", "force", "no-preserve-root"):
        if p.flags.get(key):
            pc.flags[key] = True
    paths = p.positionals + (p.after_dashdash or [])
    if paths:
        pc.target = paths[0]
        if len(paths) > 1:
            pc.flags["paths"] = str(len(paths))


def parse_find(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """find: a search, a delete with ``-delete``, and the command of ``-exec``/``-execdir`` (parsed)."""
    pc.verb = "search"
    pc.object_kind = "path"
    start = [a for a in args[:1] if not a.startswith("-")]
    pc.target = start[0] if start else None
    extra: list[ParsedCommand] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-delete":
            pc.verb = "delete"
        elif a in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            while j < len(args) and args[j] not in (";", "+", "\\;"):
                j += 1
            inner = args[i + 1 : j]
            if inner:
                # `{}` is each file found under the start directory: judge it as a path there.
                base = pc.target or "."
                found = base if base == "/" else ("{}" if base in (".", "./") else base.rstrip("/") + "/{}")
                extra.extend(ctx.resolve([found if w == "{}" else w for w in inner], "find -exec"))
            i = j
        i += 1
    return extra or None


_VAULT = spec(values="mount field format address namespace method path version versions policy",
              public="field")
_VAULT_GROUPS = {"kv", "secrets", "policy", "auth", "token", "operator", "lease", "audit", "plugin", "namespace",
                 "transit", "pki"}


def parse_vault(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """vault: ``kv get|put|delete``, read/write/delete/list, policy/auth/secrets/operator sub-commands."""
    p = parse_options(args, _VAULT, stop_at_positional=False)
    pos = p.positionals
    if not pos:
        return
    verb, rest = pos[0], pos[1:]
    if verb in _VAULT_GROUPS and rest:
        verb, rest = f"{verb} {rest[0]}", rest[1:]
        if verb in ("kv metadata", "operator raft") and rest:
            verb, rest = f"{verb} {rest[0]}", rest[1:]
    pc.verb = verb
    group = verb.split(" ")[0]
    pc.object_kind = {"kv": "secret", "read": "path", "write": "path", "delete": "path", "list": "path",
                      "policy": "policy", "auth": "auth-method", "secrets": "secrets-engine", "token": "token",
                      "lease": "lease"}.get(group, group)
    paths = [r for r in rest if "=" not in r]
    pc.target = paths[0] if paths else None
    if isinstance(p.flags.get("mount"), str):
        pc.flags["mount"] = p.flags["mount"]
        if pc.target:
            pc.target = f"{p.flags['mount']}/{pc.target}"
    if isinstance(p.flags.get("field"), str):
        pc.flags["field"] = p.flags["field"]
    if any("=" in r for r in rest):
        pc.flags["keys"] = ",".join(sorted(r.split("=", 1)[0] for r in rest if "=" in r))


# Read-only or local utilities: tool → verb. Actions skip the "shell" and "text" groups.
UTILITIES: dict[str, tuple[str, str]] = {
    **{t: ("read", "file") for t in ("cat", "less", "more", "head", "tail", "bat", "zcat", "view", "strings",
                                     "xxd", "hexdump", "od")},
    **{t: ("print", "text") for t in ("echo", "printf", "yes", "banner")},
    **{t: ("filter", "text") for t in ("grep", "egrep", "fgrep", "rg", "ag", "jq", "yq", "awk", "gawk", "cut",
                                      "sort", "uniq", "wc", "tr", "column", "base64", "sha256sum", "md5sum",
                                      "diff", "comm", "paste", "fold", "fmt", "nl", "rev", "tac", "envsubst",
                                      "xmllint", "python-json", "gojq", "seq", "numfmt", "expr", "bc")},
    **{t: ("list", "shell") for t in ("ls", "ll", "tree", "pwd", "du", "df", "stat", "file", "which", "type",
                                      "whoami", "id", "hostname", "uname", "date", "env", "printenv", "ps", "top",
                                      "htop", "free", "uptime", "lsof", "ss", "netstat", "nproc", "history",
                                      "realpath", "dirname", "basename", "readlink", "uptime", "w", "who",
                                      "groups", "locale", "tty", "jobs", "ulimit", "getent", "mktemp")},
    **{t: ("builtin", "shell") for t in ("cd", "pushd", "popd", "export", "set", "unset", "source", ".", "alias",
                                         "unalias", "read", "sleep", "true", "false", ":", "test", "[", "[[",
                                         "wait", "shift", "local", "declare", "typeset", "readonly", "return",
                                         "exit", "trap", "shopt", "let", "break", "continue", "clear",
                                         "umask", "hash", "getopts", "mkdir", "touch", "cls", "tput", "logger",
                                         "break", "ln", "bind", "complete", "disown", "suspend")},
    **{t: ("network-check", "shell") for t in ("ping", "dig", "nslookup", "host", "traceroute", "mtr",
                                               "tracepath", "whois", "arp")},
}


def parse_utility(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """Read-only utilities: a fixed verb, and the file for readers (``cat /etc/passwd``)."""
    verb, _ = UTILITIES[pc.tool]
    pc.verb = verb
    if verb == "read":
        files = [a for a in args if not a.startswith("-")]
        if files:
            pc.object_kind, pc.target = "file", files[0]


# GNU sed's `e` command (`1e cmd`, `/x/e cmd`, a bare `e`) and the `e` flag of `s///`.
_SED_E_CMD = re.compile(r"(?:^|[;{}\n])\s*(?:\d+|\$|/[^/]*/)?(?:,\s*(?:\d+|\$|/[^/]*/))?\s*!?\s*e(?:\s|;|$)")
_SED_S = re.compile(r"(?:^|[;{}\n])\s*(?:\d+|\$|/[^/]*/)?\s*s(.)")
_SED_WRITE = re.compile(r"(?:^|[;{}\n])\s*(?:\d+|\$|/[^/]*/)?\s*[wW]\s+(\S+)")


def _sed_flags_exec(script: str) -> tuple[bool, list[str]]:
    """Whether a sed script runs commands, and the files it writes (``w file``, ``s///w file``)."""
    execs = bool(_SED_E_CMD.search(script))
    writes = [m.group(1) for m in _SED_WRITE.finditer(script)]
    for m in _SED_S.finditer(script):
        delim = m.group(1)
        if delim.isalnum() or delim in " \\\n":
            continue
        # s<d>pattern<d>replacement<d>flags: walk three delimiters (escapes respected).
        i, seen = m.end(), 0
        while i < len(script) and seen < 2:
            if script[i] == "\\":
                i += 2
                continue
            if script[i] == delim:
                seen += 1
            i += 1
        flags = re.match(r"[gpIiMme0-9]*(w\s+\S+)?", script[i:])
        text = flags.group(0) if flags else ""
        if "e" in text.split("w")[0]:
            execs = True
        if flags and flags.group(1):
            writes.append(flags.group(1).split(None, 1)[1])
    return execs, writes


def parse_sed(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """sed: a filter, an in-place edit of files with ``-i``, or (``e``) a command runner."""
    inplace = any(a.startswith(("-i", "--in-place")) or (a.startswith("-") and not a.startswith("--") and "i" in a[1:]
                                                        and a[1:].isalpha()) for a in args)
    p = parse_options(args, spec(values="expression file line-length", aliases={"e": "expression", "f": "file",
                                                                                   "l": "line-length"}))
    scripts = list(p.raw_values.get("expression", []))
    files = list(p.positionals)
    if not scripts and not p.raw_values.get("file") and files:
        scripts, files = [files[0]], files[1:]
    execs, writes = _sed_flags_exec("\n".join(scripts))
    pc.verb = "exec-script" if execs else ("edit" if inplace else "filter")
    if inplace and files:
        pc.object_kind, pc.target = "file", files[0]
    return _file_commands(pc, writes, [], "w") or None


# awk programs that run commands: system(...), `print | "cmd"`, `"cmd" | getline`, `|&` coprocesses.
_AWK_EXEC = re.compile(r"\bsystem\s*\(|\|\s*getline|\|&|print[f]?\b[^;}]*\|\s*[\"\w(]")
_AWK_LITERAL_CMD = re.compile(r"\bsystem\s*\(\s*\"((?:[^\"\\]|\\.)*)\"\s*\)|\"((?:[^\"\\]|\\.)*)\"\s*\|\s*getline|"
                              r"\|\s*\"((?:[^\"\\]|\\.)*)\"")
_AWK_WRITE = re.compile(r"print[f]?\b[^;}|]*?>>?\s*\"([^\"]+)\"")


def parse_awk(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """awk: a filter, unless its program runs commands (``system()``, pipes to or from commands).

    Literal command strings in the program are parsed as the commands they are; files the
    program prints to become ``write-file`` commands.
    """
    p = parse_options(args, spec(values="F v f field-separator assign file", aliases={}))
    pc.verb = "filter"
    program = None if p.raw_values.get("f") or p.raw_values.get("file") else (p.positionals[0] if p.positionals else None)
    if program is None:
        return None
    extra: list[ParsedCommand] = []
    if _AWK_EXEC.search(program):
        pc.verb = "exec-script"
        for m in _AWK_LITERAL_CMD.finditer(program):
            cmd = next(g for g in m.groups() if g is not None)
            extra.extend(ctx.parse_script(cmd.replace('\\"', '"'), f"{pc.tool} system"))
    writes = _AWK_WRITE.findall(program)
    return [*extra, *_file_commands(pc, writes, [], "print >")] or None


def parse_tee(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """tee: writes its input to files."""
    files = [a for a in args if not a.startswith("-")]
    pc.verb = "write"
    if files:
        pc.object_kind, pc.target = "file", files[0]


_TAR_EXEC = re.compile(r"^--(checkpoint-action=exec|to-command|use-compress-program|rsh-command|info-script|"
                       r"new-volume-script|index-file=\|)")


def parse_tar(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """tar: an archive operation, or (``--checkpoint-action=exec``, ``--to-command``, ``-I``) a command runner."""
    inner: list[ParsedCommand] = []
    runs = False
    for i, a in enumerate(args):
        value = None
        if _TAR_EXEC.match(a):
            runs = True
            value = a.split("=", 2)[-1] if "=" in a else (args[i + 1] if i + 1 < len(args) else None)
        elif a in ("-I", "-F") or (a.startswith("-I") and len(a) > 2):
            runs = True
            value = a[2:] if len(a) > 2 else (args[i + 1] if i + 1 < len(args) else None)
        if value and " " in value.strip():
            inner.extend(ctx.parse_script(value, "tar"))
    parse_file_op(pc, args, ctx)
    if runs:
        pc.verb = "exec-archive"
    return inner or None


def parse_file_op(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """mv/cp/chmod/chown/dd/truncate/shred/mkfs: local file changes, target = last or first path."""
    pos = [a for a in args if not a.startswith("-")]
    pc.verb = {"mv": "move", "cp": "copy", "chmod": "chmod", "chown": "chown", "dd": "write-device",
               "truncate": "truncate", "shred": "shred", "scp": "copy", "rsync": "sync", "tar": "archive",
               "unlink": "delete", "rmdir": "delete"}.get(pc.tool, pc.tool)
    if pc.tool.startswith("mkfs"):
        pc.verb = "format"
    if pc.tool == "dd":
        of = [a[3:] for a in args if a.startswith("of=")]
        pc.object_kind, pc.target = ("device" if of and of[0].startswith("/dev/") else "file"), (of[0] if of else None)
        return
    pc.object_kind = "path"
    if pos:
        pc.target = pos[-1] if pc.tool in ("mv", "cp", "scp", "rsync", "ln", "install") else pos[
            -1 if pc.tool in ("chmod", "chown", "chgrp") else 0]
    if any(a in ("-r", "-R", "-rf", "-fr", "--recursive", "-a") for a in args):
        pc.flags["recursive"] = True
    if pc.tool == "rsync" and "--delete" in args:
        pc.flags["delete"] = True


def parse_script_runner(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """python/node/ruby/perl/make...: the script or module (or target) that runs."""
    if pc.tool == "make":
        p = parse_options(args, spec(values="C f file directory jobs", aliases={"C": "directory", "f": "file",
                                                                               "j": "jobs"}))
        pc.verb = "make"
        pc.object_kind = "make-target"
        targets = [a for a in p.positionals if "=" not in a]
        pc.target = targets[0] if targets else None
        return
    pc.verb = "script"
    if "-m" in args and args.index("-m") + 1 < len(args):
        pc.object_kind, pc.target = "module", args[args.index("-m") + 1]
    elif "-c" in args or "-e" in args:
        pc.object_kind, pc.verb = "inline", "eval"
    else:
        pos = [a for a in args if not a.startswith("-")]
        if pos:
            pc.object_kind, pc.target = "script", pos[0]


PARSERS = {
    "docker": parse_docker,
    "podman": parse_docker,
    "nerdctl": parse_docker,
    "docker-compose": parse_docker,
    "systemctl": parse_systemctl,
    "service": parse_service,
    "journalctl": parse_journalctl,
    "curl": parse_curl,
    "wget": parse_wget,
    "http": parse_httpie,
    "https": parse_httpie,
    "git": parse_git,
    "rm": parse_rm,
    "find": parse_find,
    "vault": parse_vault,
    "sed": parse_sed,
    "tee": parse_tee,
    **{t: parse_file_op for t in ("mv", "cp", "chmod", "chown", "chgrp", "dd", "truncate", "shred", "scp", "rsync",
                                  "unlink", "rmdir", "mkfs", "mkfs.ext4", "mkfs.xfs", "ln", "install")},
    "tar": parse_tar,
    **{t: parse_script_runner for t in ("python", "node", "ruby", "perl", "make", "go", "npm", "npx", "uv")},
    **{t: parse_utility for t in UTILITIES},
    **{t: parse_awk for t in ("awk", "gawk", "mawk", "nawk")},
    "ln": parse_file_op,  # a link's name is where it writes (also listed among the builtins above)
}
