"""OpenAI's Batch API over Chat Completions or the Responses API (the model's `api`), through
the official SDK. A batch of Responses requests goes to `/v1/responses` with the same body as
online (`store=False`, encrypted reasoning included) and its results are Response objects.

`client.files.create(purpose="batch")` uploads the requests as JSONL ({custom_id, method,
url, body}); `client.batches.create(endpoint="/v1/chat/completions")` starts the batch;
`client.batches.retrieve` reports validating | in_progress | finalizing | completed | failed
| expired | cancelling | cancelled with request counts; `client.files.content` downloads the
output file ({custom_id, response: {status_code, request_id, body}}) and the error file
(failed requests; those a batch never reached carry `batch_expired` or `batch_cancelled`).
Limits: 50,000 requests or 200 MB per batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import openai
import pydantic
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from benchmark.models._http import BODY_DECODE_ERRORS
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError
from benchmark.models.batch import BatchGone, BatchState, Lost, Result
from benchmark.models.openai import OpenAIModel
from benchmark.models.prompt_cache import Ttl

ENDPOINTS = {"chat": "/v1/chat/completions", "responses": "/v1/responses"}
ENDPOINT = ENDPOINTS["chat"]
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
LOST_CODES = {"batch_expired": "expired", "batch_cancelled": "canceled"}


class OpenAIBatchWire:
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, model: OpenAIModel) -> None:
        self.model = model
        self.client = model.client
        self.endpoint = ENDPOINTS[model.api]

    def params(
        self,
        messages: list[ChatMessage],
        config: GenerateConfig,
        context: CallContext,
        *,
        ttl: Ttl | None = None,
        previous_ttl: Ttl | None = None,
    ) -> dict[str, Any]:
        """As online: OpenAI caches by itself, with no TTL to choose."""
        return self.model.request_params(messages, config, context)

    async def submit(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> str:
        lines = [
            json.dumps({"custom_id": cid, "method": "POST", "url": self.endpoint, "body": body})
            for cid, body in requests
        ]
        data = ("\n".join(lines) + "\n").encode()
        upload = await self._call(
            self.client.files.create(file=("requests.jsonl", data), purpose="batch")
        )
        batch = await self._call(
            self.client.batches.create(
                input_file_id=upload.id, endpoint=self.endpoint, completion_window="24h"
            )
        )
        return batch.id

    async def poll(self, batch_id: str) -> BatchState:
        batch = await self._call(self.client.batches.retrieve(batch_id), gone=True)
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts else 0
        total = counts.total if counts else 0
        return BatchState(batch.status, batch.status in ENDED, done, total)

    async def results(self, batch_id: str) -> dict[str, Result]:
        batch = await self._call(self.client.batches.retrieve(batch_id), gone=True)
        if batch.status == "failed":  # the whole file was refused: no request ran
            errors = batch.errors.data if batch.errors and batch.errors.data else []
            detail = "; ".join(f"{e.code}: {e.message}" for e in errors) or "batch failed"
            raise self.model.error("invalid_request", f"batch {batch_id}: {detail}", fatal=True)
        out: dict[str, Result] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for line in await self._lines(file_id):
                    out[line["custom_id"]] = self._result(line)
        return out

    async def _lines(self, file_id: str) -> list[dict[str, Any]]:
        content = await self._call(self.client.files.content(file_id), gone=True)
        try:
            return [json.loads(line) for line in content.text.splitlines() if line.strip()]
        except BODY_DECODE_ERRORS as exc:
            raise self.model.bad_response(exc) from None

    def _result(self, line: dict[str, Any]) -> Result:
        error = line.get("error") or {}
        if error.get("code") in LOST_CODES:
            return Lost(LOST_CODES[error["code"]])
        response = line.get("response") or {}
        status = int(response.get("status_code") or 500)
        body = response.get("body") or {}
        if status == 200 and not error:
            try:
                if self.model.api == "responses":
                    output = self.model.response_output(Response.model_validate(body), None)
                else:
                    completion = ChatCompletion.model_validate(body)
                    output = self.model.completion_output(completion, None)
            except pydantic.ValidationError as exc:
                return self.model.bad_response(exc)
            except ModelError as exc:
                return exc
            output.request_id = response.get("request_id") or output.request_id
            return output
        detail = body.get("error") if isinstance(body.get("error"), dict) else error
        return self.model.api_error(status, detail or {}, request_id=response.get("request_id"))

    async def _call(self, request: Any, *, gone: bool = False) -> Any:
        """Await one SDK call; its failure as a ModelError (a batch not found: BatchGone)."""
        try:
            return await request
        except openai.NotFoundError as exc:
            if gone:
                raise BatchGone(str(exc)) from None
            raise self.model._to_model_error(exc) from None
        except openai.OpenAIError as exc:
            raise self.model._to_model_error(exc) from None  # the online call's classification
        except BODY_DECODE_ERRORS as exc:
            raise self.model.bad_response(exc) from None

    async def aclose(self) -> None:
        await self.model.aclose()
