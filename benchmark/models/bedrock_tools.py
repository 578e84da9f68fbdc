"""Tool use on Bedrock's Converse API, as the locked botocore (1.35.x) models it.

- `GenerateConfig.tools` -> `toolConfig={tools: [{toolSpec: {name, description, inputSchema:
  {json: schema}}}], toolChoice}`; `tool_choice` None sends no toolChoice (Converse's
  default, auto), "auto" -> `{auto: {}}`, "required" -> `{any: {}}`, a tool's name ->
  `{tool: {name}}` (Converse documents the last for Anthropic models only; others answer
  their own ValidationException). An Anthropic model thinking takes only auto (as on the
  Messages API: benchmark/models/anthropic_tools.py), so there a forced choice goes as auto.
- An assistant turn -> `[*leading blocks (reasoning), {text} if it has text (Converse refuses
  a blank text block), *{toolUse: {toolUseId, name, input}}]`, the input an object (arguments
  that are not a JSON object go back as `{}`).
- Consecutive tool turns -> ONE user message of `toolResult` blocks `{toolUseId, content:
  [{text}], status}` in order (status "error" when `is_error`; left out otherwise, as
  Converse documents it for Anthropic models only), followed by the text of a user turn
  right after them, if one comes (Converse wants the roles alternating).
- The reply's `toolUse` blocks -> ToolCall (`arguments` = `json.dumps(input)`), in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from benchmark.models.base import ChatMessage, GenerateConfig, ToolCall

TOOL_RESULT = "toolResult"


def tool_config(config: GenerateConfig, *, thinking: bool = False) -> dict[str, Any] | None:
    """The Converse `toolConfig` (None: no tools); `thinking`: the request turns an Anthropic
    model's thinking on (a forced choice then goes as auto)."""
    if not config.tools:
        return None
    out: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": t.name,
                    "description": t.description,
                    "inputSchema": {"json": t.parameters},
                }
            }
            for t in config.tools
        ]
    }
    choice = config.tool_choice
    if choice == "auto" or (choice is not None and thinking):
        out["toolChoice"] = {"auto": {}}
    elif choice == "required":
        out["toolChoice"] = {"any": {}}
    elif choice is not None:
        out["toolChoice"] = {"tool": {"name": choice}}
    return out


def converse_turns(
    messages: Sequence[ChatMessage], leading: Callable[[ChatMessage], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The Converse `messages` (system messages left out); `leading(m)` gives the blocks an
    assistant turn starts with (its carried reasoning)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            blocks = [_result(message)]
        else:
            blocks = leading(message) if message.role == "assistant" else []
            if message.content or not message.tool_calls:
                blocks.append({"text": message.content})
            blocks += [
                {"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.parsed() or {}}}
                for c in message.tool_calls
            ]
        role = "assistant" if message.role == "assistant" else "user"
        last = out[-1]["content"] if out else []
        if role == "user" and any(TOOL_RESULT in b for b in last):
            last += blocks  # results, or the user's words after them: one turn
        else:
            out.append({"role": role, "content": blocks})
    return out


def _result(message: ChatMessage) -> dict[str, Any]:
    block: dict[str, Any] = {
        "toolUseId": message.tool_call_id or "",
        "content": [{"text": message.content}],
    }
    if message.is_error:
        block["status"] = "error"
    return {TOOL_RESULT: block}


def reply_tool_calls(blocks: list[Any]) -> list[ToolCall]:
    """The reply's toolUse blocks as ToolCalls, in order."""
    return [
        ToolCall(
            id=b["toolUse"]["toolUseId"],
            name=b["toolUse"]["name"],
            arguments=json.dumps(b["toolUse"].get("input")),
        )
        for b in blocks
        if isinstance(b, dict) and "toolUse" in b
    ]
