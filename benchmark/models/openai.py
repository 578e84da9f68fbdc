"""OpenAI chat models through the official `openai` SDK (Chat Completions, non-streaming)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import openai

from benchmark.models._http import (
    BODY_DECODE_ERRORS,
    BODY_SHAPE_ERRORS,
    SDKModel,
    display_url,
)
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.ratelimit import RateLimiter, openai_limits
from benchmark.models.template_schema import TEMPLATE_JSON_SCHEMA

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
                "name": "cloudformation_template",
                "description": "An AWS CloudFormation template",
                "schema": TEMPLATE_JSON_SCHEMA,
                "strict": False,
            },
        }
    raise ValueError(f"unknown response_format {kind!r}")


class OpenAIModel(SDKModel):
    """A model behind OpenAI's Chat Completions API. Concurrency is capped per instance."""

    provider = "openai"
    response_formats: ClassVar[frozenset[str]] = frozenset({"json_object", "json_schema"})
    request_id_header: ClassVar[str] = "x-request-id"
    rate_limit_headers = staticmethod(openai_limits)
    # OpenAI deprecated `max_tokens` (rejected by reasoning models); other servers still want it.
    max_tokens_param: ClassVar[str] = "max_completion_tokens"

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
    ) -> None:
        super().__init__(name, api_key=api_key, max_concurrency=max_concurrency)
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

    def request_params(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> dict[str, Any]:
        """The Chat Completions body of one call (a Batch API request's `body`)."""
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": config.temperature,
            self.max_tokens_param: config.max_tokens,
        }
        if config.seed is not None:
            kwargs["seed"] = config.seed
        if config.response_format is not None:
            kwargs["response_format"] = response_format_param(config.response_format)
        return kwargs

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        kwargs = self.request_params(messages, config, context)
        async with self._gate.slot():
            start = time.perf_counter()
            try:
                completion = await self._client.chat.completions.create(**kwargs)
            except openai.OpenAIError as exc:
                raise self._to_model_error(exc) from None
            except BODY_DECODE_ERRORS as exc:
                raise self.bad_response(exc) from None
            latency = time.perf_counter() - start
        return self.completion_output(completion, latency)

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
        latency_s=latency,
        request_id=getattr(completion, "_request_id", None),  # a batch result has none
        extra=extra,
    )
