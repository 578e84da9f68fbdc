"""Usage is judged at the edge: a figure a server sends missing, not an integer, negative or
absurd becomes null with a flag, whichever provider, batch or cache made the output, and never
prices a call, crashes a job or lowers a budget."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from benchmark.models.anthropic import AnthropicModel
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelOutput
from benchmark.models.bedrock import _output as bedrock_output
from benchmark.models.cache import ResponseCache
from benchmark.models.openai import OpenAIModel
from benchmark.models.pricing import cost_usd, price_for
from benchmark.models.usage import MAX_CALL_TOKENS, add_counts, count_flaw, flags_text
from benchmark.runner.budget import BudgetLedger
from tests.loopback import LoopbackServer
from tests.loopback_usage import RawUsage

CTX = CallContext(problem_id="p1", sample=0, iteration=1, output_format="yaml")
CONFIG = GenerateConfig(temperature=0.0, max_tokens=100)
MESSAGES = [ChatMessage("user", "Make a bucket.")]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (0, None),
        (MAX_CALL_TOKENS, None),
        ("lots", "not an integer"),
        ("12", "not an integer"),
        (True, "not an integer"),
        (12.0, "not an integer"),
        ([], "not an integer"),
        (-1, "negative"),
        (MAX_CALL_TOKENS + 1, "absurd"),
        (10**30, "absurd"),
    ],
)
def test_count_flaw(value: object, why: str | None) -> None:
    assert count_flaw(value) == why


def test_output_nulls_every_unsound_figure_and_says_why() -> None:
    out = ModelOutput(
        "reply",
        input_tokens=10**30,
        output_tokens="lots",  # type: ignore[arg-type]  # what a server may send
        cached_tokens=-3,
        cache_write_tokens=False,  # type: ignore[arg-type]
        cache_write_1h_tokens=7,
        latency_s=math.nan,
        request_id=42,  # type: ignore[arg-type]
        extra={"retries": "many"},
    )
    assert (out.input_tokens, out.output_tokens, out.cached_tokens) == (None, None, None)
    assert (out.cache_write_tokens, out.latency_s, out.request_id) == (None, None, None)
    assert out.cache_write_1h_tokens == 7 and "retries" not in out.extra
    assert flags_text(out.usage_flags) == (
        "input_tokens=absurd; output_tokens=not an integer; cached_tokens=negative; "
        "cache_write_tokens=not an integer; latency_s=not finite; request_id=not text; "
        "retries=not an integer"
    )


@pytest.mark.parametrize(
    ("latency", "why"),
    [(-0.1, "negative"), (math.inf, "not finite"), ("1.2", "not a number"), (1e9, "absurd")],
)
def test_unsound_latency_is_dropped(latency: object, why: str) -> None:
    out = ModelOutput("r", input_tokens=1, output_tokens=1, latency_s=latency)  # type: ignore[arg-type]
    assert out.latency_s is None and out.usage_flags == {"latency_s": why}


def test_a_missing_count_every_provider_reports_is_flagged_an_optional_one_is_not() -> None:
    out = ModelOutput("r", output_tokens=5, latency_s=0.5)
    assert out.usage_flags == {"input_tokens": "missing"}  # cached / cache-write: not reported
    assert ModelOutput("r", input_tokens=0, output_tokens=0).usage_flags == {}


def test_flags_survive_the_response_cache(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cache.put("k", "openai/gpt-4o", ModelOutput("r", input_tokens=-1, output_tokens=3))
    again = cache.get("k")
    cache.close()
    assert again is not None and again.input_tokens is None and again.output_tokens == 3
    assert again.usage_flags == {"input_tokens": "negative"}  # not turned into "missing"


def test_add_counts_passes_an_unsound_part_on_for_the_output_to_flag() -> None:
    assert add_counts(3, 4, 5) == 12
    assert add_counts("lots", 4, 5) == "lots"
    assert add_counts(3, -4, 5) == -4
    assert add_counts(None, 0, 0) is None
    # sound parts whose sum is absurd are flagged by the output
    total = add_counts(MAX_CALL_TOKENS, MAX_CALL_TOKENS)
    assert ModelOutput("r", input_tokens=total, output_tokens=1).usage_flags == {  # type: ignore[arg-type]
        "input_tokens": "absurd"
    }


def test_a_dropped_count_makes_the_cost_null_not_a_guess() -> None:
    price = price_for("openai/gpt-4o")
    sound = ModelOutput("r", input_tokens=1000, output_tokens=100, cached_tokens=500)
    assert cost_usd(price, sound) is not None and cost_usd(price, sound) > 0  # type: ignore[operator]
    bad_cache = ModelOutput("r", input_tokens=1000, output_tokens=100, cached_tokens="x")  # type: ignore[arg-type]
    assert cost_usd(price, bad_cache) is None
    assert cost_usd(price, ModelOutput("r", input_tokens=1000, output_tokens=-100)) is None


def test_the_ledger_is_never_charged_a_negative_amount(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path, 0, max_usd=1.0, max_tokens=100)
    ledger.charge(0.25, 60)
    ledger.charge(-5.0, -1_000_000)
    ledger.charge(math.nan, None)
    assert ledger.totals() == (0.25, 60)
    ledger.charge(None, 40)
    assert ledger.exhausted() == "budget.max_tokens reached: 100 of 100"
    ledger.close()


# -- what the real SDKs deliver, served on loopback -----------------------------------------


def _sdk_usage(server: LoopbackServer, api: str) -> Any:
    """The usage object the SDK itself builds from the loopback's reply."""

    async def go() -> Any:
        if api == "openai":
            client = openai.AsyncOpenAI(api_key="sk-x", base_url=server.openai_base_url)
            reply = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        else:
            client = anthropic.AsyncAnthropic(api_key="sk-x", base_url=server.anthropic_base_url)
            reply = await client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=10,
                messages=[{"role": "user", "content": "hi"}],
            )
        await client.close()
        return reply.usage

    return asyncio.run(go())


