"""Commands seen in the sources → action classes; implied standard actions per entity kind.

Two sources of actions meet here and share one id scheme so they merge:

* ``actions_from_commands``: every command sighting (runbook, script, Makefile, workflow)
  is parsed with :func:`inventory.commands.shell.parse_line`; each operational simple
  command becomes an action. When its target names an inventory entity the id is
  ``<entity id>/<verb>[@env]`` (``kafka-topic:orders-events/delete``), otherwise
  ``cmd:<tool>/<verb>[-<object kind>][@env]`` (``cmd:kubectl/delete-namespace``) so similar
  commands group together.
* ``add_implied_actions``: for every entity, the standard operations of its kind from
  ``inventory/data/implied_actions.yaml``, with an example command.

The verb vocabulary (``inventory/commands/verbs.py``) makes ``kubectl rollout restart
deployment/orders-api`` and the implied ``restart`` of ``service:orders-api`` the same class.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from operator import attrgetter

import yaml

from inventory import secrets
from inventory.builder import _COMMAND_REF_FIELDS_SET, InventoryBuilder
from inventory.commands.model import CommandLine, ParsedCommand, trusted
from inventory.commands.reading import CommandReading, LineReading, line_row, reading_of_row
from inventory.commands.shell import parse_line
from inventory.commands.verbs import action_verb, is_noise, pod_owner_names, target_candidates
from inventory.config import Config
from inventory.environments import environment_detector, environment_of_path, host_environment, url_host
from inventory.kubesession import KubeSession
from inventory.model import Action, CommandRef, Component, Entity, action_id, slug
from inventory.operated import operated_system, terraform_roots
from inventory.scanners.base import CommandSighting
from inventory.scripts import ScriptIndex

# Flags that name where a command runs: an environment can be read from them.
_ENV_FLAGS = ("context", "kube-context", "profile", "project", "project_id", "host", "bootstrap-server",
              "subscription", "resource-group", "workspace")
# Flags whose value is a file or directory a command applies (a per-environment one names it).
_FILE_FLAGS = ("kustomize", "filename", "var-file", "values", "chdir", "chart", "file", "config")
# As sets: whether a command has any of them at all is one C-level test.
_ENV_FLAG_SET = frozenset(_ENV_FLAGS)
_FILE_FLAG_SET = frozenset(_FILE_FLAGS)
_HOST_RE = re.compile(r"^(?:[\w.-]+@)?[a-z0-9-]+(?:\.[a-z0-9-]+){2,}$", re.IGNORECASE)
# The mask the redactor writes contains `<` and `>`, which a shell parser reads as
# redirections; it is swapped for a plain word while parsing.
_PARSE_STAND_IN = "REDACTED"
_SQL_RISK = ("drop", "truncate", "delete", "update", "insert", "alter", "grant", "revoke", "create", "copy",
             "admin", "unknown", "select")


def _safe_flags(flags: dict[str, str | bool]) -> dict[str, str | bool]:
    """Flags without anything that looks like a credential (by name or by value)."""
    out: dict[str, str | bool] = {}
    if not flags:  # most commands
        return out
    for key, value in flags.items():
        if secrets.is_secret_key(key) and not key.endswith(("-id", "-name", "-arn")):
            if value is True:
                out[key] = True
            continue
        if isinstance(value, str):
            if _PARSE_STAND_IN in value or secrets.REDACTED in value:
                continue
            if _masks_flag(key, value):
                continue
        out[key] = value
    return out


# (option, value) pairs the redactor leaves as they are: the same options recur on many lines.
# Only those are remembered (they are kept in the inventory anyway); one it masks is not held.
# Emptied when the detectors change (see secrets.clean_memo).
_CLEAN_FLAGS = secrets.clean_memo()


def _masks_flag(key: str, value: str) -> bool:
    """Whether the redactor masks anything in ``key=value``."""
    if (key, value) in _CLEAN_FLAGS:
        return False
    if secrets.redact_text(f"{key}={value}")[1]:
        return True
    _CLEAN_FLAGS.remember((key, value), True)
    return False


def _sql_kind(kinds: list[str]) -> str | None:
    if not kinds:  # most commands: no SQL
        return None
    for kind in _SQL_RISK:
        if kind in kinds:
            return kind
    return kinds[0] if kinds else None


_HOST_SUFFIX_RE = re.compile(r"-?\d+[a-z]?$")
# Words too common to name a system on their own when they appear as a bare argument.
_COMMON_WORDS = frozenset({"all", "get", "list", "logs", "pods", "pod", "node", "nodes", "service", "services",
                           "status", "restart", "start", "stop", "delete", "describe", "default", "main", "master",
                           "true", "false", "json", "yaml", "wide", "admin", "root", "config", "data", "test"})


def host_names(host: str) -> list[str]:
    """Names a host stands for: ``sidekiq-03.gprd.example.net`` → ``sidekiq-03``, ``sidekiq``."""
    h = host.split("@", 1)[-1].split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    first = h.split(".", 1)[0]
    if not first or not _HOST_RE.match(h):
        return []
    out = [first]
    stem = _HOST_SUFFIX_RE.sub("", first)
    if stem and stem != first:
        out.append(stem)
    return out


def _named_candidates(pc: CommandReading) -> list[tuple[str, tuple[str, ...] | None]]:
    """What else a command names, tried after the tool's own target: its target and the
    hosts it connects to (by name), then bare arguments that are exactly an entity's name."""
    out: list[tuple[str, tuple[str, ...] | None]] = []
    # Read once: an attribute is a slower lookup than a local.
    target, flags, verb, namespace = pc.target, pc.flags, pc.verb, pc.namespace
    if target:
        out += [(n, None) for n in host_names(target)] or [(target, None)]
    for key in ("host", "hostname", "server", "bootstrap-server", "url", "endpoint"):
        val = flags.get(key)
        if isinstance(val, str):
            out += [(n, None) for n in host_names(val)]
    flag_values = {v for v in flags.values() if isinstance(v, str)}
    verb_words = set((verb or "").split())  # `gitlab-rails console`: the subcommand names nothing
    for arg in pc.argv[1:]:
        if arg == "--" and verb not in ("exec", "compose exec"):
            # What follows is a new program's (`kubectl run x -- valkey-cli -h host`); after an
            # exec it runs inside the object and may say which one (`exec $POD -- psql -d orders`).
            break
        if arg in flag_values or arg == namespace or arg in verb_words:
            continue  # `-o yaml`, `-c compute`, `-n gitlab`: an option's value, not a name
        if len(arg) >= 4 and not arg.startswith(("-", "$", "<", "/", ".")) and "=" not in arg \
                and arg.lower() not in _COMMON_WORDS:
            out.append((arg, None))
    return out


