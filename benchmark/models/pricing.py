"""Cost of a call from the versioned price table (benchmark/models/prices.yaml).

A row holds the online prices and, under `batch`, the batch API's. Prompt-cache reads are
billed at `cached_input`, writes at `cache_write` (the provider's standard write: Anthropic's
5-minute TTL, OpenAI's 30-minute retention) and `cache_write_1h` (Anthropic's 1-hour TTL); a
row without a write price bills writes as `input`. A 1-hour write on a row that lists a
standard write price but no 1-hour one has no known price: the call's cost is null, never a
guess. A row with `max_input_tokens` holds only up to that many input tokens per request
(above it a long-context rate applies that the table does not carry): a longer call's cost is
null (`tokens_cost`, on planned or summed counts, does not check it: the harness's calls stay
far below the providers' long-context thresholds).

Reasoning is output: `ModelOutput.output_tokens` counts ALL billed output, reasoning tokens
included (`reasoning_tokens` says how many of them were reasoning), so the output rate already
prices reasoning and nothing is added twice.

A row may say where and when it was read (`source:` a page URL, `read_on:` a date); a row
without them was read on the table's `read_on`. A user's own table in the same format
(`model.prices=PATH`, loaded with `load_prices`) is passed to `price_for` and replaces the
shipped row of each model it names, row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from benchmark.models.base import ModelOutput
from benchmark.models.usage import COUNTS

PRICE_TABLE = Path(__file__).with_name("prices.yaml")
PriceBasis = Literal["online", "batch"]
RATES = ("input", "cached_input", "output", "cache_write", "cache_write_1h")


class PriceTableError(ValueError):
    """A price table that cannot be used; the message is one line naming the file and row."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    cached_input: float
    output: float
    cache_write: float | None = None  # the standard write; None: billed as plain input
    cache_write_1h: float | None = None
    batch: Price | None = None  # the batch API's prices; None: not known
    max_input_tokens: int | None = None  # these rates hold up to this many input tokens a call
    source: str | None = field(default=None, compare=False)  # the page it was read from
    read_on: str | None = field(default=None, compare=False)  # the date it was read

    def basis(self, basis: PriceBasis) -> Price | None:
        """The prices that apply on `basis` (None: this model has no batch price)."""
        return self if basis == "online" else self.batch


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PriceTableError(f"{where}: a price is a number >= 0 (USD per million tokens)")
    return float(value)


def _price(row: Any, where: str, read_on: str | None = None) -> Price:
    if not isinstance(row, Mapping):
        raise PriceTableError(f"{where}: a row is a mapping of prices")
    known = {f.name for f in fields(Price)}
    unknown = sorted(set(row) - known)
    if unknown:
        raise PriceTableError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    missing = [k for k in ("input", "cached_input", "output") if row.get(k) is None]
    if missing:
        raise PriceTableError(f"{where}: missing {missing[0]!r}")
    rates = {k: _rate(row[k], f"{where}.{k}") for k in RATES if row.get(k) is not None}
    limit = row.get("max_input_tokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise PriceTableError(f"{where}.max_input_tokens: a whole number of tokens >= 1")
    batch = row.get("batch")
    when = row.get("read_on", read_on)
    return Price(
        **rates,
        batch=_price(batch, f"{where}.batch") if batch is not None else None,
        max_input_tokens=limit,
        source=None if row.get("source") is None else str(row["source"]),
        read_on=None if when is None else str(when),
    )


def load_prices(path: str | Path) -> dict[str, Price]:
    """A price table (prices.yaml's format: rows under `per_million_tokens`), by model id;
    PriceTableError in one line for a file that is missing, not YAML, or has a bad row."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceTableError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise PriceTableError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    rows = data.get("per_million_tokens") if isinstance(data, Mapping) else None
    if not isinstance(rows, Mapping):
        raise PriceTableError(f"{path}: no 'per_million_tokens' mapping of model id -> prices")
    read_on = data.get("read_on")
    if isinstance(read_on, dt.date):
        read_on = read_on.isoformat()
    return {
        str(model): _price(row, f"{path}: {model}", None if read_on is None else str(read_on))
        for model, row in rows.items()
    }


@cache
def _table() -> dict[str, Price]:
    return load_prices(PRICE_TABLE)


def price_for(model_id: str, extra: Mapping[str, Price] | None = None) -> Price | None:
    """The model's price: its row in `extra` (a user's table, `load_prices`), else in the
    shipped table; the simulator is free; anything unlisted has no price."""
    if model_id.startswith("simulated/"):
        return Price(0.0, 0.0, 0.0, batch=Price(0.0, 0.0, 0.0))
    if extra is not None and model_id in extra:
        return extra[model_id]
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
    limit = price.max_input_tokens if price is not None else None
    if limit is not None and output.input_tokens > limit:
        return None  # a long-context rate applies that the table does not carry
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
