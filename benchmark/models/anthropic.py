"""Claude through the official `anthropic` SDK (Messages API).

Sampling: the SDK (2.x) sends `anthropic-version: 2026-10-21`, under which the API rejects
`temperature`/`top_p`/`top_k` with a 400 on every model, and the SDK has dropped those
arguments. So `GenerateConfig.temperature` is NOT sent; each output records
`extra["temperature"] = "omitted"`. There is no seed parameter either.

Prompt caching: `cache_control` breakpoints go where benchmark/models/prompt_cache.py says a
prefix is sent again; usage then reports cache writes (split by TTL) and reads, all priced
(prices.yaml). The request is built by `request_params` for the Messages API and Message
Batches alike.

Tool use (tools, tool_choice, tool_use and tool_result blocks, `ModelOutput.tool_calls`):
benchmark/models/anthropic_tools.py. Reasoning and structured output (effort, thinking,
thinking blocks carried across turns, `output_config.format`):
benchmark/models/anthropic_reasoning.py. Reported: `reasoning_tokens`
(`usage.output_tokens_details.thinking_tokens`, a share of `output_tokens`, which stays the
whole billed output), `service_tier` and `speed` (from `usage`), `carry` (the reply's thinking
blocks) and `finish_reason` (the raw `stop_reason`; `max_tokens` is a reply cut at the limit).

Streaming: a call streams (`messages.stream`, its final message read as the non-streaming
reply would be) when thinking is asked for, or when the SDK's own long-request rule says a
non-streaming call could outlast 10 minutes (the rule by which its client, at the default
timeout, refuses such a call; with our `timeout_s` it would not refuse, but the call would
time out). Thinking can keep a reply silent for minutes: a stream sends events as it goes,
so `timeout_s` bounds a silence rather than the whole reply. The reply, its usage, latency
(to the last event) and errors are read the same either way. Batch mode never streams.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import anthropic
from anthropic._constants import MODEL_NONSTREAMING_TOKENS  # the SDK's long-request rule

from benchmark.models._http import (
    BODY_DECODE_ERRORS,
    BODY_SHAPE_ERRORS,
    SDKModel,
    display_url,
)
from benchmark.models.anthropic_reasoning import (
    ANTHROPIC_EFFORTS,
    RequestRefused,
    output_config,
    reply_carry,
    shown_display,
    thinking_on,
    thinking_param,
)
from benchmark.models.anthropic_tools import conversation, reply_tool_calls, tool_params
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.capabilities import Capabilities
from benchmark.models.prompt_cache import PromptCache, Ttl, min_cacheable_tokens
from benchmark.models.ratelimit import RateLimiter, anthropic_limits
from benchmark.models.usage import add_counts

log = logging.getLogger(__name__)

# error object type -> the HTTP status an online call would have met (a batch result's error,
# or an error event inside a stream that began 200 OK)
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicModel(SDKModel):
    """A Claude model. Concurrency is capped per instance; retries are the caller's."""

    provider = "anthropic"
    response_formats: ClassVar[frozenset[str]] = frozenset({"json_schema"})
    rate_limit_headers = staticmethod(anthropic_limits)
    supports_tools: ClassVar[bool] = True

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

    @property
    def api(self) -> str:
        return "messages"

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
        (None: the same), which says what that call cached.

        A setting Anthropic has no value for (effort `none`, a thinking budget below 1024...)
        is a fatal ModelError, one line, before anything is sent."""
        try:
            config_param, thinking = output_config(config), thinking_param(config)
        except RequestRefused as exc:
            raise self.error("invalid_request", str(exc), fatal=True) from None
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
        systems = [i for i, m in enumerate(messages) if m.role == "system"]
        params: dict[str, Any] = {"model": self.name, "max_tokens": config.max_tokens}
        if systems:
            text = "\n\n".join(messages[i].content for i in systems)
            params["system"] = (
                [{"type": "text", "text": text, "cache_control": control}]
                if marks & set(systems)
                else text
            )
        params["messages"] = conversation(messages, marks, control)
        params.update(tool_params(config))
        if config_param is not None:
            params["output_config"] = config_param
        if thinking is not None:
            params["thinking"] = thinking
        return params

    def streams(self, params: dict[str, Any], config: GenerateConfig) -> bool:
        """Whether this call streams (see the module docstring)."""
        return thinking_on(config) or sdk_demands_streaming(
            self._client, params["model"], params["max_tokens"]
        )

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        params = self.request_params(messages, config, context)
        stream = self.streams(params, config)
        async with self._gate.slot():
            start = time.perf_counter()
            try:
                if stream:
                    msg, request_id = await self._stream(params)
                else:
                    msg = await self._client.messages.create(**params)
                    request_id = getattr(msg, "_request_id", None)
            except anthropic.AnthropicError as exc:
                raise self._to_model_error(exc) from None
            except BODY_DECODE_ERRORS as exc:
                raise self.bad_response(exc) from None
            latency = time.perf_counter() - start
        try:
            return message_output(msg, latency, request_id=request_id)
        except BODY_SHAPE_ERRORS as exc:
            raise self.bad_response(exc) from None

    async def _stream(self, params: dict[str, Any]) -> tuple[Any, str | None]:
        """The final message of a streamed call, and its request id."""
        try:
            async with self._client.messages.stream(**params) as stream:
                msg = await stream.get_final_message()
                request_id = stream.request_id
        except AssertionError:  # the SDK asserts a message_start arrived
            raise self.bad_response(RuntimeError("the stream sent no message")) from None
        except (*BODY_SHAPE_ERRORS, RuntimeError, ValueError) as exc:
            # events out of order or of the wrong shape (the SDK's accumulator raises these)
            raise self.bad_response(exc) from None
        if getattr(msg, "stop_reason", None) is None:  # never told why it stopped: cut short
            raise self.bad_response(RuntimeError("the stream ended before its message_delta"))
        return msg, request_id

    async def fetch_capabilities(self) -> Capabilities | None:
        """The Models API's capabilities for this model (None, with a logged reason, when it
        cannot say: an unknown model, no capabilities object, any error)."""
        try:
            info = await self._client.models.retrieve(self.name)
            return capabilities_of(info)
        except anthropic.AnthropicError as exc:
            why = self._to_model_error(exc)
        except (*BODY_DECODE_ERRORS, *BODY_SHAPE_ERRORS) as exc:
            why = self.bad_response(exc)
        log.warning("%s: no capabilities from the Models API: %s", self.id, why)
        return None

    def _to_model_error(self, exc: anthropic.AnthropicError) -> ModelError:
        if isinstance(exc, anthropic.APIConnectionError):  # APITimeoutError included
            return self.transport_error(exc, timeout=isinstance(exc, anthropic.APITimeoutError))
        if isinstance(exc, anthropic.APIResponseValidationError):
            return self.bad_response(exc)
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            if status < 400:  # an error event in a stream: its type says what status it means
                status = ERROR_STATUS.get(exc.type or "", 500)
            return self.api_error(
                status,
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


def sdk_demands_streaming(client: anthropic.AsyncAnthropic, model: str, max_tokens: int) -> bool:
    """Whether the SDK's long-request rule refuses a non-streaming call of `max_tokens` (its
    client applies it only at the default timeout; ours has its own, so we ask it here)."""
    try:
        client._calculate_nonstreaming_timeout(max_tokens, MODEL_NONSTREAMING_TOKENS.get(model))
    except ValueError:
        return True
    return False


def capabilities_of(info: Any) -> Capabilities:
    """A Models API ModelInfo as Capabilities (fields it does not report stay None)."""
    caps = getattr(info, "capabilities", None)
    if caps is None:
        raise AttributeError("the model has no capabilities object")
    effort = caps.effort
    efforts = frozenset(
        level
        for level in ANTHROPIC_EFFORTS
        if effort.supported and getattr(getattr(effort, level, None), "supported", False)
    )
    types = caps.thinking.types
    thinking = {
        name
        for name, kind in (("off", "disabled"), ("adaptive", "adaptive"), ("budget", "enabled"))
        if getattr(getattr(types, kind, None), "supported", False)
    }
    return Capabilities(
        efforts=efforts,
        thinking=frozenset(thinking),
        structured_outputs=bool(caps.structured_outputs.supported),
        batch=bool(caps.batch.supported),
        max_output_tokens=getattr(info, "max_tokens", None),
        source="models_api",
    )


def message_output(
    msg: anthropic.types.Message, latency: float | None, *, request_id: str | None = None
) -> ModelOutput:
    """A Message (online reply, streamed one or batch result) as a ModelOutput."""
    # read as sent (the SDK does not validate): ModelOutput judges every figure
    usage = getattr(msg, "usage", None)
    cache_read = getattr(usage, "cache_read_input_tokens", None) or 0
    cache_write = getattr(usage, "cache_creation_input_tokens", None) or 0
    split = getattr(usage, "cache_creation", None)  # absent: all writes were 5-minute ones
    details = getattr(usage, "output_tokens_details", None)  # absent: not reported
    carry = reply_carry(msg.content)
    return ModelOutput(
        text="".join(b.text for b in msg.content if b.type == "text"),
        finish_reason=msg.stop_reason,
        # Whole prompt, like OpenAI's prompt_tokens: Anthropic counts cache hits separately.
        input_tokens=add_counts(getattr(usage, "input_tokens", None), cache_read, cache_write),
        output_tokens=getattr(usage, "output_tokens", None),  # thinking included (billed)
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=getattr(split, "ephemeral_1h_input_tokens", None) or 0,
        latency_s=latency,
        # a batch result has none; a streamed reply's is the stream's
        request_id=request_id or getattr(msg, "_request_id", None),
        extra={"temperature": "omitted"},
        reasoning_tokens=getattr(details, "thinking_tokens", None),
        carry=carry,
        thinking_display=shown_display(carry),
        service_tier=getattr(usage, "service_tier", None),
        speed=getattr(usage, "speed", None),
        tool_calls=reply_tool_calls(msg.content),
    )