def _resolve(builder: InventoryBuilder, pc: CommandReading, hint_names: list[str]) -> Entity | None:
    """The one entity a command targets, if the name resolves unambiguously. Names are tried in
    order: the tool's own target, hints, then what else the command names (only worked out when
    the earlier ones did not resolve: most commands stop at their target)."""
    # What each (name, kinds) resolves to is remembered while the builder's entities stay the
    # same: a runbook names its service on most lines (~4,400 names for ~34,000 lookups per
    # 2,000 services). Three plain loops rather than one over a generator of all three.
    memo = builder.find_memo()
    derived = pc.derived
    found = _first_resolved(builder, memo, target_candidates(pc) if derived is None else derived[_CANDIDATES])
    if found is None and hint_names:
        found = _first_resolved(builder, memo, [(n, None) for n in hint_names])
    return found if found is not None else _first_resolved(builder, memo, _named_candidates(pc))


def _first_resolved(builder: InventoryBuilder, memo: dict[tuple[str, tuple[str, ...] | None], Entity | None],
                    candidates: list[tuple[str, tuple[str, ...] | None]]) -> Entity | None:
    """The entity named by the first of ``candidates`` (``(name, kinds or None for any)``) that
    names exactly one (``memo``: :func:`_one_named` by candidate, see ``InventoryBuilder.find_memo``)."""
    for candidate in candidates:
        name = candidate[0]
        if not name or name.startswith(("$", "<")):
            continue
        one = memo.get(candidate, _UNSET)
        if one is _UNSET:
            one = memo[candidate] = _one_named(builder, name, candidate[1])
        if one is not None:
            return one  # type: ignore[return-value]
    return None


def _one_named(builder: InventoryBuilder, name: str, kinds: tuple[str, ...] | None) -> Entity | None:
    """The one entity ``name`` names among ``kinds`` (``None``: any kind), else ``None``."""
    # One lookup per name, then the kinds asked for (only how many match, and which one
    # when one does, matters here: not their order).
    found = builder.find(name)
    if kinds and "" not in kinds:  # an empty kind means any kind, as in find()
        found = [e for e in found if e.kind in kinds]
    if len(found) > 1:  # one id in both tables counts once
        found = list({e.id: e for e in found}.values())
    if len(found) > 1 and kinds is None:
        # Same name as a component and a datastore: the command's kind decides; a
        # workload (deployment/pod) name prefers the component.
        comps = [e for e in found if isinstance(e, Component)]
        found = comps if len(comps) == 1 else found
    return found[0] if len(found) == 1 else None


def explicit_environment(pc: ParsedCommand | CommandReading, cfg: Config) -> str | None:
    """The environment a command itself names: its namespace, context, project, profile or
    host flags, a host it connects to (a URL's host labels included), or a file it applies from
    a per-environment directory (``-k k8s/overlays/staging``,
    ``-var-file=variables/production/app.tfvars``)."""
    found = explicit_environment_signal(pc, cfg)
    return found[0] if found else None


def explicit_environment_signal(pc: ParsedCommand | CommandReading, cfg: Config) -> tuple[str, str] | None:
    """``(environment, what on the command names it)`` for :func:`explicit_environment`
    (``("prod", "the host api.gprd.example.com")``), else ``None``."""
    return _environment_signal(pc, cfg, environment_detector(cfg.environments))


