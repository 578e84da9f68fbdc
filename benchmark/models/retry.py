"""Retries for any provider: a hard timeout per call, jittered exponential backoff that honours
the server's Retry-After. The SDKs' own retries are switched off so the two never stack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from benchmark.models.base import (
    CallContext,
    Capabilities,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
    ProblemLike,
)
from benchmark.models.ratelimit import RateLimiter

# Transient by nature, but repeating the same request cannot help.
NOT_RETRIED = frozenset({"context_length"})


def retryable(exc: BaseException) -> bool:
    """A ModelError that a later try of the same request may mend."""
    return isinstance(exc, ModelError) and not exc.fatal and exc.kind not in NOT_RETRIED


def retry_policy(
    max_retries: int,
    backoff_base_s: float,
    backoff_max_s: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncRetrying:
    """Up to `max_retries` retries of a retryable ModelError, jittered exponential backoff
    that honours Retry-After (capped at `backoff_max_s`); the last error is re-raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=_WaitHonouringRetryAfter(backoff_base_s, backoff_max_s),
        retry=retry_if_exception(retryable),
        sleep=sleep,
        reraise=True,
    )


class _WaitHonouringRetryAfter:
    """Full-jitter exponential backoff, but never shorter than the server asked for."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self.backoff = wait_random_exponential(multiplier=base_s, max=max_s)
        self.max_s = max_s

    def __call__(self, state: RetryCallState) -> float:
        wait = self.backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            wait = max(wait, min(float(hint), self.max_s))
        return wait


class RetryingModel(ModelAPI):
    """Wraps a provider: each call gets `timeout_s`, transient failures `max_retries` retries.

    Calls queue for a slot of the `limiter` first (at most `max_concurrency` in flight, fewer
    and later where the provider's rate-limit headers say so: benchmark/models/ratelimit.py),
    so time spent waiting for a slot never counts against a call's timeout, and a backoff
    sleep does not hold a slot. A 429 pauses every call's start for its Retry-After.
    """

    def __init__(
        self,
        inner: ModelAPI,
        *,
        max_retries: int,
        timeout_s: float,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 60.0,
        max_concurrency: int = 8,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.provider = inner.provider
        self.timeout_s = timeout_s
        self.limiter = limiter or RateLimiter(max_concurrency, adaptive=False)
        self.backoff_max_s = backoff_max_s
        self._retrying = retry_policy(max_retries, backoff_base_s, backoff_max_s, sleep)

    @property
    def simulated(self) -> bool:
        return self.inner.simulated

    def skip_reason(self, problem: ProblemLike) -> str | None:
        return self.inner.skip_reason(problem)

    @property
    def api(self) -> str:
        return self.inner.api

    async def fetch_capabilities(self) -> Capabilities | None:
        return await self.inner.fetch_capabilities()

    def chain_opened(self) -> None:
        self.inner.chain_opened()

    def chain_closed(self) -> None:
        self.inner.chain_closed()

    def status(self) -> str | None:
        return self.limiter.describe()

    async def _once(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        chars = sum(len(m.content) for m in messages)
        try:
            async with self.limiter.slot(chars):
                start = time.perf_counter()
                output = await asyncio.wait_for(
                    self.inner.generate(messages, config, context), self.timeout_s
                )
                elapsed = time.perf_counter() - start
        except TimeoutError:
            raise ModelError(
                f"{self.id}: no reply within {self.timeout_s:g}s", kind="timeout"
            ) from None
        except ModelError as exc:
            if exc.kind == "rate_limit":
                self.limiter.throttled(exc.retry_after, cap_s=self.backoff_max_s)
            raise
        self.limiter.record(chars, output.input_tokens, output.output_tokens, elapsed)
        return output

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        tries = 0
        try:
            async for attempt in self._retrying.copy():
                with attempt:
                    tries += 1
                    output = await self._once(messages, config, context)
        except ModelError as exc:
            if tries > 1:
                exc.args = (f"{exc.args[0]} (after {tries} tries)",)
            raise
        output.extra = {**output.extra, "retries": str(tries - 1)}
        return output

    async def aclose(self) -> None:
        await self.inner.aclose()
