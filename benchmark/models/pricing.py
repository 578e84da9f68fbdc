"""Cost of a call from the versioned price table (benchmark/models/prices.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from benchmark.models.base import ModelOutput

PRICE_TABLE = Path(__file__).with_name("prices.yaml")


@dataclass(frozen=True)
class Price:
    input: float
    cached_input: float
    output: float


@cache
def _table() -> dict[str, Price]:
    data = yaml.safe_load(PRICE_TABLE.read_text(encoding="utf-8"))
    return {model: Price(**p) for model, p in data["per_million_tokens"].items()}


def price_for(model_id: str) -> Price | None:
    """The model's price; the simulator is free; anything unlisted has no price."""
    if model_id.startswith("simulated/"):
        return Price(0.0, 0.0, 0.0)
    return _table().get(model_id)


def cost_usd(price: Price | None, output: ModelOutput) -> float | None:
    """USD for one call; `input_tokens` counts all input, `cached_tokens` the cached part."""
    if price is None or output.input_tokens is None or output.output_tokens is None:
        return None
    cached = output.cached_tokens or 0
    fresh = max(output.input_tokens - cached, 0)
    total = fresh * price.input + cached * price.cached_input + output.output_tokens * price.output
    return total / 1_000_000
