"""The risk model as the exports see it: a classifier loaded with the reviewed policy and,
when it sits beside the policy, the inventory (so targets resolve to real systems)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from generators.classify import Classifier
from generators.documents.model import Policy
from generators.risk.model import Decision
from generators.risk.rules import Rules


def load_classifier(policy: Policy, inventory_path: str | Path | None = None,
                    env_patterns: Mapping[str, list[str]] | None = None, rules: Rules | None = None) -> Classifier:
    """A classifier for ``policy`` with ``rules`` (default: the built-in rules); the inventory
    is optional (targets then stay unresolved)."""
    index = None
    if inventory_path is not None and Path(inventory_path).is_file():
        from generators.risk.assess import build_index
        from inventory.io import load_inventory

        index = build_index(load_inventory(inventory_path), env_patterns)
    return Classifier(rules, index, policy.table)


def decide(classifier: Classifier, command: str) -> Decision:
    """The decision the classifier gives ``command``."""
    return classifier.classify(command).decision
