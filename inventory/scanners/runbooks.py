"""Runbooks (markdown): the commands people run, from code blocks and inline code.

Fenced blocks in a shell language (bash, sh, shell, zsh, console...) give commands; in
console-style blocks (or any block that uses ``$ `` prompts) only prompt lines are commands
and the rest is output. Blocks without a language give only lines that start with a known
tool. Inline code spans give commands only when they start with a known operational tool
(``kubectl get pods``). The environment hint comes from the headings above and the path.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePosixPath

from typing import TYPE_CHECKING

from inventory.commands.shell import parse_line
from inventory.commands.tools import PARSERS, normalize_tool
from inventory.commands.tools.system import UTILITIES
from inventory.environments import detect_environment
from inventory.scanners._cmdtext import emit, logical_commands
from inventory.scanners._markdown import simple_tokens
from inventory.scanners._sessions import (
    REDIS_LANGS,
    RUBY_LANGS,
    SQL_LANGS,
    Session,
    block_statements,
    prompt_statements,
    session_of,
    statement_command,
)
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

if TYPE_CHECKING:  # pragma: no cover
    from markdown_it import MarkdownIt

SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh", "ksh", "fish", "console", "shell-session", "shellsession",
                         "terminal", "bash-session", "sh-session", "shellscript", "cmd"})
CONSOLE_LANGS = frozenset({"console", "shell-session", "shellsession", "terminal", "bash-session", "sh-session"})
# Languages whose blocks are only taken when lines start with a known tool.
LOOSE_LANGS = frozenset({"", "text", "txt", "plain", "plaintext", "none", "code"})
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")

# `$ cmd`, `# cmd` (root), `user@host:~$ cmd`, `[user@host dir]# cmd`, `(venv) $ cmd`,
# `sh-4.4$ cmd` / `bash-5.1# cmd` (a shell inside a pod or a debug node).
_PROMPT = re.compile(r"^\s*(?:\([\w.-]+\)\s*)?(?:[\w.-]+@[\w.-]+(?::[^\s$#%]*)?\s*|\[[^\]]+\]\s*|"
                     r"(?:ba|z|k|da)?sh-\d+(?:\.\d+)*)?([$#%])\s+(\S.*)$")
_WRAPPER_WORDS = frozenset({"sudo", "env", "timeout", "nohup", "watch", "time", "xargs", "bash", "sh", "ssh",
                            "exec", "nice", "doas", "su"})
_NOT_COMMAND = re.compile(r"^\s*([{}\[\]<>|=*+\-\"]|[A-Z][A-Z0-9_ ]+\s{2,}|[\w.-]+:(\s|$)|\d|HTTP/\d|\.\.\.|\(\d+ rows?\))")
# Output-shaped lines: column-aligned table rows, `ps` rows (user pid ppid ... hh:mm), gpg key
# listings, tab-separated rows, `key = value` config, a function call (PromQL, SQL, code), a
# shell function definition, and sentences (a capitalised word followed by a lower-case one).
_TABLE_ROW = re.compile(r"^\s*\S+(?:\s{2,}\S+){2,}")
_PS_ROW = re.compile(r"^\s*[\w.+-]+\s+\d+\s+\d+\s+.*\b\d{1,2}:\d{2}(?::\d{2})?\b")
_KEY_LISTING = re.compile(r"^\s*(pub|sub|sec|ssb|uid|fpr|grp)\s+(\S+/|\[|\d|rsa|ed25519|nistp|cv25519|dsa|elg)")
_CONFIG_LINE = re.compile(r"^\s*[\w.-]+\s+=\s")
_CALL = re.compile(r"^\s*[A-Za-z_][\w.:]*\((?!\))")
_FUNCTION_DEF = re.compile(r"^\s*(?:function\s+[\w.:-]+|[\w.:-]+\s*\(\s*\))\s*(?:\{\s*)?$")
_SENTENCE = re.compile(r"^\s*[A-Z][a-z']*[,:]?\s+[a-z]")
# The shapes that make a (stripped) line output whatever its first word: one match instead of five.
_ALWAYS_OUTPUT = re.compile("|".join(f"(?:{rx.pattern})" for rx in (_PS_ROW, _KEY_LISTING, _CONFIG_LINE, _FUNCTION_DEF,
                                                                      _CALL)))
# The words an always-output shape without `:`, `=` or `(` starts with (a key listing, a function definition).
_ALWAYS_OUTPUT_WORDS = ("pub", "sub", "sec", "ssb", "uid", "fpr", "grp", "function")
# PromQL: an aggregation (`sum by (x) (...)`) or a metric name compared, filtered or combined.
_PROMQL = re.compile(r"^\s*(?:(?:sum|max|min|avg|count|topk|bottomk|quantile|stddev|stdvar|count_values|group)\s*"
                     r"(?:by|without)?\s*\(|[a-z][a-z0-9]*(?:_[a-z0-9]+){2,}\s*(?:\{|\[|(?:<|>|==|!=|>=|<=|\*|/|\+|-|and|or|unless)\s))")
_ASSIGNMENT_LINE = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=")
# Programs often run by hand in runbooks that no parser knows (their lines are still commands).
_COMMON_PROGRAMS = frozenset({"exit", "toolbox", "chroot", "ceph", "rbd", "rados", "radosgw-admin", "virtctl", "ocm",
                              "crictl", "podman", "oc", "kubectl", "jq", "curl", "ssh", "scp", "sudo", "su", "ls", "cd",
                              "cat", "echo", "export", "source", "rosa", "hypershift", "clusterctl", "istioctl",
                              "logout", "clear", "ip", "ss", "iptables", "nft", "tcpdump", "dmesg", "lsblk",
                              "mount", "umount", "df", "free", "top", "ps", "kill", "openssl", "nc", "dig", "ping",
                              "cephadm", "lvs", "vgs", "pvs", "xfs_repair", "fsck", "noobaa", "mc", "s3cmd",
                              "velero", "argocd", "tkn", "kn", "odo", "helm", "kustomize", "yq", "base64", "watch"})


def known_tool(word: str) -> bool:
    """Whether ``word`` names an operational tool we parse (not a plain text utility)."""
    tool = normalize_tool(word)
    return (tool in PARSERS and tool not in UTILITIES) or tool in _WRAPPER_WORDS


def _first_word(text: str) -> str:
    parts = text.strip().split(None, 1)
    return parts[0] if parts else ""



@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """One CommonMark parser per process: building it (rules, regexes) cost as much as parsing a runbook.

    Imported here: documents :func:`simple_tokens` reads never need it."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")

