"""Claude through the official `anthropic` SDK (Messages API, non-streaming).

Sampling: the SDK (2.x) sends `anthropic-version: 2026-10-21`, under which the API rejects
`temperature`/`top_p`/`top_k` with a 400 on every model, and the SDK has dropped those
arguments. So `GenerateConfig.temperature` is NOT sent; each output records
`extra["temperature"] = "omitted"`. There is no seed parameter either.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic

from benchmark.models._http import BODY_DECODE_ERRORS, BODY_SHAPE_ERRORS, SDKModel
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput


class AnthropicModel(SDKModel):
    """A Claude model. Concurrency is capped per instance; retries are the caller's."""

    provider = "anthropic"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 0,
        max_concurrency: int = 8,
    ) -> None:
        super().__init__(name, api_key=api_key, max_concurrency=max_concurrency)
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        kwargs: dict[str, Any] = {"system": system} if system else {}
        async with self._gate.slot():
            start = time.perf_counter()
            try:
                msg = await self._client.messages.create(
                    model=self.name, messages=turns, max_tokens=config.max_tokens, **kwargs
                )
            except anthropic.AnthropicError as exc:
                raise self._to_model_error(exc) from None
            except BODY_DECODE_ERRORS as exc:
                raise self.bad_response(exc) from None
            latency = time.perf_counter() - start
        try:
            return _output(msg, latency)
        except BODY_SHAPE_ERRORS as exc:
            raise self.bad_response(exc) from None

    def _to_model_error(self, exc: anthropic.AnthropicError) -> ModelError:
        if isinstance(exc, anthropic.APIConnectionError):  # APITimeoutError included
            return self.transport_error(exc, timeout=isinstance(exc, anthropic.APITimeoutError))
        if isinstance(exc, anthropic.APIResponseValidationError):
            return self.bad_response(exc)
        if isinstance(exc, anthropic.APIStatusError):
            detail = exc.api_message or ""
            too_long = exc.status_code == 400 and "prompt is too long" in detail.lower()
            return self.status_error(
                exc.status_code,
                exc.response.headers,
                f"{exc.type or ''} {detail}",
                request_id=exc.request_id,
                override=("context_length", False) if too_long else None,
            )
        return self.error("error", f"{type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        await self._client.close()


def _output(msg: anthropic.types.Message, latency: float) -> ModelOutput:
    usage = msg.usage
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    extra = {"temperature": "omitted"}
    if cache_write:
        extra["cache_creation_input_tokens"] = str(cache_write)
    return ModelOutput(
        text="".join(b.text for b in msg.content if b.type == "text"),
        finish_reason=msg.stop_reason,
        # Whole prompt, like OpenAI's prompt_tokens: Anthropic counts cache hits separately.
        input_tokens=usage.input_tokens + cache_read + cache_write,
        output_tokens=usage.output_tokens,
        cached_tokens=cache_read,
        latency_s=latency,
        request_id=msg._request_id,
        extra=extra,
    )
