"""Shell scripts (``*.sh``, ``*.bash``, bash/sh shebangs) and Makefiles: their command lines.

Scripts: every logical line that runs something (continuations, heredocs and open quotes
joined; comments and bare keywords skipped). Makefiles: recipe lines of rules, with the
``@``/``-``/``+`` prefixes stripped, ``$$`` turned back into ``$`` and ``$(VAR)`` kept; the
rule's target name (``deploy-prod``) is an environment hint.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from inventory.environments import detect_environment, environment_of_path
from inventory.scanners._cmdtext import emit, logical_commands
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile
from inventory.scripts import SCRIPT_SUFFIXES

MAKEFILE_NAMES = ("Makefile", "makefile", "GNUmakefile")
_SHEBANG = re.compile(r"^#!\s*(?:/usr)?/bin/(?:env\s+)?(?:ba|z|k|da)?sh\b")
_CASE_PATTERN = re.compile(r"^\s*[^\s()#]+\)\s*")  # `start)` / `to-latest|to-earliest)` / `x=*)`
_RULE = re.compile(r"^([^\s#:=][^:=]*?)\s*::?(?!=)\s*([^=]*)$")
_ASSIGNMENT = re.compile(r"^[\w.-]+\s*(?:[:+?!]?=)")


def _script_keep(line: str) -> str | None:
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    if ")" in s and _CASE_PATTERN.match(s):  # `)` first: the pattern failed slowly on most lines
        s = _CASE_PATTERN.sub("", s)  # `start) systemctl start x ;;`
    return s or None


_FUNCTION = re.compile(r"^\s*(?:function\s+([\w.:-]+)|([\w.:-]+)\s*\(\s*\))", re.M)


def defined_functions(text: str) -> frozenset[str]:
    """Names of the shell functions ``text`` defines (``name() {`` or ``function name``)."""
    return frozenset(a or b for a, b in _FUNCTION.findall(text))


def _runs_something(src: SourceFile, text: str, functions: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` (a line of ``src``) runs a program. A call of a function the file defines
    runs what the function's body runs, and those lines are commands of their own already."""
    return any(c.tool not in functions for c in src.command_line(text).commands)


class ShellScanner(Scanner):
    """Command lines of shell scripts and Makefile recipes."""

    name = "shell"
    version = 3
    commands_only = True

    def matches(self, path: PurePosixPath, head: str) -> bool:
        if path.name in MAKEFILE_NAMES or path.suffix == ".mk":
            return True
        if path.suffix.lower() in SCRIPT_SUFFIXES:
            return True
        return bool(head.startswith("#!") and _SHEBANG.match(head.split("\n", 1)[0]))

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        if src.pure.name in MAKEFILE_NAMES or src.pure.suffix == ".mk":
            self._makefile(src, ctx, frag)
        else:
            # Only a per-environment directory (`deploy/prod/`) says where a script runs.
            hit = environment_of_path(src.path, ctx.config.environments)
            env = hit[0] if hit else None
            functions = defined_functions(src.text)
            for line, text in logical_commands(src.text.splitlines(), 1, keep=_script_keep):
                if _runs_something(src, text, functions):
                    emit(frag, src, line, text, env, "script")
        return frag

    def _makefile(self, src: SourceFile, ctx: ScanContext, frag: Fragment) -> None:
        lines = src.text.splitlines()
        target: str | None = None
        in_define = False
        recipe: list[tuple[int, str]] = []  # (index, recipe text) for the current rule

        def flush() -> None:
            if not recipe:
                return
            hit = environment_of_path(src.path, ctx.config.environments)
            env = detect_environment(target, patterns=ctx.config.environments) or (hit[0] if hit else None)
            # Re-join recipe lines (they may continue with `\`) keeping their line numbers.
            first = recipe[0][0]
            texts = [""] * (recipe[-1][0] - first + 1)
            for idx, text in recipe:
                texts[idx - first] = text
            for line, text in logical_commands(texts, first + 1, keep=_recipe_keep):
                if _runs_something(src, text):
                    emit(frag, src, line, text, env, "makefile")
            recipe.clear()

        for idx, raw in enumerate(lines):
            stripped = raw.strip()
            if in_define:
                in_define = not stripped.startswith("endef")
                continue
            if stripped.startswith("define ") or stripped == "define":
                in_define = True
                continue
            if raw.startswith("\t") and target is not None:
                recipe.append((idx, raw[1:].replace("$$", "$")))
                continue
            if not stripped or stripped.startswith("#"):
                continue
            flush()
            m = _RULE.match(raw)
            if m and not _ASSIGNMENT.match(raw):
                target = m.group(1).strip()
                inline = m.group(2).split(";", 1)
                if len(inline) > 1 and inline[1].strip():
                    recipe.append((idx, inline[1].replace("$$", "$")))
            elif not raw.startswith((" ", "\t")):
                target = None
        flush()


def _recipe_keep(line: str) -> str | None:
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    return s.lstrip("@-+ \t") or None
