"""The retry layer: what is retried, how long it waits, and what it records."""

from __future__ import annotations

import asyncio

import pytest

from benchmark.models._http import LoopSemaphore
from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.models.retry import RetryingModel

CONTEXT = CallContext("p", 0, 1, "yaml")
CONFIG = GenerateConfig(1.0, 100)


class Flaky(ModelAPI):
    """Fails with the given errors, in order, then answers."""

    provider = "flaky"

    def __init__(self, errors: list[BaseException], delay_s: float = 0.0, slots: int = 64) -> None:
        super().__init__("m")
        self.errors, self.delay_s, self.calls = list(errors), delay_s, 0
        self.gate = LoopSemaphore(slots)  # like a provider's own concurrency limit

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        async with self.gate.slot():
            self.calls += 1
            await asyncio.sleep(self.delay_s)
            if self.errors:
                raise self.errors.pop(0)
            return ModelOutput("answer")


def retrying(inner: ModelAPI, **kwargs) -> tuple[RetryingModel, list[float]]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    options = {
        "max_retries": 3,
        "timeout_s": 5.0,
        "backoff_base_s": 0.01,
        "backoff_max_s": 10.0,
        **kwargs,
    }
    return RetryingModel(inner, sleep=record, **options), waits


def call(model: ModelAPI) -> ModelOutput:
    return asyncio.run(model.generate([], CONFIG, CONTEXT))


def test_transient_errors_are_retried_and_counted() -> None:
    inner = Flaky([ModelError("500", kind="server"), ModelError("reset", kind="connection")])
    model, waits = retrying(inner)
    output = call(model)
    assert output.text == "answer" and inner.calls == 3
    assert output.extra["retries"] == "2" and len(waits) == 2


def test_retry_after_is_honoured() -> None:
    inner = Flaky([ModelError("429", kind="rate_limit", retry_after=7.5)])
    model, waits = retrying(inner)
    call(model)
    assert waits[0] >= 7.5  # never sooner than the server asked


def test_retry_after_is_capped_by_the_backoff_limit() -> None:
    inner = Flaky([ModelError("429", kind="rate_limit", retry_after=3600)])
    model, waits = retrying(inner, backoff_max_s=2.0)
    call(model)
    assert waits == [2.0]


def test_backoff_grows_and_stays_under_its_cap() -> None:
    inner = Flaky([ModelError("500", kind="server")] * 6)
    model, waits = retrying(inner, max_retries=6, backoff_base_s=1.0, backoff_max_s=5.0)
    call(model)
    assert len(waits) == 6 and all(0 <= w <= 5.0 for w in waits)


@pytest.mark.parametrize(
    "error",
    [ModelError("bad key", kind="auth", fatal=True), ModelError("too long", kind="context_length")],
)
def test_fatal_and_hopeless_errors_are_not_retried(error: ModelError) -> None:
    inner = Flaky([error])
    model, waits = retrying(inner)
    with pytest.raises(ModelError) as caught:
        call(model)
    assert caught.value is error and inner.calls == 1 and waits == []


def test_exhausted_retries_raise_the_last_error_with_the_count() -> None:
    inner = Flaky([ModelError("500", kind="server")] * 10)
    model, _ = retrying(inner, max_retries=2)
    with pytest.raises(ModelError, match=r"after 3 tries") as caught:
        call(model)
    assert caught.value.kind == "server" and inner.calls == 3


def test_every_call_has_a_hard_timeout() -> None:
    inner = Flaky([], delay_s=5.0)
    model, _ = retrying(inner, timeout_s=0.05, max_retries=1)
    with pytest.raises(ModelError) as caught:
        call(model)
    assert caught.value.kind == "timeout" and inner.calls == 2


def test_waiting_for_a_slot_does_not_count_against_the_timeout() -> None:
    inner = Flaky([], delay_s=0.2, slots=1)
    model, _ = retrying(inner, timeout_s=0.3, max_retries=0, max_concurrency=1)

    async def three_at_once() -> list[ModelOutput]:
        return await asyncio.gather(*(model.generate([], CONFIG, CONTEXT) for _ in range(3)))

    outputs = asyncio.run(three_at_once())  # the third waits 0.4 s for its slot, then runs
    assert [o.text for o in outputs] == ["answer"] * 3 and inner.calls == 3
