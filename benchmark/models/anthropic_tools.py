"""How the Anthropic provider sends a conversation with tool use, and reads tool calls back.

Request (the Messages API and Message Batches alike):

- `GenerateConfig.tools` -> `tools=[{name, description, input_schema}]`; `tool_choice` None
  sends nothing (the API's default, auto), "auto" -> `{"type": "auto"}`, "required" ->
  `{"type": "any"}`, a tool's name -> `{"type": "tool", "name": ...}`. With thinking on, the
  API takes only auto ("thinking may not be enabled when tool_choice forces tool use", a 400
  that would stop the job): a forced choice is sent as auto, and the turn's own words (the
  loop asks for a submission in text too) are what asks for the tool.
- An assistant turn goes out as content blocks `[*thinking blocks, text, *tool_use]`: its
  carried thinking blocks first (the API demands them back, unchanged, on a turn with tool
  use), its text if it has any (the API refuses an empty text block), then one `tool_use`
  block per call with the arguments as an object (arguments that are not a JSON object,
  which Anthropic itself never sends, go back as `{}`).
- Consecutive tool turns become ONE user turn of `tool_result` blocks in order (`is_error`
  kept), followed by the text of a user turn that comes right after them, if one does (the
  API wants the results first and the roles alternating).
- A message closing a re-sent prefix (`marks`) has `cache_control` on its last block.

Reply: each `tool_use` block is a ToolCall (`arguments` = `json.dumps(input)`), in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from benchmark.models.anthropic_reasoning import carried_blocks, thinking_on
from benchmark.models.base import ChatMessage, GenerateConfig, ToolCall


def tool_params(config: GenerateConfig) -> dict[str, Any]:
    """`tools` and `tool_choice` for the call ({}: no tools)."""
    if not config.tools:
        return {}
    params: dict[str, Any] = {
        "tools": [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in config.tools
        ]
    }
    choice = config.tool_choice
    if choice == "auto" or (choice is not None and thinking_on(config)):
        params["tool_choice"] = {"type": "auto"}
    elif choice == "required":
        params["tool_choice"] = {"type": "any"}
    elif choice is not None:
        params["tool_choice"] = {"type": "tool", "name": choice}
    return params


def conversation(
    messages: Sequence[ChatMessage], marks: set[int], control: dict[str, Any]
) -> list[dict[str, Any]]:
    """The Messages API `messages` (system messages left out: they go to `system`)."""
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if message.role == "system":
            continue
        blocks = _blocks(message)
        if i in marks:
            blocks[-1] = {**blocks[-1], "cache_control": control}
        role = "assistant" if message.role == "assistant" else "user"
        if role == "user" and out and _answers_tools(out[-1]):
            out[-1]["content"] += blocks  # results, or the user's words after them: one turn
            continue
        if _plain(message, blocks):
            out.append({"role": role, "content": message.content})
        else:
            out.append({"role": role, "content": blocks})
    return out


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        if message.is_error:
            result["is_error"] = True
        return [result]
    blocks = carried_blocks(message)  # thinking blocks go first, as sent
    if message.content or not message.tool_calls:
        blocks.append({"type": "text", "text": message.content})
    blocks += [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.parsed() or {}}
        for call in message.tool_calls
    ]
    return blocks


def _answers_tools(turn: dict[str, Any]) -> bool:
    content = turn["content"]
    return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)


def _plain(message: ChatMessage, blocks: list[dict[str, Any]]) -> bool:
    """A turn that is just its text goes out as a string, as before tool use existed."""
    return message.role != "tool" and blocks == [{"type": "text", "text": message.content}]


def reply_tool_calls(content: Iterable[Any]) -> list[ToolCall]:
    """The reply's tool_use blocks as ToolCalls, in order."""
    return [
        ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input))
        for block in content
        if block.type == "tool_use"
    ]
