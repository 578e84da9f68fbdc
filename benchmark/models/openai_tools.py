"""Function calling on OpenAI's two APIs (and OpenAI-compatible servers): the tools, the turns
that made or answered calls, and the calls in a reply.

Chat Completions:
- `tools=[{type: function, function: {name, description, parameters}}]`; `tool_choice` None
  sends nothing (the API's default, auto), "auto" / "required" as they are, a tool's name ->
  `{type: function, function: {name}}`; `parallel_tool_calls` is left at its default;
- an assistant turn with calls -> `{role: assistant, content: text or null, tool_calls:
  [{id, type: function, function: {name, arguments}}]}`; a tool turn -> `{role: tool,
  tool_call_id, content}` (Chat Completions has no error flag: the result text says it);
- the reply's `message.tool_calls` (function ones) -> ToolCall, `arguments` as sent.

Responses API:
- `tools=[{type: function, name, description, parameters, strict: false}]` (strict mode would
  demand a closed schema); `tool_choice` as above, a name -> `{type: function, name}`;
- an assistant turn -> its carried reasoning items, a message if it has text, then one
  `function_call` item per call (without the item's `fc_` id: with `store=False` an echoed
  id names an item the API did not keep; `call_id` pairs it with its output); a tool turn ->
  a `function_call_output` item (no error flag either);
- the reply's `function_call` items -> ToolCall (`id` = the item's `call_id`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from benchmark.models.base import ChatMessage, GenerateConfig, ToolCall


def chat_tool_params(config: GenerateConfig) -> dict[str, Any]:
    """Chat Completions `tools` and `tool_choice` ({}: no tools)."""
    if not config.tools:
        return {}
    params: dict[str, Any] = {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in config.tools
        ]
    }
    choice = config.tool_choice
    if choice in ("auto", "required"):
        params["tool_choice"] = choice
    elif choice is not None:
        params["tool_choice"] = {"type": "function", "function": {"name": choice}}
    return params


def chat_message(message: ChatMessage) -> dict[str, Any]:
    """One Chat Completions message."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def chat_reply_tool_calls(calls: Iterable[Any] | None) -> list[ToolCall]:
    """A Chat Completions reply's function calls (custom tool calls are not ours)."""
    return [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
        for call in calls or ()
        if call.type == "function"
    ]


def responses_tool_params(config: GenerateConfig) -> dict[str, Any]:
    """Responses `tools` and `tool_choice` ({}: no tools)."""
    if not config.tools:
        return {}
    params: dict[str, Any] = {
        "tools": [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in config.tools
        ]
    }
    choice = config.tool_choice
    if choice in ("auto", "required"):
        params["tool_choice"] = choice
    elif choice is not None:
        params["tool_choice"] = {"type": "function", "name": choice}
    return params


def responses_turn(message: ChatMessage) -> list[dict[str, Any]]:
    """The `input` items of one non-system turn, an assistant one after its reasoning."""
    if message.role == "tool":
        return [
            {
                "type": "function_call_output",
                "call_id": message.tool_call_id,
                "output": message.content,
            }
        ]
    items: list[dict[str, Any]] = []
    if message.role == "assistant":
        items += [dict(c) for c in message.carry if c.get("type") == "reasoning"]
    if message.content or not message.tool_calls:
        items.append({"type": "message", "role": message.role, "content": message.content})
    items += [
        {
            "type": "function_call",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments,
        }
        for call in message.tool_calls
    ]
    return items


def responses_reply_tool_calls(output: Iterable[Any]) -> list[ToolCall]:
    """A Response's `function_call` items as ToolCalls, in order."""
    return [
        ToolCall(id=item.call_id, name=item.name, arguments=item.arguments)
        for item in output
        if item.type == "function_call"
    ]
