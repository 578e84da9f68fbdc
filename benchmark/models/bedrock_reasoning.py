"""Reasoning on Bedrock's Converse API: effort and thinking for Anthropic models, and their
reasoning blocks carried from one turn to the next.

Converse has no reasoning knob of its own; Anthropic's go through `additionalModelRequestFields`
as the Messages API spells them (AWS's "Adaptive thinking" and "Extended thinking" pages):
`thinking` {"type": "adaptive"} / {"type": "enabled", "budget_tokens": N} / {"type":
"disabled"} (with `display` when set) and `output_config` {"effort": ...}. Other models'
knobs differ (and are not mapped), so effort or thinking for them is refused in one line.

A reply's `reasoningContent` blocks (`reasoningText` with its `signature`, or
`redactedContent`) become `ModelOutput.carry`, in the JSON form Bedrock sent, and go back
before the text of that assistant turn. The botocore locked beside checkov (1.35.x) predates
these blocks: its parser turns them into `SDK_UNKNOWN_MEMBER` and its serializer would drop
them. So, as bedrock.py does for the cache counts, the reply's blocks are read from the raw
body (`after-call`), and a request's are written into the serialized body just before it is
signed (`before-parameter-build` takes them out of the parameters, `before-call` puts them
into the JSON), whichever botocore is installed.
"""

from __future__ import annotations

import json
from typing import Any

from benchmark.models.base import ChatMessage, GenerateConfig
from benchmark.models.bedrock_tools import converse_turns

REASONING = "reasoningContent"  # the content block's key
WIRE_MESSAGES = "benchmark_wire_messages"  # the parameter that smuggles the full messages
ANTHROPIC = "anthropic."  # in every Anthropic model id, inference profile and ARN


def reasoning_fields(model: str, config: GenerateConfig) -> dict[str, Any]:
    """The `additionalModelRequestFields` for `config`'s effort and thinking ({}: none);
    ValueError, in words for the user, for a setting this model cannot take here."""
    asked = {
        name: value
        for name, value in (
            ("effort", config.effort),
            ("thinking", config.thinking),
            ("thinking_display", config.thinking_display),
        )
        if value is not None
    }
    if not asked:
        return {}
    if ANTHROPIC not in model:
        setting = ", ".join(f"model.{k}={v}" for k, v in asked.items())
        raise ValueError(
            f"{setting}: on Bedrock effort and thinking are sent to Anthropic models only "
            "(through additionalModelRequestFields); this model's knob is not mapped"
        )
    fields: dict[str, Any] = {}
    if config.effort is not None:
        fields["output_config"] = {"effort": config.effort}
    thinking = config.thinking
    if thinking is None or thinking == "off":
        if config.thinking_display is not None:
            raise ValueError(
                f"model.thinking_display={config.thinking_display} needs model.thinking "
                "adaptive or a token budget"
            )
        if thinking == "off":
            fields["thinking"] = {"type": "disabled"}
        return fields
    if thinking == "adaptive":
        fields["thinking"] = {"type": "adaptive"}
    elif isinstance(thinking, int) and not isinstance(thinking, bool) and thinking > 0:
        fields["thinking"] = {"type": "enabled", "budget_tokens": thinking}
    else:
        raise ValueError(f"model.thinking={thinking!r}: expected off, adaptive or a budget")
    if config.thinking_display is not None:
        fields["thinking"]["display"] = config.thinking_display
    return fields


def wire_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """The Converse `messages`, each assistant turn led by its carried reasoning blocks
    (carry items of other providers are ignored); tool use as bedrock_tools.py maps it."""
    return converse_turns(messages, lambda m: [dict(c) for c in m.carry if REASONING in c])


def plain_messages(wire: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`wire` without reasoning blocks: what any botocore validates and serializes."""
    return [{**m, "content": [b for b in m["content"] if REASONING not in b]} for m in wire]


def stash_wire_messages(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """`before-parameter-build`: keep the full messages out of botocore's validation."""
    wire = params.pop(WIRE_MESSAGES, None)
    if wire is not None:
        context[WIRE_MESSAGES] = wire


def inject_wire_messages(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """`before-call`: put the full messages into the serialized JSON body (signed after)."""
    wire = context.get(WIRE_MESSAGES)
    if wire is None:
        return
    body = json.loads(params["body"])
    body["messages"] = wire
    params["body"] = json.dumps(body).encode()


def keep_reasoning_blocks(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """`after-call`: the reply's content as sent when it holds reasoning blocks (which this
    botocore may not model, or models with bytes where the carry needs the JSON form)."""
    try:
        content = parsed["output"]["message"]["content"]
    except (KeyError, TypeError):
        return
    if not isinstance(content, list) or all(
        isinstance(b, dict) and REASONING not in b and "SDK_UNKNOWN_MEMBER" not in b
        for b in content
    ):
        return
    try:
        raw = json.loads(http_response.content)["output"]["message"]["content"]
    except (ValueError, TypeError, KeyError):
        return
    if isinstance(raw, list):
        parsed["output"]["message"]["content"] = raw


def carried(blocks: list[Any]) -> list[dict[str, Any]]:
    """The reply's reasoning blocks, to send back with this turn."""
    return [b for b in blocks if isinstance(b, dict) and REASONING in b]
