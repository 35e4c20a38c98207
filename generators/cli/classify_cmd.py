"""`stackpolicy classify`: the tier (and allow / ask / deny) of a command an agent wants to run."""

from __future__ import annotations

import sys

import click

from generators.classify import Classification, Classifier, PolicyError, load_policy
from generators.cli.common import UsageError, get_config
from generators.risk.assess import build_index
from generators.risk.rules import RulesError, rules_from_config
from inventory.io import InventoryLoadError, load_inventory


def readable(c: Classification) -> str:
    """One human line: tier, decision, the command, what it matched, and why."""
    where = f" [{c.matched_action or c.matched_target}]" if (c.matched_action or c.matched_target) else ""
    # The reasons already start with the tier label; drop the repetition.
    prefix = f"{c.tier} {c.tier_name}: "
    why = " | ".join(r[len(prefix):] if r.startswith(prefix) else r for r in c.reasons)
    return f"{c.tier} {c.tier_name} ({c.decision}){where}: {c.command}  -- {why}"


def as_json(c: Classification) -> str:
    """One JSON object on one line (stable key order; pydantic's serializer is the fast path)."""
    return c.model_dump_json()


def make_classifier(ctx: click.Context, inventory: str | None, policy: str | None) -> Classifier:
    """Rules from the config, the inventory index and the policy, loaded once."""
    cfg = get_config(ctx)
    try:
        rules = rules_from_config(cfg)
    except RulesError as exc:
        raise UsageError(str(exc)) from exc
    index = None
    if inventory:
        try:
            index = build_index(load_inventory(inventory), cfg.environments)
        except InventoryLoadError as exc:
            raise UsageError(str(exc)) from exc
    entries = None
    if policy:
        try:
            entries = load_policy(policy)
        except PolicyError as exc:
            raise UsageError(str(exc)) from exc
    return Classifier(rules, index, entries)


def register(main: click.Group) -> None:
    @main.command("classify")
    @click.argument("command", nargs=-1)
    @click.option("--inventory", "inventory", type=click.Path(dir_okay=False), default=None,
                  help="An inventory from `stackpolicy scan` (e.g. output/inventory.yaml): resolve targets to real systems.")
    @click.option("--policy", "policy", type=click.Path(dir_okay=False), default=None,
                  help="A reviewed policy (output/policy.yaml): reviewers' tiers raise the model's; "
                       "entries with `reviewed: true` may lower it.")
    @click.option("--json", "as_json_flag", is_flag=True, help="Print one JSON object (JSON lines with --stdin).")
    @click.option("--stdin", "from_stdin", is_flag=True, help="Classify one command per line from standard input.")
    @click.pass_context
    def classify(ctx: click.Context, command: tuple[str, ...], inventory: str | None, policy: str | None,
                 as_json_flag: bool, from_stdin: bool) -> None:
        """Classify COMMAND (a shell line; quote it) into a tier T0..T3 and a decision.

        \b
        T0/T1 -> allow, T2 -> ask, T3 -> deny. The tier of a line is the highest tier of
        anything it runs (pipes, &&, bash -c, sudo, xargs, kubectl exec -- ... included).
        Unknown or unparseable commands are T2 (ask).
        """
        if from_stdin and command:
            raise UsageError("give a COMMAND or --stdin, not both")
        if not from_stdin and not command:
            raise UsageError("nothing to classify: give a COMMAND (quoted) or --stdin")
        classifier = make_classifier(ctx, inventory, policy)
        emit = as_json if as_json_flag else readable
        if from_stdin:
            for result in classifier.classify_many(sys.stdin):
                click.echo(emit(result))
            return
        click.echo(emit(classifier.classify(" ".join(command))))
