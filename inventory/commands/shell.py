"""Shell lines → every simple command they would run, unwrapped and tool-parsed.

This is the safety-critical entry point: permission systems have been bypassed by
``bash -c "..."``, ``sudo -u postgres psql -c ...``, ``echo FLUSHALL | redis-cli``,
``xargs kubectl delete``, ``kubectl exec pod -- psql -c ...``. Every such layer is peeled
here so the command that really runs is what gets classified:

* compound lines (``&& || ; | &``, newlines, subshells) are split; ``$( )``, backticks and
  ``<( )`` substitutions are parsed too;
* wrappers (sudo, env, VAR=x, timeout, nohup, nice, xargs, watch, time, exec, command,
  stdbuf, ionice, chroot, su -c, runuser, flock...) are recorded in ``wrappers`` and removed;
* shells with ``-c`` (and shells fed a heredoc/pipe), ``ssh host 'cmd'``, ``kubectl exec``,
  ``docker exec``/``run`` and ``find -exec`` are parsed recursively (``via`` says how);
* text piped or heredoc'd into a client (``echo "DROP TABLE x" | psql``) is its input.

Never raises: a line that cannot be understood has ``parse_error`` set.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from inventory.commands.lexer import SimpleCommand, lex
from inventory.commands.model import CommandLine, ParsedCommand, trusted
from inventory.commands.options import OptSpec, parse_options, spec
from inventory.commands.tools import PARSERS, ToolContext, normalize_tool

MAX_DEPTH = 8
# Distinct simple commands read from one line; beyond this the line is not reviewable piece by
# piece (the rest is reported as a parse error, so the line is at least "unknown").
MAX_COMMANDS = 5_000
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "ash", "fish"})
# Shell keywords that prefix a command (dropped) or open a construct whose words are not a command.
_PREFIX_KEYWORDS = frozenset({"if", "then", "do", "else", "elif", "while", "until", "!", "{", "}", "fi", "done",
                              "esac", "coproc", "in"})
_SKIP_KEYWORDS = frozenset({"for", "select", "case", "function"})
_KEYWORD_STARTS = _PREFIX_KEYWORDS | _SKIP_KEYWORDS
_KEYWORD_ENDS = frozenset({"}", "fi", "done"})


@dataclass
class _Unwrapped:
    """What a wrapper runs: an argv, a shell text, or nothing (``sudo -i`` opens a shell)."""

    argv: list[str] | None = None
    script: str | None = None
    alone_verb: str | None = None
    target: str | None = None


def _opts_then_argv(sp: OptSpec, skip: int = 0, alone: str | None = None) -> Callable[[list[str]], _Unwrapped]:
    """A wrapper with options, ``skip`` operands (timeout's duration), then the command.

    ``alone``: the verb when no command follows (``sudo -i`` opens a root shell); ``None``
    means the wrapper alone runs nothing worth recording (``exec >log``, ``time``).
    """

    def unwrap(args: list[str]) -> _Unwrapped:
        p = parse_options(args, sp, stop_at_positional=True)
        rest = p.positionals if p.after_dashdash is None else p.after_dashdash
        rest = rest[skip:]
        if rest:
            return _Unwrapped(argv=rest)
        return _Unwrapped(alone_verb=alone) if alone else _Unwrapped(argv=[])

    return unwrap


def _unwrap_eval(args: list[str]) -> _Unwrapped:
    # eval runs its arguments, joined, as shell text: `eval "kubectl delete ns x"`.
    return _Unwrapped(script=" ".join(args)) if args else _Unwrapped(argv=[])


def _unwrap_parallel(args: list[str]) -> _Unwrapped:
    p = parse_options(args, spec(values="jobs j arg-file a delay timeout S sshlogin", aliases={"j": "jobs"}),
                      stop_at_positional=True)
    rest = p.positionals
    if ":::" in rest:
        rest = rest[: rest.index(":::")]
    return _Unwrapped(argv=rest) if rest else _Unwrapped(argv=[])


def _unwrap_env(args: list[str]) -> _Unwrapped:
    p = parse_options(args, spec(values="unset chdir split-string", aliases={"u": "unset", "C": "chdir",
                                                                            "S": "split-string"}),
                      stop_at_positional=True)
    rest = p.positionals if p.after_dashdash is None else p.after_dashdash
    if isinstance(p.flags.get("split-string"), str):
        return _Unwrapped(script=" ".join([str(p.flags["split-string"]), *map(shlex.quote, rest)]))
    return _Unwrapped(argv=rest) if rest else _Unwrapped(alone_verb="list")


def _unwrap_nice(args: list[str]) -> _Unwrapped:
    while args and re.match(r"^-\d+$|^--?adjustment", args[0]):
        args = args[1:]
    return _opts_then_argv(spec(values="adjustment", aliases={"n": "adjustment"}))(args)


def _unwrap_watch(args: list[str]) -> _Unwrapped:
    p = parse_options(args, spec(values="interval differences", aliases={"n": "interval", "d": "differences"}),
                      stop_at_positional=True)
    rest = p.positionals
    if not rest:
        return _Unwrapped(alone_verb="unknown")
    if p.flags.get("x") or p.flags.get("exec"):
        return _Unwrapped(argv=rest)
    return _Unwrapped(script=" ".join(rest))  # watch hands its arguments to `sh -c`


def _unwrap_xargs(args: list[str]) -> _Unwrapped:
    p = parse_options(args, spec(values="replace max-args max-procs max-lines delimiter arg-file eof max-chars "
                                        "process-slot-var",
                                 aliases={"I": "replace", "n": "max-args", "P": "max-procs", "L": "max-lines",
                                          "d": "delimiter", "a": "arg-file", "E": "eof", "s": "max-chars"}),
                      stop_at_positional=True)
    return _Unwrapped(argv=p.positionals) if p.positionals else _Unwrapped(argv=["echo"])


def _unwrap_su(args: list[str]) -> _Unwrapped:
    p = parse_options(args, spec(values="command user group shell session-command",
                                 aliases={"c": "command", "u": "user", "g": "group", "s": "shell"}))
    user = p.positionals[0] if p.positionals and p.positionals[0] != "-" else None
    if p.after_dashdash:
        return _Unwrapped(argv=p.after_dashdash)
    for key in ("command", "session-command"):
        if isinstance(p.flags.get(key), str):
            return _Unwrapped(script=str(p.flags[key]))
    return _Unwrapped(alone_verb="shell", target=user)


def _unwrap_command(args: list[str]) -> _Unwrapped:
    if args and args[0] in ("-v", "-V"):
        return _Unwrapped(alone_verb="builtin")
    return _opts_then_argv(spec())(args)


def _unwrap_taskset(args: list[str]) -> _Unwrapped:
    # taskset [opts] MASK CMD  |  taskset -c LIST CMD  |  taskset -p ... PID (no command)
    p = parse_options(args, spec(values="cpu-list", aliases={"c": "cpu-list"}), stop_at_positional=True)
    rest = p.positionals if "cpu-list" in p.flags else p.positionals[1:]
    return _Unwrapped(argv=rest) if rest and not p.flags.get("p") else _Unwrapped(argv=[])


def _unwrap_sg(args: list[str]) -> _Unwrapped:
    # sg GROUP -c 'cmd'  |  sg GROUP cmd
    if len(args) >= 3 and args[1] == "-c":
        return _Unwrapped(script=args[2])
    return _Unwrapped(argv=args[1:]) if len(args) > 1 else _Unwrapped(alone_verb="shell")


def _unwrap_script(args: list[str]) -> _Unwrapped:
    # script -c 'cmd' [file]: runs cmd under a pseudo-terminal; plain `script` opens a shell.
    p = parse_options(args, spec(values="command timing log-io log-in log-out", aliases={"c": "command", "t": "timing"}))
    cmd = p.flags.get("command")
    return _Unwrapped(script=str(cmd)) if isinstance(cmd, str) else _Unwrapped(alone_verb="shell")


def _unwrap_terminal(args: list[str]) -> _Unwrapped:
    # tmux new[-session] [-d] [-s name] 'cmd' / screen -dm cmd...: the command runs in the session.
    words = [a for a in args if a not in ("new", "new-session", "new-window", "-d", "-dm", "-dmS", "-m", "-D")]
    p = parse_options(words, spec(values="s n t c S x y e f F c", aliases={}), stop_at_positional=True)
    rest = p.positionals
    if not rest:
        return _Unwrapped(alone_verb="shell")
    return _Unwrapped(script=rest[0]) if len(rest) == 1 else _Unwrapped(argv=rest)


_SUDO = spec(values="user group close-from chdir host prompt role type other-user command-timeout",
             aliases={"u": "user", "g": "group", "C": "close-from", "D": "chdir", "h": "host", "p": "prompt",
                      "r": "role", "t": "type", "U": "other-user", "T": "command-timeout"})

WRAPPERS: dict[str, Callable[[list[str]], _Unwrapped]] = {
    "sudo": _opts_then_argv(_SUDO, alone="shell"),
    "doas": _opts_then_argv(spec(values="u C", aliases={}), alone="shell"),
    "eval": _unwrap_eval,
    "parallel": _unwrap_parallel,
    "busybox": _opts_then_argv(spec()),
    "env": _unwrap_env,
    "timeout": _opts_then_argv(spec(values="signal kill-after", aliases={"s": "signal", "k": "kill-after"}), skip=1),
    "gtimeout": _opts_then_argv(spec(values="signal kill-after", aliases={"s": "signal", "k": "kill-after"}), skip=1),
    "nohup": _opts_then_argv(spec()),
    "nice": _unwrap_nice,
    "ionice": _opts_then_argv(spec(values="class classdata pid pgid uid", aliases={
        "c": "class", "n": "classdata", "p": "pid", "P": "pgid", "u": "uid"})),
    "stdbuf": _opts_then_argv(spec(values="input output error", aliases={"i": "input", "o": "output", "e": "error"})),
    "time": _opts_then_argv(spec(values="o f output format", aliases={})),
    "exec": _opts_then_argv(spec(values="a", aliases={})),
    "command": _unwrap_command,
    "builtin": _opts_then_argv(spec()),
    "watch": _unwrap_watch,
    "xargs": _unwrap_xargs,
    "chroot": _opts_then_argv(spec(values="userspec groups"), skip=1),
    "su": _unwrap_su,
    "runuser": _unwrap_su,
    "flock": _opts_then_argv(spec(values="w timeout E conflict-exit-code", aliases={"w": "timeout"}), skip=1),
    "setsid": _opts_then_argv(spec()),
    "unbuffer": _opts_then_argv(spec()),
    "chronic": _opts_then_argv(spec()),
    "caffeinate": _opts_then_argv(spec(values="t w", aliases={})),
    "proxychains": _opts_then_argv(spec(values="f", aliases={})),
    "proxychains4": _opts_then_argv(spec(values="f", aliases={})),
    "torsocks": _opts_then_argv(spec()),
    "strace": _opts_then_argv(spec(values="o e p s", aliases={})),
    "retry": _opts_then_argv(spec(values="times delay", aliases={"t": "times", "d": "delay"})),
    # Programs that run another program with different scheduling, namespaces or a unit.
    "systemd-run": _opts_then_argv(spec(values="unit property description slice uid gid setenv working-directory "
                                               "on-calendar on-active machine host nice",
                                        aliases={"u": "unit", "p": "property", "E": "setenv", "M": "machine",
                                                 "H": "host", "d": "same-dir"})),
    "nsenter": _opts_then_argv(spec(values="target mount uts ipc net pid cgroup user root wd setuid setgid",
                                    aliases={"t": "target", "S": "setuid", "G": "setgid"})),
    "unshare": _opts_then_argv(spec(values="propagation setgroups map-user map-group")),
    "taskset": _unwrap_taskset,
    "chrt": _opts_then_argv(spec(), skip=1),
    "numactl": _opts_then_argv(spec(values="cpunodebind membind physcpubind preferred interleave localalloc",
                                    aliases={"N": "cpunodebind", "m": "membind", "C": "physcpubind", "p": "preferred",
                                             "i": "interleave"})),
    "firejail": _opts_then_argv(spec()),
    "sg": _unwrap_sg,
    "script": _unwrap_script,
    "tmux": _unwrap_terminal,
    "screen": _unwrap_terminal,
}

_SSH = spec(values="i p l o F J L R D b c E e m O Q S W w B", aliases={})


_UNSAFE = re.compile(r"[^\w@%+=:,./ -]", re.ASCII)


def shell_join(args: list[str]) -> str:
    """``shlex.join`` with a fast path: words that need no quoting are joined as they are."""
    text = " ".join(args)
    if args and not _UNSAFE.search(text) and text.count(" ") == len(args) - 1 and all(args):
        return text
    return shlex.join(args)


# Wrappers that mean the same once or many times in a row: `sudo sudo sudo x` is `sudo x`.
_IDEMPOTENT = frozenset({"sudo", "env", "nohup", "command", "builtin", "exec", "setsid", "unbuffer", "chronic", "doas",
                         "time", "torsocks", "busybox"})
MAX_UNWRAPS = 1_000


def _collapse_repeats(args: list[str]) -> list[str]:
    """``args`` with leading runs of one repeated idempotent wrapper word reduced to one (linear time)."""
    out: list[str] = []
    i, n = 0, len(args)
    while i < n and args[i] in _IDEMPOTENT:
        j = i
        while j + 1 < n and args[j + 1] == args[i]:
            j += 1
        out.append(args[i])
        i = j + 1
        if i < n and args[i] not in _IDEMPOTENT:
            break
    return out + args[i:] if out else args


def _join_via(outer: str | None, inner: str) -> str:
    return inner if not outer else f"{outer} > {inner}"


def _strip_keywords(words: list[str]) -> list[str]:
    if words and words[0] not in _KEYWORD_STARTS and words[-1] not in _KEYWORD_ENDS:
        return words  # no keyword at either end (most commands): nothing to strip or copy
    i = 0
    while i < len(words) and words[i] in _PREFIX_KEYWORDS:
        i += 1
    words = words[i:]
    if words and words[0] in _SKIP_KEYWORDS:
        return []
    while words and words[-1] in ("}", "fi", "done"):
        words = words[:-1]
    return words


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "r": "\r"}

# Redirections that write their target (`>`, `>>`, `&>`, `<>`...) and the one that reads it.
_WRITE_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_READ_REDIRECTS = frozenset({"<", "<&"})

# Environment variables whose value is a command some program runs (git's ssh, pagers,
# editors, kubectl's diff...): `PAGER='sh -c id' git log` runs `sh -c id`.
COMMAND_VARS = frozenset({
    "GIT_SSH_COMMAND", "GIT_SSH", "GIT_PAGER", "PAGER", "MANPAGER", "SYSTEMD_PAGER", "PSQL_PAGER", "EDITOR",
    "VISUAL", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "KUBE_EDITOR", "KUBECTL_EXTERNAL_DIFF", "GIT_EXTERNAL_DIFF",
    "GIT_ASKPASS", "SSH_ASKPASS", "SUDO_ASKPASS", "GIT_PROXY_COMMAND", "PROMPT_COMMAND", "BROWSER", "LESSOPEN",
    "LESSCLOSE", "FCEDIT", "DIFFPROG", "GIT_CONFIG_VALUE_0", "HELM_PLUGINS_CMD",
})
# Variables that load code into whatever runs next (libraries, startup files, interpreter options).
CODE_VARS = frozenset({
    "LD_PRELOAD", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "DYLD_LIBRARY_PATH", "BASH_ENV", "ENV", "PERL5OPT",
    "PERL5DB", "RUBYOPT", "NODE_OPTIONS", "PYTHONSTARTUP", "PYTHONWARNINGS", "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS", "GIT_CONFIG_PARAMETERS", "GIT_TEMPLATE_DIR", "GIT_EXEC_PATH", "IFS", "PS4",
    "SHELLOPTS", "BASHOPTS", "GCONV_PATH", "HOSTALIASES", "LD_LIBRARY_PATH",
})
# Programs that are ordinary values of the command variables (a pager or an editor).
_PLAIN_COMMAND_VALUES = frozenset({"cat", "less", "more", "most", "vim", "vi", "nvim", "nano", "emacs", "code",
                                   "true", "delta", "diff", "colordiff", "bat", "pico", "ed", "mg", "subl",
                                   "xdg-open", "open", "firefox", "dyff"})
_SSH_EXEC_OPTIONS = re.compile(r"(?i)(ProxyCommand|LocalCommand|PermitLocalCommand|KnownHostsCommand|"
                               r"ProxyUseFdpass|RemoteCommand)")
# Help and version switches: the program prints and exits, whatever else the line says.
_HELP_WORDS = frozenset({"--help", "-help", "--version", "-version", "--usage"})
_VERSION_WORDS = frozenset({"--version", "-version"})


def _output_of(words: list[str], sc: SimpleCommand) -> str | None:
    """What a producer writes to a pipe, when it is visible in the line (echo/printf/cat<<EOF)."""
    if not words:
        return None
    tool = words[0]
    if tool == "echo":
        args = words[1:]
        escapes = False
        while args and re.match(r"^-[neE]+$", args[0]):
            escapes = escapes or "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text) if escapes else text
    if tool == "printf" and len(words) > 1:
        fmt = re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], words[1])
        vals = iter(words[2:])
        return re.sub(r"%[sdb]", lambda m: next(vals, ""), fmt)
    if tool == "cat" and len(words) == 1 and sc.stdin is not None:
        return sc.stdin
    return None


def _shell_script(args: list[str]) -> tuple[str, str | None]:
    """How a shell was invoked: ``("script", text)``, ``("file", path)`` or ``("stdin", None)``."""
    i = 0
    has_c = False
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a in ("-o", "-O", "+o", "+O", "--rcfile", "--init-file"):
            i += 2
            continue
        if a.startswith(("-", "+")) and len(a) > 1:
            if not a.startswith("--") and "c" in a[1:]:
                has_c = True
            i += 1
            continue
        break
    pos = args[i:]
    if has_c:
        return "script", (pos[0] if pos else "")
    if pos:
        return "file", pos[0]
    return "stdin", None


class _Parser:
    """One parse of one line (keeps the original text for every command's ``raw``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        # Simple commands already parsed in this line: `a | a | a ...` is one command to judge,
        # and skipping repeats keeps a 100,000-pipe line linear.
        self.seen: set[tuple] = set()

    def text(self, text: str, via: str | None, depth: int) -> tuple[list[ParsedCommand], list[str]]:
        if depth > MAX_DEPTH:
            self.errors.append("nesting too deep")
            return [], []
        lexed = lex(text)
        if lexed.error:
            self.errors.append(lexed.error)
        out: list[ParsedCommand] = []
        prev_output: str | None = None
        for sc in lexed.commands:
            for inner in sc.nested:
                sub, _ = self.text(inner, _join_via(via, "substitution"), depth + 1)
                out.extend(sub)
            stdin = sc.stdin
            piped = False
            if stdin is None and sc.op_before in ("|", "|&") and prev_output is not None:
                stdin, piped = prev_output, True
            words = _strip_keywords(sc.words)
            prev_output = _output_of(words, sc)
            if not words:
                # `> /var/log/secure` alone truncates the file: the redirection is the command.
                out.extend(_redirect_commands(sc.redirects, via))
                continue
            key = (via, depth, piped, stdin, tuple(words), tuple(sc.redirects))
            if key in self.seen:
                continue
            if len(self.seen) >= MAX_COMMANDS:
                self.errors.append(f"more than {MAX_COMMANDS:,} distinct commands; the rest were not read")
                break
            self.seen.add(key)
            cmds = self.resolve(words, via=via, wrappers=[], stdin=stdin, redirects=sc.redirects, depth=depth)
            if sc.redirects:
                cmds.extend(_redirect_commands(sc.redirects, via))
            if piped:
                for c in cmds:
                    if c.via is None:
                        c.via = _join_via(via, "pipe")
            out.extend(cmds)
        if lexed.error and out:
            out[-1].parse_error = out[-1].parse_error or lexed.error
        return out, lexed.operators

    def resolve(
        self,
        argv: list[str],
        *,
        via: str | None,
        wrappers: list[str],
        stdin: str | None,
        redirects: list[tuple[str, str]],
        depth: int,
    ) -> list[ParsedCommand]:
        """Unwrap wrappers and shells, then run the tool parser on what remains."""
        args = list(argv)
        wrappers = list(wrappers)
        hidden: list[ParsedCommand] = []  # commands run through variables (PAGER=..., LD_PRELOAD=...)
        out = self._resolve(args, wrappers, hidden, via=via, stdin=stdin, redirects=redirects, depth=depth)
        return [*hidden, *out]

    def _resolve(
        self,
        args: list[str],
        wrappers: list[str],
        hidden: list[ParsedCommand],
        *,
        via: str | None,
        stdin: str | None,
        redirects: list[tuple[str, str]],
        depth: int,
    ) -> list[ParsedCommand]:
        if args and args[0] in _IDEMPOTENT:
            args = _collapse_repeats(args)
        for step in range(len(args) + 1):  # every unwrap drops a word: `env env env ... cmd` ends
            if step >= MAX_UNWRAPS:
                self.errors.append(f"more than {MAX_UNWRAPS:,} wrappers")
                break
            if not args:
                return []
            k = 0
            # `=` first: the pattern failed slowly on nearly every first word (`kubectl`...).
            while k < len(args) and "=" in args[k] and _ASSIGN.match(args[k]):
                k += 1
            if k:
                if "env" not in wrappers:
                    wrappers.append("env")
                hidden.extend(self._exec_vars(args[:k], via, depth))
                args = args[k:]
                continue
            tool = normalize_tool(args[0])
            if tool in ("export", "declare", "typeset", "readonly", "local"):
                hidden.extend(self._exec_vars([a for a in args[1:] if _ASSIGN.match(a)], via, depth))
            unwrap = WRAPPERS.get(tool)
            if unwrap is None:
                break
            wrappers.append(tool)
            res = unwrap(args[1:])
            if res.script is not None:
                return self._nested_text(res.script, _join_via(via, tool), wrappers, depth)
            if res.argv is None:
                return [ParsedCommand(raw=shell_join(args), argv=args, tool=tool, verb=res.alone_verb or "unknown",
                                      target=res.target, wrappers=wrappers[:-1], via=via)]
            args = res.argv
        if not args:
            return []
        tool = normalize_tool(args[0])
        raw = shell_join(args)
        if tool in _SHELLS:
            how, value = _shell_script(args[1:])
            if how == "script":
                return self._nested_text(value or "", _join_via(via, f"{tool} -c"), wrappers, depth)
            if how == "stdin" and stdin:
                return self._nested_text(stdin, _join_via(via, f"{tool} stdin"), wrappers, depth)
            return [ParsedCommand(raw=raw, argv=args, tool=tool, verb="script" if how == "file" else "shell",
                                  target=value, wrappers=wrappers, via=via)]
        if tool in ("at", "batch") and stdin and not any(a.startswith("-f") for a in args[1:]):
            # `echo 'cmd' | at now`: the shell runs stdin later.
            return self._nested_text(stdin, _join_via(via, tool), wrappers, depth)
        # Copies, as validation made them: the lists stay this command's own.
        pc = ParsedCommand.of(raw, list(args), tool, wrappers=list(wrappers), via=via)
        if _asks_for_help(args, tool):
            # `kubectl delete ns prod --help` prints help and exits: nothing else runs.
            pc.verb = "help"
            return [pc]
        if tool == "ssh":
            return [pc, *self._ssh(pc, args[1:], stdin, via, depth)]
        parser = PARSERS.get(tool)
        if parser is None:
            return [pc]
        ctx = _CommandContext(self, via, depth, stdin, list(redirects))
        try:
            extra = parser(pc, args[1:], ctx) or []
        except Exception as exc:  # a parser bug must not lose the command: keep it, unknown
            pc.verb = "unknown"
            pc.parse_error = f"{tool}: arguments not understood ({type(exc).__name__})"
            extra = []
        dry = pc.flags.get("dry-run")
        if dry is True:
            pc.flags["dry-run"] = "true"  # a bare --dry-run is a dry run; --dry-run=false/none is not
        return [pc, *extra]

    def _exec_vars(self, assignments: list[str], via: str | None, depth: int) -> list[ParsedCommand]:
        """Commands hidden in variable assignments: a command variable's value is parsed as the
        command it is; a code-loading variable (``LD_PRELOAD``) is recorded as running unseen code."""
        out: list[ParsedCommand] = []
        for a in assignments:
            name, _, value = a.partition("=")
            name = name.rstrip("+").split("[", 1)[0]
            if name in COMMAND_VARS and value.strip():
                inner = self._nested_text(value, _join_via(via, f"env {name}"), [], depth)
                if not _plain_command_value(value):
                    out.append(ParsedCommand(raw=a, argv=["env", a], tool="env", verb="exec-var", object_kind="variable",
                                             target=name, via=via))
                out.extend(inner)
            elif name in CODE_VARS and value.strip():
                out.append(ParsedCommand(raw=a, argv=["env", a], tool="env", verb="load-code", object_kind="variable",
                                         target=name, via=via))
        return out

    def _nested_text(self, text: str, via: str, wrappers: list[str], depth: int) -> list[ParsedCommand]:
        cmds, _ = self.text(text, via, depth + 1)
        for c in cmds:
            c.wrappers = [*wrappers, *c.wrappers]
        return cmds

    def _ssh(self, pc: ParsedCommand, args: list[str], stdin: str | None, via: str | None,
             depth: int) -> list[ParsedCommand]:
        p = parse_options(args, _SSH, stop_at_positional=True)
        pos = p.positionals
        pc.object_kind = "host"
        if not pos:
            pc.verb = "unknown"
            return []
        pc.target = pos[0].split("@", 1)[-1]
        remote = pos[1:]
        if remote:
            pc.verb = "exec"
            # ssh joins its arguments with spaces and the remote shell parses them again.
            return self._nested_text(" ".join(remote), _join_via(via, "ssh"), [], depth)
        if stdin:
            pc.verb = "exec"
            return self._nested_text(stdin, _join_via(via, "ssh"), [], depth)
        pc.verb = "connect"
        return []


class _CommandContext(ToolContext):
    """The :class:`ToolContext` of one command of a parse: what it reaches is parsed by the
    same parser, through methods. Every command a tool parser knows gets one, and a plain
    ToolContext with two new closures cost 2.5 % more of the parse of the estate's lines."""

    def __init__(self, parser: _Parser, via: str | None, depth: int, stdin: str | None,
                 redirects: list[tuple[str, str]]) -> None:
        self.stdin = stdin
        self.redirects = redirects
        self._parser = parser
        self._via = via
        self._depth = depth

    def resolve(self, argv: list[str], how: str, stdin: str | None = None) -> list[ParsedCommand]:
        """Parse ``argv`` reached ``how`` (``kubectl exec``...), fed ``stdin``."""
        return self._parser.resolve(argv, via=_join_via(self._via, how), wrappers=[], stdin=stdin, redirects=[],
                                    depth=self._depth + 1)

    def parse_script(self, text: str, how: str) -> list[ParsedCommand]:
        """Parse the shell ``text`` reached ``how`` (``bash -c``...)."""
        return self._parser._nested_text(text, _join_via(self._via, how), [], self._depth)


# Programs whose later arguments may belong to another program (`find -exec`, `docker run
# IMAGE CMD`, `ssh host CMD`, interpreters and their scripts): a --help there is not theirs.
_NO_HELP = frozenset({"find", "ssh", "scp", "python", "python2", "node", "ruby", "perl", "php", "java", "make",
                      "npm", "npx", "yarn", "pnpm", "uv", "go", "cargo", "deno", "bun", "gitlab-rails",
                      "gitlab-rake", "rake", "rails", "bundle", "knife", "docker-machine", "vim", "vi",
                      "nvim", "less", "awk", "gawk", "sed", "tar", "git", "nc", "ncat", "socat"})


def _asks_for_help(args: list[str], tool: str) -> bool:
    """``--help``/``--version`` (before any ``--``) on a program that parses its own options
    (``tool``: the normalised ``args[0]``).

    The classifier still treats the tool as unknown unless the rules know it.
    """
    if tool in _SHELLS or tool in WRAPPERS or tool in _NO_HELP or "/" in args[0] or args[0].startswith("$"):
        return False
    if _HELP_WORDS.isdisjoint(args):
        # Most commands: no word asks for help (one set operation instead of the loop below).
        return tool in ("aws", "gcloud", "az") and len(args) > 1 and args[-1] == "help" and "--" not in args
    if tool in ("docker", "podman", "nerdctl", "docker-compose") and any(
            a in ("run", "exec", "compose", "container", "create") for a in args[1:]):
        return False
    for i, a in enumerate(args[1:], start=1):
        if a == "--":
            return False
        if a in _VERSION_WORDS and i + 1 < len(args) and not args[i + 1].startswith("-"):
            continue  # `helm install x chart --version 8.2.2`: an option's value, not a request
        if a in _HELP_WORDS:
            return True
    # `aws s3 rm help`, `gcloud sql instances delete help`: help as the last word of a command tree.
    return tool in ("aws", "gcloud", "az") and len(args) > 1 and args[-1] == "help"


def _plain_command_value(value: str) -> bool:
    """Whether a command variable's value is an ordinary pager/editor/ssh, not code."""
    try:
        words = shlex.split(value)
    except ValueError:
        return False
    if not words:
        return True
    tool = normalize_tool(words[0])
    if tool == "ssh":
        return not any(_SSH_EXEC_OPTIONS.search(w) for w in words[1:])
    return tool in _PLAIN_COMMAND_VALUES and not any(ch in value for ch in ";|&`$()<>")


def _redirect_commands(redirects: list[tuple[str, str]], via: str | None) -> list[ParsedCommand]:
    """A command per redirection target: ``> /etc/passwd`` writes that file, ``< ~/.aws/credentials`` reads it."""
    out: list[ParsedCommand] = []
    for op, target in redirects:
        if op in _WRITE_REDIRECTS:
            verb = "append" if op in (">>", "&>>") else "write"
            out.append(ParsedCommand.of(f"{op} {target}", ["write-file", target], "write-file", verb=verb,
                                        object_kind="file", target=target, via=_join_via(via, "redirect")))
        elif op in _READ_REDIRECTS:
            out.append(ParsedCommand.of(f"{op} {target}", ["read-file", target], "read-file", verb="read",
                                        object_kind="file", target=target, via=_join_via(via, "redirect")))
    return out


def parse_line(line: str) -> CommandLine:
    """Every simple command ``line`` would run, unwrapped and tool-parsed, in order.

    Never raises; unbalanced quotes and similar set ``parse_error`` (commands found before
    the problem are still returned).
    """
    parser = _Parser()
    try:
        cmds, ops = parser.text(line, None, 0)
    except RecursionError:
        return CommandLine(raw=line, parse_error="nesting too deep")
    except Exception as exc:  # the last guard: a classifier must get an answer, not a traceback
        return CommandLine(raw=line, parse_error=f"could not parse: {type(exc).__name__}")
    error = ("; ".join(dict.fromkeys(parser.errors)) or None) if parser.errors else None
    return trusted(CommandLine, {"raw": line, "commands": cmds, "operators": list(ops), "parse_error": error},
                   {"raw", "commands", "operators", "parse_error"})


def parse_command(argv: list[str], raw: str | None = None, *, stdin: str | None = None) -> list[ParsedCommand]:
    """Parse an already-split command (e.g. an agent tool call's argv), unwrapping as :func:`parse_line`."""
    parser = _Parser()
    try:
        cmds = parser.resolve(list(argv), via=None, wrappers=[], stdin=stdin, redirects=[], depth=0)
    except (RecursionError, Exception) as exc:  # noqa: BLE001 - never raise to a classifier
        return [ParsedCommand(raw=raw or shlex.join(argv), argv=list(argv), tool=normalize_tool(argv[0]) if argv else "",
                              parse_error=f"could not parse: {type(exc).__name__}")]
    if raw is not None:
        for c in cmds:
            if c.via is None and not c.wrappers:
                c.raw = raw
    return cmds