def _environment_signal(pc: ParsedCommand | CommandReading, cfg: Config,
                        detect: Callable[[str], str | None]) -> tuple[str, str] | None:
    """:func:`explicit_environment_signal`, ``detect``: ``environment_detector(cfg.environments)``
    (looked up once for all the commands of a stage: checking the pattern set is not free)."""
    # The words are tried in this order; what names the environment is put in words only
    # for the one that does (this runs for every command of every sighting).
    namespace, flags = pc.namespace, pc.flags
    if namespace:
        env = detect(namespace)
        if env:
            return env, f"the namespace {namespace}"
    if not _ENV_FLAG_SET.isdisjoint(flags):  # most commands have none of them
        for k in _ENV_FLAGS:
            val = flags.get(k)
            if isinstance(val, str):
                env = detect(val)
                if env:
                    return env, f"--{k} {val}"
    if pc.tool == "knife" and pc.object_kind in ("query", "role") and pc.target:
        key, sep, value = pc.target.partition(":")
        role = value if pc.object_kind == "query" and key in ("role", "roles") else \
            pc.target if pc.object_kind == "role" else None
        env = detect(role) if role else None
        if env:
            return env, f"the Chef role {role}"
    if pc.via is None and pc.verb in ("exec", "ssh", "connect") and pc.target and _HOST_RE.match(pc.target):
        env = detect(pc.target)  # `ssh db1.gprd.example.net`
        if env:
            return env, f"the host {pc.target}"
    for text in _url_texts(pc):
        host = url_host(text)
        env = host_environment(host, cfg.environments) if host else None
        if env:
            return env, f"the host {host}"
    if _FILE_FLAG_SET.isdisjoint(flags):
        return None
    for key in _FILE_FLAGS:
        val = flags.get(key)
        if isinstance(val, str) and val:
            hit = environment_of_path(val.rstrip("/") + "/x", cfg.environments)
            named = detect(val.rsplit("/", 1)[-1]) \
                if val.rsplit("/", 1)[-1].startswith(("values-", "values.")) or val.endswith(".tfvars") else None
            if hit or named:
                return (hit[0] if hit else named), f"--{key} {val}"  # type: ignore[return-value]
    return None


def _url_texts(pc: ParsedCommand | CommandReading) -> list[str]:
    """The URLs a command names: a URL target, URL-valued options, URL arguments."""
    out = [pc.target] if pc.object_kind == "url" and pc.target else []
    if pc.flags:
        out += [v for v in pc.flags.values() if isinstance(v, str) and "://" in v]
    # Most commands name no URL: one search of the joined words rather than one per word (a
    # `://` found there is inside one word: it holds no newline, the separator).
    if "://" in "\n".join(pc.argv):
        out += [a for a in pc.argv[1:] if "://" in a and a not in out]
    return out


_UNSET: object = object()


def _environment(pc: CommandReading, sighting: CommandSighting, cfg: Config,
                 line_sig: tuple[str, str] | None = None, own: object = _UNSET) -> tuple[str | None, str | None]:
    """``(environment, what names it)`` for one command of a sighting (``what``: ``None`` when
    the environment is the sighting's own, not something the command line names)."""
    # ``own``: explicit_environment_signal(pc, cfg) when the caller already has it.
    sig = explicit_environment_signal(pc, cfg) if own is _UNSET else own
    # A runbook's headings, prose and folder are not a statement of where a command runs;
    # a workflow's `environment:` key, a script's per-environment directory or a Makefile
    # target named for one are. Within one line, what one command names (`ssh host ...`,
    # `... && kubectl apply -k overlays/staging`) holds for the commands it chains.
    found = sig or line_sig
    if found:
        return found  # type: ignore[return-value]
    hint = sighting.environment if sighting.source_kind != "runbook" else None
    return hint, None


def _env_of_named(entity: Entity, pc: CommandReading) -> str | None:
    """The environment of the per-environment name a command uses (``acme-prod-orders``)."""
    per_env = entity.attributes.get("names_by_environment")
    if not isinstance(per_env, list):
        return None
    words = {pc.target or ""} | set(pc.argv) | {str(v) for v in pc.flags.values() if isinstance(v, str)}
    for item in per_env:
        env, sep, name = str(item).partition(": ")
        if sep and name in words:
            return env
    return None


