"""Claude through the official `anthropic` SDK (Messages API, non-streaming).

Sampling: the SDK (2.x) sends `anthropic-version: 2026-10-21`, under which the API rejects
`temperature`/`top_p`/`top_k` with a 400 on every model, and the SDK has dropped those
arguments. So `GenerateConfig.temperature` is NOT sent; each output records
`extra["temperature"] = "omitted"`. There is no seed parameter either.

Prompt caching: `cache_control` breakpoints go where benchmark/models/prompt_cache.py says a
prefix is sent again; usage then reports cache writes (split by TTL) and reads, all priced
(prices.yaml). The request is built by `request_params` for the Messages API and Message
Batches alike.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anthropic

from benchmark.models._http import (
    BODY_DECODE_ERRORS,
    BODY_SHAPE_ERRORS,
    SDKModel,
    display_url,
)
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.prompt_cache import PromptCache, Ttl, min_cacheable_tokens
from benchmark.models.ratelimit import RateLimiter, anthropic_limits
from benchmark.models.usage import add_counts


class AnthropicModel(SDKModel):
    """A Claude model. Concurrency is capped per instance; retries are the caller's."""

    provider = "anthropic"
    rate_limit_headers = staticmethod(anthropic_limits)

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 0,
        max_concurrency: int = 8,
        rate_limiter: RateLimiter | None = None,
        prompt_cache: PromptCache | None = None,
    ) -> None:
        super().__init__(name, api_key=api_key, max_concurrency=max_concurrency)
        self.prompt_cache = prompt_cache or PromptCache(min_tokens=min_cacheable_tokens(name))
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=self.http_client(anthropic.DefaultAsyncHttpxClient, rate_limiter),
        )
        self.endpoint = display_url(str(self._client.base_url))

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        return self._client

    def request_params(
        self,
        messages: list[ChatMessage],
        config: GenerateConfig,
        context: CallContext,
        *,
        batch: bool = False,
        ttl: Ttl | None = None,
        previous_ttl: Ttl | None = None,
    ) -> dict[str, Any]:
        """The Messages API parameters of one call (a Message Batches request's `params`).

        System messages are joined into `system`; a message closing a re-sent prefix becomes
        one text block with `cache_control`. Its TTL is `ttl` (batch mode's round choice) or
        the configured one; `previous_ttl` is the one the chain's previous call was sent with
        (None: the same), which says what that call cached."""
        ttl = ttl or self.prompt_cache.ttl(batch)
        marks = set(
            self.prompt_cache.breakpoints(
                messages,
                context.iteration,
                context.max_iterations,
                batch=batch,
                ttl=ttl,
                previous_ttl=previous_ttl,
            )
        )
        control = {"type": "ephemeral", "ttl": ttl}

        def content(i: int) -> str | list[dict[str, Any]]:
            if i not in marks:
                return messages[i].content
            return [{"type": "text", "text": messages[i].content, "cache_control": control}]

        systems = [i for i, m in enumerate(messages) if m.role == "system"]
        params: dict[str, Any] = {"model": self.name, "max_tokens": config.max_tokens}
        if systems:
            text = "\n\n".join(messages[i].content for i in systems)
            params["system"] = (
                [{"type": "text", "text": text, "cache_control": control}]
                if marks & set(systems)
                else text
            )
        params["messages"] = [
            {"role": m.role, "content": content(i)}
            for i, m in enumerate(messages)
            if m.role != "system"
        ]
        return params

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        params = self.request_params(messages, config, context)
        async with self._gate.slot():
            start = time.perf_counter()
            try:
                msg = await self._client.messages.create(**params)
            except anthropic.AnthropicError as exc:
                raise self._to_model_error(exc) from None
            except BODY_DECODE_ERRORS as exc:
                raise self.bad_response(exc) from None
            latency = time.perf_counter() - start
        try:
            return message_output(msg, latency)
        except BODY_SHAPE_ERRORS as exc:
            raise self.bad_response(exc) from None

    def _to_model_error(self, exc: anthropic.AnthropicError) -> ModelError:
        if isinstance(exc, anthropic.APIConnectionError):  # APITimeoutError included
            return self.transport_error(exc, timeout=isinstance(exc, anthropic.APITimeoutError))
        if isinstance(exc, anthropic.APIResponseValidationError):
            return self.bad_response(exc)
        if isinstance(exc, anthropic.APIStatusError):
            return self.api_error(
                exc.status_code,
                exc.type or "",
                exc.api_message or "",
                exc.response.headers,
                request_id=exc.request_id,
            )
        return self.error("error", f"{type(exc).__name__}: {exc}")

    def api_error(
        self,
        status: int,
        error_type: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        *,
        request_id: str | None = None,
    ) -> ModelError:
        """The ModelError for an error status and its error object (online or in a batch)."""
        too_long = status == 400 and "prompt is too long" in detail.lower()
        return self.status_error(
            status,
            headers or {},
            f"{error_type} {detail}",
            request_id=request_id,
            override=("context_length", False) if too_long else None,
        )

    async def aclose(self) -> None:
        await self._client.close()


def message_output(msg: anthropic.types.Message, latency: float | None) -> ModelOutput:
    """A Message (online reply or batch result) as a ModelOutput."""
    # read as sent (the SDK does not validate): ModelOutput judges every figure
    usage = getattr(msg, "usage", None)
    cache_read = getattr(usage, "cache_read_input_tokens", None) or 0
    cache_write = getattr(usage, "cache_creation_input_tokens", None) or 0
    split = getattr(usage, "cache_creation", None)  # absent: all writes were 5-minute ones
    return ModelOutput(
        text="".join(b.text for b in msg.content if b.type == "text"),
        finish_reason=msg.stop_reason,
        # Whole prompt, like OpenAI's prompt_tokens: Anthropic counts cache hits separately.
        input_tokens=add_counts(getattr(usage, "input_tokens", None), cache_read, cache_write),
        output_tokens=getattr(usage, "output_tokens", None),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=getattr(split, "ephemeral_1h_input_tokens", None) or 0,
        latency_s=latency,
        request_id=getattr(msg, "_request_id", None),  # a batch result has none
        extra={"temperature": "omitted"},
    )
