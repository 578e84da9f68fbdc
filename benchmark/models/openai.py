"""OpenAI models through the official `openai` SDK: Chat Completions or the Responses API
(`api=`, see `default_api`), non-streaming.

Reasoning: `GenerateConfig.effort` is sent as `reasoning_effort` (Chat Completions) or
`reasoning.effort` (Responses; benchmark/models/openai_responses.py); None sends nothing (the
model's default). OpenAI has no thinking switch of its own: `thinking="off"` is sent as effort
"none" (and contradicts any other effort); "adaptive" or a token budget is refused in one line.
Replies report `reasoning_tokens` (part of `output_tokens`, as OpenAI bills them),
`service_tier`, and the raw finish reason ("length" / "max_output_tokens": cut at the limit).
The output cap is `max_completion_tokens` on Chat Completions (reasoning models reject the
deprecated `max_tokens`) and `max_output_tokens` on Responses. A reasoning family that reasons
gets no `temperature` when it is 1.0 (see `sends_temperature`). Function calling on both APIs:
benchmark/models/openai_tools.py.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import openai
from openai.types.responses import Response

from benchmark.models._http import (
    BODY_DECODE_ERRORS,
    BODY_SHAPE_ERRORS,
    SDKModel,
    display_url,
)
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.openai_responses import FailedResponse, responses_output, responses_params
from benchmark.models.openai_tools import chat_message, chat_reply_tool_calls, chat_tool_params
from benchmark.models.ratelimit import RateLimiter, openai_limits
from benchmark.models.template_schema import (
    SCHEMA_DESCRIPTION,
    SCHEMA_NAME,
    TEMPLATE_JSON_SCHEMA,
)

Api = Literal["chat", "responses"]
# The reasoning families (GPT-5 and later, the o-series): their reasoning carries across turns
# only through the Responses API, so `model.api=auto` picks it for them.
REASONING_FAMILY = re.compile(r"(gpt-[5-9]|gpt-\d{2,}|o\d+)(?![0-9a-z])", re.IGNORECASE)

# Error codes whose (kind, fatal) differ from what their HTTP status says.
_CODE_KINDS: dict[str, tuple[str, bool]] = {
    "context_length_exceeded": ("context_length", False),  # a 400 that is not the job's fault
    "insufficient_quota": ("quota", True),  # a 429 that retrying cannot fix
}


def response_format_param(kind: str) -> dict[str, Any]:
    """The Chat Completions `response_format` for a `model.response_format` value."""
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {
                "name": SCHEMA_NAME,
                "description": SCHEMA_DESCRIPTION,
                "schema": TEMPLATE_JSON_SCHEMA,
                "strict": False,
            },
        }
    raise ValueError(f"unknown response_format {kind!r}")


def default_api(name: str) -> Api:
    """The API `model.api=auto` speaks to model `name`: "responses" for the reasoning families
    (gpt-5*, gpt-6* and later, o1 / o3 / o4* ...), so their reasoning carries across turns;
    "chat" (Chat Completions) for the rest (gpt-4o, gpt-4.1, fine-tunes of them)."""
    return "responses" if REASONING_FAMILY.match(name.removeprefix("ft:")) else "chat"


def sends_temperature(name: str, config: GenerateConfig) -> bool:
    """Whether `temperature` goes out. A reasoning family (see `default_api`) takes none
    while it reasons ("when reasoning effort is not none, remove temperature", OpenAI's
    deployment checklist); 1.0 is what it samples at anyway, so it is left out then. Any
    other value is sent, for the API to refuse in one line rather than be dropped unseen."""
    reasoning = REASONING_FAMILY.match(name.removeprefix("ft:")) and config.effort != "none"
    return not (reasoning and config.temperature == 1.0)


class OpenAIModel(SDKModel):
    """A model behind OpenAI's Chat Completions API (`api="chat"`) or Responses API
    (`api="responses"`). Concurrency is capped per instance."""

    provider = "openai"
    response_formats: ClassVar[frozenset[str]] = frozenset({"json_object", "json_schema"})
    request_id_header: ClassVar[str] = "x-request-id"
    rate_limit_headers = staticmethod(openai_limits)
    # OpenAI deprecated `max_tokens` (rejected by reasoning models); other servers still want it.
    max_tokens_param: ClassVar[str] = "max_completion_tokens"
    supports_tools: ClassVar[bool] = True  # function calling on both APIs (openai_tools.py)

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
        api: Api = "chat",
    ) -> None:
        if api not in ("chat", "responses"):
            raise ValueError(f"{self.provider}: api must be 'chat' or 'responses', got {api!r}")
        super().__init__(name, api_key=api_key, max_concurrency=max_concurrency)
        self._api: Api = api
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=self.http_client(openai.DefaultAsyncHttpxClient, rate_limiter),
        )
        self.endpoint = display_url(str(self._client.base_url))

    @property
    def client(self) -> openai.AsyncOpenAI:
        return self._client

    @property
    def api(self) -> str:
        return self._api

    async def fetch_capabilities(self) -> None:
        """None, without a call: the SDK's Models API returns `Model(id, created, owned_by,
        shutdown_date)`, no capabilities (the start-of-job check falls back to its table)."""
        return None

    def request_params(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> dict[str, Any]:
        """The body of one call (a Batch API request's `body`), for this model's API;
        ModelError (fatal) for a reasoning setting OpenAI has no knob for."""
        config = self._reasoning(config)
        if self._api == "responses":
            kwargs = responses_params(self.name, messages, config)
        else:
            kwargs = self._chat_params(messages, config)
        if not sends_temperature(self.name, config):
            del kwargs["temperature"]
        return kwargs

    def _chat_params(self, messages: list[ChatMessage], config: GenerateConfig) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": [chat_message(m) for m in messages],
            "temperature": config.temperature,
            self.max_tokens_param: config.max_tokens,
        }
        if config.seed is not None:
            kwargs["seed"] = config.seed
        if config.response_format is not None:
            kwargs["response_format"] = response_format_param(config.response_format)
        if config.effort is not None:
            kwargs["reasoning_effort"] = config.effort
        kwargs.update(chat_tool_params(config))
        return kwargs

    def _reasoning(self, config: GenerateConfig) -> GenerateConfig:
        """`config` with `thinking` folded into `effort` (OpenAI's only reasoning knob)."""
        if config.thinking is None:
            pass
        elif config.thinking != "off":
            raise self.error(
                "invalid_request",
                f"model.thinking={config.thinking} is not an OpenAI setting: OpenAI models "
                "reason by model.effort (none ... max)",
                fatal=True,
            )
        elif config.effort not in (None, "none"):
            raise self.error(
                "invalid_request",
                f"model.thinking=off contradicts model.effort={config.effort} (OpenAI turns "
                "reasoning off with effort none)",
                fatal=True,
            )
        else:
            config = dataclasses.replace(config, effort="none")
        if config.thinking_display == "summarized" and self._api == "chat":
            raise self.error(
                "invalid_request",
                "model.thinking_display=summarized needs the Responses API (model.api="
                "responses): Chat Completions returns no reasoning summary",
                fatal=True,
            )
        return config

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        kwargs = self.request_params(messages, config, context)
        create = (
            self._client.responses.create
            if self._api == "responses"
            else self._client.chat.completions.create
        )
        async with self._gate.slot():
            start = time.perf_counter()
            try:
                reply = await create(**kwargs)
            except openai.OpenAIError as exc:
                raise self._to_model_error(exc) from None
            except BODY_DECODE_ERRORS as exc:
                raise self.bad_response(exc) from None
            latency = time.perf_counter() - start
        if self._api == "responses":
            return self.response_output(reply, latency)
        return self.completion_output(reply, latency)

    def response_output(self, response: Response, latency: float | None) -> ModelOutput:
        """A Responses API reply (online or batch result) as a ModelOutput, or ModelError."""
        try:
            return responses_output(response, latency)
        except FailedResponse as exc:
            raise self.error("server", str(exc)) from None  # transient: retried
        except BODY_SHAPE_ERRORS as exc:
            raise self.bad_response(exc) from None

    def completion_output(
        self, completion: openai.types.chat.ChatCompletion, latency: float | None
    ) -> ModelOutput:
        """A ChatCompletion (online reply or batch result) as a ModelOutput, or ModelError."""
        try:
            if not completion.choices:
                raise self.error("bad_response", "response has no choices")
            return _output(completion, latency)
        except BODY_SHAPE_ERRORS as exc:
            raise self.bad_response(exc) from None

    def _to_model_error(self, exc: openai.OpenAIError) -> ModelError:
        if isinstance(exc, openai.APIConnectionError):  # APITimeoutError included
            return self.transport_error(exc, timeout=isinstance(exc, openai.APITimeoutError))
        if isinstance(exc, openai.APIResponseValidationError):
            return self.bad_response(exc)
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            return self.api_error(
                exc.status_code, body, exc.response.headers, request_id=exc.request_id
            )
        return self.error("error", f"{type(exc).__name__}: {exc}")

    def api_error(
        self,
        status: int,
        error: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        request_id: str | None = None,
    ) -> ModelError:
        """The ModelError for an error status with its `error` object (online or in a batch)."""
        code = str(error.get("code") or "")
        return self.status_error(
            status,
            headers or {},
            f"{code or error.get('type') or ''} {error.get('message') or ''}",
            request_id=request_id,
            override=_CODE_KINDS.get(code) or _context_length(status, error),
        )

    async def aclose(self) -> None:
        await self._client.close()


# Self-hosted servers (vLLM, llama.cpp) say a prompt is too long in a plain 400, without
# OpenAI's `context_length_exceeded` code; left fatal, one long chain would stop the job.
_CONTEXT_MESSAGE = re.compile(r"context (length|size|window)|too many tokens", re.IGNORECASE)


def _context_length(status: int, body: dict) -> tuple[str, bool] | None:
    message = str(body.get("message") or "")
    if status == 400 and _CONTEXT_MESSAGE.search(message):
        return ("context_length", False)
    return None


def _output(completion: openai.types.chat.ChatCompletion, latency: float) -> ModelOutput:
    choice = completion.choices[0]
    # read as sent (the SDK does not validate): ModelOutput judges every figure
    usage = getattr(completion, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None)
    output_details = getattr(usage, "completion_tokens_details", None)
    extra: dict[str, str] = {}
    if choice.message.refusal:
        extra["refusal"] = choice.message.refusal
    if completion.system_fingerprint:
        extra["system_fingerprint"] = completion.system_fingerprint
    return ModelOutput(
        text=choice.message.content or "",
        finish_reason=choice.finish_reason,
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        cached_tokens=getattr(details, "cached_tokens", None),
        reasoning_tokens=getattr(output_details, "reasoning_tokens", None),
        latency_s=latency,
        request_id=getattr(completion, "_request_id", None),  # a batch result has none
        extra=extra,
        service_tier=getattr(completion, "service_tier", None),
        tool_calls=chat_reply_tool_calls(choice.message.tool_calls),
    )
