"""Rate limits for the loopback server: requests and tokens per window, with honest headers.

Two token buckets refill continuously, `requests` and `tokens` per `window_s` (60 s like the
real APIs; a short window keeps tests quick). A call is admitted when the requests bucket holds
one request and the tokens bucket its whole cost (prompt + reply tokens, cached or not), and
both are charged at once; otherwise it is answered 429 with the wait until it would fit.
Every answer carries the state after admission in the API's own header vocabulary:

- OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, resets as durations
  ("1s", "6m0s", "120ms"); a 429 adds `retry-after-ms` and `retry-after` (whole seconds);
- Anthropic: `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, resets as RFC 3339
  times when the bucket is full again; a 429 adds `retry-after` (whole seconds).

`clock` is the buckets' time (a fake clock makes admission a pure function of the calls);
`admitted` and `rejected` log (clock time, tokens) for benchmarks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

Api = str  # "openai" | "anthropic"


@dataclass(frozen=True)
class Admission:
    admitted: bool
    retry_after_s: float  # 0 when admitted
    headers: dict[str, str]


@dataclass
class RateLimit:
    requests: int  # per window
    tokens: int  # per window
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time  # for Anthropic's reset instants
    admitted: list[tuple[float, int]] = field(default_factory=list)
    rejected: list[tuple[float, int]] = field(default_factory=list)
    _levels: list[float] | None = None  # [requests, tokens] at _as_of
    _as_of: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rates(self) -> tuple[float, float]:
        return self.requests / self.window_s, self.tokens / self.window_s

    def _refill(self, now: float) -> list[float]:
        if self._levels is None:
            self._levels, self._as_of = [float(self.requests), float(self.tokens)], now
        elapsed = max(0.0, now - self._as_of)
        caps = (self.requests, self.tokens)
        self._levels = [
            min(cap, level + rate * elapsed)
            for cap, level, rate in zip(caps, self._levels, self.rates, strict=True)
        ]
        self._as_of = now
        return self._levels

    def admit(self, api: Api, tokens: int) -> Admission:
        """Charge one call of `tokens`, or say how long until it would fit."""
        with self._lock:
            now = self.clock()
            levels = self._refill(now)
            need = (1.0, float(tokens))
            short = [max(0.0, n - level) for n, level in zip(need, levels, strict=True)]
            if not any(short):
                levels[0] -= 1.0
                levels[1] -= tokens
                self.admitted.append((now, tokens))
                wait = 0.0
            else:
                self.rejected.append((now, tokens))
                wait = max(s / r for s, r in zip(short, self.rates, strict=True))
            headers = self._headers(api, levels, wait)
        return Admission(wait == 0.0, wait, headers)

    def _headers(self, api: Api, levels: list[float], wait: float) -> dict[str, str]:
        caps = (self.requests, self.tokens)
        resets = [
            (cap - level) / rate for cap, level, rate in zip(caps, levels, self.rates, strict=True)
        ]
        headers: dict[str, str] = {}
        for kind, cap, level, reset in zip(
            ("requests", "tokens"), caps, levels, resets, strict=True
        ):
            if api == "openai":
                headers[f"x-ratelimit-limit-{kind}"] = str(cap)
                headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, math.floor(level)))
                headers[f"x-ratelimit-reset-{kind}"] = duration(reset)
            else:
                prefix = f"anthropic-ratelimit-{kind}"
                headers[f"{prefix}-limit"] = str(cap)
                headers[f"{prefix}-remaining"] = str(max(0, math.floor(level)))
                when = datetime.fromtimestamp(self.wall() + reset, tz=UTC)
                headers[f"{prefix}-reset"] = when.isoformat(timespec="milliseconds")
        if wait:
            headers["retry-after"] = str(math.ceil(wait))
            if api == "openai":
                headers["retry-after-ms"] = str(math.ceil(wait * 1000))
        return headers


def duration(seconds: float) -> str:
    """OpenAI's way of writing a reset: "120ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    if seconds < 60:
        return f"{math.ceil(seconds * 1000) / 1000:g}s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s"