def _add_command_action(builder: InventoryBuilder, cfg: Config, pc: CommandReading, sighting: CommandSighting,
                        hint_names: list[str], line_sig: tuple[str, str] | None = None, own_sig: object = _UNSET,
                        naming: CommandReading | None = None, operate: bool = True,
                        session: str | None = None, cwd: str | None = None,
                        remote: tuple[CommandReading, str | None] | None = None,
                        caller: CommandSighting | None = None, made: list[str] | None = None) -> None:
    """Add the action ``pc`` of ``sighting`` is to the builder (``caller``: the line that ran the
    script ``sighting`` is in, evidence too)."""
    derived = pc.derived
    verb = action_verb(pc) if derived is None else derived[_VERB]
    env, why = _environment(pc, sighting, cfg, line_sig, own_sig)
    if env is None and remote is not None and remote[1]:
        # Typed into a shell an earlier `ssh host` opened: where that host is, it runs.
        env, why = explicit_environment_signal(remote[0], cfg) or (None, None)
    if session and why and why.startswith(("the namespace ", "--context ")):
        why = f"{why}, {session}"
    entity = _resolve(builder, naming or pc, hint_names)
    if entity is None and operate and sighting.source_kind == "runbook":
        # Nothing in the inventory: the runbook is the evidence of the system it operates.
        entity = operated_system(builder, naming or pc, sighting, env, why, session, cwd, cfg.environments,
                                 remote)
    if entity is not None and env is None:
        env = _env_of_named(entity, pc)
    if entity is not None:
        envs = entity.environments
        if len(envs) <= 1:
            env = env or (envs[0] if envs else None)
            aid = action_id(entity.id, verb)  # one environment: no suffix, like the implied action
        else:
            aid = action_id(entity.id, verb, env)
    else:
        name = verb if not pc.object_kind or pc.tool in ("make",) else f"{verb}-{pc.object_kind}"
        aid = action_id(f"cmd:{slug(pc.tool)}", name, env)
    command, seen_at = sighting.command, sighting.evidence
    evidence = [seen_at] if caller is None else [seen_at, caller.evidence]
    existing = builder.actions.get(aid)
    if existing is not None:
        # Two in five commands are of an action seen already: only their command and evidence
        # are merged, so the rest of an action is not worked out for them.
        builder.add_command_sighting(existing, command, evidence, "command", pc.tool)
        return
    if made is not None:
        made += (aid, command)
    # Built without validating again: every value is of its declared type already (strings
    # and flags of a validated sighting and reading, ids made here); ~57,000 per 2,000 services.
    ref = trusted(CommandRef, {"command": command, "evidence": seen_at}, _COMMAND_REF_FIELDS_SET)
    target = pc.target
    builder.add_action(trusted(Action, {
        "id": aid,
        "verb": slug(verb),
        "tool": pc.tool,
        "target": entity.id if entity else None,
        "target_name": target if target and not target.startswith(_PARSE_STAND_IN) else None,
        "object_kind": pc.object_kind,
        "environment": env,
        "flags": _safe_flags(pc.flags) if derived is None else dict(derived[_SAFE_FLAGS]),  # its own dict
        "sql_kind": _sql_kind(pc.sql_kinds),
        "command": command,
        "commands": [ref],
        "origin": "command",
        "description": None,
        "evidence": evidence,
    }, _ACTION_FIELDS_SET), fresh=True)


# The fields counted as set on every action made here (and, builder._COMMAND_REF_FIELDS_SET,
# command reference): one set of all their fields, shared, as the stored form's loader shares
# one per class (store._py_decoder).
# Pydantic only ever adds a field's name to it (an assignment: an implied action's
# description on a command's action), which it holds already. A set per action was ~30 MB
# and ~0.03 s of the scan's serial tail at 2,000 services (~56,000 actions); nothing reads them.
_ACTION_FIELDS_SET = set(Action.model_fields)


def sighting_text(command: str) -> str:
    """A sighted (redacted) command as the parser reads it: the mask swapped for a plain word."""
    return command.replace(secrets.REDACTED, _PARSE_STAND_IN)


def command_derivations(cfg: Config) -> Callable[[CommandReading], tuple]:
    """What the actions step works out of a command alone, as a reading's ``derived`` holds it:
    ``(action_verb, environment signal, is_noise, safe flags, target candidates)``.

    Worked out by the scan's workers as they parse the lines (see :func:`parse_sightings`),
    on the core the actions step leaves idle, rather than by the actions step itself: about
    a fifth of its time at 2,000 services. A reading without it (made here, or a copy with
    some fields changed) has them worked out where they are needed, by the same functions.
    """
    detect = environment_detector(cfg.environments)

    def derive(pc: CommandReading) -> tuple:
        return (action_verb(pc), _environment_signal(pc, cfg, detect), is_noise(pc), _safe_flags(pc.flags),
                target_candidates(pc))

    return derive


# Where each value is in a reading's ``derived`` (the order command_derivations gives them in).
_VERB, _SIGNAL, _NOISE, _SAFE_FLAGS, _CANDIDATES = range(5)


def parse_sightings(commands: Iterable[str], out: dict[str, bytes] | None = None,
                    known: Mapping[str, CommandLine] | None = None, cfg: Config | None = None) -> dict[str, bytes]:
    """Each distinct sighted command parsed, as the row of its ``CommandLine``
    (``commands.reading.line_row``) keyed by :func:`sighting_text` (added to ``out`` when
    given, skipping lines already there).

    The scan computes this in its worker processes, next to the scanner that found the
    commands, so :func:`actions_from_commands` does not parse them again, serially. A row is
    compact to hold and pickle, and cheap to read back. With ``cfg``, each command's row
    holds :func:`command_derivations` of it too. ``known`` holds texts parsed
    already (``parse_line`` of each key; a scanner's, see ``SourceFile.commands``): a shell
    scanner parses every line it keeps, and most are sighted as they were read.
    """
    out = {} if out is None else out
    known = known or {}
    derive = command_derivations(cfg) if cfg is not None else None
    for command in commands:
        text = sighting_text(command)
        if text not in out:
            line = known.get(text)
            out[text] = line_row(line if line is not None else parse_line(text), derive)
            # A runbook line with `<placeholder>` words is read a second time with them as
            # plain words (see _naming_commands): that reading is parsed here too.
            if "<" in text and _PLACEHOLDER_RE.search(text):
                again = _placeholder_text(text)
                if again not in out:
                    line = known.get(again)
                    out[again] = line_row(line if line is not None else parse_line(again), derive)
    return out


