"""Prompt caching in batch mode: the TTL each round is written with, what a batch's concurrent
requests can read, and what a round that outlasts its entries is billed; on a fake clock that
the batches' polls advance, against the loopback's Message Batches and prompt cache."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmark.models.anthropic import AnthropicModel
from benchmark.models.anthropic_batch import AnthropicBatchWire
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelOutput
from benchmark.models.batch import BatchingModel
from benchmark.models.batch_journal import JOURNAL_FILE, BatchJournal, request_key
from benchmark.models.pricing import cost_usd, price_for
from benchmark.models.prompt_cache import BatchCacheTtl, PromptCache
from benchmark.runner.factory import batch_cache_ttl
from tests.loopback import LoopbackServer
from tests.loopback_batch import BatchScript
from tests.loopback_usage import CountedUsage

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated")
KEY = "sk-loopback-SECRET-0123456789"
CONFIG = GenerateConfig(temperature=1.0, max_tokens=100)
TEMPLATE = "Resources:\n" + "".join(f"  Queue{i}:\n    Type: AWS::SQS::Queue\n" for i in range(150))
SYSTEM = ChatMessage("system", "You write CloudFormation.")
GENERATE = ChatMessage("user", "Write a template with these queues.\n" + TEMPLATE)
ITERATIONS = 4
PRICE = price_for("anthropic/claude-sonnet-4-5").basis("batch")  # type: ignore[union-attr]


class FakeClock:
    """Time for the batching model and the loopback's cache alike. Each poll's wait lasts
    the next of `durations` (one wait per batch with BatchScript(polls=1)): a batch's
    duration, from its submission to the poll that sees it ended."""

    def __init__(self, durations: Sequence[float]) -> None:
        self.now = 0.0
        self.durations = list(durations)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += self.durations.pop(0) if self.durations else 0.0


def reply(body: dict[str, Any], path: str) -> str:
    """A long reply naming the turn it answers, so each chain's history is its own."""
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else last[0]["text"]
    return f"{TEMPLATE}# answering: {text[:40]}\n"


def batching(server: LoopbackServer, clock: FakeClock, folder: Path, ttl: BatchCacheTtl) -> Any:
    model = AnthropicModel(
        "claude-sonnet-4-5",
        api_key=KEY,
        base_url=server.anthropic_base_url,
        prompt_cache=PromptCache(min_tokens=1024, protocol="conversation", samples=2),
    )
    wire = AnthropicBatchWire(model)
    journal = BatchJournal(folder)
    return BatchingModel(model, wire, journal, cache_ttl=ttl, sleep=clock.sleep, clock=clock)


def converse(model: BatchingModel, samples: int = 2) -> list[list[ModelOutput]]:
    """`samples` conversation chains of ITERATIONS calls, all at once, as a batch job runs."""

    async def chain(sample: int) -> list[ModelOutput]:
        messages = [SYSTEM, GENERATE]
        outs = []
        try:
            for iteration in range(1, ITERATIONS + 1):
                context = CallContext("p", sample, iteration, "yaml", max_iterations=ITERATIONS)
                out = await model.generate(messages, CONFIG, context)
                outs.append(out)
                feedback = ChatMessage("user", f"E{iteration} of sample {sample}")
                messages = [*messages, ChatMessage("assistant", out.text), feedback]
        finally:
            model.chain_closed()
        return outs

    async def go() -> list[list[ModelOutput]]:
        for _ in range(samples):
            model.chain_opened()
        try:
            return list(await asyncio.gather(*(chain(s) for s in range(samples))))
        finally:
            await model.aclose()

    return asyncio.run(go())


def journal_ttls(folder: Path) -> list[str | None]:
    lines = (folder / JOURNAL_FILE).read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    return [e["cache_ttl"] for e in entries if e["event"] == "submitted"]


def sent_ttls(server: LoopbackServer) -> list[set[str]]:
    """Per batch created, the TTLs its requests' cache marks carry."""
    return [
        {
            b["cache_control"]["ttl"]
            for body in bodies
            for m in body["messages"]
            if isinstance(m["content"], list)
            for b in m["content"]
            if "cache_control" in b
        }
        for _, _, _, bodies in server.batch.created
    ]


