"""Batch mode (`model.batch=true`): the chains' requests go to the provider's batch API.

The job runs every chain at once and says when each starts and ends (`chain_opened`,
`chain_closed`). A request waits until every live chain has its next request pending or in a
running batch; then the pending ones are flushed as one round: one batch, or several where
the provider's count or size limits require. A round's batches are polled every `poll_s`;
each reply resolves its chain's call, which goes on (lint, feedback) to its next request.

Durable: the moment a batch is created its id and requests (custom ids derived from the
chain position and the request's content) are appended to `batches.jsonl` in the job folder
and fsynced. A resumed job rebuilds each unfinished chain's next request exactly, finds it in
the journal and polls that batch: those requests are never submitted again.

Outcomes per request: a reply; an error, which becomes a ModelError like an online call's (a
transient one is resubmitted in a new batch up to `max_retries` times); or no answer because
the batch expired or was cancelled: resubmitted once in a new batch, then a failed call.

Prompt caching: a round's requests are built when the round starts, all with one cache TTL:
the configured one, or under `model.prompt_cache_ttl=auto` the one `BatchCacheTtl` picks from
the batches seen so far (prompt_cache.py). Each batch's TTL is journalled; a request's
identity leaves its cache marks out (they change what is billed, not what the model reads),
so a resumed job finds its requests whatever TTL it would now choose.

One module per provider's batch wire (anthropic_batch.py, openai_batch.py) implements
`BatchWire`; requests are built by the provider's own `request_params`, as online.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

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
from benchmark.models.batch_journal import BatchJournal, request_key
from benchmark.models.prompt_cache import BatchCacheTtl, Ttl
from benchmark.models.retry import retry_policy, retryable

RESUBMIT_LOST = 1  # an expired or cancelled request is resubmitted this many times
T = TypeVar("T")


@dataclass(frozen=True)
class Lost:
    """A request its batch never answered: the batch expired or was cancelled first."""

    why: str  # expired | canceled | missing


Result = ModelOutput | ModelError | Lost


@dataclass(frozen=True)
class BatchState:
    status: str  # the provider's own word: in_progress, ended, completed, expired, ...
    ended: bool
    done: int  # requests answered so far, as the provider counts them
    total: int


class BatchWire(Protocol):
    """One provider's batch API, through its official SDK."""

    max_requests: int  # per batch
    max_bytes: int  # per batch, requests serialised

    def params(
        self,
        messages: list[ChatMessage],
        config: GenerateConfig,
        context: CallContext,
        *,
        ttl: Ttl | None = None,
        previous_ttl: Ttl | None = None,
    ) -> dict[str, Any]:
        """The request's body, as the online call would send it; `ttl`: the prompt-cache TTL
        of the round's writes, `previous_ttl`: the one the chain's previous request had (None:
        the configured one), for a provider with explicit caching."""

    async def submit(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> str:
        """Create a batch of (custom id, params); its id."""

    async def poll(self, batch_id: str) -> BatchState: ...

    async def results(self, batch_id: str) -> dict[str, Result]:
        """By custom id, for an ended batch (a request missing from it is Lost)."""

    async def aclose(self) -> None: ...


# provider -> its batch wire ("module:class"), imported on first use
BATCH_WIRES: dict[str, str] = {
    "anthropic": "benchmark.models.anthropic_batch:AnthropicBatchWire",
    "openai": "benchmark.models.openai_batch:OpenAIBatchWire",
}


def batch_wire(provider: ModelAPI) -> BatchWire:
    """The batch wire of `provider`'s API; ValueError if it has none."""
    target = BATCH_WIRES.get(provider.provider)
    if target is None:
        known = ", ".join(sorted(BATCH_WIRES))
        raise ValueError(f"{provider.provider} has no batch API; batch mode works with: {known}")
    module_name, _, class_name = target.partition(":")
    wire: BatchWire = getattr(importlib.import_module(module_name), class_name)(provider)
    return wire


class BatchGone(Exception):
    """The provider no longer knows the batch (e.g. results past their retention)."""


@dataclass(eq=False)
class _Call:
    """One chain's pending request; its body and key are made when its round starts."""

    messages: list[ChatMessage]
    config: GenerateConfig
    context: CallContext
    future: asyncio.Future[ModelOutput]
    key: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    ttl: Ttl | None = None  # the prompt-cache TTL it was built with (None: the configured one)
    submissions: int = 0  # batches it was in, earlier runs included
    lost: int = 0
    because: str | None = None  # why it is being resubmitted: lost | error
    custom_id: str = ""
    since: float = 0.0

    @property
    def size(self) -> int:
        return len(json.dumps(self.params)) + 200  # + the envelope (custom id, method, url)


class BatchingModel(ModelAPI):
    """Answers calls from provider batches, one round at a time; see the module docstring."""

    def __init__(
        self,
        provider: ModelAPI,
        wire: BatchWire,
        journal: BatchJournal,
        *,
        poll_s: float = 30.0,
        max_requests: int | None = None,
        max_retries: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        cache_ttl: BatchCacheTtl | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(provider.name)
        self.inner = provider
        self.provider = provider.provider
        self.wire = wire
        self.journal = journal
        self.poll_s = poll_s
        self.max_requests = min(max_requests or wire.max_requests, wire.max_requests)
        self.max_retries = max_retries
        self._retrying = retry_policy(max_retries, backoff_base_s, backoff_max_s, sleep)
        self._sleep = sleep
        self._clock = clock
        self.cache_ttl = cache_ttl  # None: every round gets the configured TTL
        self._round_ttl: Ttl | None = None
        self._chain_ttl: dict[tuple[str, int], tuple[int, Ttl | None]] = {}  # its last request
        self._submitted_at: dict[str, float] = {}  # batch id -> when this run submitted it
        self.batches_created = 0  # by this run
        self._live = 0
        self._pending: list[_Call] = []
        self._in_flight = 0
        self._round = 0
        self._status: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what the job says -----------------------------------------------------------------

    def chain_opened(self) -> None:
        self._live += 1

    def chain_closed(self) -> None:
        self._live -= 1
        self._maybe_flush()

    def status(self) -> str | None:
        return self._status

    def skip_reason(self, problem: ProblemLike) -> str | None:
        return self.inner.skip_reason(problem)

    @property
    def api(self) -> str:
        return self.inner.api

    async def fetch_capabilities(self) -> Capabilities | None:
        return await self.inner.fetch_capabilities()

    # -- calls -----------------------------------------------------------------------------

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        future: asyncio.Future[ModelOutput] = asyncio.get_running_loop().create_future()
        call = _Call(messages, config, context, future)
        self._pending.append(call)
        self._maybe_flush()
        try:
            return await future
        except asyncio.CancelledError:
            if call in self._pending:
                self._pending.remove(call)
            raise

    def _maybe_flush(self) -> None:
        """Start a round once every live chain's next request is pending or in a batch."""
        if not self._pending or len(self._pending) + self._in_flight < self._live:
            return
        calls, self._pending = self._pending, []
        self._in_flight += len(calls)
        self._round += 1
        task = asyncio.get_running_loop().create_task(self._run_round(self._round, calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _resolve(self, call: _Call, result: ModelOutput | ModelError) -> None:
        self._in_flight -= 1
        if call.future.done():  # its chain was cancelled (the job is stopping)
            return
        if isinstance(result, ModelError):
            call.future.set_exception(result)
        else:
            call.future.set_result(result)

    # -- rounds ----------------------------------------------------------------------------

    def _build(self, calls: list[_Call]) -> list[_Call]:
        """Make the round's request bodies, all with the round's cache TTL; the calls whose
        body could not be made fail alone."""
        ttl = self.cache_ttl.round_started(self._clock()) if self.cache_ttl else None
        self._round_ttl = ttl
        built = []
        for call in calls:
            chain = (call.context.problem_id, call.context.sample)
            iteration, before = self._chain_ttl.get(chain, (0, None))
            previous = before if iteration == call.context.iteration - 1 else None
            try:
                call.params = self.wire.params(
                    call.messages, call.config, call.context, ttl=ttl, previous_ttl=previous
                )
            except Exception as exc:
                self._resolve(call, self._unexpected(exc))
                continue
            call.key = request_key(call.context, call.params)
            call.ttl = ttl
            self._chain_ttl[chain] = (call.context.iteration, ttl)
            built.append(call)
        return built

    async def _run_round(self, round_no: int, calls: list[_Call]) -> None:
        progress: dict[str, BatchState] = {}
        followed: dict[str, list[_Call]] = {}
        fresh: list[_Call] = []
        calls = self._build(calls)
        for call in calls:  # requests a killed run already submitted: follow their batch
            history = self.journal.history(call.key)
            call.submissions = len(history)
            call.lost = sum(s.because == "lost" for s in history)
            if history:
                call.custom_id = history[-1].custom_id
                followed.setdefault(history[-1].batch_id, []).append(call)
            else:
                fresh.append(call)
        try:
            follows = [
                self._follow(round_no, batch_id, members, progress)
                for batch_id, members in followed.items()
            ]
            if fresh:
                follows.append(self._submit_and_follow(round_no, fresh, progress))
            await asyncio.gather(*follows)
        except Exception as exc:  # every call of the round must hear of it
            error = exc if isinstance(exc, ModelError) else self._unexpected(exc)
            for call in calls:
                if not call.future.done():
                    self._resolve(call, error)

    def _unexpected(self, exc: Exception) -> ModelError:
        return ModelError(f"{self.id}: batch error: {type(exc).__name__}: {exc}", kind="batch")

    def _chunks(self, calls: list[_Call]) -> list[list[_Call]]:
        """Split where the provider's count or size limit per batch requires."""
        chunks: list[list[_Call]] = [[]]
        size = 0
        for call in calls:
            full = len(chunks[-1]) >= self.max_requests or size + call.size > self.wire.max_bytes
            if chunks[-1] and full:
                chunks.append([])
                size = 0
            chunks[-1].append(call)
            size += call.size
        return chunks

    async def _submit_and_follow(
        self, round_no: int, calls: list[_Call], progress: dict[str, BatchState]
    ) -> None:
        follows = []
        for chunk in self._chunks(calls):
            batch_id = await self._submit(round_no, chunk)
            follows.append(self._follow(round_no, batch_id, chunk, progress))
        await asyncio.gather(*follows)

    async def _submit(self, round_no: int, calls: list[_Call]) -> str:
        now = self._clock()
        for call in calls:
            call.custom_id = f"{call.key[:48]}-{call.submissions}"
            call.submissions += 1
            call.since = now
        requests = [(call.custom_id, call.params) for call in calls]
        batch_id = await self._api(lambda: self.wire.submit(requests))
        self._submitted_at[batch_id] = now
        self.journal.submitted(
            batch_id,
            round_no,
            [
                {
                    "custom_id": call.custom_id,
                    "key": call.key,
                    "problem": call.context.problem_id,
                    "sample": call.context.sample,
                    "iteration": call.context.iteration,
                    "because": call.because,
                }
                for call in calls
            ],
            cache_ttl=calls[0].ttl if calls else None,
        )
        self.batches_created += 1
        return batch_id

    async def _follow(
        self,
        round_no: int,
        batch_id: str,
        calls: list[_Call],
        progress: dict[str, BatchState],
    ) -> None:
        """Poll `batch_id` until it ends, then resolve (or resubmit) each of `calls`."""
        try:
            while True:
                state = await self._api(lambda: self.wire.poll(batch_id))
                progress[batch_id] = state
                self._show(round_no, progress, len(calls))
                if state.ended:
                    submitted = self._submitted_at.pop(batch_id, None)
                    if self.cache_ttl is not None and submitted is not None:
                        self.cache_ttl.batch_ended(submitted, self._clock())
                    break
                await self._sleep(self.poll_s)
            results = await self._api(lambda: self.wire.results(batch_id))
            self.journal.finished(batch_id, state.status)
        except BatchGone:
            results = {}
        again: list[_Call] = []
        for call in calls:
            result = results.get(call.custom_id, Lost("missing"))
            if self._again(call, result):
                again.append(call)
            else:
                self._resolve(call, self._final(call, batch_id, result))
        if again:
            await self._submit_and_follow(round_no, again, progress)

    def _again(self, call: _Call, result: Result) -> bool:
        """Whether to resubmit: a lost request once, a transient error up to max_retries."""
        if isinstance(result, Lost):
            call.lost += 1
            call.because = "lost"
            return call.lost <= RESUBMIT_LOST
        if isinstance(result, ModelError):
            call.because = "error"
            return retryable(result) and call.submissions <= self.max_retries
        return False

    def _final(self, call: _Call, batch_id: str, result: Result) -> ModelOutput | ModelError:
        tries = call.submissions
        if isinstance(result, Lost):
            return ModelError(
                f"{self.id}: batch {batch_id}: request {result.why} (after {tries} batches)",
                kind=f"batch_{result.why}",
            )
        if isinstance(result, ModelError):
            if tries > 1:
                result.args = (f"{result.args[0]} (after {tries} batches)",)
            return result
        result.batch_id = batch_id
        result.latency_s = self._clock() - call.since
        result.extra = {**result.extra, "retries": str(tries - 1)}
        return result

    def _show(self, round_no: int, progress: dict[str, BatchState], total: int) -> None:
        if round_no < self._round and self._status is not None:
            return  # a later round is under way: show that one
        states = list(progress.values())
        done = sum(s.done for s in states)
        size = sum(s.total for s in states) or total
        words = sorted({s.status for s in states})
        self._status = f"round {round_no}: {done}/{size} done, batch {'/'.join(words)}"
        if self._round_ttl is not None:
            self._status += f", cache {self._round_ttl}"

    async def _api(self, step: Callable[[], Awaitable[T]]) -> T:
        """One batch API call, retried like an online call when the failure is transient."""
        async for attempt in self._retrying.copy():
            with attempt:
                return await step()
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.wire.aclose()
