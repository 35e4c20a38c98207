"""What every export target shares: the context an exporter reads (the compiled policy, its
decision table, the classifier, the risk rules), the compiled prefix rules, and the shell
guard that makes an agent hook fail closed when the stackpolicy CLI is missing.

Exports are *compiled* from the decision table's classes (see
:mod:`generators.exporters.prefixes` and :mod:`generators.exporters.opa`), never enumerated
from instance commands.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from generators.decision.model import DecisionTable, TargetProfile
from generators.documents.model import EvalSuite, Policy
from generators.risk.model import Decision
from generators.risk.rules import Rules, load_rules

if TYPE_CHECKING:
    from generators.classify import Classifier
    from generators.exporters.prefixes import PrefixRule

@dataclass
class ExportContext:
    """Everything an exporter reads: the compiled policy, the eval suite, the risk model
    (``classify``: command -> decision, ``None`` without probes), and where files go."""

    policy: Policy
    evals: EvalSuite | None = None
    classify: Callable[[str], Decision] | None = None
    out_dir: str = "output"  # the documents' directory, as the project refers to it
    inventory: dict | None = None  # the inventory as JSON data, for the hook
    environments: dict[str, list[str]] | None = None
    reasons: Callable[[str], str] | None = None  # command -> the classifier's one-line reason
    rules_data: dict | None = None  # the configured risk rules as JSON data, for the hook
    rules: Rules | None = None  # the configured risk rules (None: the built-in rules)
    target_profiles: list[TargetProfile] | None = None  # every inventory entity, as the table sees it
    classifier: Classifier | None = None  # the full classifier (tier and class of a line)
    cli: str | None = None  # the installed stackpolicy CLI the hooks run (None: found at export time)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def risk_rules(self) -> Rules:
        """The configured risk rules, else the built-in ones."""
        return self.rules if self.rules is not None else load_rules()

    def table(self) -> DecisionTable:
        """The policy's decision table (what classify decides from; every edit is already on it)."""
        return self.policy.table

    def prefix_rules(self) -> list[PrefixRule]:
        """The argv-prefix rules compiled from the table (shared by Codex and Claude Code)."""
        if "prefix" not in self._cache:
            from generators.exporters.prefixes import Verdict, compile_rules

            if self.classifier is None:
                raise ExportError("prefix rules need the classifier (run `stackpolicy export`)")
            clf = self.classifier

            def verdict(line: str) -> Verdict:
                c = clf.classify(line)
                return Verdict(c.tier, c.action_class)

            self._cache["prefix"] = compile_rules(self.table(), self.risk_rules(), verdict)
        return self._cache["prefix"]  # type: ignore[no-any-return]

    def cli_path(self) -> str:
        """The absolute path of the stackpolicy CLI the hooks run: ``cli`` if given, else the
        one beside this Python (the venv ``make install`` made), else the one on PATH."""
        if self.cli:
            if "/" not in self.cli:  # a bare name: found on PATH when the hook runs (the guard checks)
                return self.cli
            return str(Path(self.cli).expanduser().absolute())
        beside = Path(sys.executable).parent / "stackpolicy"
        if beside.is_file():
            return str(beside.absolute())
        found = shutil.which("stackpolicy")
        if found:
            return str(Path(found).absolute())
        raise ExportError("cannot find the stackpolicy CLI for the hooks: pass --cli PATH")

    @property
    def enforce_dir(self) -> str:
        return f"{self.out_dir.rstrip('/')}/enforce"


class ExportError(Exception):
    """The compiled policy cannot be exported (message names the file)."""


@dataclass
class Left:
    """A class (or action) no static rule expresses: the hook decides it."""

    action_id: str
    command: str
    decision: Decision
    reason: str


@dataclass
class ExportResult:
    """Files to write (path relative to the export directory) and what was left to the hook."""

    files: dict[str, str] = field(default_factory=dict)
    rules: list[Any] = field(default_factory=list)  # the compiled rules (target-specific type)
    left_to_hook: list[Left] = field(default_factory=list)


def load_compiled(policy_path: str | Path) -> tuple[Policy, EvalSuite | None]:
    """The compiled policy (``policy.yaml``) and, if beside it, the eval suite."""
    p = Path(policy_path)
    try:
        policy = Policy.model_validate(yaml.safe_load(p.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ExportError(f"{p}: no compiled policy; run `stackpolicy policy` first") from exc
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ExportError(f"{p}: cannot read the compiled policy: {str(exc).splitlines()[0]}") from exc
    evals = None
    ev = p.with_name("evals.yaml")
    if ev.is_file():
        try:
            evals = EvalSuite.model_validate(yaml.safe_load(ev.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise ExportError(f"{ev}: cannot read the eval suite: {str(exc).splitlines()[0]}") from exc
    return policy, evals


def hook_runner(cli: str) -> list[str] | None:
    """``[python, "-I", "-S", entry]``: how the exported hooks run ``stackpolicy hook`` without
    the console script (see :mod:`generators.hook_entry`), or ``None`` to run ``cli`` itself.

    Only when ``cli`` is the console script of this very interpreter (its ``#!`` line names
    ``sys.executable``), so the entry file is the one of the installation ``cli`` runs.
    """
    if "/" not in cli:
        return None
    try:
        with open(cli, "rb") as fh:
            first = fh.readline(4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    python = first[2:].strip() if first.startswith("#!") else ""
    if not python or python != os.path.abspath(sys.executable):
        return None
    entry = Path(__file__).resolve().parents[1] / "hook_entry.py"
    return [python, "-I", "-S", str(entry)] if entry.is_file() else None


def hook_guard(cli: str, args: list[str]) -> str:
    """The guarded hook command for ``stackpolicy hook <args>``: the CLI's presence is checked
    as in :func:`cli_guard`, the hook itself runs through :func:`hook_runner` when it can."""
    runner = hook_runner(cli)
    return cli_guard(cli, ["hook", *args]) if runner is None else cli_guard(cli, args, runner)


def cli_guard(cli: str, args: list[str], runner: list[str] | None = None) -> str:
    """A hook command that runs ``cli args`` and blocks (exit 2, the agents' "block this
    tool call" code, with the reason on stderr) when the CLI is missing or fails: a hook that
    cannot run must never let the call through (any other exit code lets it run). ``cli`` is
    an absolute path, or a bare name looked up on PATH when the hook runs. ``runner``: the argv
    that runs ``args`` instead of ``cli`` (still guarded by the presence of ``cli``)."""
    q = shlex.quote(cli)
    run = shlex.join([*(runner or [cli]), *args])
    present = f"[ -x {q} ]" if "/" in cli else f"command -v {q} >/dev/null 2>&1"
    missing = shlex.quote(f"stackpolicy: {cli} is missing or not executable, so this tool call is blocked; "
                          "reinstall stackpolicy there or rerun `stackpolicy export --cli PATH`")
    failed = shlex.quote("stackpolicy: the policy hook failed, so this tool call is blocked")
    return f"{present} || {{ echo {missing} >&2; exit 2; }}; {run} || {{ echo {failed} >&2; exit 2; }}"
