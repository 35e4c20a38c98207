"""The PreToolUse hook: ``stackpolicy hook claude-code`` decides every Bash call an agent makes,
and every file tool call (Read, Write, Edit, MultiEdit, NotebookEdit) that touches a secret or
system path.

Claude Code sends the tool call as JSON on stdin (``tool_name``, ``tool_input.command``,
``cwd``, ...) and reads ``{"hookSpecificOutput": {"hookEventName": "PreToolUse",
"permissionDecision": "allow"|"ask"|"deny", "permissionDecisionReason": ...}}`` from stdout.

It runs on every call, so this module imports only the standard library. The export
compiles ``hook-state.json``: a table of the classifier's verdicts on the policy's own
commands (answered without importing anything else), the reviewed tiers, and the inventory.
Any other command goes through the full classifier (compound lines, wrappers,
target-aware tiers). Importing it costs ~400 ms, so a warm classifier process per state
(:mod:`generators.hook_server`, reached through :mod:`generators.hook_client`) answers
those; when none answers, the hook classifies in-process this once (the slow path, same
answer) and starts one in the background. On any error of its own the hook answers
``ask``: it fails closed, never open.
"""

from __future__ import annotations

import os
import sys
import time

from generators import hook_client
from generators.hook_client import json_dumps, json_loads

# Annotations only (they are strings here): importing `typing` would cost every call ~4 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

DEFAULT_STATE = "output/enforce/claude-code/hook-state.json"
DEFAULT_CODEX_STATE = "output/enforce/codex/hook-state.json"
STATE_VERSION = 2  # 2: the decision table replaces per-action entries

# File tools and what they do to their path. Their calls are judged as the shell command that
# does the same (`cat PATH`, `tee PATH`), so one rule table decides both.
FILE_TOOLS = {"Read": "cat", "NotebookRead": "cat", "Write": "tee", "Edit": "tee", "MultiEdit": "tee",
              "NotebookEdit": "tee"}
# Words in a file name that suggest credentials (a cheap pre-filter: the classifier decides).
_SENSITIVE_WORDS = ("key", "cred", "secret", "token", "passw", "pem", "p12", "pfx", "kubeconfig", "tfstate",
                    "id_rsa", "id_ed25519", "id_ecdsa", "shadow", "sudoers", "authorized_keys", "netrc", "pgpass",
                    "htpasswd", "environ", "keystore", "vault", "private")


def _answer(decision: str, reason: str) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": decision,
                                   "permissionDecisionReason": reason}}


def _resolve(path: str, event: dict[str, Any]) -> str:
    """Relative paths are relative to the project (``$CLAUDE_PROJECT_DIR``, else the call's cwd)."""
    if os.path.isabs(path):
        return path
    base = os.environ.get("CLAUDE_PROJECT_DIR") or event.get("cwd") or os.getcwd()
    return os.path.join(base, path)


def full_python() -> None:
    """Make site-packages importable when the hook was started without ``site`` (``-S``).

    The exported hooks run :mod:`generators.hook_entry` with ``-I -S``: a call answered from a
    table, the cache or a warm server needs only the standard library. The full classifier
    needs the installed dependencies, so the slow path runs ``site`` once, late.
    """
    if sys.flags.no_site and "site" not in sys.modules:
        import site

        site.main()


def build_classifier(state: dict[str, Any], keep: Callable[[str, str, str], object] | None = None,
                     ) -> Callable[[str], tuple[str, str]]:
    """The full classifier for ``state`` (its rules, inventory and reviewed tiers), built once.

    Returns ``command -> (decision, reason)``; used by the slow path and the warm server alike,
    so both give the same answers. ``keep(command, decision, reason)`` is called for each
    answer on a line the classifier found no secret in (the decision cache stores those only).
    """
    full_python()
    from generators.classify import Classifier
    from generators.decision.model import DecisionTable
    from generators.risk.assess import build_index
    from generators.risk.rules import build_rules
    from inventory.model import Inventory

    # The configured rules travel as JSON: validating them is far cheaper than parsing YAML.
    rules = build_rules(state["rules"], source="hook state") if state.get("rules") else None
    index = None
    if state.get("inventory"):
        index = build_index(Inventory.model_validate(state["inventory"]), state.get("environments") or None)
    table = DecisionTable.model_validate(state["decision_table"]) if state.get("decision_table") else None
    classifier = Classifier(rules, index, table)

    def classify(command: str) -> tuple[str, str]:
        c = classifier.classify(command)
        decision, reason = c.decision, " | ".join(c.reasons)
        if keep is not None and c.command == command:  # redaction changed nothing: no secret in it
            keep(command, decision, reason)
        return decision, reason

    return classify