def _generate(model: Any) -> ModelOutput:
    async def go() -> ModelOutput:
        try:
            return await model.generate(MESSAGES, CONFIG, CTX)
        finally:
            await model.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("api", "wire", "field"),
    [
        ("openai", "completion_tokens", "output_tokens"),
        ("anthropic", "output_tokens", "output_tokens"),
    ],
)
def test_the_sdks_pass_a_string_count_through_unvalidated(
    loopback: Callable[..., LoopbackServer], api: str, wire: str, field: str
) -> None:
    server = loopback(["a reply", "a reply"], usage=RawUsage(fields={wire: "lots"}))
    assert getattr(_sdk_usage(server, api), wire) == "lots"  # what the provider is handed
    model = (
        OpenAIModel("gpt-4o", api_key="sk-x", base_url=server.openai_base_url, max_retries=0)
        if api == "openai"
        else AnthropicModel(
            "claude-sonnet-4-5", api_key="sk-x", base_url=server.anthropic_base_url, max_retries=0
        )
    )
    out = _generate(model)
    assert out.text == "a reply" and getattr(out, field) is None
    assert out.usage_flags == {field: "not an integer"}
    assert out.input_tokens == 21  # the sound figures stay


@pytest.mark.parametrize(
    ("api", "fields", "flags"),
    [
        ("openai", {"prompt_tokens": 10**30}, {"input_tokens": "absurd"}),
        ("openai", {"prompt_tokens": None}, {"input_tokens": "missing"}),
        (
            "openai",
            {"prompt_tokens_details": {"cached_tokens": -1}},
            {"cached_tokens": "negative"},
        ),
        # Anthropic reports the prompt in parts: an unsound part leaves the whole unknown
        (
            "anthropic",
            {"cache_read_input_tokens": "some"},
            {"input_tokens": "not an integer", "cached_tokens": "not an integer"},
        ),
        ("anthropic", {"input_tokens": -21}, {"input_tokens": "negative"}),
        ("anthropic", {"cache_creation": "odd"}, {}),  # no 1-hour split: all 5-minute writes
    ],
)
def test_unsound_usage_from_a_real_sdk_is_flagged_never_raised(
    loopback: Callable[..., LoopbackServer],
    api: str,
    fields: dict[str, Any],
    flags: dict[str, str],
) -> None:
    server = loopback(["a reply"], usage=RawUsage(fields=fields))
    model = (
        OpenAIModel("gpt-4o", api_key="sk-x", base_url=server.openai_base_url, max_retries=0)
        if api == "openai"
        else AnthropicModel(
            "claude-sonnet-4-5", api_key="sk-x", base_url=server.anthropic_base_url, max_retries=0
        )
    )
    out = _generate(model)
    assert out.text == "a reply" and out.usage_flags == flags
    for name in flags:
        assert getattr(out, name) is None


def test_bedrock_usage_is_judged_like_the_others() -> None:
    # botocore passes JSON numbers through as they came; Bedrock reports the prompt in parts
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": "a reply"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": "lots", "outputTokens": -8, "cacheReadInputTokens": 5},
    }
    out = bedrock_output(response, 0.2)
    assert out.text == "a reply" and (out.input_tokens, out.output_tokens) == (None, None)
    assert out.cached_tokens == 5
    assert out.usage_flags == {"input_tokens": "not an integer", "output_tokens": "negative"}
    assert bedrock_output({**response, "usage": "odd"}, 0.2).usage_flags == {
        "input_tokens": "missing",
        "output_tokens": "missing",
    }
