"""OpenAI's Responses API (`client.responses.create`): the request of one call and its reply.

Why this API: a reasoning model's reasoning lives in `reasoning` output items, which Chat
Completions never returns; a conversation keeps its reasoning only if each turn sends the
previous turns' reasoning items back. Nothing is stored at OpenAI (`store=False`); instead the
reply's reasoning items come with `encrypted_content` (`include=["reasoning.encrypted_content"]`)
and become `ModelOutput.carry`, which the next turn sends back before that assistant message.

The mapping from the harness's call:
- system messages -> `instructions` (joined by a blank line); user and assistant turns ->
  `input` message items; an assistant turn's `carry` (only `reasoning` items are read, the
  rest is some other provider's) goes before it;
- `max_tokens` -> `max_output_tokens`; `effort` -> `reasoning.effort`; `thinking_display`
  "summarized" -> `reasoning.summary="auto"` ("omitted": no summary, the API's default);
- `tools` / `tool_choice`, turns that made or answered calls, and the reply's `function_call`
  items: benchmark/models/openai_tools.py;
- `response_format` json_object / json_schema -> `text.format` (the template schema of
  benchmark/models/template_schema.py); `seed` is not sent (the Responses API has none).

The reply: `output_text` is the text; `status="incomplete"` gives `finish_reason` =
`incomplete_details.reason` ("max_output_tokens" when cut at the limit), else the status
("completed"); usage gives input / output / cached / reasoning tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openai.types.responses import Response, ResponseReasoningItemParam

from benchmark.models.base import ChatMessage, GenerateConfig, ModelOutput
from benchmark.models.openai_tools import (
    responses_reply_tool_calls,
    responses_tool_params,
    responses_turn,
)
from benchmark.models.template_schema import (
    SCHEMA_DESCRIPTION,
    SCHEMA_NAME,
    TEMPLATE_JSON_SCHEMA,
)

INCLUDE = ["reasoning.encrypted_content"]
# what an input reasoning item may hold: a reply's item is sent back with these keys only
REASONING_KEYS = frozenset(ResponseReasoningItemParam.__annotations__)
SUMMARY = {"summarized": "auto"}  # thinking_display -> reasoning.summary ("omitted": none)


def text_format(kind: str) -> dict[str, Any]:
    """The Responses `text.format` for a `model.response_format` value."""
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        return {
            "type": "json_schema",
            "name": SCHEMA_NAME,
            "description": SCHEMA_DESCRIPTION,
            "schema": TEMPLATE_JSON_SCHEMA,
            "strict": False,
        }
    raise ValueError(f"unknown response_format {kind!r}")


def input_items(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The conversation's turns as `input` items, each assistant turn after its reasoning."""
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role != "system":
            items += responses_turn(message)
    return items


def responses_params(
    name: str, messages: Sequence[ChatMessage], config: GenerateConfig
) -> dict[str, Any]:
    """The `responses.create` body of one call (a Batch API request's `body` too)."""
    params: dict[str, Any] = {
        "model": name,
        "input": input_items(messages),
        "temperature": config.temperature,
        "max_output_tokens": config.max_tokens,
        "store": False,
        "include": INCLUDE,
    }
    system = [m.content for m in messages if m.role == "system"]
    if system:
        params["instructions"] = "\n\n".join(system)
    reasoning: dict[str, Any] = {}
    if config.effort is not None:
        reasoning["effort"] = config.effort
    if config.thinking_display in SUMMARY:
        reasoning["summary"] = SUMMARY[config.thinking_display]
    if reasoning:
        params["reasoning"] = reasoning
    if config.response_format is not None:
        params["text"] = {"format": text_format(config.response_format)}
    params.update(responses_tool_params(config))
    return params


class FailedResponse(Exception):
    """The API answered, but with `status="failed"` and an `error` instead of a reply."""


def responses_output(response: Response, latency: float | None) -> ModelOutput:
    """A Response (online reply or batch result) as a ModelOutput; FailedResponse if it failed.

    Read as sent (the SDK does not validate): ModelOutput judges every figure, and a body of
    the wrong shape raises one of BODY_SHAPE_ERRORS for the caller to report."""
    if response.status == "failed":
        error = response.error
        detail = f"{error.code} {error.message}" if error is not None else "no error given"
        raise FailedResponse(f"response failed: {detail}")
    carry: list[dict[str, Any]] = []
    refusals: list[str] = []
    for item in response.output:
        if item.type == "reasoning":
            dumped = item.model_dump(mode="json", exclude_none=True)
            carry.append({k: v for k, v in dumped.items() if k in REASONING_KEYS})
        elif item.type == "message":
            refusals += [c.refusal for c in item.content if c.type == "refusal"]
    usage = response.usage
    incomplete = response.incomplete_details
    finish = incomplete.reason if response.status == "incomplete" and incomplete else None
    extra = {"refusal": " ".join(refusals)} if refusals else {}
    return ModelOutput(
        text=response.output_text,
        finish_reason=finish or response.status,
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        cached_tokens=getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", None),
        reasoning_tokens=getattr(
            getattr(usage, "output_tokens_details", None), "reasoning_tokens", None
        ),
        latency_s=latency,
        request_id=getattr(response, "_request_id", None),  # a batch result has none
        extra=extra,
        carry=carry,
        service_tier=response.service_tier,
        tool_calls=responses_reply_tool_calls(response.output),
    )
