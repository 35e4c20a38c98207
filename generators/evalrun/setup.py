"""Load what a run needs from the output directory: suite, policy, inventory, sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from generators.classify import Classifier
from generators.documents.model import EvalSuite, Policy
from generators.risk.model import Tier
from generators.risk.rules import Rules


class SetupError(Exception):
    """A missing or unreadable input; the message names the file."""


def _load_yaml(path: Path, what: str) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SetupError(f"{path}: no {what}; run `stackpolicy policy` (or `stackpolicy evals`) first") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SetupError(f"{path}: cannot read the {what}: {str(exc).splitlines()[0]}") from exc


def load_suite(path: str | Path) -> EvalSuite:
    """The eval suite (``evals.yaml``)."""
    p = Path(path)
    try:
        return EvalSuite.model_validate(_load_yaml(p, "eval suite"))
    except ValueError as exc:
        raise SetupError(f"{p}: not a valid eval suite: {str(exc).splitlines()[0]}") from exc


def load_policy_doc(path: str | Path) -> Policy:
    """The compiled policy (``policy.yaml``)."""
    p = Path(path)
    try:
        return Policy.model_validate(_load_yaml(p, "policy"))
    except ValueError as exc:
        raise SetupError(f"{p}: not a valid policy: {str(exc).splitlines()[0]}") from exc


@dataclass
class RunInputs:
    """Everything loaded for a run."""

    suite: EvalSuite
    classifier: Classifier
    sources: list[str]
    action_tiers: dict[str, Tier] = field(default_factory=dict)
    system_names: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def load_inputs(suite_path: str | Path, *, policy_path: str | Path | None, inventory_path: str | Path | None,
                sources: list[str], rules: Rules | None = None,
                env_patterns: dict[str, list[str]] | None = None) -> RunInputs:
    """Suite (required), policy and inventory (optional: beside the suite by default), sources."""
    suite = load_suite(suite_path)
    base = Path(suite_path).parent
    warnings: list[str] = []
    pol_p = Path(policy_path) if policy_path else base / "policy.yaml"
    policy = load_policy_doc(pol_p) if (policy_path or pol_p.is_file()) else None
    if policy is None:
        warnings.append(f"{pol_p}: no policy beside the suite: commands are graded by the risk model alone")
    index = None
    inv_p = Path(inventory_path) if inventory_path else base / "inventory.yaml"
    if inventory_path or inv_p.is_file():
        from generators.risk.assess import build_index
        from inventory.io import InventoryLoadError, load_inventory

        try:
            index = build_index(load_inventory(inv_p), env_patterns)
        except InventoryLoadError as exc:
            raise SetupError(str(exc)) from exc
    else:
        warnings.append(f"{inv_p}: no inventory beside the suite: targets are not resolved to systems")
    srcs = sources or list(suite.meta.sources)
    for s in srcs:
        if not Path(s).is_dir():
            warnings.append(f"{s}: source directory not found: read_file answers 'no such file'")
    classifier = Classifier(rules, index, policy.table if policy else None)
    tiers = {aid: a.tier for aid, a in policy.actions().items()} if policy else {}
    names = {s.id: s.name for s in policy.systems} if policy else {}
    return RunInputs(suite=suite, classifier=classifier, sources=srcs, action_tiers=tiers, system_names=names,
                     warnings=warnings)


def grading_classifier(policy_path: str | Path, inventory_path: str | Path | None = None,
                       rules: Rules | None = None) -> Classifier:
    """The classifier a run grades with, from the compiled policy's decision table (and the
    inventory beside it, when there is one; else the estate the table records): what the
    exported assertions and scorers load."""
    p = Path(policy_path)
    policy = load_policy_doc(p)
    index = None
    inv_p = Path(inventory_path) if inventory_path else p.with_name("inventory.yaml")
    if inv_p.is_file():
        from generators.risk.assess import build_index
        from inventory.io import InventoryLoadError, load_inventory

        try:
            index = build_index(load_inventory(inv_p))
        except InventoryLoadError as exc:
            raise SetupError(str(exc)) from exc
    return Classifier(rules, index, policy.table)