@pytest.mark.parametrize(
    ("duration_s", "ttls"),
    [(10.0, ["1h", "5m", "5m", "5m"]), (200.0, ["1h", "1h", "1h", "1h"])],
    ids=["rounds-of-seconds", "rounds-of-minutes"],
)
def test_auto_ttl_follows_the_rounds_and_every_repair_reads_what_its_chain_wrote(
    loopback: Callable[..., LoopbackServer], tmp_path: Path, duration_s: float, ttls: list[str]
) -> None:
    clock = FakeClock([duration_s] * ITERATIONS)
    usage = CountedUsage(clock=clock)
    server = loopback(reply, usage=usage, batches=BatchScript(polls=1))
    outs = converse(batching(server, clock, tmp_path, BatchCacheTtl()))
    assert journal_ttls(tmp_path) == ttls
    assert [t or {"none"} for t in sent_ttls(server)] == [{ttl} for ttl in ttls]
    for chain in outs:
        first, second, third, last = chain
        assert first.cached_tokens == 0 and first.cache_write_tokens == first.input_tokens
        assert second.cached_tokens == first.input_tokens  # the generation prompt
        assert third.cached_tokens == second.input_tokens  # the whole history before it
        if ttls[2] == "5m":  # a 5-minute write pays with the one read the last call makes
            assert third.cache_write_tokens == third.input_tokens - second.input_tokens
            assert last.cached_tokens == third.input_tokens
        else:  # a 1-hour one would not: the third call only reads, the last reads that
            assert third.cache_write_tokens == 0
            assert last.cached_tokens == second.input_tokens
        assert last.cache_write_tokens == 0  # nothing written that no call reads
        one_hour = first.cache_write_1h_tokens, second.cache_write_1h_tokens
        assert one_hour == (
            first.cache_write_tokens,
            second.cache_write_tokens if ttls[1] == "1h" else 0,
        )
    assert server.errors == []


def test_a_round_that_outlasts_its_entries_is_billed_for_writing_them_again(
    loopback: Callable[..., LoopbackServer], tmp_path: Path
) -> None:
    runs = {}
    for name, durations in {"steady": [10.0] * 4, "stalled": [10.0, 10.0, 400.0, 10.0]}.items():
        clock = FakeClock(durations)
        server = loopback(reply, usage=CountedUsage(clock=clock), batches=BatchScript(polls=1))
        runs[name] = converse(batching(server, clock, tmp_path / name, BatchCacheTtl()))
        runs[name + " ttls"] = journal_ttls(tmp_path / name)
    # rounds of seconds: the second round is written for 5 minutes; the third one stalls
    # for 400 s, so the entries the second wrote (from its submission) are gone before the
    # third may have run its requests: it reads only the generation prompt (an hour's entry)
    # and writes the rest again, billed as writes; the next round is written for an hour
    assert runs["steady ttls"] == ["1h", "5m", "5m", "5m"]
    assert runs["stalled ttls"] == ["1h", "5m", "5m", "1h"]
    for steady, stalled in zip(runs["steady"], runs["stalled"], strict=True):
        assert [o.text for o in steady] == [o.text for o in stalled]
        third = stalled[2]
        assert third.cached_tokens == stalled[0].input_tokens
        assert third.cache_write_tokens == third.input_tokens - third.cached_tokens
        assert steady[2].cached_tokens == steady[1].input_tokens
        written_again = third.cache_write_tokens - steady[2].cache_write_tokens
        assert written_again == stalled[1].input_tokens - stalled[0].input_tokens
        cost = cost_usd(PRICE, third)
        expected = (
            third.cached_tokens * PRICE.cached_input
            + third.cache_write_tokens * PRICE.cache_write  # type: ignore[operator]
            + third.output_tokens * PRICE.output  # type: ignore[operator]
        ) / 1e6
        assert cost == pytest.approx(expected)
        assert cost > cost_usd(PRICE, steady[2])  # type: ignore[operator]


