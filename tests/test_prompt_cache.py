"""Prompt caching: where breakpoints go, what the loopback bills for them, what a call costs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from benchmark.models.anthropic import AnthropicModel
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelOutput
from benchmark.models.openai import OpenAIModel
from benchmark.models.pricing import Price, cost_usd, price_basis, price_for
from benchmark.models.prompt_cache import (
    BatchCacheTtl,
    PromptCache,
    estimate_tokens,
    min_cacheable_tokens,
)
from tests.loopback import LoopbackServer
from tests.loopback_usage import CountedUsage, count_tokens

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated")
KEY = "sk-loopback-SECRET-0123456789"
CONFIG = GenerateConfig(temperature=1.0, max_tokens=500)
LONG = "Resources:\n" + "".join(f"  Queue{i}:\n    Type: AWS::SQS::Queue\n" for i in range(120))
SYSTEM = ChatMessage("system", "You write CloudFormation.")
GENERATE = ChatMessage("user", "Write a template with many queues.\n" + LONG)


def ctx(iteration: int) -> CallContext:
    return CallContext("p1", 0, iteration, "yaml")


def conversation(turns: int) -> list[ChatMessage]:
    """The messages of repair `turns` in the conversation protocol (0: the generation)."""
    messages = [SYSTEM, GENERATE]
    for n in range(turns):
        messages += [ChatMessage("assistant", f"{LONG}# reply {n}\n"), ChatMessage("user", f"E{n}")]
    return messages


CACHE = PromptCache(min_tokens=1024)


# -- where the breakpoints go --------------------------------------------------------------


def test_generation_marks_the_whole_generation_prompt() -> None:
    assert CACHE.breakpoints([SYSTEM, GENERATE], iteration=1) == [1]


def test_conversation_marks_the_newest_turn_so_the_next_repair_reads_it() -> None:
    messages = conversation(3)
    assert [m.role for m in messages[-3:]] == ["user", "assistant", "user"]
    assert CACHE.breakpoints(messages, iteration=4) == [len(messages) - 1]
    assert CACHE.breakpoints(messages, iteration=4, max_iterations=10) == [len(messages) - 1]


@pytest.mark.parametrize(("batch", "last_writing"), [(False, 9), (True, 8)])
def test_no_write_on_the_last_iterations_where_it_would_not_pay(
    batch: bool, last_writing: int
) -> None:
    # 5m writes pay with one later read, 1h writes (batch mode) with two
    for iteration in range(2, 11):
        messages = conversation(iteration - 1)
        (mark,) = CACHE.breakpoints(messages, iteration, max_iterations=10, batch=batch)
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if iteration <= last_writing:
            assert mark == len(messages) - 1, iteration  # written for the next repairs
        else:  # only read: the prompt the last writing iteration cached
            assert mark == users[last_writing - 1], iteration
    # a chain too short for any repair's write to pay reads the generation prompt
    assert CACHE.breakpoints(conversation(1), 2, max_iterations=2, batch=True) == [1]


def test_the_last_iteration_reads_what_the_previous_one_wrote_whatever_its_ttl() -> None:
    # batch mode may switch TTL between rounds: iteration 9 of 10 writes with 5m, not with 1h
    messages = conversation(9)
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    for now in ("5m", "1h"):
        (after_5m,) = CACHE.breakpoints(messages, 10, 10, batch=True, ttl=now, previous_ttl="5m")
        (after_1h,) = CACHE.breakpoints(messages, 10, 10, batch=True, ttl=now, previous_ttl="1h")
        assert after_5m == users[8] and after_1h == users[7], now
    nine = conversation(8)
    assert CACHE.breakpoints(nine, 9, 10, batch=True, ttl="5m") == [len(nine) - 1]  # writes
    nine_users = [i for i, m in enumerate(nine) if m.role == "user"]
    assert CACHE.breakpoints(nine, 9, 10, batch=True, ttl="1h") == [nine_users[7]]  # reads
    # `ttl` overrides the configured one; `previous_ttl` defaults to it
    assert CACHE.breakpoints(messages, 10, 10, ttl="1h") == [users[7]]


def test_a_generation_prompt_no_later_call_is_sure_to_send_is_left_unmarked() -> None:
    prompt = [SYSTEM, GENERATE]
    conversation_job = PromptCache(min_tokens=1024, protocol="conversation", samples=1)
    assert conversation_job.breakpoints(prompt, 1, 10, batch=True) == [1]  # its repairs read it
    stateless = PromptCache(min_tokens=1024, protocol="stateless", samples=5)
    assert stateless.breakpoints(prompt, 1, 10) == [1]  # online, the other samples read it
    # in batch mode the other samples run in the same batch: no read of it is promised
    assert stateless.breakpoints(prompt, 1, 10, batch=True) == []
    alone = PromptCache(min_tokens=1024, protocol="stateless", samples=1)
    assert alone.breakpoints(prompt, 1, 10) == []


def test_batch_ttl_first_round_an_hour_then_what_the_rounds_allow() -> None:
    auto = BatchCacheTtl()
    assert auto.round_started(0.0) == "1h"  # nothing seen yet
    auto.batch_ended(0.0, 40.0)
    assert auto.round_started(50.0) == "5m"  # 2 x 40 s + a 10 s gap, doubled: under 5 min
    assert auto.predicted_span_s() == 90.0
    auto.batch_ended(50.0, 130.0)  # an 80 s batch: 2 x 80 + 10 = 170 s, doubled: over 5 min
    assert auto.round_started(130.0) == "1h"
    slow_gap = BatchCacheTtl()
    slow_gap.batch_ended(0.0, 5.0)
    assert slow_gap.round_started(200.0) == "1h"  # the lint between rounds counts too
    assert BatchCacheTtl(fixed="5m").round_started(0.0) == "5m"
    fixed = BatchCacheTtl(fixed="1h")
    fixed.batch_ended(0.0, 1.0)
    assert fixed.round_started(1.0) == "1h"


def test_stateless_repair_shares_only_the_system_prompt() -> None:
    repair = [SYSTEM, ChatMessage("user", "Fix this template:\n" + LONG)]
    assert CACHE.breakpoints(repair, iteration=2) == []  # the system prompt is too short
    long_system = ChatMessage("system", LONG)
    assert CACHE.breakpoints([long_system, repair[1]], iteration=2) == [0]


def test_no_breakpoint_on_a_prefix_below_the_minimum_or_when_off() -> None:
    short = [SYSTEM, ChatMessage("user", "Write one bucket.")]
    assert CACHE.breakpoints(short, iteration=1) == []
    assert PromptCache(enabled=False).breakpoints(conversation(2), iteration=3) == []
    tokens = sum(estimate_tokens(m.content) for m in conversation(0))
    assert PromptCache(min_tokens=tokens).breakpoints(conversation(0), 1) == [1]
    assert PromptCache(min_tokens=tokens + 1).breakpoints(conversation(0), 1) == []


def test_minimum_cacheable_length_per_model() -> None:
    assert min_cacheable_tokens("claude-sonnet-4-5") == 1024
    assert min_cacheable_tokens("claude-sonnet-4-5-20250929") == 1024
    assert min_cacheable_tokens("claude-haiku-4-5") == 4096
    assert min_cacheable_tokens("claude-sonnet-4-6") == 2048
    assert min_cacheable_tokens("claude-opus-4-1") == 1024


def test_estimate_never_undercounts_the_loopback_count() -> None:
    for text in (LONG, "a", "word " * 300):
        assert estimate_tokens(text) >= count_tokens(text)


# -- on the wire, against the loopback's cache ---------------------------------------------


def call(model, messages: list[ChatMessage], iteration: int) -> ModelOutput:
    async def go() -> ModelOutput:
        try:
            return await model.generate(messages, CONFIG, ctx(iteration))
        finally:
            await model.aclose()

    return asyncio.run(go())


def anthropic(server: LoopbackServer, **kw) -> AnthropicModel:
    url = server.anthropic_base_url
    return AnthropicModel("claude-sonnet-4-5", api_key=KEY, base_url=url, **kw)


def test_anthropic_request_carries_cache_control_on_the_stable_prefix(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(lambda body, path: "ok", usage=CountedUsage())
    call(anthropic(server), conversation(2), iteration=3)
    body = server.requests[0].body
    assert body["system"] == SYSTEM.content  # too short to cache: left a plain string
    marked = [
        i
        for i, m in enumerate(body["messages"])
        if isinstance(m["content"], list) and "cache_control" in m["content"][0]
    ]
    assert marked == [len(body["messages"]) - 1]  # the newest turn
    block = body["messages"][-1]["content"][0]
    assert block == {
        "type": "text",
        "text": "E1",
        "cache_control": {"type": "ephemeral", "ttl": "5m"},
    }
    assert body["messages"][0]["content"] == GENERATE.content  # plain text elsewhere


def test_anthropic_conversation_writes_then_reads_its_history(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(lambda body, path: "ok", usage=CountedUsage())
    first = call(anthropic(server), conversation(0), iteration=1)
    second = call(anthropic(server), conversation(1), iteration=2)
    third = call(anthropic(server), conversation(2), iteration=3)
    prompt = count_tokens(f"user:{GENERATE.content}") + count_tokens(f"system:{SYSTEM.content}")
    assert first.cached_tokens == 0 and first.cache_write_tokens == prompt
    # each turn reads the prompt before it and writes its own new turn (reply + feedback)
    assert second.cached_tokens == prompt
    assert second.cache_write_tokens == second.input_tokens - prompt
    assert third.cached_tokens == second.input_tokens
    assert third.cache_write_tokens == third.input_tokens - second.input_tokens
    for out in (first, second, third):
        assert out.input_tokens >= out.cached_tokens + out.cache_write_tokens
        assert out.cache_write_1h_tokens == 0  # 5-minute writes


def test_anthropic_with_caching_off_sends_plain_strings(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(lambda body, path: "ok", usage=CountedUsage())
    model = anthropic(server, prompt_cache=PromptCache(enabled=False))
    out = call(model, conversation(2), iteration=3)
    assert all(isinstance(m["content"], str) for m in server.requests[0].body["messages"])
    assert (out.cached_tokens, out.cache_write_tokens) == (0, 0)


def test_openai_reports_cached_tokens_for_a_repeated_long_prefix(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(lambda body, path: "ok", usage=CountedUsage())

    def openai() -> OpenAIModel:
        return OpenAIModel("gpt-4o", api_key=KEY, base_url=server.openai_base_url)

    first = call(openai(), conversation(0), iteration=1)
    second = call(openai(), conversation(1), iteration=2)
    assert first.cached_tokens == 0 and first.input_tokens >= 1024
    assert second.cached_tokens >= 1024 and second.cached_tokens % 128 == 0
    assert second.cached_tokens <= first.input_tokens < second.input_tokens
    assert "cache_control" not in str(server.requests[1].body)  # OpenAI caches on its own


# -- the loopback's cache rules ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def marked(text: str, ttl: str = "5m") -> list[dict]:
    return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral", "ttl": ttl}}]


def test_loopback_anthropic_cache_minimum_lookback_and_ttl() -> None:
    clock = Clock()
    usage = CountedUsage(min_tokens=100, lookback=3, clock=clock)
    long, short = "x" * 800, "y" * 40  # 200 and 10 tokens
    request = {"model": "m", "messages": [{"role": "user", "content": marked(long)}]}
    assert usage.anthropic(request, "")["cache_creation_input_tokens"] > 0
    assert usage.anthropic(request, "")["cache_read_input_tokens"] > 0
    # too short to cache: neither written nor read
    tiny = {"model": "m", "messages": [{"role": "user", "content": marked(short)}]}
    assert usage.anthropic(tiny, "")["cache_creation_input_tokens"] == 0
    assert usage.anthropic(tiny, "")["cache_read_input_tokens"] == 0
    # a breakpoint further than `lookback` blocks from the cached one misses it
    turns = [{"role": "user", "content": long}] + [  # the cached prefix, unmarked here
        {"role": "user", "content": f"turn {n}"} for n in range(5)
    ]
    far = {"model": "m", "messages": [*turns[:-1], {"role": "user", "content": marked("z")}]}
    assert usage.anthropic(far, "")["cache_read_input_tokens"] == 0
    near = {"model": "m", "messages": [*turns[:2], {"role": "user", "content": marked("z")}]}
    assert usage.anthropic(near, "")["cache_read_input_tokens"] > 0
    # another model never shares an entry
    assert usage.anthropic({**request, "model": "other"}, "")["cache_read_input_tokens"] == 0
    # a 5-minute entry expires; a 1-hour one outlives it, and reports its TTL
    hour = {"model": "m", "messages": [{"role": "user", "content": marked("h" * 800, "1h")}]}
    written = usage.anthropic(hour, "")
    assert written["cache_creation"] == {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": written["cache_creation_input_tokens"],
    }
    clock.now += 301
    assert usage.anthropic(request, "")["cache_read_input_tokens"] == 0
    assert usage.anthropic(hour, "")["cache_read_input_tokens"] > 0


def test_loopback_openai_cache_steps_and_minimum() -> None:
    usage = CountedUsage()
    prefix = "p" * 4 * 1500  # 1500 tokens
    request = {"model": "m", "messages": [{"role": "user", "content": prefix}]}
    assert usage.openai(request, "")["prompt_tokens_details"]["cached_tokens"] == 0
    longer = {"model": "m", "messages": [{"role": "user", "content": prefix + "q" * 4000}]}
    cached = usage.openai(longer, "")["prompt_tokens_details"]["cached_tokens"]
    assert cached == 1024 + 128 * 3  # the longest 128-step of the shared 1500 tokens
    small = {"model": "m", "messages": [{"role": "user", "content": "s" * 4000}]}
    usage.openai(small, "")
    assert usage.openai(small, "")["prompt_tokens_details"]["cached_tokens"] == 0  # < 1024
    off = CountedUsage(prompt_cache=False)
    off.openai(request, "")
    assert off.openai(request, "")["prompt_tokens_details"]["cached_tokens"] == 0


# -- cost ----------------------------------------------------------------------------------


def test_cost_prices_cache_reads_writes_and_the_batch_basis() -> None:
    price = price_for("anthropic/claude-sonnet-4-5")
    assert price is not None and price.batch is not None
    out = ModelOutput("x", input_tokens=10_000, output_tokens=1_000, cached_tokens=6_000)
    out.cache_write_tokens = 3_000
    fresh = 1_000
    expected = (fresh * 3.00 + 6_000 * 0.30 + 3_000 * 3.75 + 1_000 * 15.00) / 1e6
    assert cost_usd(price, out) == pytest.approx(expected)
    out.cache_write_1h_tokens = 3_000
    expected_1h = (fresh * 3.00 + 6_000 * 0.30 + 3_000 * 6.00 + 1_000 * 15.00) / 1e6
    assert cost_usd(price, out) == pytest.approx(expected_1h)
    assert price_basis(out) == "online"
    out.batch_id = "msgbatch_1"
    assert price_basis(out) == "batch"
    assert cost_usd(price.basis("batch"), out) == pytest.approx(expected_1h / 2)
    # a provider without a write premium bills writes as plain input
    flat = Price(input=2.0, cached_input=1.0, output=8.0)
    assert cost_usd(flat, out) == pytest.approx((4_000 * 2.0 + 6_000 * 1.0 + 1_000 * 8.0) / 1e6)
    assert flat.basis("batch") is None  # no batch price known: cost stays null


def test_cost_prices_each_ttl_of_a_write_at_its_own_rate() -> None:
    price = price_for("anthropic/claude-sonnet-4-5")
    assert price is not None
    out = ModelOutput("x", input_tokens=10_000, output_tokens=0, cached_tokens=0)
    out.cache_write_tokens, out.cache_write_1h_tokens = 4_000, 1_000
    expected = (6_000 * 3.00 + 3_000 * 3.75 + 1_000 * 6.00) / 1e6
    assert cost_usd(price, out) == pytest.approx(expected)
    # an output from before the split was recorded: its TTL mark covers every write
    legacy = ModelOutput("x", input_tokens=10_000, output_tokens=0, cache_write_tokens=4_000)
    legacy.extra["cache_ttl"] = "1h"
    assert cost_usd(price, legacy) == pytest.approx((6_000 * 3.00 + 4_000 * 6.00) / 1e6)
    # a row with a write premium but no 1-hour price: such a write has no known cost
    five_only = Price(input=3.0, cached_input=0.3, output=15.0, cache_write=3.75)
    assert cost_usd(five_only, out) is None
    out.cache_write_1h_tokens = 0
    assert cost_usd(five_only, out) == pytest.approx((6_000 * 3.00 + 4_000 * 3.75) / 1e6)


def test_a_message_reports_its_writes_split_by_ttl(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(lambda body, path: "ok", usage=CountedUsage())
    model = anthropic(server, prompt_cache=PromptCache(ttl_online="1h"))
    out = call(model, conversation(0), iteration=1)
    assert out.cache_write_tokens and out.cache_write_1h_tokens == out.cache_write_tokens


def test_every_priced_model_has_batch_prices_at_most_online() -> None:
    for model in ("anthropic/claude-sonnet-4-5", "openai/gpt-4o", "openai/gpt-4.1-mini"):
        price = price_for(model)
        assert price is not None and price.batch is not None
        for name in ("input", "cached_input", "output"):
            assert 0 < getattr(price.batch, name) <= getattr(price, name), (model, name)


# -- a whole job ---------------------------------------------------------------------------

QUEUES = "".join(f'"Q{i}": {{"Type": "AWS::SQS::Queue"}}, ' for i in range(200))
BIG_DIRTY = (
    '```json\n{"Resources": {' + QUEUES + '"Bad": {"Type": "AWS::SQS::Queue", '
    '"Properties": {"Nope": 1}}}}\n```'
)


@pytest.mark.slow
def test_conversation_job_records_cache_reads_writes_and_costs_less(
    loopback: Callable[..., LoopbackServer], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmark.config import resolve_api_key
    from benchmark.records.tables import read_table
    from benchmark.runner.hydra_job import JobInfo, run_job
    from tests.test_job import settings_for

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    costs = {}
    for mode in ("auto", "off"):
        server = loopback(lambda body, path: BIG_DIRTY, usage=CountedUsage())
        settings = settings_for(
            "model.id=anthropic/claude-sonnet-4-5",
            f"model.providers.anthropic.base_url={server.anthropic_base_url}",
            f"model.prompt_cache={mode}",
            "loop.protocol=conversation",
            "dataset.limit=1",
            "loop.samples=2",
            "loop.max_iterations=3",
            "progress=false",
            "lint.workers=1",
            "cache.enabled=false",
        )
        job = JobInfo("sweep-x", 0, tmp_path / mode)
        summary = asyncio.run(run_job(settings, job, resolve_api_key(settings)))
        assert summary.status == "complete" and summary.attempts == 6
        attempts = read_table(tmp_path / mode, "attempts").sort_values("iteration")
        assert set(attempts["price_basis"]) == {"online"} and attempts["batch_id"].isna().all()
        costs[mode] = attempts["cost_usd"].sum()
        by_iteration = {n: rows for n, rows in attempts.groupby("iteration")}
        if mode == "auto":
            # the short generation prompt is not cached; the first repair caches the history
            # (or reads it from the other sample's identical chain); the next one reads it
            assert (by_iteration[1]["cache_write_tokens"] == 0).all()
            second = by_iteration[2]
            assert (second["cache_write_tokens"] + second["cached_tokens"] > 0).all()
            assert (by_iteration[3]["cached_tokens"] > 0).all()
        else:
            assert (attempts["cached_tokens"] == 0).all()
            assert (attempts["cache_write_tokens"] == 0).all()
    assert costs["auto"] < costs["off"]
