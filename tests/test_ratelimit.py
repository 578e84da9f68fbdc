"""Rate-limit-aware concurrency: the headers read, the pacing decided, the loopback's limits.

Pacing is tested on a fake clock; the end-to-end tests against the rate-limited loopback only
assert what holds however fast the machine is (every call succeeds, the headers arrived)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest

from benchmark.models.anthropic import AnthropicModel
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelAPI
from benchmark.models.openai import OpenAIModel
from benchmark.models.ratelimit import (
    Bucket,
    RateLimiter,
    RateLimits,
    anthropic_limits,
    openai_limits,
    parse_duration,
    parse_instant,
)
from benchmark.models.retry import RetryingModel
from tests.loopback import LoopbackServer
from tests.loopback_limits import RateLimit, duration

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated")
KEY = "sk-loopback-SECRET-0123456789"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("59.4s", 59.4),
        ("120ms", 0.12),
        ("1h2m3s", 3723.0),
        ("2.5", 2.5),
        ("", None),
        ("soon", None),
        ("1s and more", None),
        ("-1s", None),
        (None, None),
    ],
)
def test_parse_duration(text: str | None, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_parse_instant() -> None:
    assert parse_instant("2027-01-15T08:00:30Z", now=parse_instant_base()) == 30.0
    assert parse_instant("2027-01-15T08:00:00.500+00:00", now=parse_instant_base()) == 0.5
    assert parse_instant("2027-01-15T07:00:00Z", now=parse_instant_base()) == 0.0  # past
    assert parse_instant("2027-01-15T08:00:30", now=parse_instant_base()) is None  # no zone
    assert parse_instant("tomorrow") is None and parse_instant(None) is None


def parse_instant_base() -> float:
    from datetime import UTC, datetime

    return datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp()


def test_openai_and_anthropic_header_vocabularies() -> None:
    openai = openai_limits(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "2s",
        }
    )
    assert openai == RateLimits(Bucket(500, 499, 0.12), Bucket(30000, 29000, 2.0))
    anthropic = anthropic_limits(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:01.200Z",
            "anthropic-ratelimit-input-tokens-limit": "40000",
            "anthropic-ratelimit-input-tokens-remaining": "39000",
            "anthropic-ratelimit-input-tokens-reset": "2027-01-15T08:00:01.500Z",
        },
        now=parse_instant_base(),
    )
    assert anthropic.requests == Bucket(50, 49, pytest.approx(1.2))
    assert anthropic.tokens == Bucket(40000, 39000, pytest.approx(1.5))  # input tokens: fallback
    assert openai_limits({}).empty and anthropic_limits({"retry-after": "1"}).empty
    junk = openai_limits({"x-ratelimit-limit-tokens": "lots", "x-ratelimit-remaining-tokens": "1"})
    assert junk.tokens is None


# -- pacing on a fake clock ----------------------------------------------------------------


def reported(limiter: RateLimiter, limits: RateLimits, prompt_chars: int = 400) -> None:
    """One call through `limiter` whose response carried `limits`."""

    async def go() -> None:
        async with limiter.slot(prompt_chars):
            limiter.observe(limits)

    asyncio.run(go())


def test_no_headers_no_pacing_and_the_ceiling_as_limit() -> None:
    limiter = RateLimiter(8, clock=Clock())
    assert limiter.limit == 8 and limiter.describe() is None
    assert limiter.delay(10_000, 100.0) == 0.0


def test_a_call_waits_until_the_token_bucket_holds_its_cost_and_some_headroom() -> None:
    clock = Clock()
    limiter = RateLimiter(8, clock=clock)
    # the reporting call left 100 of 1000 tokens; full again in 1.8 s: 500 tokens/s
    reported(limiter, RateLimits(tokens=Bucket(1000, 100, 1.8)))
    assert limiter.tokens.rate == pytest.approx(500.0)
    # headroom: one mean call (400 chars at 4 a token, as much again for the reply)
    headroom = 200
    assert limiter.delay(300, clock.now) == pytest.approx((300 + headroom - 100) / 500)
    clock.now += 0.8
    assert limiter.delay(300, clock.now) == pytest.approx(0.0)
    assert limiter.delay(5_000, clock.now) == pytest.approx(1.0)  # bigger than the bucket: full


def test_calls_started_since_the_report_count_against_the_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(8, clock=clock)
    reported(limiter, RateLimits(requests=Bucket(10, 2, 4.0)))  # 2 requests left, 2/s refill

    async def one_more() -> float:
        async with limiter.slot(0):
            return limiter.delay(0, clock.now)  # 1 left, 1 in headroom: wait half a second

    assert asyncio.run(one_more()) == pytest.approx(0.5)


def test_a_stale_report_is_ignored() -> None:
    clock = Clock()
    limiter = RateLimiter(8, clock=clock)

    async def go() -> None:
        async with limiter.slot(0):  # the older call ...
            clock.now += 1
            async with limiter.slot(0):  # ... and a newer one, which reports first
                limiter.observe(RateLimits(requests=Bucket(10, 9, 1.0)))
            limiter.observe(RateLimits(requests=Bucket(10, 0, 10.0)))  # older news: ignored

    asyncio.run(go())
    assert limiter.requests.reported == 9


def test_the_in_flight_limit_follows_rate_times_latency() -> None:
    clock = Clock()
    limiter = RateLimiter(32, clock=clock)
    # 2 requests/s refill, 2 s per call: about 4 in flight keep up with the limit
    reported(limiter, RateLimits(requests=Bucket(120, 100, 10.0)))
    limiter.record(400, 100, 50, latency_s=2.0)
    assert limiter.limit == math.ceil(2.0 * 2.0 * 1.25) + 1 == 6
    assert limiter.describe() == "limit 6/32"
    limiter.record(400, 100, 50, latency_s=200.0)  # very slow calls: capped by the ceiling
    assert limiter.limit == 32


def test_a_429_pauses_every_start_for_its_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(8, clock=clock)
    limiter.throttled(3.0)
    assert limiter.delay(1, clock.now) == pytest.approx(3.0)
    limiter.throttled(100.0, cap_s=5.0)  # never longer than the retries would wait
    assert limiter.delay(1, clock.now) == pytest.approx(5.0)
    clock.now += 5.0
    assert limiter.delay(1, clock.now) == 0.0
    fixed = RateLimiter(8, adaptive=False, clock=clock)
    fixed.throttled(3.0)
    reported(fixed, RateLimits(requests=Bucket(10, 0, 10.0)))
    assert fixed.delay(1, clock.now) == 0.0 and fixed.limit == 8 and fixed.throttled_calls == 1


def test_the_cost_estimate_learns_what_the_server_takes() -> None:
    clock = Clock()
    limiter = RateLimiter(8, clock=clock)
    limiter.record(4000, 1000, 200, latency_s=1.0)  # 4 chars a token, 200 out
    assert limiter.estimate(4000) == pytest.approx(1200)
    reported(limiter, RateLimits(tokens=Bucket(1e6, 9e5, 100.0)))  # 1000 tokens/s
    for _ in range(30):  # the server takes twice the first estimate (it counts max_tokens)
        left = limiter.tokens.reported - 2400
        reported(limiter, RateLimits(tokens=Bucket(1e6, left, (1e6 - left) / 1000)), 4000)
    assert limiter.estimate(4000) == pytest.approx(2400, rel=0.05)


# -- the loopback's rate limits ------------------------------------------------------------


def test_loopback_buckets_admit_refuse_and_refill_honestly() -> None:
    clock = Clock(0.0)
    limit = RateLimit(requests=3, tokens=1000, window_s=10.0, clock=clock, wall=lambda: NOW)
    assert [limit.admit("openai", 300).admitted for _ in range(3)] == [True] * 3
    refused = limit.admit("openai", 300)  # no request left; 0.3 req/s: 3.33 s to the next
    assert not refused.admitted and refused.retry_after_s == pytest.approx(10 / 3)
    assert refused.headers["retry-after"] == "4" and refused.headers["retry-after-ms"] == "3334"
    # what the headers say reads back as the buckets' true state
    state = openai_limits(refused.headers)
    assert state.requests == Bucket(3, 0, pytest.approx(10.0, abs=0.01))
    assert state.tokens == Bucket(1000, 100, pytest.approx(9.0, abs=0.01))
    clock.now = 10 / 3
    assert limit.admit("anthropic", 300).admitted  # refilled
    big = limit.admit("anthropic", 900)
    tokens_left = 100 + 100 * 10 / 3 - 300  # 100 tokens/s refilled over 3.33 s, 300 taken
    assert not big.admitted and big.retry_after_s == pytest.approx((900 - tokens_left) / 100)
    back = anthropic_limits(big.headers, now=NOW)
    assert back.tokens is not None and back.tokens.limit == 1000
    assert back.tokens.reset_s == pytest.approx((1000 - back.tokens.remaining) / 100, abs=0.02)
    assert [n for _, n in limit.admitted] == [300] * 4 and len(limit.rejected) == 2


def test_duration_format_reads_back() -> None:
    for seconds in (0.0421, 0.9, 1.5, 59.4, 61.0, 360.0):
        assert parse_duration(duration(seconds)) == pytest.approx(seconds, abs=0.01)


# -- end to end ----------------------------------------------------------------------------

MESSAGES = [ChatMessage("user", "Make a bucket.")]
CONFIG = GenerateConfig(temperature=1.0, max_tokens=50)


def limited(server: LoopbackServer, api: str, limiter: RateLimiter) -> ModelAPI:
    if api == "anthropic":
        inner: ModelAPI = AnthropicModel(
            "claude-sonnet-4-5",
            api_key=KEY,
            base_url=server.anthropic_base_url,
            max_concurrency=8,
            rate_limiter=limiter,
        )
    else:
        inner = OpenAIModel(
            "gpt-4o", api_key=KEY, base_url=server.openai_base_url, rate_limiter=limiter
        )
    return RetryingModel(
        inner, max_retries=20, timeout_s=30, backoff_base_s=0.01, backoff_max_s=2.0, limiter=limiter
    )


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_calls_against_a_tight_limit_all_succeed_and_the_limiter_reads_it(
    loopback: Callable[..., LoopbackServer], api: str
) -> None:
    limit = RateLimit(requests=4, tokens=10_000, window_s=0.5)  # 8 requests a second
    server = loopback(lambda body, path: "ok", rate_limit=limit)
    limiter = RateLimiter(8)
    model = limited(server, api, limiter)

    async def twenty() -> list[str]:
        try:
            outs = await asyncio.gather(
                *(
                    model.generate(MESSAGES, CONFIG, CallContext("p", n, 1, "yaml"))
                    for n in range(20)
                )
            )
        finally:
            await model.aclose()
        return [o.text for o in outs]

    assert asyncio.run(twenty()) == ["ok"] * 20
    assert len(limit.admitted) == 20  # every call got through, 429s retried
    assert len(server.requests) == 20 + len(limit.rejected)
    # the headers reached the limiter, in this API's vocabulary
    assert limiter.requests.capacity == 4 and limiter.tokens.capacity == 10_000
    assert model.status() is not None and model.status().startswith("limit ")


@pytest.mark.slow
def test_a_job_against_a_tight_limit_loses_no_attempt(
    loopback: Callable[..., LoopbackServer], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmark.records.tables import read_table
    from benchmark.runner.hydra_job import JobInfo, run_job
    from tests.test_job import DIRTY, settings_for

    limit = RateLimit(requests=3, tokens=5_000, window_s=0.5)
    server = loopback(lambda body, path: DIRTY, rate_limit=limit)
    settings = settings_for(
        "model.id=openai/gpt-4o",
        f"model.providers.openai.base_url={server.openai_base_url}",
        "model.providers.openai.backoff_base_s=0.01",
        "model.providers.openai.max_retries=20",
        "dataset.limit=3",
        "loop.samples=3",
        "loop.max_iterations=2",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
    )
    summary = asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path / "0"), "sk-test"))
    assert summary.status == "complete" and summary.attempts == 18
    attempts = read_table(tmp_path / "0", "attempts")
    assert attempts["model_error"].isna().all() and len(limit.admitted) == 18
    assert attempts["retries"].sum() == len(limit.rejected)  # each 429 was retried once