def test_a_ttl_change_before_the_last_round_still_reads_what_was_written(
    loopback: Callable[..., LoopbackServer], tmp_path: Path
) -> None:
    # the third round takes 100 s: its entries (5 minutes) outlive the last round, which is
    # written for an hour (2 x 100 s, doubled, is over 5 minutes); the last call reads the
    # prompt the third call wrote, as a 5-minute write pays there, and writes nothing
    clock = FakeClock([10.0, 10.0, 100.0, 10.0])
    server = loopback(reply, usage=CountedUsage(clock=clock), batches=BatchScript(polls=1))
    outs = converse(batching(server, clock, tmp_path, BatchCacheTtl()))
    assert journal_ttls(tmp_path) == ["1h", "5m", "5m", "1h"]
    for _, _, third, last in outs:
        assert third.cache_write_tokens > 0
        assert (last.cached_tokens, last.cache_write_tokens) == (third.input_tokens, 0)


def test_requests_of_one_batch_never_read_each_others_writes(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(reply, usage=CountedUsage(), batches=BatchScript(polls=0))
    wire = AnthropicBatchWire(
        AnthropicModel("claude-sonnet-4-5", api_key=KEY, base_url=server.anthropic_base_url)
    )
    prompt = [SYSTEM, GENERATE]

    async def batch(*samples: int) -> list[ModelOutput]:
        requests = [
            (f"s{s}", wire.params(prompt, CONFIG, CallContext("p", s, 1, "yaml"))) for s in samples
        ]
        batch_id = await wire.submit(requests)
        assert (await wire.poll(batch_id)).ended
        results = await wire.results(batch_id)
        return [results[f"s{s}"] for s in samples]  # type: ignore[misc]

    async def online() -> list[ModelOutput]:
        other = [SYSTEM, ChatMessage("user", GENERATE.content + "\nAnd one topic.")]
        return [
            await wire.model.generate(other, CONFIG, CallContext("q", s, 1, "yaml"))
            for s in range(2)
        ]

    async def go() -> tuple[list[ModelOutput], list[ModelOutput], list[ModelOutput]]:
        try:
            return await batch(0, 1), await batch(2), await online()
        finally:
            await wire.aclose()

    together, later, one_by_one = asyncio.run(go())
    # in one batch both requests may run before the other's entry exists: both write it
    for out in together:
        assert (out.cached_tokens, out.cache_write_tokens) == (0, out.input_tokens)
    assert later[0].cached_tokens == later[0].input_tokens  # a later batch reads it
    # online, one after the other, the second reads what the first wrote
    assert one_by_one[0].cached_tokens == 0
    assert one_by_one[1].cached_tokens == one_by_one[0].input_tokens


def test_a_request_is_the_same_request_whatever_ttl_marks_it(tmp_path: Path) -> None:
    model = AnthropicModel("claude-sonnet-4-5", api_key=KEY)
    history = [SYSTEM, GENERATE, ChatMessage("assistant", TEMPLATE), ChatMessage("user", "E1")]
    context = CallContext("p", 0, 2, "yaml", max_iterations=4)
    five = model.request_params(history, CONFIG, context, batch=True, ttl="5m")
    hour = model.request_params(history, CONFIG, context, batch=True, ttl="1h")
    plain = AnthropicModel("claude-sonnet-4-5", api_key=KEY, prompt_cache=PromptCache(False))
    unmarked = plain.request_params(history, CONFIG, context, batch=True)
    assert five != hour and "cache_control" not in json.dumps(unmarked)
    assert (
        request_key(context, five) == request_key(context, hour) == request_key(context, unmarked)
    )
    other = model.request_params([*history[:-1], ChatMessage("user", "E2")], CONFIG, context)
    assert request_key(context, other) != request_key(context, five)


def test_the_factory_picks_who_chooses_the_batch_ttl() -> None:
    from tests.test_job import settings_for

    def policy(*overrides: str) -> BatchCacheTtl | None:
        return batch_cache_ttl(settings_for(*overrides, "dataset.limit=1"))

    auto = policy("model.id=anthropic/claude-sonnet-4-5")
    assert auto is not None and auto.fixed is None
    fixed = policy("model.id=anthropic/claude-sonnet-4-5", "model.prompt_cache_ttl=5m")
    assert fixed is not None and fixed.fixed == "5m"
    assert policy("model.id=anthropic/claude-sonnet-4-5", "model.prompt_cache=off") is None
    assert policy("model.id=openai/gpt-4o") is None
