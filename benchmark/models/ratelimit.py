"""Rate-limit-aware concurrency: as many calls in flight, as early, as a provider's limits allow.

Both providers answer every call with the state of their rate limits, token buckets that
refill continuously: requests and tokens per minute, how much is left, when the bucket is
full again (OpenAI `x-ratelimit-*`, Anthropic `anthropic-ratelimit-*`). `RateLimiter` keeps
a copy of each bucket: what the server said remained when the latest reporting call started,
plus the refill since, minus the estimated cost of every call started after it. A call

- starts only when both buckets hold its estimated cost, else waits until they have refilled;
- waits for one of `limit` slots: enough calls in flight to run at the rate the buckets
  refill (Little's law: rate x mean latency, with a margin), never more than `ceiling`
  (the provider's `max_concurrency`);
- after a 429, nothing starts until its `retry-after` (or the bucket's refill) has passed.

A call's cost is estimated from its prompt (characters per token learned from the replies)
plus the mean output, scaled by how much the server actually took per estimated token (from
consecutive headers), so limits that also count `max_tokens` are met too. A server that sends
no rate-limit headers (a local model server) leaves the limiter at `ceiling`, unpaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LATENCY_MARGIN = 1.25  # in-flight slots beyond rate x latency, for latency jitter
# Headroom left in a bucket when a call starts: one mean call's tokens (a reply longer than
# the mean, refill counted from the call's start while the server counted from its arrival),
# at most this share of the bucket. In steady state it costs no throughput: the server's
# bucket just hovers that much higher.
HEADROOM_CALLS = 1.0
HEADROOM_SHARE = 0.25
DEFAULT_WINDOW_S = 60.0  # the providers' limits are per minute
EWMA = 0.2  # weight of the newest observation in running means

# -- what the servers say ------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """One limit as a server reported it: capacity, what is left, seconds until full."""

    limit: float
    remaining: float
    reset_s: float | None


@dataclass(frozen=True)
class RateLimits:
    requests: Bucket | None = None
    tokens: Bucket | None = None

    @property
    def empty(self) -> bool:
        return self.requests is None and self.tokens is None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """OpenAI's reset durations: "1s", "6m0s", "59.4s", "120ms", "1h2m3s"; a bare number is s."""
    if not text:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            return None
        value = sum(float(n) * _UNIT_S[u] for n, u in parts)
    return value if math.isfinite(value) and value >= 0 else None


