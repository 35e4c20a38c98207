"""Datastore clients: psql, mysql, dump/restore tools, pg_ctl, patronictl, redis-cli, etcdctl, mongosh."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from inventory.commands.model import ParsedCommand
from inventory.commands.options import parse_options, spec
from inventory.commands.sql import primary_object, sql_kinds
from inventory.commands.tools import ToolContext

_PSQL = spec(
    values="command file dbname host port username variable set output log-file field-separator record-separator "
    "table-attr pset",
    aliases={"c": "command", "f": "file", "d": "dbname", "h": "host", "p": "port", "U": "username",
             "v": "variable", "o": "output", "L": "log-file", "F": "field-separator", "R": "record-separator",
             "T": "table-attr", "P": "pset", "l": "list", "W": "password", "X": "no-psqlrc", "A": "no-align",
             "t": "tuples-only", "q": "quiet", "x": "expanded", "1": "single-transaction"},
    multi="command file",
    drop="variable set",
)
_MYSQL = spec(
    values="execute host port user password database socket defaults-file defaults-extra-file login-path "
    "protocol ssl-ca ssl-cert ssl-key init-command",
    aliases={"e": "execute", "h": "host", "P": "port", "u": "user", "p": "password", "D": "database",
             "S": "socket", "B": "batch", "N": "skip-column-names", "s": "silent", "f": "force"},
    secret="password ssl-key",
)
_PG_TOOLS = spec(
    values="dbname host port username file format table exclude-table schema exclude-schema jobs role "
    "section compress superuser pgdata mode timeout log options signal",
    aliases={"d": "dbname", "h": "host", "p": "port", "U": "username", "f": "file", "F": "format",
             "t": "table", "T": "exclude-table", "n": "schema", "N": "exclude-schema", "j": "jobs",
             "D": "pgdata", "m": "mode", "l": "log", "o": "options", "w": "wait", "W": "password",
             "c": "clean", "C": "create", "a": "data-only", "s": "schema-only", "x": "no-privileges",
             "O": "no-owner", "v": "verbose", "1": "single-transaction", "e": "exit-on-error"},
    multi="table exclude-table schema",
)
_MYSQLDUMP = spec(
    values="host port user password result-file where tables databases ignore-table",
    aliases={"h": "host", "P": "port", "u": "user", "p": "password", "r": "result-file", "w": "where",
             "A": "all-databases", "B": "databases"},
    secret="password",
)


def _sanitize_url(value: str) -> tuple[str | None, str | None, str]:
    """``(host, database, url-without-password)`` for a connection URL."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return None, None, "<url>"
    host = parts.hostname
    db = parts.path.lstrip("/") or None
    netloc = (f"{parts.username}@" if parts.username else "") + (host or "") + (f":{parts.port}" if parts.port else "")
    return host, db, f"{parts.scheme}://{netloc}{parts.path}"


def _set_sql(pc: ParsedCommand, sql: str | None, via_file: str | None) -> None:
    if sql:
        pc.sql = sql
        pc.sql_kinds = sql_kinds(sql)
        pc.verb = "sql"
        obj, name = primary_object(sql)
        if name:
            pc.object_kind, pc.target = obj, name
    elif via_file:
        pc.verb = "sql"
        pc.sql_kinds = ["unknown"]  # a script file: its statements are not visible here
        pc.object_kind, pc.target = "sql-file", via_file
    else:
        pc.verb = "connect"


def _db_flags(pc: ParsedCommand, flags: dict, positionals: list[str], db_key: str) -> None:
    for key in ("host", "port"):
        if isinstance(flags.get(key), str):
            pc.flags[key] = flags[key]
    db = flags.get(db_key)
    if isinstance(db, str) and "://" in db:
        host, dbname, _ = _sanitize_url(db)
        if host:
            pc.flags["host"] = host
        db = dbname
    if not isinstance(db, str) and positionals:
        first = positionals[0]
        if "://" in first or first.startswith("postgres"):
            host, dbname, _ = _sanitize_url(first)
            if host:
                pc.flags["host"] = host
            db = dbname
        elif "=" in first:  # libpq "host=x dbname=y" string
            kv = dict(re.findall(r"(\w+)=(\S+)", first))
            db = kv.get("dbname")
            if kv.get("host"):
                pc.flags["host"] = kv["host"]
        else:
            db = first
    if isinstance(db, str) and db:
        pc.flags["database"] = db