def _classify(state: dict[str, Any], command: str, keep: Callable[[str, str, str], object] | None = None,
              ) -> tuple[str, str]:
    """The slow path: the full classifier, loaded in this process for this one call."""
    return (build_classifier(state, keep) if keep is not None else build_classifier(state))(command)


def _parse_state(raw: bytes) -> dict[str, Any]:
    """The state file's JSON: large, so the full decoder, imported only by the calls that parse it."""
    import json

    state = json.loads(raw)
    if not isinstance(state, dict):
        raise ValueError("the hook state is not a JSON object")
    return state


def lookup(state: dict[str, Any], command: str) -> tuple[str, str] | None:
    """The precomputed verdict on ``command`` from the state's table, if it has one."""
    known = (state.get("table") or {}).get(command)
    return None if known is None else (known["decision"], known["reason"])


def _ask_warm_server(state_path: str, digest: str, command: str) -> tuple[str, str] | None:
    """The warm server's answer if one is up for this state (no waiting, no starting)."""
    if not hook_client.enabled():
        return None
    directory = hook_client.socket_dir(create=False)
    if directory is None:
        return None
    sock = hook_client.socket_path(directory, state_path, digest)
    if not os.path.exists(sock):  # the usual "no server": skip importing socket at all
        return None
    return hook_client.query(sock, digest, command)


def _cache_keeper(directory: str, digest: str) -> Callable[[str, str, str], object]:
    """Where the slow path keeps its answer: the decision cache, stamped with this code."""
    def keep(command: str, decision: str, reason: str) -> None:
        from generators.hook_server import DecisionCache, code_stamp

        DecisionCache(directory, digest, code_stamp()).put(command, decision, reason)

    return keep


def _warm_or_slow(state: dict[str, Any], state_path: str, digest: str, command: str) -> tuple[str, str]:
    """Ask the warm server for this exact state; without one, classify here and start one."""
    if not hook_client.enabled():
        return _classify(state, command)
    directory = hook_client.socket_dir(create=True)
    if directory is None:  # not private to us: never talk to or start a server there
        return _classify(state, command)
    sock = hook_client.socket_path(directory, state_path, digest)
    answer = None  # decide() already asked a listening server, if any
    if hook_client.wait_loading(sock):
        # It just came up: a refused first connection is retried briefly, never raced.
        for _ in range(5):
            answer = hook_client.query(sock, digest, command)
            if answer is not None:
                break
            time.sleep(0.02)
    if answer is not None:
        return answer
    decision, reason = _classify(state, command, _cache_keeper(directory, digest))
    # Never raises; starts nothing if a server holds the lock (a hung one: a second could not serve).
    hook_client.ensure(state_path, digest)
    return decision, reason


def _project_root(event: dict[str, Any]) -> str:
    return os.path.abspath(os.environ.get("CLAUDE_PROJECT_DIR") or event.get("cwd") or os.getcwd())


def needs_review(path: str, root: str) -> bool:
    """Whether a file tool's path may be a secret or system file: outside the project, under a
    dot-directory or dot-file (``.ssh``, ``.aws``, ``.env``, ``.git/hooks``), or named like a
    credential. Other project files are left to the agent's normal permissions."""
    inside = path == root or path.startswith(root.rstrip("/") + "/")
    if not inside:
        return True
    rel = path[len(root):].lstrip("/")
    parts = [p for p in rel.split("/") if p]
    if any(p.startswith(".") and p not in (".", "..") for p in parts):
        return True
    name = parts[-1].lower() if parts else ""
    return any(w in name for w in _SENSITIVE_WORDS)


