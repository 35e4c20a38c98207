"""Token counting and cost estimates from the editable price table (``prices.yaml``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRICES_PATH = Path(__file__).with_name("prices.yaml")
CHARS_PER_TOKEN = 4.0  # a conservative rule of thumb for English + code; no tokenizer dependency


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text`` (ceil(chars / 4))."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Price:
    """USD per million input / output tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


def load_prices(path: str | Path | None = None) -> dict[str, Any]:
    """The price table (``path`` overrides the bundled one)."""
    return yaml.safe_load(Path(path or PRICES_PATH).read_text(encoding="utf-8")) or {}


def price_for(provider: str, model: str, table: dict[str, Any] | None = None) -> Price:
    """The price of ``provider``/``model``: longest key prefix of the model, else the provider, else default."""
    table = table if table is not None else load_prices()
    models: dict[str, dict[str, float]] = table.get("models") or {}
    best = ""
    for key in models:
        if (model.startswith(key) or f"{provider}:{model}".startswith(key)) and len(key) > len(best):
            best = key
    row = models.get(best) if best else table.get(provider) or table.get("default") or {"input": 0, "output": 0}
    return Price(float(row["input"]), float(row["output"]))


def batch_discount(table: dict[str, Any] | None = None) -> float:
    """Multiplier applied to batch calls (0.5 = half price)."""
    table = table if table is not None else load_prices()
    return float(table.get("batch_discount", 1.0))
