"""Runbooks (markdown): the commands people run, from code blocks and inline code.

Fenced blocks in a shell language (bash, sh, shell, zsh, console...) give commands; in
console-style blocks (or any block that uses ``$ `` prompts) only prompt lines are commands
and the rest is output. Blocks without a language give only lines that start with a known
tool. Inline code spans give commands only when they start with a known operational tool
(``kubectl get pods``). The environment hint comes from the headings above and the path.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from markdown_it import MarkdownIt

from inventory.commands.tools import PARSERS, normalize_tool
from inventory.commands.tools.system import UTILITIES
from inventory.environments import detect_environment
from inventory.scanners._cmdtext import emit, logical_commands
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile

SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh", "ksh", "fish", "console", "shell-session", "shellsession",
                         "terminal", "bash-session", "sh-session", "shellscript", "cmd"})
CONSOLE_LANGS = frozenset({"console", "shell-session", "shellsession", "terminal", "bash-session", "sh-session"})
# Languages whose blocks are only taken when lines start with a known tool.
LOOSE_LANGS = frozenset({"", "text", "txt", "plain", "plaintext", "none", "code"})
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")

# `$ cmd`, `# cmd` (root), `user@host:~$ cmd`, `[user@host dir]# cmd`, `(venv) $ cmd`.
_PROMPT = re.compile(r"^\s*(?:\([\w.-]+\)\s*)?(?:[\w.-]+@[\w.-]+(?::[^\s$#%]*)?\s*|\[[^\]]+\]\s*)?([$#%])\s+(\S.*)$")
_WRAPPER_WORDS = frozenset({"sudo", "env", "timeout", "nohup", "watch", "time", "xargs", "bash", "sh", "ssh",
                            "exec", "nice", "doas", "su"})
_NOT_COMMAND = re.compile(r"^\s*([{}\[\]<>|=*+\-]|[A-Z][A-Z0-9_ ]+\s{2,}|[\w.-]+:(\s|$)|\d|HTTP/\d|\.\.\.)")


def known_tool(word: str) -> bool:
    """Whether ``word`` names an operational tool we parse (not a plain text utility)."""
    tool = normalize_tool(word)
    return (tool in PARSERS and tool not in UTILITIES) or tool in _WRAPPER_WORDS


def _first_word(text: str) -> str:
    parts = text.strip().split(None, 1)
    return parts[0] if parts else ""


def _console_keep(line: str) -> str | None:
    m = _PROMPT.match(line)
    if not m:
        return None
    prompt, cmd = m.groups()
    if prompt == "#" and normalize_tool(_first_word(cmd)) not in PARSERS and not known_tool(_first_word(cmd)):
        return None  # "# some comment" in a console block, not a root prompt
    return cmd


def _shell_keep(line: str) -> str | None:
    s = line.strip()
    if not s or s.startswith("#") or _NOT_COMMAND.match(line):
        return None
    return line


def _loose_keep(line: str) -> str | None:
    m = _PROMPT.match(line)
    cmd = m.group(2) if m and m.group(1) == "$" else line.strip()
    return cmd if cmd and known_tool(_first_word(cmd)) else None


class RunbookScanner(Scanner):
    """Commands from markdown runbooks, READMEs and docs."""

    name = "runbooks"
    version = 1

    def matches(self, path: PurePosixPath, head: str) -> bool:
        return path.suffix.lower() in MARKDOWN_SUFFIXES

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        patterns = ctx.config.environments
        try:
            tokens = MarkdownIt("commonmark").parse(src.text)
        except Exception as exc:  # markdown-it is lenient; this guards against the unexpected
            frag.warn(f"cannot parse markdown: {type(exc).__name__}")
            return frag
        src_lines = src.text.splitlines()
        headings: dict[int, str] = {}
        seen: set[tuple[int, str]] = set()

        def env_hint() -> str | None:
            texts = [headings[k] for k in sorted(headings, reverse=True)]
            return detect_environment(*texts, src.path, patterns=patterns)

        def add(line: int, cmd: str) -> None:
            key = (line, cmd)
            if key not in seen:
                seen.add(key)
                emit(frag, src, line, cmd, env_hint(), "runbook")

        for idx, tok in enumerate(tokens):
            if tok.type == "heading_open":
                level = int(tok.tag[1:])
                for k in [k for k in headings if k >= level]:
                    del headings[k]
                if idx + 1 < len(tokens):
                    headings[level] = tokens[idx + 1].content
            elif tok.type in ("fence", "code_block") and tok.map:
                info = (tok.info or "").split() if tok.type == "fence" else []
                lang = info[0].lower().strip("{}.") if info else ""
                first = tok.map[0] + (2 if tok.type == "fence" else 1)
                lines = tok.content.split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                for line, cmd in self.block_commands(lines, lang, first):
                    add(line, cmd)
            elif tok.type == "inline" and tok.children and tok.map:
                for child in tok.children:
                    if child.type == "code_inline" and self._inline_command(child.content):
                        add(self._line_of(src_lines, tok.map, child.content), child.content)
        return frag

    @staticmethod
    def block_commands(lines: list[str], lang: str, first_line: int) -> list[tuple[int, str]]:
        """Commands of one code block (``first_line`` is the 1-based line of its first content line)."""
        if lang not in SHELL_LANGS and lang not in LOOSE_LANGS:
            return []
        prompted = any(_PROMPT.match(ln) and _PROMPT.match(ln).group(1) == "$" for ln in lines)
        if lang in CONSOLE_LANGS or (lang in SHELL_LANGS and prompted):
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