def parse_instant(text: str | None, *, now: float | None = None) -> float | None:
    """Anthropic's reset times (RFC 3339) as seconds from `now` (0 if past)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


def _bucket(limit: str | None, remaining: str | None, reset_s: float | None) -> Bucket | None:
    cap, left = _number(limit), _number(remaining)
    if cap is None or left is None or cap <= 0:
        return None
    return Bucket(cap, min(left, cap), reset_s)


def openai_limits(headers: Mapping[str, str]) -> RateLimits:
    """`x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (names case-insensitive)."""

    def one(kind: str) -> Bucket | None:
        return _bucket(
            headers.get(f"x-ratelimit-limit-{kind}"),
            headers.get(f"x-ratelimit-remaining-{kind}"),
            parse_duration(headers.get(f"x-ratelimit-reset-{kind}")),
        )

    return RateLimits(one("requests"), one("tokens"))


def anthropic_limits(headers: Mapping[str, str], *, now: float | None = None) -> RateLimits:
    """`anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`; `tokens` is the most
    restrictive token limit in force (input tokens are read when it is absent)."""

    def one(kind: str) -> Bucket | None:
        prefix = f"anthropic-ratelimit-{kind}"
        return _bucket(
            headers.get(f"{prefix}-limit"),
            headers.get(f"{prefix}-remaining"),
            parse_instant(headers.get(f"{prefix}-reset"), now=now),
        )

    return RateLimits(one("requests"), one("tokens") or one("input-tokens"))


# -- the local copy of a bucket -------------------------------------------------------------


class _LocalBucket:
    """What a bucket holds now: the last report, its refill since, minus calls started since."""

    def __init__(self) -> None:
        self.capacity: float | None = None
        self.rate: float | None = None  # refill per second
        self.reported: float = 0.0  # remaining, as of `as_of` (the reporting call's start)
        self.as_of: float = 0.0

    @property
    def known(self) -> bool:
        return self.capacity is not None

    def sync(self, bucket: Bucket, as_of: float) -> None:
        self.capacity = bucket.limit
        if bucket.reset_s and bucket.remaining < bucket.limit:
            self.rate = (bucket.limit - bucket.remaining) / bucket.reset_s
        elif self.rate is None:
            self.rate = bucket.limit / DEFAULT_WINDOW_S
        self.reported, self.as_of = bucket.remaining, as_of

    def level(self, now: float, taken_since: float) -> float:
        if self.capacity is None:
            return math.inf
        refill = (self.rate or 0.0) * max(0.0, now - self.as_of)
        return min(self.capacity, self.reported + refill) - taken_since

    def wait_s(self, need: float, now: float, taken_since: float) -> float:
        """Seconds until the bucket holds `need` (a call larger than the bucket: when full)."""
        if self.capacity is None:
            return 0.0
        need = min(need, self.capacity)
        short = need - self.level(now, taken_since)
        if short <= 0:
            return 0.0
        return short / self.rate if self.rate else math.inf


@dataclass
class _Start:
    """A call started: when, and the tokens it was estimated to take."""

    at: float
    tokens: float


_ticket: ContextVar[_Start | None] = ContextVar("rate_limit_ticket", default=None)

Clock = Callable[[], float]
Parser = Callable[[Mapping[str, str]], RateLimits]


class RateLimiter:
    """Paces one provider's calls by its rate-limit headers; see the module docstring."""

    def __init__(
        self, ceiling: int, *, adaptive: bool = True, clock: Clock = time.monotonic
    ) -> None:
        """`adaptive=False`: a plain limit of `ceiling` calls in flight (fixed concurrency)."""
        if ceiling < 1:
            raise ValueError(f"concurrency ceiling must be >= 1, got {ceiling}")
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.clock = clock
        self.requests = _LocalBucket()
        self.tokens = _LocalBucket()
        self.in_flight = 0
        self.paused_until = 0.0
        self.throttled_calls = 0  # 429s seen
        self._starts: deque[_Start] = deque()  # calls started after the latest report
        self._reported_at = -math.inf  # start of the call whose report is the latest
        self._latency_s: float | None = None
        self._call_tokens: float | None = None  # mean estimated cost of a call
        self._output_tokens: float | None = None
        self._chars_per_token = 4.0
        self._scale = 1.0  # tokens the server takes per estimated token
        self._cond: asyncio.Condition | None = None
        self._notifiers: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- what the job sees -----------------------------------------------------------------

    @property
    def limit(self) -> int:
        """Calls allowed in flight now: what the refill rates sustain at the mean latency."""
        rate = self.call_rate()
        if rate is None or self._latency_s is None:
            return self.ceiling
        wanted = math.ceil(rate * self._latency_s * LATENCY_MARGIN) + 1
        return max(1, min(self.ceiling, wanted))

    def call_rate(self) -> float | None:
        """Calls per second the buckets sustain, or None before any header was seen."""
        rates = []
        if self.requests.known and self.requests.rate:
            rates.append(self.requests.rate)
        if self.tokens.known and self.tokens.rate and self._call_tokens:
            rates.append(self.tokens.rate / max(1.0, self._call_tokens))
        return min(rates) if rates else None

    def describe(self) -> str | None:
        """For the progress bar: the current in-flight limit, once a server reported limits."""
        if not (self.requests.known or self.tokens.known):
            return None
        text = f"limit {self.limit}/{self.ceiling}"
        if self.tokens.known and self.tokens.rate:
            text += f", {self.tokens.rate * 60:,.0f} tok/min"
        return text

    # -- estimates -------------------------------------------------------------------------

    def estimate(self, prompt_chars: int) -> float:
        """Tokens the server will take for a call with this much prompt text."""
        prompt = prompt_chars / self._chars_per_token
        output = self._output_tokens if self._output_tokens is not None else prompt
        return (prompt + output) * self._scale

    def record(
        self,
        prompt_chars: int,
        input_tokens: int | None,
        output_tokens: int | None,
        latency_s: float | None,
    ) -> None:
        """A call finished: learn characters per token, the mean output and latency."""
        if input_tokens and prompt_chars:
            self._chars_per_token = _mean(self._chars_per_token, prompt_chars / input_tokens)
        if output_tokens is not None:
            self._output_tokens = _mean(self._output_tokens, float(output_tokens))
        if latency_s is not None:
            self._latency_s = _mean(self._latency_s, latency_s)

    # -- what the servers say --------------------------------------------------------------

    def observe(self, limits: RateLimits, *, charged: bool = True) -> None:
        """Headers of the call running in this context (ignored outside a slot, or stale).

        `charged`: the server took this call's cost (it answered; a refusal takes nothing)."""
        start = _ticket.get()
        if not self.adaptive or start is None or limits.empty or start.at < self._reported_at:
            return
        self._reported_at = start.at
        if limits.tokens is not None:
            self._calibrate(limits.tokens, start, charged)
            self.tokens.sync(limits.tokens, start.at)
        if limits.requests is not None:
            self.requests.sync(limits.requests, start.at)
        while self._starts and self._starts[0].at <= start.at:
            self._starts.popleft()  # reflected in the report now
        self._wake()

    def _calibrate(self, report: Bucket, start: _Start, charged: bool) -> None:
        """How many tokens the server took per estimated token, between two reports."""
        bucket = self.tokens
        if not bucket.known or bucket.rate is None or start.at < bucket.as_of:
            return
        before = bucket.reported + bucket.rate * (start.at - bucket.as_of)
        if before >= (bucket.capacity or 0):
            return  # the bucket was full in between: the refill was cut, the sum is unknown
        estimated = sum(
            s.tokens for s in self._starts if s.at <= start.at and (charged or s is not start)
        )
        taken = before - report.remaining
        if estimated > 0 and taken > 0:
            self._scale = _mean(self._scale, self._scale * taken / estimated)

    def throttled(self, retry_after: float | None, cap_s: float = math.inf) -> None:
        """A 429: start nothing until the server's hint (or the refill of a call) has passed,
        or `cap_s` (the retries' own longest wait)."""
        self.throttled_calls += 1
        if not self.adaptive:
            return
        now = self.clock()
        wait = retry_after
        if wait is None:  # no hint: until one mean call fits again, at least a second
            need = self._call_tokens or 0.0
            wait = max(self.tokens.wait_s(need, now, self._taken()), 1.0)
        self.paused_until = max(self.paused_until, now + min(wait, cap_s))

    def response_hook(self, parse: Parser) -> Callable[[Any], Awaitable[None]]:
        """An httpx `response` event hook feeding every response's headers to `observe`."""

        async def hook(response: Any) -> None:
            headers = getattr(response, "headers", None)
            if headers is not None:
                status = getattr(response, "status_code", 200)
                self.observe(parse(headers), charged=status < 400)

        return hook

    # -- slots -----------------------------------------------------------------------------

    def _taken(self) -> float:
        return sum(s.tokens for s in self._starts)

    def delay(self, tokens: float, now: float) -> float:
        """Seconds before a call of `tokens` may start (0: now); inf: wait for a slot."""
        if self.in_flight >= self.limit:
            return math.inf
        wait = max(0.0, self.paused_until - now)
        requests = 1.0 + self._headroom(self.requests, HEADROOM_CALLS)
        wait = max(wait, self.requests.wait_s(requests, now, len(self._starts)))
        margin = self._headroom(self.tokens, HEADROOM_CALLS * (self._call_tokens or tokens))
        return max(wait, self.tokens.wait_s(tokens + margin, now, self._taken()))

    @staticmethod
    def _headroom(bucket: _LocalBucket, wanted: float) -> float:
        return min(wanted, HEADROOM_SHARE * (bucket.capacity or 0.0))

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._cond, self._loop = asyncio.Condition(), loop
        return self._cond

    def _wake(self) -> None:
        """Let waiting calls re-check their delay: a report may have freed room."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._cond is not None and self._loop is loop:
            task = loop.create_task(self._notify(self._cond))
            self._notifiers.add(task)  # keep a reference until it ran
            task.add_done_callback(self._notifiers.discard)

    @staticmethod
    async def _notify(cond: asyncio.Condition) -> None:
        async with cond:
            cond.notify_all()

    @contextlib.asynccontextmanager
    async def slot(self, prompt_chars: int) -> AsyncIterator[None]:
        """Hold one call's slot; the call's headers reach `observe` through this context."""
        cond = self._condition()
        async with cond:
            while True:
                tokens = self.estimate(prompt_chars)
                wait = self.delay(tokens, self.clock())
                if wait <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cond.wait(), None if math.isinf(wait) else wait)
            start = _Start(self.clock(), tokens)
            self._starts.append(start)
            self._call_tokens = _mean(self._call_tokens, tokens)
            self.in_flight += 1
        token = _ticket.set(start)
        try:
            yield
        finally:
            _ticket.reset(token)
            async with cond:
                self.in_flight -= 1
                cond.notify_all()


def _mean(old: float | None, new: float) -> float:
    return new if old is None else (1 - EWMA) * old + EWMA * new
