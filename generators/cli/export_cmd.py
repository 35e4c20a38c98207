"""`stackpolicy export TARGET`: enforceable configs from the reviewed, compiled policy.

Writes under `<output>/enforce/<target>/`. Exit codes: 0 written; 2 bad usage or input.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from generators.cli.common import UsageError, console, get_config
from generators.exporters import TARGETS, exporter
from generators.exporters.base import ExportContext, ExportError, load_compiled
from generators.exporters.context import decide, load_classifier
from generators.review.roundtrip import write_all
from generators.risk.rules import Rules, RulesError, rules_from_config
from inventory.io import InventoryLoadError


def build_context(out_dir: Path, env_patterns: dict[str, list[str]] | None, rules: Rules | None = None,
                  cli: str | None = None) -> ExportContext:
    """The compiled policy, eval suite, classifier (with ``rules``) and inventory under ``out_dir``;
    ``cli``: the stackpolicy executable the hooks run (default: the installed one)."""
    policy, evals = load_compiled(out_dir / "policy.yaml")
    inv_path = out_dir / "inventory.yaml"
    try:
        classifier = load_classifier(policy, inv_path, env_patterns, rules)
    except InventoryLoadError as exc:
        raise ExportError(str(exc)) from exc
    inventory = None
    profiles = None
    if classifier.index is not None:
        from generators.decision.facts import profile_of

        profiles = [profile_of(e, classifier.index) for _, e in sorted(classifier.index.entities.items())]
        from inventory.io import load_inventory

        inventory = json.loads(load_inventory(inv_path).model_dump_json(exclude_none=True))
    return ExportContext(
        policy=policy, evals=evals, classify=lambda c: decide(classifier, c), out_dir=out_dir.as_posix(),
        inventory=inventory, environments=env_patterns,
        reasons=lambda c: " | ".join(classifier.classify(c).reasons),
        rules_data=classifier.rules.model_dump(mode="json"), rules=classifier.rules, target_profiles=profiles,
        classifier=classifier, cli=cli,
    )


def register(main: click.Group) -> None:
    @main.command("export")
    @click.argument("target", type=click.Choice([*TARGETS, "all"]))
    @click.option("--output", "output", default=None, type=click.Path(file_okay=False),
                  help="Where the compiled policy is (default: `output` in stackpolicy.yaml, else ./output).")
    @click.option("--cli", "cli", default=None, type=click.Path(dir_okay=False),
                  help="The stackpolicy executable the agent hooks run: an absolute path (default: the one "
                       "installed beside this Python, else the one on PATH), or a bare name looked up on PATH "
                       "when the hook runs. Either way the hook blocks when it is missing.")
    @click.pass_context
    def export(ctx: click.Context, target: str, output: str | None, cli: str | None) -> None:
        """Export the reviewed policy (policy.yaml) for an agent or a gateway.

        \b
        claude-code  .claude/settings.json fragment (PreToolUse hook + deny backstop)
        codex        execpolicy .rules (prefix_rule) + hooks.json (PreToolUse hook)
        opa          Rego v1 policy over classify's facts, data.json (the table), tests
        json         the decision table as JSON
        promptfoo    promptfooconfig.yaml from the eval suite (needs evals.yaml)
        inspect      Inspect AI dataset (.jsonl) + task from the eval suite (needs evals.yaml)
        all          every target above
        Rules are compiled from the decision table's classes; the hooks run the full
        classifier by the CLI's absolute path and block when it is missing.
        """
        cfg = get_config(ctx)
        out_dir = Path(output or cfg.output)
        try:
            ectx = build_context(out_dir, dict(cfg.environments) if cfg.environments else None,
                                 rules_from_config(cfg), cli)
        except (ExportError, RulesError) as exc:
            raise UsageError(str(exc)) from exc
        con = console()
        targets = list(TARGETS) if target == "all" else [target]
        texts: dict[str, str] = {}
        for t in targets:
            try:
                result = exporter(t)(ectx)
            except ExportError as exc:  # e.g. promptfoo/inspect without an eval suite: nothing is written
                raise UsageError(str(exc)) from exc
            texts.update(result.files)
            con.print(f"{t}: {len(result.files)} files")
        try:
            for p in write_all(out_dir / "enforce", texts):
                con.print(f"  wrote {p}")
        except OSError as exc:
            raise UsageError(f"{out_dir / 'enforce'}: cannot write: {exc.strerror or exc}") from exc