def parse_psql(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """psql: SQL from -c, stdin (heredoc/pipe) or a file (-f / < file: kinds unknown)."""
    p = parse_options(args, _PSQL)
    _db_flags(pc, p.flags, p.positionals, "dbname")
    if p.flags.get("list"):
        pc.verb = "list-databases"
        return
    cmds = p.raw_values.get("command")
    sql = ";\n".join(cmds) if cmds else ctx.stdin
    files = p.raw_values.get("file") or ([ctx.stdin_file()] if ctx.stdin_file() else [])
    _set_sql(pc, sql, files[0] if files else None)
    if p.flags.get("single-transaction"):
        pc.flags["single-transaction"] = True


def parse_mysql(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """mysql/mariadb: SQL from -e or stdin; database from -D or the first positional."""
    p = parse_options(args, _MYSQL)
    _db_flags(pc, p.flags, p.positionals, "database")
    sql = (p.raw_values.get("execute") or [None])[0] or ctx.stdin
    _set_sql(pc, sql, ctx.stdin_file())
    if p.flags.get("force"):
        pc.flags["force"] = True


def parse_clickhouse(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """clickhouse-client: SQL from --query/-q or stdin."""
    p = parse_options(args, spec(values="query host port user password database queries-file",
                                 aliases={"q": "query", "h": "host", "u": "user", "d": "database"},
                                 secret="password"))
    _db_flags(pc, p.flags, [], "database")
    _set_sql(pc, (p.raw_values.get("query") or [None])[0] or ctx.stdin, ctx.stdin_file())


def parse_dump(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """pg_dump / pg_dumpall / mysqldump: export a database (target), with tables and output file."""
    p = parse_options(args, _MYSQLDUMP if pc.tool == "mysqldump" else _PG_TOOLS)
    pc.verb = "dump"
    pc.object_kind = "database"
    _db_flags(pc, p.flags, p.positionals, "dbname" if pc.tool != "mysqldump" else "database")
    pc.target = str(pc.flags.get("database")) if pc.flags.get("database") else None
    for key in ("table", "file", "result-file", "format", "schema", "all-databases", "schema-only", "data-only"):
        if key in p.flags:
            pc.flags[key] = p.flags[key]
    if pc.tool == "pg_dumpall":
        pc.flags["all-databases"] = True
    if any(r[0] in (">", ">>") for r in ctx.redirects):
        pc.flags["file"] = next(t for o, t in ctx.redirects if o in (">", ">>"))


def parse_restore(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """pg_restore: restore an archive into a database (``--clean`` drops objects first)."""
    p = parse_options(args, _PG_TOOLS)
    pc.verb = "restore"
    pc.object_kind = "database"
    for key in ("host", "port"):
        if isinstance(p.flags.get(key), str):
            pc.flags[key] = p.flags[key]
    if isinstance(p.flags.get("dbname"), str):
        pc.flags["database"] = p.flags["dbname"]
        pc.target = str(p.flags["dbname"])
    for key in ("clean", "create", "single-transaction", "data-only", "jobs"):
        if key in p.flags:
            pc.flags[key] = p.flags[key]
    if p.positionals:
        pc.flags["file"] = p.positionals[0]


def parse_pg_ctl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """pg_ctl: start/stop/restart/promote/reload/status of a data directory."""
    p = parse_options(args, _PG_TOOLS)
    pc.verb = p.positionals[0] if p.positionals else "unknown"
    pc.object_kind = "postgres-instance"
    if isinstance(p.flags.get("pgdata"), str):
        pc.target = str(p.flags["pgdata"])
    if isinstance(p.flags.get("mode"), str):
        pc.flags["mode"] = p.flags["mode"]


def parse_patronictl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """patronictl: list/switchover/failover/restart/reinit/pause/edit-config... of a cluster."""
    p = parse_options(args, spec(values="config-file dcs-url group candidate leader primary member scheduled "
                                      "format role dbname username password",
                                 aliases={"c": "config-file", "d": "dcs-url", "f": "format", "r": "role"},
                                 secret="password"))
    pos = p.positionals
    pc.verb = pos[0] if pos else "unknown"
    pc.object_kind = "postgres-cluster"
    pc.target = pos[1] if len(pos) > 1 else None
    if len(pos) > 2:
        pc.flags["member"] = pos[2]
    for key in ("candidate", "leader", "primary", "force", "scheduled"):
        if key in p.flags:
            pc.flags[key] = p.flags[key]
    if pc.verb == "query":
        cmd = p.flags.get("command")
        if isinstance(cmd, str):
            _set_sql(pc, cmd, None)
            pc.verb = "query"


_REDIS = spec(
    values="host port auth pass user db uri socket pattern count interval tls-cert tls-key cacert sni",
    aliases={"h": "host", "p": "port", "a": "auth", "n": "db", "u": "uri", "s": "socket", "r": "repeat",
             "i": "interval", "c": "cluster-mode", "x": "stdin-last-arg"},
    secret="auth pass user tls-key",
)
_REDIS_TWO_WORD = {"config", "cluster", "client", "acl", "memory", "script", "debug", "module", "xinfo", "object",
                   "function", "latency", "slowlog", "command", "sentinel"}
_REDIS_MODES = ("scan", "bigkeys", "memkeys", "hotkeys", "stat", "latency", "rdb", "pipe", "monitor", "cluster")


def _redis_words(words: list[str]) -> tuple[str, str | None]:
    if not words:
        return "connect", None
    cmd = words[0].lower()
    if cmd in _REDIS_TWO_WORD and len(words) > 1:
        return f"{cmd} {words[1].lower()}", (words[2] if len(words) > 2 else None)
    return cmd, (words[1] if len(words) > 1 else None)


def parse_redis(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> list[ParsedCommand] | None:
    """redis-cli/valkey-cli: the Redis command word(s) as verb; each piped command becomes one command."""
    p = parse_options(args, _REDIS, stop_at_positional=True)
    f = p.flags
    for key in ("host", "port", "db"):
        if isinstance(f.get(key), str):
            pc.flags[key] = f[key]
    if isinstance(f.get("uri"), str):
        host, _, _ = _sanitize_url(str(f["uri"]))
        if host:
            pc.flags["host"] = host
    for key in ("auth", "pass", "user"):
        if key in f:
            pc.flags["auth"] = True  # presence only
    for mode in _REDIS_MODES:
        if f.get(mode) is True and not p.positionals:
            pc.verb = mode
            if isinstance(f.get("pattern"), str):
                pc.target = str(f["pattern"])
            return None
    if f.get("cluster-mode"):
        pc.flags["cluster-mode"] = True
    if p.positionals:
        pc.verb, pc.target = _redis_words(p.positionals)
        pc.object_kind = "key" if pc.target else None
        if pc.verb in ("auth",):
            pc.target = None
        return None
    if ctx.stdin:
        lines = [ln.split() for ln in ctx.stdin.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if lines:
            pc.verb, pc.target = _redis_words(lines[0])
            pc.object_kind = "key" if pc.target else None
            extra = []
            for words in lines[1:]:
                sub = pc.model_copy(deep=True)
                sub.verb, sub.target = _redis_words(words)
                sub.object_kind = "key" if sub.target else None
                extra.append(sub)
            return extra or None
    pc.verb = "connect"
    return None


_ETCD = spec(values="endpoints user password cacert cert key prefix-range dial-timeout command-timeout write-out "
             "limit rev from-key", aliases={"w": "write-out"}, secret="user password key")
_ETCD_GROUPS = {"member", "snapshot", "endpoint", "alarm", "lease", "auth", "user", "role", "move-leader", "check"}


def parse_etcdctl(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """etcdctl: get/put/del (key), member/snapshot/endpoint/alarm sub-commands, defrag, compaction."""
    p = parse_options(args, _ETCD)
    pos = p.positionals
    if not pos:
        return
    verb, rest = pos[0], pos[1:]
    if verb in _ETCD_GROUPS and rest:
        verb, rest = f"{verb} {rest[0]}", rest[1:]
    pc.verb = {"del": "delete", "rm": "delete"}.get(verb, verb)
    pc.object_kind = "key" if pc.verb in ("get", "put", "delete", "watch") else verb.split(" ")[0]
    pc.target = rest[0] if rest else None
    for key in ("prefix", "from-key", "endpoints", "write-out"):
        if key in p.flags:
            pc.flags[key] = p.flags[key]
    if "user" in p.flags or "password" in p.flags:
        pc.flags["auth"] = True


_MONGO_OPS = re.compile(r"\.(dropDatabase|drop|deleteMany|deleteOne|remove|updateMany|updateOne|insertOne|"
                        r"insertMany|find|findOne|aggregate|count|countDocuments|createIndex|dropIndex|"
                        r"renameCollection|shutdownServer)\s*\(")


def parse_mongosh(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """mongosh/mongo: JavaScript from --eval or stdin; operation names become ``sql_kinds``."""
    p = parse_options(args, spec(values="eval host port username password authenticationDatabase file",
                                 aliases={"u": "username", "p": "password", "f": "file"},
                                 secret="password username"))
    code = (p.raw_values.get("eval") or [None])[0] or ctx.stdin
    if p.positionals:
        host, db, _ = _sanitize_url(p.positionals[0]) if "://" in p.positionals[0] else (None, p.positionals[0], "")
        if db:
            pc.flags["database"] = db
        if host:
            pc.flags["host"] = host
    if code:
        pc.verb = "eval"
        pc.sql = code
        pc.sql_kinds = list(dict.fromkeys(m.lower() for m in _MONGO_OPS.findall(code)))
    else:
        pc.verb = "connect"


def parse_mysqladmin(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """mysqladmin: drop/create DB, shutdown, flush-*, kill, processlist..."""
    p = parse_options(args, _MYSQL)
    pos = p.positionals
    pc.verb = pos[0].lower() if pos else "unknown"
    if pc.verb in ("drop", "create") and len(pos) > 1:
        pc.object_kind, pc.target = "database", pos[1]
    if p.flags.get("force"):
        pc.flags["force"] = True


PARSERS = {
    "psql": parse_psql,
    "mysql": parse_mysql,
    "clickhouse-client": parse_clickhouse,
    "pg_dump": parse_dump,
    "pg_dumpall": parse_dump,
    "mysqldump": parse_dump,
    "pg_restore": parse_restore,
    "pg_ctl": parse_pg_ctl,
    "pg_ctlcluster": parse_pg_ctl,
    "patronictl": parse_patronictl,
    "redis-cli": parse_redis,
    "valkey-cli": parse_redis,
    "keydb-cli": parse_redis,
    "etcdctl": parse_etcdctl,
    "mongosh": parse_mongosh,
    "mongo": parse_mongosh,
    "mysqladmin": parse_mysqladmin,
}
