"""Cost of a call from the versioned price table (benchmark/models/prices.yaml).

A row holds the online prices and, under `batch`, the batch API's. Prompt-cache reads are
billed at `cached_input`, writes at `cache_write` (`cache_write_1h` for the 1-hour TTL); a
provider that bills no write premium (OpenAI) leaves them out and writes cost `input`. A
1-hour write on a row that lists a 5-minute write price but no 1-hour one has no known price:
the call's cost is null, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from benchmark.models.base import ModelOutput
from benchmark.models.usage import COUNTS

PRICE_TABLE = Path(__file__).with_name("prices.yaml")
PriceBasis = Literal["online", "batch"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    cached_input: float
    output: float
    cache_write: float | None = None  # 5-minute TTL; None: billed as plain input
    cache_write_1h: float | None = None
    batch: Price | None = None  # the batch API's prices; None: not known

    def basis(self, basis: PriceBasis) -> Price | None:
        """The prices that apply on `basis` (None: this model has no batch price)."""
        return self if basis == "online" else self.batch


def _price(row: dict[str, Any]) -> Price:
    batch = row.get("batch")
    return Price(**{**row, "batch": _price(batch) if batch is not None else None})


@cache
def _table() -> dict[str, Price]:
    data = yaml.safe_load(PRICE_TABLE.read_text(encoding="utf-8"))
    return {model: _price(p) for model, p in data["per_million_tokens"].items()}


def price_for(model_id: str) -> Price | None:
    """The model's price; the simulator is free; anything unlisted has no price."""
    if model_id.startswith("simulated/"):
        return Price(0.0, 0.0, 0.0, batch=Price(0.0, 0.0, 0.0))
    return _table().get(model_id)


def price_basis(output: ModelOutput) -> PriceBasis:
    """Batch prices for a reply a provider batch gave, online prices otherwise."""
    return "batch" if output.batch_id else "online"


def cost_usd(price: Price | None, output: ModelOutput) -> float | None:
    """USD for one call at `price` (already the basis it was billed on).

    `input_tokens` counts all input; of it `cached_tokens` were cache reads and
    `cache_write_tokens` cache writes, `cache_write_1h_tokens` of them with the 1-hour TTL
    (an output without that count but with `extra["cache_ttl"] == "1h"`: all of them).
    None where the price is unknown or a count is (missing, or dropped as unsound).
    """
    if output.input_tokens is None or output.output_tokens is None:
        return None
    if any(name in output.usage_flags for name in COUNTS):
        return None  # a count the reply gave was dropped as unsound: the cost is unknown
    written = output.cache_write_tokens or 0
    if output.cache_write_1h_tokens is not None:
        one_hour = min(output.cache_write_1h_tokens, written)
    else:
        one_hour = written if output.extra.get("cache_ttl") == "1h" else 0
    return tokens_cost(
        price,
        output.input_tokens,
        output.output_tokens,
        output.cached_tokens or 0,
        written,
        one_hour,
    )


def tokens_cost(
    price: Price | None,
    input_tokens: float,
    output_tokens: float,
    cached: float = 0,
    written: float = 0,
    one_hour: float = 0,
) -> float | None:
    """USD for these token counts at `price` (counts may be expected values, fractional):
    `input_tokens` in all, of it `cached` read from the prompt cache and `written` to it,
    `one_hour` of those with the 1-hour TTL. None where the price is unknown."""
    if price is None:
        return None
    fresh = max(input_tokens - cached - written, 0)
    write_5m = price.cache_write or price.input
    write_1h = price.cache_write_1h
    if write_1h is None:
        if one_hour and price.cache_write is not None:
            return None  # a write premium is billed, but not known for this TTL
        write_1h = price.input
    total = (
        fresh * price.input
        + cached * price.cached_input
        + (written - one_hour) * write_5m
        + one_hour * write_1h
        + output_tokens * price.output
    )
    return total / 1_000_000
