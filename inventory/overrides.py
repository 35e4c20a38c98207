"""Apply `stackpolicy.yaml` overrides: facts a team asserts that the scan cannot see."""

from __future__ import annotations

from inventory.builder import InventoryBuilder
from inventory.config import Config
from inventory.model import EnvironmentSource, Evidence


def apply_overrides(builder: InventoryBuilder, cfg: Config) -> None:
    """Overrides are keyed by entity id (``postgres:orders-db``) or plain name."""
    if not cfg.overrides:
        return
    evidence = [Evidence(path="stackpolicy.yaml", line=1)]
    for key, ov in sorted(cfg.overrides.items()):
        targets = [builder.entity(key)] if builder.entity(key) else builder.find(key)
        if not targets:
            builder.warn("stackpolicy.yaml", f"override for {key!r} matches nothing in the inventory", scanner="config")
            continue
        for ent in targets:
            if ov.criticality:
                ent.attributes["criticality"] = ov.criticality
                builder.set_fact(ent, "criticality", ov.criticality, evidence)
            for owner in ov.owners:
                if owner not in ent.owners:
                    ent.owners.append(owner)
            for dc in ov.data_classes:
                if dc not in ent.data_classes:
                    ent.data_classes.append(dc)
                    builder.set_fact(ent, "data_class", dc, evidence)
            if ov.environment:
                # The team's word replaces whatever the signals said.
                ent.environments = [ov.environment]
                ent.environment_sources = [EnvironmentSource(
                    environment=ov.environment, how=f"stackpolicy.yaml overrides {key}: environment {ov.environment}",
                    resolver="stackpolicy.yaml", evidence=evidence)]
                builder.set_fact(ent, "environment", ov.environment, evidence)
