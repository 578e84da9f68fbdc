"""Prices for today's models (dated, sourced), a user's own price file, and the unpriced model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from anthropic.types.model_param import ModelParam
from openai.types.shared.chat_model import ChatModel

from benchmark.config import BudgetConfig, ConfigError
from benchmark.models.base import ModelOutput
from benchmark.models.pricing import (
    PRICE_TABLE,
    PriceTableError,
    cost_usd,
    load_prices,
    price_for,
)
from benchmark.records.tables import read_table
from benchmark.runner.plan.job import plan_job
from benchmark.runner.plan.sweep import single
from benchmark.runner.prices import model_price, no_price_note, unpriced_budget_refusal
from tests.test_job import settings_for

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_PAGES = {
    "anthropic": "https://platform.claude.com/",
    "openai": "https://developers.openai.com/",
}
SDK_MODELS = {
    "anthropic": set(get_args(get_args(ModelParam)[0])),
    "openai": set(get_args(ChatModel)),
}
UNPRICED = "openai/gpt-6-astra"  # named by the SDK; no OpenAI page with its price was read


def test_today_s_models_have_prices_with_their_page_and_date() -> None:
    for model in ("anthropic/claude-opus-5-5", "openai/gpt-6.2-sol", "openai/gpt-6-luna"):
        price = price_for(model)
        assert price is not None, model
        assert price.read_on == "2026-12-07" and price.source, model
    old = price_for("openai/gpt-4o")
    assert old is not None and old.read_on == "2025-10-01" and old.source is None  # table date


def test_every_sourced_row_is_a_model_the_sdks_name_read_on_its_provider_s_page() -> None:
    sourced = {m: p for m, p in load_prices(PRICE_TABLE).items() if p.source is not None}
    assert len(sourced) >= 10
    for model, price in sourced.items():
        provider, name = model.split("/", 1)
        assert name in SDK_MODELS[provider], model
        assert price.source.startswith(PROVIDER_PAGES[provider]), model


def test_reasoning_is_billed_once_at_the_output_rate() -> None:
    price = price_for("anthropic/claude-opus-5-5")  # $4 in, $20 out
    reasoned = ModelOutput("t", input_tokens=1_000, output_tokens=5_000, reasoning_tokens=4_000)
    plain = ModelOutput("t", input_tokens=1_000, output_tokens=5_000)
    assert cost_usd(price, reasoned) == pytest.approx((1_000 * 4 + 5_000 * 20) / 1e6)
    assert cost_usd(price, reasoned) == cost_usd(price, plain)


def test_openai_bills_cache_writes_and_a_long_context_call_has_no_price() -> None:
    price = price_for("openai/gpt-6.2-sol")  # $2 in, $0.10 read, $2.50 write, $10 out
    out = ModelOutput(
        "t", input_tokens=10_000, output_tokens=100, cached_tokens=2_000, cache_write_tokens=3_000
    )
    assert cost_usd(price, out) == pytest.approx(
        (5_000 * 2 + 2_000 * 0.10 + 3_000 * 2.50 + 100 * 10) / 1e6
    )
    assert cost_usd(price, ModelOutput("t", input_tokens=272_000, output_tokens=1)) is not None
    assert cost_usd(price, ModelOutput("t", input_tokens=272_001, output_tokens=1)) is None


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_price_file_goes_over_the_shipped_table_row_by_row(tmp_path: Path) -> None:
    mine = write(
        tmp_path / "mine.yaml",
        "per_million_tokens:\n"
        f"  {UNPRICED}: {{input: 2, cached_input: 0.2, output: 10, source: my invoice}}\n"
        "  openai/gpt-4o: {input: 1, cached_input: 0.5, output: 4}\n",
    )
    settings = settings_for(f"model.id={UNPRICED}", f"model.prices={mine}")
    assert model_price(settings) is not None and model_price(settings).source == "my invoice"
    assert model_price(settings, "openai/gpt-4o").output == 4  # type: ignore[union-attr]
    shipped = price_for("anthropic/claude-opus-5-5")
    assert model_price(settings, "anthropic/claude-opus-5-5") == shipped
    plan = plan_job(settings_for(f"model.id={UNPRICED}", f"model.prices={mine}", *SMALL))
    assert plan.priced and plan.cost.expected and plan.cost.maximum
    assert f"price of {UNPRICED} from {mine} (model.prices)" in plan.notes


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "not found"),
        ("per_million_tokens: [", "not valid YAML"),
        ("prices: {}", "per_million_tokens"),
        ("per_million_tokens: {a/b: {input: 1, output: 2}}", "missing 'cached_input'"),
        ("per_million_tokens: {a/b: {input: -1, cached_input: 0, output: 2}}", "a/b.input"),
        ("per_million_tokens: {a/b: {input: 1, cached_input: 0, output: 2, fee: 1}}", "'fee'"),
    ],
)
def test_a_bad_user_price_file_is_one_line_naming_model_prices(
    tmp_path: Path, text: str | None, says: str
) -> None:
    path = tmp_path / "prices.yaml"
    if text is not None:
        write(path, text)
    with pytest.raises(PriceTableError, match="cannot read it" if text is None else None):
        load_prices(path)
    with pytest.raises(ConfigError) as caught:
        model_price(settings_for(f"model.prices={path}"))
    message = str(caught.value)
    assert "model.prices" in message and says in message and "\n" not in message


def test_model_prices_is_billing_only_and_null_effort_keeps_old_hashes(tmp_path: Path) -> None:
    mine = write(tmp_path / "mine.yaml", "per_million_tokens: {}\n")
    base = settings_for("model.id=openai/gpt-4o").result_fingerprint()
    assert (
        settings_for("model.id=openai/gpt-4o", f"model.prices={mine}").result_fingerprint() == base
    )
    assert "effort" not in base["model"] and "thinking" not in base["model"]
    low = settings_for("model.id=openai/gpt-4o", "model.effort=low").result_fingerprint()
    assert low != base and low["model"]["effort"] == "low"


SMALL = ("dataset.limit=2", "loop.samples=1", "loop.max_iterations=3", "planning.draws=20")


def test_an_unpriced_model_is_planned_with_the_note_and_a_dollar_budget_refuses_it() -> None:
    plan = plan_job(settings_for(f"model.id={UNPRICED}", *SMALL))
    assert not plan.priced and plan.cost.expected is None
    assert f"no price for {UNPRICED}: cost will be null" in plan.notes
    assert single(settings_for(f"model.id={UNPRICED}", *SMALL), plan).refusal() is None
    budgeted = settings_for(f"model.id={UNPRICED}", "budget.max_usd=100", *SMALL)
    refused = single(budgeted, plan).refusal()
    assert refused is not None and "\n" not in refused
    assert UNPRICED in refused and "budget.max_usd=$100" in refused and "model.prices" in refused
    assert unpriced_budget_refusal(BudgetConfig(max_usd=1), []) is None
    assert unpriced_budget_refusal(BudgetConfig(), [UNPRICED]) is None
    assert no_price_note(UNPRICED) == f"no price for {UNPRICED}: cost will be null"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmark.run", *args, *SMALL],
        cwd=ROOT,
        env={**os.environ, "OPENAI_API_KEY": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_job_s_first_line_names_the_missing_price(tmp_path: Path) -> None:
    done = run(f"model.id={UNPRICED}", "plan=true", f"hydra.run.dir={tmp_path / 'run'}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.splitlines()[0] == f"no price for {UNPRICED}: cost will be null"


@pytest.mark.parametrize("multirun", [False, True])
def test_a_dollar_budget_refuses_an_unpriced_model_at_start_in_one_line(
    tmp_path: Path, multirun: bool
) -> None:
    where = f"hydra.sweep.dir={tmp_path}" if multirun else f"hydra.run.dir={tmp_path}"
    models = f"model.id={UNPRICED},simulated/default" if multirun else f"model.id={UNPRICED}"
    done = run(*(["-m"] if multirun else []), models, "budget.max_usd=5", where)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: budget: budget.max_usd=$5 cannot count")
    assert UNPRICED in lines[-1] and not list(tmp_path.rglob("*.parquet"))
    if not multirun:
        assert len(lines) == 1


def test_a_simulated_job_billed_at_a_real_model_s_prices_says_so(tmp_path: Path) -> None:
    """`model.simulator.price_as` bills the simulator's tokens at a real model's prices, so
    that the cost sections can be demonstrated offline; it is billing only (same hash)."""
    stand_in = "anthropic/claude-opus-5-5"
    free = settings_for("model.id=simulated/default", *SMALL)
    billed = settings_for(
        "model.id=simulated/default", f"model.simulator.price_as={stand_in}", *SMALL
    )
    assert model_price(free) == price_for("simulated/default")
    assert model_price(billed) == price_for(stand_in) and price_for(stand_in) is not None
    assert billed.result_fingerprint() == free.result_fingerprint()
    assert plan_job(billed).cost.expected and not plan_job(free).cost.expected
    done = run(
        "model.id=simulated/default",
        f"model.simulator.price_as={stand_in}",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.splitlines()[0].startswith(
        f"simulated/default billed at {stand_in}'s prices (model.simulator.price_as)"
    )
    rows = read_table(tmp_path / "run", "attempts")
    assert rows["simulated"].all() and rows["cost_usd"].gt(0).all()
