"""How the Anthropic provider asks for reasoning and structured output, and reads them back.

Request (the Messages API and Message Batches alike):

- `GenerateConfig.effort` -> `output_config.effort`. Anthropic has `low`, `medium`, `high`,
  `xhigh` and `max` (ANTHROPIC_EFFORTS, the SDK's own list); `none` and `minimal` have no
  Anthropic value, and the Models API cannot report one (its effort capability lists only
  those five), so they are refused in one line before anything is sent. Whether a model takes
  a level is the job-start check's business (capabilities); the API answers 400 otherwise.
- `GenerateConfig.thinking`: "off" -> `{"type": "disabled"}`; "adaptive" ->
  `{"type": "adaptive"}`; an int -> `{"type": "enabled", "budget_tokens": n}` (at least
  1024 and below `max_tokens`, as the API demands); `thinking_display` adds `display` to the
  last two; None sends nothing (the model's default: some models think by default, some
  cannot turn thinking off).
- `response_format="json_schema"` -> `output_config.format` with TEMPLATE_JSON_SCHEMA.
- An assistant turn with `carry` goes out as content blocks `[*thinking blocks, text]`:
  thinking and redacted_thinking blocks first, exactly as the API sent them (their
  signatures intact), then the turn's text. Carry items of other providers are ignored.

Reply: `carry` is the reply's thinking and redacted_thinking blocks, in order, as API dicts
(only the fields the server sent); `thinking_display` is what the reply shows (the API does
not echo the setting): "summarized" when a thinking block has text, "omitted" when its
thinking blocks are empty (signature only), None when it has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from benchmark.models.base import ChatMessage, GenerateConfig
from benchmark.models.template_schema import TEMPLATE_JSON_SCHEMA

# output_config.effort's values in the SDK's OutputConfigParam (tests hold the two equal)
ANTHROPIC_EFFORTS = ("low", "medium", "high", "xhigh", "max")
THINKING_DISPLAYS = ("summarized", "omitted")
CARRIED_TYPES = frozenset({"thinking", "redacted_thinking"})
MIN_BUDGET_TOKENS = 1024  # the API's floor for thinking.budget_tokens


class RequestRefused(ValueError):
    """A setting this API has no value for; the message is one line."""


def output_config(config: GenerateConfig) -> dict[str, Any] | None:
    """`output_config` for the call (None: send none)."""
    out: dict[str, Any] = {}
    if config.effort is not None:
        if config.effort not in ANTHROPIC_EFFORTS:
            raise RequestRefused(
                f"effort {config.effort!r} has no Anthropic value "
                f"(output_config.effort takes {', '.join(ANTHROPIC_EFFORTS)})"
            )
        out["effort"] = config.effort
    if config.response_format is not None:
        if config.response_format != "json_schema":
            raise RequestRefused(
                f"response_format {config.response_format!r} is not sent to Anthropic "
                "(it takes json_schema)"
            )
        out["format"] = {"type": "json_schema", "schema": TEMPLATE_JSON_SCHEMA}
    return out or None


def thinking_param(config: GenerateConfig) -> dict[str, Any] | None:
    """`thinking` for the call (None: send none, the model's default)."""
    thinking, display = config.thinking, config.thinking_display
    if display is not None and display not in THINKING_DISPLAYS:
        raise RequestRefused(
            f"thinking_display {display!r} is not one of {', '.join(THINKING_DISPLAYS)}"
        )
    if thinking is None:
        return None
    if thinking == "off":
        return {"type": "disabled"}
    if thinking == "adaptive":
        out: dict[str, Any] = {"type": "adaptive"}
    elif isinstance(thinking, int) and not isinstance(thinking, bool):
        if not MIN_BUDGET_TOKENS <= thinking < config.max_tokens:
            raise RequestRefused(
                f"thinking budget {thinking} must be at least {MIN_BUDGET_TOKENS} and below "
                f"max_tokens ({config.max_tokens})"
            )
        out = {"type": "enabled", "budget_tokens": thinking}
    else:
        raise RequestRefused(f"thinking {thinking!r} is not off, adaptive or a token budget")
    if display is not None:
        out["display"] = display
    return out


def thinking_on(config: GenerateConfig) -> bool:
    """The call asks for thinking (adaptive or a budget)."""
    return config.thinking is not None and config.thinking != "off"


def carried_blocks(message: ChatMessage) -> list[dict[str, Any]]:
    """The thinking blocks an assistant turn sends back (other providers' items dropped)."""
    if message.role != "assistant":
        return []
    return [dict(item) for item in message.carry if item.get("type") in CARRIED_TYPES]


def reply_carry(content: Iterable[Any]) -> list[dict[str, Any]]:
    """A reply's thinking and redacted_thinking blocks, in order, as the API sent them."""
    return [block.to_dict() for block in content if block.type in CARRIED_TYPES]


def shown_display(carry: list[dict[str, Any]]) -> str | None:
    """What the reply's thinking blocks show: summarized, omitted, or None (no thinking)."""
    thinking = [block for block in carry if block.get("type") == "thinking"]
    if not thinking:
        return None
    return "summarized" if any(block.get("thinking") for block in thinking) else "omitted"