def file_command(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(shell command, None)`` equivalent to a file tool call on a sensitive path, ``(None, None)``
    when the path needs no review, or ``(None, why)`` when the call names no usable path."""
    import shlex  # only file tool calls pay for it

    verb = FILE_TOOLS[event["tool_name"]]
    tool_input = event.get("tool_input") or {}
    path = tool_input.get("file_path") or tool_input.get("notebook_path") or tool_input.get("path")
    if not isinstance(path, str) or not path.strip() or "\0" in path:
        return None, "no usable file path in the tool call"
    full = os.path.normpath(_resolve(os.path.expanduser(path), event))
    if not needs_review(full, _project_root(event)):
        return None, None
    return f"{verb} {shlex.quote(full)}", None


def verdict(command: str, event: dict[str, Any], state_path: str) -> tuple[str, str]:
    """``(decision, reason)`` of the full classifier for ``command``: the warm server, the
    state's precomputed table, or this process (and a warm server started for next time)."""
    path = os.path.abspath(_resolve(state_path, event))
    directory = hook_client.socket_dir(create=True) if hook_client.enabled() else None
    # The state's hash is memoised by its stat: a call need not read and hash a large state.
    digest, raw = hook_client.state_digest(path, directory)
    # The exported verdict table, the decision cache (answers of earlier calls and sessions),
    # then a warm server for these exact bytes: both spare parsing the state
    # (~10 ms of 0.5 MB JSON) and answer the first call of a session before any server is up.
    answer = hook_client.table_get(path, digest, command)  # the policy's own commands, exported
    if answer is not None:
        if directory is not None:  # an open() and a flock when it runs: the first miss is fast too
            hook_client.ensure(path, digest)
        return answer
    if directory is not None:
        answer = hook_client.cache_get(directory, digest, command)
    if answer is None:
        answer = _ask_warm_server(path, digest, command)
    if answer is not None:
        return answer[0], answer[1]
    if raw is None:
        with open(path, "rb") as fh:
            raw = fh.read()
        digest = hook_client.state_hash(raw)  # the bytes read now (rewritten since it was memoised?)
    state = _parse_state(raw)
    if state.get("version") != STATE_VERSION:
        return "ask", f"{state_path} is from another version; rerun `stackpolicy export`"
    known = lookup(state, command)
    if known is not None:
        decision, reason = known
        # Start the server now (an open() and a flock when it runs) so the first miss is fast too.
        hook_client.ensure(path, digest)
    else:
        decision, reason = _warm_or_slow(state, path, digest, command)
    return decision, reason


def decide(event: dict[str, Any], state_path: str) -> dict[str, Any] | None:
    """The Claude Code answer for one hook event (``None``: nothing to say — another tool, or a
    file tool on an ordinary project file)."""
    tool = event.get("tool_name")
    if tool in FILE_TOOLS:
        command, problem = file_command(event)
        if problem:
            return _answer("ask", f"stackpolicy: {problem}, so a human decides")
        if command is None:
            return None
    elif tool != "Bash":
        return None
    else:
        command = (event.get("tool_input") or {}).get("command")
    if not isinstance(command, str) or not command.strip():
        return _answer("ask", "stackpolicy: no command in the tool call, so a human decides")
    decision, reason = verdict(command, event, state_path)
    label = f"{tool} " if tool in FILE_TOOLS else ""
    return _answer(decision, f"stackpolicy: {label}{reason}")


# -- Codex -------------------------------------------------------------------------------

_CODEX_SHELL_TOOLS = ("Bash", "shell", "local_shell", "exec_command", "container.exec")
_SHELLS = ("bash", "sh", "zsh", "/bin/bash", "/bin/sh", "/usr/bin/bash", "/bin/zsh", "/usr/bin/zsh")
_PLAIN_OPERATORS = ("&&", "||", ";", "|")
_RANK = {"allow": 0, "ask": 1, "deny": 2}


def codex_command(tool_input: Any) -> str | None:
    """The shell line of a Codex shell tool call (``command``: a string, or an argv such as
    ``["bash", "-lc", script]``)."""
    cmd = tool_input.get("command") if isinstance(tool_input, dict) else None
    if isinstance(cmd, list) and all(isinstance(x, str) for x in cmd):
        if len(cmd) == 3 and cmd[0] in _SHELLS and cmd[1] in ("-c", "-lc"):
            return cmd[2]
        import shlex

        return shlex.join(cmd)
    return cmd if isinstance(cmd, str) else None


def codex_parts(line: str) -> list[list[str]]:
    """The commands Codex checks its rules against for ``line``, run as ``bash -lc line``: the
    simple commands of a *plain* script (words joined by ``&&``, ``||``, ``;``, ``|``), else
    the whole ``["bash", "-lc", line]`` (expansions, redirections, subshells)."""
    import shlex

    whole = [["bash", "-lc", line]]
    if any(c in line for c in "$`\n(){}<>*?~!#"):
        return whole
    try:
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        tokens = list(lex)
    except ValueError:
        return whole
    parts: list[list[str]] = [[]]
    for t in tokens:
        if t and all(c in "();<>|&" for c in t):
            if t not in _PLAIN_OPERATORS:
                return whole
            parts.append([])
        else:
            parts[-1].append(t)
    parts = [p for p in parts if p]
    return parts or whole


def codex_rules_decision(rules: list[dict[str, Any]], line: str) -> str | None:
    """The strictest compiled ``prefix_rule`` decision Codex reaches for ``line`` (``None``: no rule)."""
    best: str | None = None
    for argv in codex_parts(line):
        for r in rules:
            toks = r["tokens"]
            if argv and argv[0] in r["programs"] and argv[1:1 + len(toks)] == toks:
                if best is None or _RANK[r["decision"]] > _RANK[best]:
                    best = r["decision"]
    return best


def decide_codex(event: dict[str, Any], state_path: str) -> dict[str, Any] | None:
    """The Codex answer for one ``PreToolUse`` event (``None``: let Codex's rules decide).

    Codex enforces only a hook's ``deny`` (its ``ask`` fails open), so: T3 is denied; T2 is
    left to Codex only when a ``prompt`` or ``forbidden`` rule of the export already stops
    it for a human, else denied with the reason (a human can run it, or approve a rule);
    T0/T1 are left to the rules.
    """
    if event.get("tool_name") not in _CODEX_SHELL_TOOLS:
        return None
    command = codex_command(event.get("tool_input"))
    if not isinstance(command, str) or not command.strip():
        return _answer("deny", "stackpolicy: no command in the tool call")
    decision, reason = verdict(command, event, state_path)
    reason = f"stackpolicy: {reason}"
    rules: list[dict[str, Any]] = []
    if decision == "ask":
        with open(os.path.abspath(_resolve(state_path, event)), "rb") as fh:
            rules = _parse_state(fh.read()).get("codex_rules") or []
    return codex_answer(decision, reason, rules, command)


def codex_answer(decision: str, reason: str, rules: list[dict[str, Any]], command: str) -> dict[str, Any] | None:
    """What the Codex hook prints for the classifier's ``decision`` on ``command`` (``None``:
    nothing, Codex's rules decide)."""
    if decision == "allow":
        return None
    if decision == "ask":
        if codex_rules_decision(rules, command) in ("ask", "deny"):
            return None  # a prompt_rule (or forbidden) of the export already stops it for a human
        reason += " (T2 needs a human's approval, which a Codex hook cannot request: ask the user to run it)"
    return _answer("deny", reason)


def run(stdin: TextIO, stdout: TextIO, state_path: str = DEFAULT_STATE, agent: str = "claude-code") -> int:
    """Read one event, write one answer; always exit 0 (errors become ``ask``, for Codex
    ``deny``: Codex does not enforce a hook's ``ask``)."""
    try:
        event = json_loads(stdin.read() or "{}")
        if not isinstance(event, dict):
            raise ValueError("the hook input is not a JSON object")
        answer = decide_codex(event, state_path) if agent == "codex" else decide(event, state_path)
    except Exception as exc:  # fail closed: any error of ours means a human decides
        answer = _answer("deny" if agent == "codex" else "ask",
                         f"stackpolicy hook error ({exc.__class__.__name__}: {exc}); blocked until a human decides")
    if answer is not None:
        stdout.write(json_dumps(answer) + "\n")
    return 0


def warm(stdin: TextIO, state_path: str = DEFAULT_STATE) -> int:
    """``--warm`` (a ``SessionStart`` hook): start the warm classifier for the state and wait,
    bounded (``STACKPOLICY_HOOK_WARM_WAIT``, default 5 s; 0: do not wait), until it listens, so
    the session's first PreToolUse call is answered warm; print nothing.

    Best effort and silent: a session must never fail to start because of it, and the
    PreToolUse hook answers correctly with or without the server.
    """
    try:
        try:
            event = json_loads(stdin.read() or "{}")
        except ValueError:
            event = {}
        path = os.path.abspath(_resolve(state_path, event if isinstance(event, dict) else {}))
        directory = hook_client.socket_dir(create=True) if hook_client.enabled() else None
        # Through the memo: the session's first call then need not read and hash the state.
        digest, _ = hook_client.state_digest(path, directory)
        pid = hook_client.ensure(path, digest)
        if directory is not None:
            hook_client.wait_ready(hook_client.socket_path(directory, path, digest), pid, hook_client.warm_wait())
    except Exception:  # noqa: BLE001 - warming is an optimisation; the PreToolUse hook reports errors
        pass
    return 0


def main(argv: list[str]) -> int:
    """``hook claude-code|codex [--state PATH] [--warm]`` without click (startup time matters here)."""
    args = list(argv)
    state = DEFAULT_STATE
    if "--state" in args:
        i = args.index("--state")
        if i + 1 < len(args):
            state = args[i + 1]
            del args[i:i + 2]
    warm_only = "--warm" in args
    if warm_only:
        args.remove("--warm")
    if args[:1] not in (["claude-code"], ["codex"]) or len(args) != 1:
        sys.stderr.write("usage: stackpolicy hook claude-code|codex [--state PATH] [--warm]\n")
        return 2
    if state == DEFAULT_STATE and args[0] == "codex":
        state = DEFAULT_CODEX_STATE
    return warm(sys.stdin, state) if warm_only else run(sys.stdin, sys.stdout, state, args[0])