def actions_from_commands(builder: InventoryBuilder, cfg: Config, parsed: Mapping[str, bytes] | None = None,
                          made: list[str] | None = None) -> None:
    """Parse every command sighting into action classes on the builder (one per operational command).

    ``parsed`` may hold lines already parsed (:func:`parse_sightings`); the rest are parsed here.
    ``made``: gets the text of each action added (its id and command), for the scrub to judge
    while the rest of the inventory is built (see ``scrubjudge``).
    A command that runs a scanned script (``./scripts/failover.sh prod``, ``bash hack/x.sh``)
    is what the script runs: its actions are those of the script's lines, evidenced by the
    script line and by the line that ran it (:mod:`inventory.scripts`). A script that was not
    scanned stays an opaque program.
    """
    scripts = ScriptIndex.from_sightings(builder.commands)
    calls: list[tuple[CommandSighting, str]] = []
    script_lines: dict[tuple[str, int, str], LineReading | None] = {}  # parsed once for every call
    sessions: dict[str, KubeSession] = {}  # runbook path -> its shell session (lines in order)
    # Each sighting's reading is validated shortly before it is needed and let go after: a memo of
    # every distinct line's reading would hold tens of thousands of them at once (most
    # lines are sighted once). Only the readings of texts sighted more than once are kept, for
    # their next sightings (~500 texts for ~5,000 sightings per 2,000 services: `set -euo
    # pipefail`, a namespace's `kubectl -n x delete pod <pod-name>` in every runbook).
    detect = environment_detector(cfg.environments)
    ordered = sorted(builder.commands, key=_PLACE)
    lines = _repeated_texts(ordered)
    for sighting, line in _readings(builder, ordered, parsed, lines):
        if sighting.source_kind == "script":
            script_lines[(sighting.evidence.path, sighting.evidence.line, sighting.command)] = line
        if line is None:
            continue
        session = None
        if sighting.source_kind == "runbook":
            session = sessions.get(sighting.evidence.path)
            if session is None:
                session = sessions[sighting.evidence.path] = KubeSession()
        _line_actions(builder, cfg, sighting, line, scripts, None, calls, session, parsed, lines, detect=detect,
                      made=made)
    # Script calls last: each script line's action exists already (with the representative
    # command it would have anyway); a call adds its own evidence to them.
    by_place = {_PLACE(s): s for s in builder.commands} if calls else {}
    for caller, script in calls:
        for sl in scripts.expand(script):
            place = (sl.path, sl.line, sl.command)
            own, inner = by_place.get(place), script_lines.get(place)
            if own is not None and inner is not None:
                _line_actions(builder, cfg, own, inner, scripts, caller, calls, None, parsed, lines, detect=detect,
                              made=made)


# A sighting's place: (path, line, command), built in C (the sort and the place index make ~30,000).
_PLACE = attrgetter("evidence.path", "evidence.line", "command")


def _repeated_texts(sightings: list[CommandSighting]) -> dict[str, LineReading | None]:
    """The texts (:func:`sighting_text`) of the commands sighted more than once, and of their
    placeholder readings (see :func:`_naming_commands`), each mapped to ``None``: the memo
    :func:`_parsed_text` fills in."""
    out: dict[str, LineReading | None] = {}
    for command, n in Counter(map(_COMMAND, sightings)).items():
        if n > 1:
            text = sighting_text(command)
            out[text] = None
            if "<" in text:
                out[_placeholder_text(text)] = None
    return out


_COMMAND = attrgetter("command")


def _parsed_text(text: str, parsed: Mapping[str, bytes] | None,
                 lines: dict[str, LineReading | None] | None) -> LineReading:
    """The reading of ``parse_line(text)``: read from the workers' row when they parsed it.
    ``lines``: readings kept for the texts that are its keys (read once, shared by their
    sightings: no step edits a reading)."""
    line = lines.get(text) if lines is not None else None
    if line is None:
        known = parsed.get(text) if parsed is not None else None
        line = reading_of_row(known if known is not None else line_row(parse_line(text)))
        if lines is not None and text in lines:
            lines[text] = line
    return line


# Sightings whose readings are validated together, ahead of their actions: pydantic's JSON
# validator run back to back takes ~30% less time per line than when each call comes between
# the Python that makes the actions (which evicts it from the CPU's caches); a chunk bounds how
# many readings are held at once.
_READ_AHEAD = 256


def _readings(builder: InventoryBuilder, sightings: list[CommandSighting], parsed: Mapping[str, bytes] | None,
              lines: dict[str, LineReading | None] | None) -> Iterator[tuple[CommandSighting, LineReading | None]]:
    """Each sighting with :func:`_parse_sighting` of it, in order (validated :data:`_READ_AHEAD` at a time)."""
    for start in range(0, len(sightings), _READ_AHEAD):
        chunk = sightings[start:start + _READ_AHEAD]
        yield from zip(chunk, [_parse_sighting(builder, s, parsed, lines) for s in chunk])


def _parse_sighting(builder: InventoryBuilder, sighting: CommandSighting, parsed: Mapping[str, bytes] | None,
                    lines: dict[str, LineReading | None] | None = None) -> LineReading | None:
    line = _parsed_text(sighting_text(sighting.command), parsed, lines)
    if line.parse_error and not line.commands:
        builder.warn(sighting.evidence.path, f"command not understood: {line.parse_error}",
                     sighting.evidence.line, scanner="actions")
        return None
    return line


