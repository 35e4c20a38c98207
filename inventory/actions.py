"""Commands seen in the sources → action classes; implied actions per kind (first version)."""

from __future__ import annotations

from inventory.builder import InventoryBuilder
from inventory.config import Config


def actions_from_commands(builder: InventoryBuilder, cfg: Config) -> None:
    """Parse every command sighting into an action class on the builder."""
    return None


def add_implied_actions(builder: InventoryBuilder, cfg: Config) -> None:
    """Add the standard operations an agent could take on each component/resource."""
    return None