def _is_prompt(line: str) -> bool:
    """A ``$`` prompt, or any prompt with a prefix (``sh-4.4#``, ``root@host:/#``): not a comment."""
    if "$" not in line and "#" not in line and "%" not in line:
        return False  # no prompt character: most lines, ruled out before the pattern
    m = _PROMPT.match(line)
    return bool(m) and (m.group(1) == "$" or not line.lstrip().startswith(m.group(1)))


def _console_keep(line: str) -> str | None:
    m = _PROMPT.match(line)
    if not m:
        # A command the author typed without its prompt, between prompted ones: only a known
        # operational tool with a verb it understands (output rarely starts that way).
        s = line.strip()
        if s and not _output_shaped(line) and known_tool(_first_word(s)) and _first_word(s) not in _WRAPPER_WORDS:
            cmds = parse_line(s).commands
            if cmds and cmds[0].verb not in ("unknown", "") and cmds[0].tool in PARSERS:
                return s
        return None
    prompt, cmd = m.groups()
    bare = line.lstrip().startswith(prompt)  # `# text` could be a comment; `sh-4.4# cmd` is a prompt
    if bare and prompt == "#" and normalize_tool(_first_word(cmd)) not in PARSERS and not known_tool(_first_word(cmd)):
        return None  # "# some comment" in a console block, not a root prompt
    return cmd