def _line_actions(builder: InventoryBuilder, cfg: Config, sighting: CommandSighting, line: LineReading,
                  scripts: ScriptIndex, caller: CommandSighting | None,
                  calls: list[tuple[CommandSighting, str]], session: KubeSession | None = None,
                  parsed: Mapping[str, bytes] | None = None, lines: dict[str, LineReading | None] | None = None,
                  *, detect: Callable[[str], str | None], made: list[str] | None = None) -> None:
    """The actions of one parsed sighting; ``caller``: the line that ran the script it is in.
    A call of a scanned script is added to ``calls`` (expanded afterwards) instead.
    ``session``: the runbook's shell session (a namespace an earlier line made current).
    ``parsed``/``lines``: readings parsed already (see :func:`_parsed_text`).
    ``detect``: ``environment_detector(cfg.environments)``, looked up once for the stage.
    ``made``: see :func:`actions_from_commands`."""
    exec_targets: list[str] = []
    # A remote shell an earlier line opened (`ssh host`), read before this line's own commands.
    shell_remote = session.remote_of(sighting) if session is not None else None
    outer_remote: tuple[CommandReading, str | None] | None = None  # `ssh host cmd`, `knife ssh q cmd`
    carried = session.walk(line.commands, sighting) if session is not None else []
    if any(carried) and any(c and c[0] for c in carried):  # most lines: the session gives nothing
        line = replace(line, commands=[pc if not c or not c[0] else replace(pc, namespace=c[0])
                                       for pc, c in zip(line.commands, carried)])
    # A carried context is what the command runs against (its environment, its cluster), not
    # an option it was given: only the reading used to resolve it gets it.
    with_ctx = [pc if not c or not c[1] else replace(pc, flags={**pc.flags, "context": c[1]})
                for pc, c in zip(line.commands, carried)] if any(carried) else line.commands
    # What each command names, computed once per line (it is needed twice).
    own_sigs = [_environment_signal(pc, cfg, detect) if pc.derived is None else pc.derived[_SIGNAL]
                for pc in with_ctx]
    line_sig = next(filter(None, own_sigs), None)
    # Only a runbook line with a `<` can have placeholders (see _naming_commands).
    naming = _naming_commands(sighting, sighting_text(sighting.command), line, parsed, lines) \
        if "<" in sighting.command and sighting.source_kind == "runbook" else None
    # Where an earlier `cd` of the runbook's session went ("": out of the scanned tree).
    cwd: str | None = session.cwd if session is not None else None
    has_scripts = bool(scripts.bodies)  # not bool(scripts): a Python call per line
    for i, (pc, own_sig) in enumerate(zip(line.commands, own_sigs)):
        # Read once: an attribute is a slower lookup than a local.
        tool, verb, via = pc.tool, pc.verb, pc.via
        if tool == "cd" and session is not None:
            here = sighting.evidence.path.rsplit("/", 1)[0] if "/" in sighting.evidence.path else "."
            # The first `cd` of a runbook may be from its own directory or the repository root.
            cwd = session.cwd = terraform_roots(builder).cd(pc.argv[1] if len(pc.argv) > 1 else "",
                                                            [here, "."] if cwd is None else [cwd])
        if verb in ("exec", "compose exec") and pc.target and tool in _EXEC_TOOLS:
            exec_targets = pod_owner_names(pc.target)
        elif tool == "ssh" and pc.target:
            exec_targets = host_names(pc.target)  # what runs over ssh runs on that host
        if (tool == "ssh" and verb == "exec") or (tool == "knife" and verb == "ssh") \
                or (tool == "gcloud" and (verb or "").endswith(" ssh")):
            outer_remote = (pc, None)
        script = scripts.script_of(pc, sighting.evidence.path) if has_scripts else None
        if script is not None:
            # Inside an expansion, a script's own calls were expanded with it already.
            if caller is None:
                calls.append((sighting, script))
            continue
        if (is_noise(pc) if pc.derived is None else pc.derived[_NOISE]) or not tool:
            continue
        hints = exec_targets if via and ("exec" in via or via == "ssh") else []
        remote = outer_remote if via and "ssh" in via else \
            shell_remote if tool != "ssh" and not (via and "exec" in via) else None
        if remote is shell_remote and remote is not None and not hints:
            hints = host_names(remote[0].target or "")
        named = naming.get(i, pc) if naming is not None else pc
        c = carried[i] if i < len(carried) else None
        note = c[2] if c else None
        if c and c[0] and named is not pc:
            named = replace(named, namespace=pc.namespace)
        if c and c[1]:
            named = replace(named, flags={**named.flags, "context": c[1]})
        for one in _each_target(pc):
            # A copy per named object may name another host: its own environment is recomputed.
            _add_command_action(builder, cfg, one, sighting, hints, line_sig, own_sig if one is pc else _UNSET,
                                named if one is pc else one, operate=not line.parse_error, session=note,
                                cwd=cwd, remote=remote, caller=caller, made=made)


# `<pod-name>` in a runbook is a placeholder, which a shell reads as redirections.
_PLACEHOLDER_RE = re.compile(r"<[A-Za-z_][^<>|;&]*>")


