"""The prices a job bills at: the shipped table with the user's own (`model.prices=PATH`) over it,
the one-line note for a model without a price, and the refusal of a dollar budget it cannot count.

A model without a price may run: its `cost_usd` is null (never 0), and `make plan` and the job's
first line say so. A dollar budget (`budget.max_usd`) cannot count what such a model spends, so
a job or sweep with one is refused at start, in one line, before any call.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from benchmark.config import BudgetConfig, ConfigError, Settings
from benchmark.models.pricing import Price, PriceTableError, load_prices, price_for


@cache
def _user_table(path: str, mtime_ns: int) -> dict[str, Price]:
    # keyed by the file's mtime too, so a file edited between two plans is read again
    return load_prices(path)


def user_prices(settings: Settings) -> dict[str, Price] | None:
    """The table `model.prices` names (None when unset); a bad file is a one-line ConfigError."""
    path = settings.model.prices
    if path is None:
        return None
    try:
        return _user_table(path, Path(path).stat().st_mtime_ns)
    except OSError as exc:
        raise ConfigError(
            f"config error at 'model.prices': {path}: cannot read it ({exc.strerror or exc})"
        ) from None
    except PriceTableError as exc:
        raise ConfigError(f"config error at 'model.prices': {exc}") from None


def model_price(settings: Settings, model_id: str | None = None) -> Price | None:
    """The price of `model_id` (default: the job's model) with the user's table over the
    shipped one; None where neither has it. The simulator is free unless
    `model.simulator.price_as` names a model whose prices bill its tokens (a demonstration)."""
    model_id = model_id or settings.model.id
    stand_in = simulated_price_as(settings)
    if stand_in is not None and model_id == settings.model.id:
        model_id = stand_in
    return price_for(model_id, user_prices(settings))


def simulated_price_as(settings: Settings) -> str | None:
    """The model whose prices bill a simulated job (`model.simulator.price_as`), or None."""
    if settings.model.provider != "simulated":
        return None
    value = settings.model.simulator.get("price_as")
    return None if value is None else str(value)


def price_as_note(settings: Settings) -> str | None:
    """The job's first line when a simulated job is billed at a real model's prices."""
    stand_in = simulated_price_as(settings)
    if stand_in is None:
        return None
    return (
        f"{settings.model.id} billed at {stand_in}'s prices (model.simulator.price_as): a "
        "demonstration of the cost sections, not what any model costs"
    )


def no_price_note(model_id: str) -> str:
    return f"no price for {model_id}: cost will be null"


def price_notes(settings: Settings, price: Price | None) -> list[str]:
    """What a plan says of the job's price: none known, or one from the user's table."""
    if price is None:
        return [no_price_note(settings.model.id)]
    if settings.model.id in (user_prices(settings) or {}):
        return [f"price of {settings.model.id} from {settings.model.prices} (model.prices)"]
    return []


def unpriced_budget_refusal(budget: BudgetConfig, unpriced: Iterable[str]) -> str | None:
    """One line refusing `budget.max_usd` for models it cannot count; None when there is no
    dollar budget or every model has a price."""
    models = sorted(set(unpriced))
    if budget.max_usd is None or not models:
        return None
    return (
        f"budget: budget.max_usd=${budget.max_usd:g} cannot count the spend of "
        f"{', '.join(models)} (no price: cost will be null); add a price with "
        "model.prices=PATH or limit the sweep with budget.max_tokens"
    )