def _output_shaped(line: str) -> bool:
    """A line that is output, a listing, config or prose rather than something typed at a shell."""
    s = line.strip()
    # The patterns only where they can match: a line that starts with a lower-case letter is
    # not-a-command only as `word:`; the always-output shapes each need one of `:=(` or start
    # with one of a few words. Most lines are commands, which both patterns failed on slowly.
    if (":" in line or not s[:1].islower()) and _NOT_COMMAND.match(line):
        return True
    if (":" in s or "=" in s or "(" in s or s.startswith(_ALWAYS_OUTPUT_WORDS)) and _ALWAYS_OUTPUT.match(s):
        return True
    first = _first_word(s)
    # The shapes below are output only when no known tool starts the line: asked first, as most
    # runbook lines start with one (kubectl, psql...), which no pattern then needs to be tried on.
    if not known_tool(first):
        if ("(" in s or "_" in s) and _PROMQL.match(s):  # both of its shapes need one
            return True
        if s.count("\t") >= 2 or _TABLE_ROW.match(s):
            return True
    if _SENTENCE.match(s) and not known_tool(first.lower()):
        return True
    if len(first) > 1 and first.isupper() and "=" not in first:
        return True  # `FROM image`, `NAME  READY`: Dockerfile instructions and headers are not commands
    if " | " in s and s.count("|") >= 2 and all(len(part.split()) == 1 for part in s.split("|")):
        return True  # a SQL result header: ` id | name | email `
    return False


def _plausible_command(text: str) -> bool:
    """Whether ``text`` runs a program a person would type (not a JSON fragment or a bare word
    left over from a line a runbook broke in two)."""
    if "=" in text and _ASSIGNMENT_LINE.match(text):  # `=` first: most lines have none
        return True
    words = text.split()
    if not words:
        return False
    first = words[0]
    if not _PROGRAM_WORD.match(first):
        return False
    if len(words) == 1:
        tool = normalize_tool(first)
        if first.endswith("/"):
            return False  # a directory in a tree listing
        return tool in PARSERS or tool in UTILITIES or tool in _COMMON_PROGRAMS or first.startswith(("./", "/", "~/"))
    return True


_PROGRAM_WORD = re.compile(r"^[A-Za-z_$~./][\w.+@:$/{}()-]*$|^\$\(|^`")


def _shell_keep(line: str) -> str | None:
    s = line.strip()
    if not s or s.startswith("#") or _output_shaped(line):
        return None
    return line if _plausible_command(s) else None


def _loose_keep(line: str) -> str | None:
    m = _PROMPT.match(line)
    cmd = m.group(2) if m and m.group(1) == "$" else line.strip()
    return cmd if cmd and known_tool(_first_word(cmd)) else None


_SESSION_LANGS = {"sql": SQL_LANGS, "ruby": RUBY_LANGS, "redis": REDIS_LANGS}