def _placeholder_text(text: str) -> str:
    """``text`` with each ``<placeholder>`` one plain word that names nothing."""
    return _PLACEHOLDER_RE.sub("__placeholder__", text)


def _naming_commands(sighting: CommandSighting, text: str, line, parsed: Mapping[str, bytes] | None = None,
                     lines: dict[str, LineReading | None] | None = None) -> dict[int, CommandReading] | None:
    """For a runbook line with ``<placeholder>`` words: the same line parsed with each
    placeholder as one word that names nothing, so what each command names is read in the
    right position (index in ``line.commands`` → that reading). ``None`` when the line has no
    placeholder or the two readings run different programs."""
    if sighting.source_kind != "runbook" or "<" not in text or not _PLACEHOLDER_RE.search(text):
        return None
    again = _parsed_text(_placeholder_text(text), parsed, lines)
    files = ("read-file", "write-file")
    mine = [(i, pc) for i, pc in enumerate(line.commands) if pc.tool not in files]
    theirs = [pc for pc in again.commands if pc.tool not in files]
    if [pc.tool for _, pc in mine] != [pc.tool for pc in theirs]:
        # The readings disagree: the original's target may be a placeholder's stray word.
        return {i: replace(pc, target=None) for i, pc in mine}
    return {i: other for (i, _), other in zip(mine, theirs)}


_EXEC_TOOLS = ("kubectl", "oc", "docker", "podman", "docker-compose")


def _each_target(pc: CommandReading) -> list[CommandReading]:
    """One command per object it names (``kubectl rollout restart deploy/a deploy/b``)."""
    more = pc.flags.get("more-targets")
    if not isinstance(more, str):
        return [pc]
    base = replace(pc, flags={k: v for k, v in pc.flags.items() if k != "more-targets"})
    return [base] + [replace(base, target=name) for name in more.split(",") if name]


@lru_cache(maxsize=1)
def implied_table() -> dict[str, list[dict[str, str]]]:
    """The kind → standard operations table (``inventory/data/implied_actions.yaml``)."""
    text = resources.files("inventory.data").joinpath("implied_actions.yaml").read_text(encoding="utf-8")
    # libyaml: the pure-Python loader takes most of a second on this table.
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    return {str(kind): [dict(e) for e in entries] for kind, entries in raw.items()}


def platform_of(entity: Entity) -> str | None:
    """The platform that defines ``entity`` (whose own tool operates it), if one is known."""
    sub = entity.subtype or ""
    # Kubernetes first: a service both in a laptop compose file and in the cluster is
    # operated in the cluster.
    if "k8s_kind" in entity.attributes:
        return "k8s"
    if sub == "github-actions":
        return "github-actions"
    if "terraform_address" in entity.attributes or sub == "terraform-module":
        return "terraform"
    if sub in ("compose", "compose-volume") or any("compose" in ev.path.rsplit("/", 1)[-1].lower()
                                                   for ev in entity.evidence[:1]):
        return "compose"
    return None


# Tools that operate a datastore through an orchestrator or a cloud API: wrong for a
# container that docker compose runs.
_NOT_COMPOSE_TOOLS = frozenset({"kubectl", "aws", "gcloud", "terraform", "patronictl", "helm"})


_SUBTYPE_KEYS: dict[int, tuple[dict, list[tuple[str, str, str]]]] = {}


def _subtype_keys(table: dict[str, list[dict[str, str]]]) -> list[tuple[str, str, str]]:
    """``(kind, subtype glob, key)`` of the table's ``<kind>/<glob>`` keys, in key order (once per table)."""
    cached = _SUBTYPE_KEYS.get(id(table))
    if cached is None or cached[0] is not table or len(cached[0]) != len(table):
        keys = [(kind, pattern, key) for key in sorted(table) for kind, sep, pattern in [key.partition("/")] if sep]
        cached = _SUBTYPE_KEYS[id(table)] = (table, keys)
    return cached[1]


def implied_entries(table: dict[str, list[dict[str, str]]], entity: Entity) -> list[dict[str, str]]:
    """The standard operations for ``entity``.

    Tried in order: ``<kind>/<subtype glob>``, ``<kind>@<platform>``, ``<kind>``,
    ``other@<platform>``, ``other``. A compose-run entity takes ``<kind>@compose`` first,
    and a compose-run datastore keeps its kind's data commands (``psql -h <name>``) plus the
    ``datastore@compose`` lifecycle, never kubectl or cloud API commands.
    """
    platform = platform_of(entity)
    if platform == "compose":
        own = table.get(f"{entity.kind}@compose")
        if own:
            return own
        data = [e for e in table.get(entity.kind, []) if str(e.get("tool", "")) not in _NOT_COMPOSE_TOOLS]
        verbs = {str(e["verb"]) for e in data}
        return data + [e for e in table.get("datastore@compose", []) if str(e["verb"]) not in verbs]
    if entity.subtype:
        for kind, pattern, key in _subtype_keys(table):
            if kind == entity.kind and fnmatch.fnmatchcase(entity.subtype, pattern):
                return table[key]
    for key in (f"{entity.kind}@{platform}" if platform else None, entity.kind,
                f"other@{platform}" if platform else None, "other"):
        if key and table.get(key):
            return table[key]
    return []


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def template_values(entity: Entity) -> dict[str, str]:
    """What :func:`render_template` fills in for ``entity`` (computed once for all its templates)."""
    subkind = (entity.subtype or entity.kind).removeprefix("k8s-")
    address = entity.attributes.get("terraform_address")
    k8s_kind = entity.attributes.get("k8s_kind")
    workflow = entity.attributes.get("workflow_file") or (
        entity.evidence[0].path.rsplit("/", 1)[-1] if entity.evidence else entity.name)
    return _Blank(
        address=address if isinstance(address, str) else entity.name,
        k8s_kind=str(k8s_kind).lower() if isinstance(k8s_kind, str) else subkind,
        workflow=workflow,
        name=entity.name,
        namespace=entity.namespace or "<namespace>",
        ns_flag=f" -n {entity.namespace}" if entity.namespace else "",
        subkind=subkind,
        ref=entity.name if "/" in entity.name else f"{subkind}/{entity.name}",
    )


