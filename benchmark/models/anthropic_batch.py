"""Anthropic Message Batches through the official SDK: `client.messages.batches`.

`create(requests=[{custom_id, params}])`, `retrieve(id)` (processing_status in_progress |
canceling | ended; request_counts only move when the whole batch ends) and `results(id)`, a
JSONL stream of {custom_id, result} where the result is succeeded (a Message), errored (an
error object), canceled or expired. Limits: 100,000 requests or 256 MB per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anthropic

from benchmark.models._http import BODY_DECODE_ERRORS, BODY_SHAPE_ERRORS
from benchmark.models.anthropic import ERROR_STATUS, AnthropicModel, message_output
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError
from benchmark.models.batch import BatchGone, BatchState, Lost, Result
from benchmark.models.prompt_cache import Ttl


class AnthropicBatchWire:
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, model: AnthropicModel) -> None:
        self.model = model
        self.batches = model.client.messages.batches

    def params(
        self,
        messages: list[ChatMessage],
        config: GenerateConfig,
        context: CallContext,
        *,
        ttl: Ttl | None = None,
        previous_ttl: Ttl | None = None,
    ) -> dict[str, Any]:
        return self.model.request_params(
            messages, config, context, batch=True, ttl=ttl, previous_ttl=previous_ttl
        )

    async def submit(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> str:
        body = [{"custom_id": custom_id, "params": params} for custom_id, params in requests]
        batch = await self._call(self.batches.create(requests=body))  # type: ignore[arg-type]
        return batch.id

    async def poll(self, batch_id: str) -> BatchState:
        batch = await self._call(self.batches.retrieve(batch_id), gone=True)
        counts = batch.request_counts
        done = counts.succeeded + counts.errored + counts.canceled + counts.expired
        ended = batch.processing_status == "ended"
        return BatchState(batch.processing_status, ended, done, done + counts.processing)

    async def results(self, batch_id: str) -> dict[str, Result]:
        out: dict[str, Result] = {}
        stream = await self._call(self.batches.results(batch_id), gone=True)
        try:
            async for line in stream:
                out[line.custom_id] = self._result(line.result)
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from None
        except BODY_DECODE_ERRORS as exc:
            raise self.model.bad_response(exc) from None
        return out

    def _result(self, result: Any) -> Result:
        if result.type == "succeeded":
            try:
                return message_output(result.message, None)
            except BODY_SHAPE_ERRORS as exc:
                return self.model.bad_response(exc)
        if result.type == "errored":
            error = result.error.error
            status = ERROR_STATUS.get(error.type, 500)
            return self.model.api_error(status, error.type, error.message or "")
        return Lost(result.type)  # canceled | expired

    async def _call(self, request: Any, *, gone: bool = False) -> Any:
        """Await one SDK call; its failure as a ModelError (a batch not found: BatchGone)."""
        try:
            return await request
        except anthropic.NotFoundError as exc:
            if gone:
                raise BatchGone(str(exc)) from None
            raise self._error(exc) from None
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from None
        except BODY_DECODE_ERRORS as exc:
            raise self.model.bad_response(exc) from None

    def _error(self, exc: anthropic.AnthropicError) -> ModelError:
        return self.model._to_model_error(exc)  # the online call's classification

    async def aclose(self) -> None:
        await self.model.aclose()