class RunbookScanner(Scanner):
    """Commands from markdown runbooks, READMEs and docs."""

    name = "runbooks"
    version = 3
    suffixes = MARKDOWN_SUFFIXES
    commands_only = True

    def matches(self, path: PurePosixPath, head: str) -> bool:
        return path.suffix.lower() in MARKDOWN_SUFFIXES

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        patterns = ctx.config.environments
        try:
            # Headings, prose and fences only (most runbooks): built directly; else markdown-it.
            tokens = simple_tokens(src.text)
            if tokens is None:
                tokens = _markdown().parse(src.text)
        except Exception as exc:  # markdown-it is lenient; this guards against the unexpected
            frag.warn(f"cannot parse markdown: {type(exc).__name__}")
            return frag
        src_lines: list[str] | None = None  # split when an inline code span needs a line number
        headings: dict[int, str] = {}
        seen: set[tuple[int, str]] = set()
        section = [0]  # the line of the heading the scan is under

        hints: dict[tuple[str, ...], str | None] = {}  # the headings in force -> their hint
        in_force: list[str | None] = []  # the hint of the headings in force, once looked up

        # (One nested function, not two calling each other: compiled, that would be a reference
        # cycle holding the whole scan of the file; see inventory.compiled.)
        def add(line: int, cmd: str) -> None:
            key = (line, cmd)
            if key not in seen:
                seen.add(key)
                # The same headings hold for every command of a section: looked up once per section.
                if not in_force:
                    texts = tuple(headings[k] for k in sorted(headings, reverse=True))
                    if texts not in hints:
                        hints[texts] = detect_environment(*texts, src.path, patterns=patterns)
                    in_force.append(hints[texts])
                emit(frag, src, line, cmd, in_force[0], "runbook", section[0])

        session: Session | None = None
        for idx, tok in enumerate(tokens):
            if tok.type == "heading_open":
                level = int(tok.tag[1:])
                for k in [k for k in headings if k >= level]:
                    del headings[k]
                if idx + 1 < len(tokens):
                    headings[level] = tokens[idx + 1].content
                in_force.clear()
                at = tok.map or (tokens[idx + 1].map if idx + 1 < len(tokens) else None)
                section[0] = at[0] + 1 if at else section[0] + 1  # a new section, wherever it starts
            elif tok.type in ("fence", "code_block") and tok.map:
                info = (tok.info or "").split() if tok.type == "fence" else []
                lang = info[0].lower().strip("{}.") if info else ""
                first = tok.map[0] + (2 if tok.type == "fence" else 1)
                lines = tok.content.split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                commands = self.block_commands(lines, lang, first)
                for line, cmd in commands:
                    add(line, cmd)
                if commands:
                    # The last session a block opens stays open for a sql/ruby block right after it.
                    session = None
                    for line, cmd in commands:
                        opened = session_of(cmd, src.command_line)
                        if opened is not None:
                            session = opened
                            rest = lines[line - first + 1 :]
                            for at, stmt in prompt_statements(opened, rest, line + 1):
                                add(at, statement_command(opened, stmt))
                elif session is not None and lang in _SESSION_LANGS.get(session.kind, ()):
                    for at, stmt in block_statements(session, lines, first):
                        add(at, statement_command(session, stmt))
                    session = None
            elif tok.type == "inline" and tok.children and tok.map:
                for child in tok.children:
                    if child.type == "code_inline" and self._inline_command(child.content):
                        if src_lines is None:
                            src_lines = src.text.splitlines()
                        add(self._line_of(src_lines, tok.map, child.content), child.content)
        return frag

    @staticmethod
    def block_commands(lines: list[str], lang: str, first_line: int) -> list[tuple[int, str]]:
        """Commands of one code block (``first_line`` is the 1-based line of its first content line)."""
        if lang not in SHELL_LANGS and lang not in LOOSE_LANGS:
            return []
        # A line without any prompt character is no prompt (see _is_prompt): most blocks have
        # none, asked of the whole block at once rather than line by line.
        text = "\n".join(lines)
        prompted = ("$" in text or "#" in text or "%" in text) and any(_is_prompt(ln) for ln in lines)
        if prompted or (lang in CONSOLE_LANGS and any(_PROMPT.match(ln) for ln in lines)):
            keep = _console_keep
        elif lang in SHELL_LANGS:
            keep = _shell_keep
        else:
            keep = _loose_keep
        return logical_commands(lines, first_line, keep=keep)

    @staticmethod
    def _inline_command(text: str) -> bool:
        words = text.split()
        return len(words) >= 2 and known_tool(words[0]) and words[0] not in _WRAPPER_WORDS - {"sudo"}

    @staticmethod
    def _line_of(lines: list[str], span: list[int], needle: str) -> int:
        for i in range(span[0], min(span[1], len(lines))):
            if needle in lines[i]:
                return i + 1
        return span[0] + 1