def render_template(template: str, entity: Entity, values: dict[str, str] | None = None) -> str:
    """An example command for ``entity`` from a template with ``{name}``, ``{namespace}``,
    ``{ns_flag}``, ``{subkind}``, ``{ref}``, ``{address}``, ``{k8s_kind}`` and ``{workflow}``.

    ``values``: :func:`template_values` of ``entity`` when the caller already has them.
    """
    if not template:
        return template
    try:
        return template.format_map(values if values is not None else template_values(entity))
    except (ValueError, IndexError, KeyError):
        return template  # a malformed template is shown as written rather than failing the scan


def add_implied_actions(builder: InventoryBuilder, cfg: Config, made: list[str] | None = None) -> None:
    """Add the standard operations an agent could take on each component/resource.

    One action per entity and verb; an entity seen in several environments gets one per
    environment (``service:orders-api/restart@prod``). A command already seen for the same
    id keeps its origin and evidence; it only gains the description.

    ``made``: gets the text of each action added (its id, command and description), for the
    scrub to judge while the rest of the inventory is built (see ``scrubjudge``).
    """
    table = implied_table()
    # A table entry's strings (its verb's slug, tool, templates), read once per entry rather
    # than once per entity it applies to (~5 entries for each of ~7,000 entities). Keyed by
    # the entry's id; the entry is held alongside so the id stays its own.
    read: dict[int, tuple[dict, str, str, str, str]] = {}
    # The entries depend on an entity's kind, subtype and platform only (a dozen distinct
    # ones per estate): chosen once for each, not by a walk of the table per entity.
    chosen: dict[tuple[str, str | None, str | None], list[dict[str, str]]] = {}
    actions = builder.actions
    # In the tables' order, not sorted by id: an entity's actions are its own (their ids start
    # with its id), so the order they are added in changes nothing (build() sorts them).
    entities: list[Entity] = [*builder.components.values(), *builder.resources.values()]
    for entity in entities:
        # Read once for all its actions: a model's attribute is a slower lookup than a local.
        ent_id, kind, name, evidence = entity.id, entity.kind, entity.name, entity.evidence
        which = (kind, entity.subtype, platform_of(entity))
        entries = chosen.get(which)
        if entries is None:
            entries = chosen[which] = implied_entries(table, entity)
        if not entries:
            continue
        values = template_values(entity)
        envs = sorted(set(entity.environments))
        per_env: list[str | None] = envs if len(envs) > 1 else [None]
        for entry in entries:
            got = read.get(id(entry))
            if got is None:
                got = read[id(entry)] = (entry, slug(str(entry["verb"])), str(entry.get("tool", "")),
                                         str(entry.get("command", "")), str(entry.get("description", "")))
            _, verb_slug, tool, command, description = got
            command = render_template(command, entity, values)
            description = render_template(description, entity, values) or None
            # action_id(ent_id, verb_slug, env), the verb being a slug already: made here without
            # a call and a slug lookup per action (~39,000 per 2,000 services).
            base = f"{ent_id}/{verb_slug}"
            for env in per_env:
                aid = f"{base}@{env}" if env else base
                existing = actions.get(aid)
                if existing is not None:
                    if not existing.description:  # (an assignment is pydantic's __setattr__, not free)
                        existing.description = description
                    continue
                if made is not None:
                    made += (aid, command, description or "")
                # Not validated again: strings of validated entities and of the table. Stored
                # as add_action(..., fresh=True) stores an action whose id is not yet there.
                actions[aid] = trusted(Action, {
                    "id": aid,
                    "verb": verb_slug,
                    "tool": tool,
                    "target": ent_id,
                    "target_name": name,
                    "object_kind": kind,
                    "environment": env or (envs[0] if envs else None),
                    "flags": {},
                    "sql_kind": None,
                    "command": command,
                    "commands": [],
                    "origin": "implied",
                    "description": description,
                    "evidence": evidence[:1],  # a slice: a list of its own
                }, _ACTION_FIELDS_SET)


def actions_by_target(builder: InventoryBuilder) -> dict[str | None, list[Action]]:
    """Actions grouped by target entity id (``None``: not resolved), ids sorted."""
    out: dict[str | None, list[Action]] = defaultdict(list)
    for aid in sorted(builder.actions):
        out[builder.actions[aid].target].append(builder.actions[aid])
    return dict(out)
