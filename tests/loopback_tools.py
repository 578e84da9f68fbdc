"""The loopback server as a model that calls tools, on every API the providers speak.

    api = AnthropicToolsApi([Turn("", tool_uses=(tool_use(Call("toolu_1", "f", "{}")),))])
    server = ToolsServer([ToolReply("", calls=(Call("call_1", "f", '{"a": 1}'),))])

- Anthropic (`AnthropicToolsApi`, a `route` like tests/loopback_anthropic_reasoning.py's
  ReasoningApi, thinking and streaming included): a `Turn`'s `tool_uses` are SDK
  `ToolUseBlock`s after its text.
- OpenAI Chat Completions and Responses, OpenAI-compatible servers (`ToolsServer`, an OpenAI
  reasoning server of tests/loopback_openai_reasoning.py): a `ToolReply`'s `calls` become
  `ChatCompletionMessageFunctionToolCall`s / `ResponseFunctionToolCall` items (after the
  reasoning item), their `arguments` sent exactly as scripted, malformed JSON included.
- Bedrock Converse (`ToolsBedrockServer`, the thinking Converse server of
  tests/loopback_bedrock_reasoning.py): `toolUse` blocks, `stopReason: tool_use`.

Every reply is built from the SDK's own types where the SDK has them, and every request is
checked as the API would check it, answered 400 otherwise (`ledger.refusals` says why): the
tools and tool choice against the SDK's param types (`ToolParam`, `ChatCompletionToolParam`,
`FunctionToolParam`, ...) or Converse's documented shape; and the conversation: each tool
call sent back must be one this server made (same id, name and arguments), and be answered,
before anything else is said, by tool results carrying exactly its ids; a result that
answers no pending call is refused, as is a forced tool choice with thinking on (Anthropic
and Claude on Bedrock take only auto then). On Responses each replayed `function_call` must follow
the reasoning item of its reply; on Converse tool blocks need a `toolConfig`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pydantic
from anthropic import types as at
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolChoiceOptionParam,
    ChatCompletionToolParam,
)
from openai.types.chat.chat_completion_message_function_tool_call import Function
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseFunctionToolCall,
    ResponseInputItemParam,
)
from openai.types.responses.response_create_params import ToolChoice

from tests.loopback import Fault, LoggedRequest, Reply, _Answer
from tests.loopback_anthropic_reasoning import ReasoningApi, Turn
from tests.loopback_bedrock_reasoning import ThinkingBedrockServer
from tests.loopback_openai_reasoning import ReasoningServer, _is_responses

# the API's refusal of a forced tool choice with thinking on (Anthropic, and Claude on Bedrock)
FORCED_WHILE_THINKING = "Thinking may not be enabled when tool_choice forces tool use."
# a step of a conversation, as the ledger reads it: ("calls", [(id, name, arguments)]),
# ("results", [(id, content, is_error)]) or ("text", [])
Step = tuple[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Call:
    """One scripted tool call; `arguments` is the JSON text the model sends (Anthropic and
    Bedrock send an object: there it must be one)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolReply(Reply):
    """A Reply (OpenAI, Bedrock) that also calls tools."""

    calls: tuple[Call, ...] = ()


def tool_use(call: Call) -> at.ToolUseBlock:
    """`call` as the Anthropic SDK's ToolUseBlock (for `Turn.tool_uses`)."""
    return at.ToolUseBlock(
        type="tool_use", id=call.id, name=call.name, input=json.loads(call.arguments)
    )


@dataclass
class Ledger:
    """The calls this server made and the checks of the conversations sent back."""

    issued: dict[str, Call] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)  # why each 400 was answered
    results: list[list[tuple[Any, ...]]] = field(default_factory=list)  # per request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, calls: tuple[Call, ...]) -> None:
        with self.lock:
            self.issued.update((c.id, c) for c in calls)

    def refuse(self, problem: str) -> str:
        with self.lock:
            self.refusals.append(problem)
        return problem

    def check(self, steps: list[Step]) -> str | None:
        """Why the API would refuse this conversation, or None (its results recorded)."""
        pending: list[str] = []
        results: list[tuple[Any, ...]] = []
        for kind, items in steps:
            if kind == "results":
                for result in items:
                    if result[0] not in pending:
                        return f"tool result for {result[0]!r} answers no pending tool call"
                    pending.remove(result[0])
                results += items
                continue
            if pending:
                return f"tool calls {pending} have no tool result right after them"
            for call_id, name, arguments in items:
                with self.lock:
                    issued = self.issued.get(call_id)
                if issued is None or (issued.name, _same(issued.arguments)) != (
                    name,
                    _same(arguments),
                ):
                    return f"tool call {call_id!r} is not the call this model made"
            pending = [item[0] for item in items]
        if pending:
            return f"tool calls {pending} have no tool result"
        with self.lock:
            self.results.append(results)
        return None


def _same(arguments: Any) -> Any:
    """Arguments as comparable: an object as itself, JSON text parsed when it parses."""
    if isinstance(arguments, str):
        try:
            return ("json", json.loads(arguments))
        except ValueError:
            return ("text", arguments)
    return ("json", arguments)


def _forced(name: Any, names: list[Any]) -> str | None:
    """The API's refusal of a tool choice naming a tool it was not given, or None."""
    if name and name not in names:
        return f"tool_choice: tool {name!r} is not among the tools"
    return None


def _invalid(kind: Any, value: Any, where: str) -> str | None:
    """The SDK param type's complaint about `value`, in one line, or None."""
    try:
        pydantic.TypeAdapter(kind).validate_python(value)
    except pydantic.ValidationError as exc:
        return f"{where}: {exc.errors()[0]['msg']}"
    return None


# -- Anthropic -------------------------------------------------------------------------------


class AnthropicToolsApi(ReasoningApi):
    """ReasoningApi that checks tool use in requests and issues `Turn.tool_uses`."""

    def __init__(self, turns: Any, **kw: Any) -> None:
        super().__init__(turns, **kw)
        self.ledger = Ledger()

    def _problem(self, body: dict[str, Any]) -> str | None:
        problem = super()._problem(body)
        if problem is not None:
            return problem
        problem = next(
            (
                p
                for i, tool in enumerate(body.get("tools") or [])
                if (p := _invalid(at.ToolParam, tool, f"tools.{i}")) is not None
            ),
            None,
        ) or next(
            (
                p
                for i, message in enumerate(body.get("messages") or [])
                if (p := _invalid(at.MessageParam, message, f"messages.{i}")) is not None
            ),
            None,
        )
        if problem is None and "tool_choice" in body:
            problem = _invalid(at.ToolChoiceParam, body["tool_choice"], "tool_choice")
            names = [t.get("name") for t in body.get("tools") or []]
            problem = problem or _forced(body["tool_choice"].get("name"), names)
            thinks = (body.get("thinking") or {}).get("type") in ("adaptive", "enabled")
            if problem is None and thinks and body["tool_choice"].get("type") in ("any", "tool"):
                problem = FORCED_WHILE_THINKING
        problem = problem or self.ledger.check(_anthropic_steps(body.get("messages") or []))
        return None if problem is None else self.ledger.refuse(problem)

    def _turn(self, body: dict[str, Any]) -> Turn:
        turn = super()._turn(body)
        self.ledger.issue(tuple(Call(b.id, b.name, json.dumps(b.input)) for b in turn.tool_uses))
        return turn


def _anthropic_steps(messages: list[dict[str, Any]]) -> list[Step]:
    steps: list[Step] = []
    for message in messages:
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text"}]
        for block in blocks:
            kind = block.get("type")
            if kind == "tool_use":
                item = (block.get("id"), block.get("name"), block.get("input"))
                _extend(steps, "calls", item)
            elif kind == "tool_result":
                item = (block.get("tool_use_id"), block.get("content"), block.get("is_error"))
                _extend(steps, "results", item)
            elif kind == "text":
                steps.append(("text", []))
    return steps


def _extend(steps: list[Step], kind: str, item: tuple[Any, ...]) -> None:
    """Add `item` to the last step when it is of `kind` (parallel calls, one turn's results)."""
    if steps and steps[-1][0] == kind:
        steps[-1][1].append(item)
    else:
        steps.append((kind, [item]))


# -- OpenAI: Chat Completions and Responses -----------------------------------------------------


class ToolsServer(ReasoningServer):
    """An OpenAI reasoning server whose `ToolReply`s call tools (see the module docstring)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.ledger = Ledger()

    def respond(self, entry: LoggedRequest) -> _Answer:
        body = entry.body if isinstance(entry.body, dict) else {}
        responses = _is_responses(entry.path)
        if entry.api == "openai" or responses:
            entry.api = "openai"
            check = self._responses_problem if responses else self._chat_problem
            problem = check(body)
            if problem is not None:
                fault = Fault(400, message=self.ledger.refuse(problem), code="invalid_tools")
                return self._fault_answer(entry, fault, f"req_loop_{entry.index:04d}")
        return super().respond(entry)

    def _chat_problem(self, body: dict[str, Any]) -> str | None:
        messages = body.get("messages") or []
        problem = _first(
            [_invalid(ChatCompletionToolParam, t, f"tools.{i}") for i, t in _each(body, "tools")]
            + [
                _invalid(ChatCompletionMessageParam, m, f"messages.{i}")
                for i, m in enumerate(messages)
            ]
        )
        if problem is None and "tool_choice" in body:
            problem = _invalid(
                ChatCompletionToolChoiceOptionParam, body["tool_choice"], "tool_choice"
            )
            choice = body["tool_choice"]
            names = [(t.get("function") or {}).get("name") for t in body.get("tools") or []]
            named = isinstance(choice, dict) and (choice.get("function") or {}).get("name")
            problem = problem or _forced(named, names)
        steps: list[Step] = []
        for m in messages:
            if m.get("role") == "tool":
                steps.append(("results", [(m.get("tool_call_id"), m.get("content"), None)]))
            elif m.get("tool_calls"):
                if m.get("content"):
                    steps.append(("text", []))
                calls = [
                    (c["id"], c["function"]["name"], c["function"]["arguments"])
                    for c in m["tool_calls"]
                ]
                steps.append(("calls", calls))
            else:
                steps.append(("text", []))
        return problem or self.ledger.check(steps)

    def _responses_problem(self, body: dict[str, Any]) -> str | None:
        items = body.get("input") or []
        problem = _first(
            [_invalid(FunctionToolParam, t, f"tools.{i}") for i, t in _each(body, "tools")]
            + [_invalid(ResponseInputItemParam, item, f"input.{i}") for i, item in enumerate(items)]
        )
        if problem is None and "tool_choice" in body:
            problem = _invalid(ToolChoice, body["tool_choice"], "tool_choice")
            choice, names = body["tool_choice"], [t.get("name") for t in body.get("tools") or []]
            problem = problem or _forced(isinstance(choice, dict) and choice.get("name"), names)
        steps: list[Step] = []
        for i, item in enumerate(items):
            kind = item.get("type")
            if kind == "function_call":
                if not self._after_reasoning(items, i):
                    return problem or (
                        f"input.{i}: a function_call without the reasoning item of its reply "
                        "before it"
                    )
                item_call = (item.get("call_id"), item.get("name"), item.get("arguments"))
                _extend(steps, "calls", item_call)
            elif kind == "function_call_output":
                steps.append(("results", [(item.get("call_id"), item.get("output"), None)]))
            elif kind != "reasoning":
                steps.append(("text", []))
        return problem or self.ledger.check(steps)

    def _after_reasoning(self, items: list[dict[str, Any]], i: int) -> bool:
        """Whether items[i] follows (past its reply's message and calls) an issued reasoning
        item."""
        j = i - 1
        while j >= 0 and (
            items[j].get("type") == "function_call" or items[j].get("role") == "assistant"
        ):
            j -= 1
        return j >= 0 and items[j].get("type") == "reasoning" and items[j].get("id") in self.issued

    def _openai_body(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply
    ) -> dict[str, Any]:
        body = super()._openai_body(entry, req, reply)
        calls = reply.calls if isinstance(reply, ToolReply) else ()
        if not calls:
            return body
        self.ledger.issue(calls)
        message = body["choices"][0]["message"]
        message["content"] = message["content"] or None
        message["tool_calls"] = [
            ChatCompletionMessageFunctionToolCall(
                id=c.id, type="function", function=Function(name=c.name, arguments=c.arguments)
            ).to_dict(mode="json")
            for c in calls
        ]
        body["choices"][0]["finish_reason"] = "tool_calls"
        return ChatCompletion.model_validate(body).to_dict(mode="json")

    def _response(self, entry: LoggedRequest, req: dict[str, Any], reply: Reply) -> Response:
        response = super()._response(entry, req, reply)
        calls = reply.calls if isinstance(reply, ToolReply) else ()
        self.ledger.issue(calls)
        response.output += [
            ResponseFunctionToolCall(
                type="function_call",
                id=f"fc_{c.id}",
                call_id=c.id,
                name=c.name,
                arguments=c.arguments,
                status="completed",
            )
            for c in calls
        ]
        return response


def _each(body: dict[str, Any], key: str) -> list[tuple[int, Any]]:
    return list(enumerate(body.get(key) or []))


def _first(problems: list[str | None]) -> str | None:
    return next((p for p in problems if p is not None), None)


# -- Bedrock Converse --------------------------------------------------------------------------

CHOICES = ("auto", "any", "tool")


class ToolsBedrockServer(ThinkingBedrockServer):
    """The thinking Converse server, with tool use (see the module docstring)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.ledger = Ledger()

    def respond(self, entry: LoggedRequest) -> _Answer:
        body = entry.body if isinstance(entry.body, dict) else {}
        if entry.api == "bedrock":
            problem = self._problem(body)
            if problem is not None:
                fault = Fault(400, message=self.ledger.refuse(problem))
                return self._fault_answer(entry, fault, f"req_loop_{entry.index:04d}")
        return super().respond(entry)

    def _problem(self, body: dict[str, Any]) -> str | None:
        steps: list[Step] = []
        for message in body.get("messages") or []:
            for block in message.get("content") or []:
                if "toolUse" in block:
                    use = block["toolUse"]
                    _extend(
                        steps, "calls", (use.get("toolUseId"), use.get("name"), use.get("input"))
                    )
                elif "toolResult" in block:
                    result = block["toolResult"]
                    item = (result.get("toolUseId"), result.get("content"), result.get("status"))
                    _extend(steps, "results", item)
                elif "text" in block:
                    steps.append(("text", []))
        config = body.get("toolConfig")
        if config is None:
            if any(kind != "text" for kind, _ in steps):
                return (
                    "The toolConfig field must be defined when using toolUse and toolResult "
                    "content blocks."
                )
            return self.ledger.check(steps)
        for i, tool in enumerate(config.get("tools") or [None]):
            spec = (tool or {}).get("toolSpec") or {}
            if not (
                isinstance(spec.get("name"), str)
                and isinstance(spec.get("description"), str)
                and isinstance((spec.get("inputSchema") or {}).get("json"), dict)
            ):
                return f"toolConfig.tools.{i}: a toolSpec needs name, description, inputSchema.json"
        choice = config.get("toolChoice")
        if choice is not None and (len(choice) != 1 or next(iter(choice)) not in CHOICES):
            return f"toolConfig.toolChoice: one of {', '.join(CHOICES)}"
        fields = body.get("additionalModelRequestFields") or {}
        thinks = (fields.get("thinking") or {}).get("type") in ("adaptive", "enabled")
        if thinks and choice is not None and "auto" not in choice:
            return FORCED_WHILE_THINKING
        names = [((t or {}).get("toolSpec") or {}).get("name") for t in config.get("tools") or []]
        problem = _forced(((choice or {}).get("tool") or {}).get("name"), names)
        if problem is not None:
            return problem
        return self.ledger.check(steps)

    def _bedrock_body(self, req: dict[str, Any], reply: Reply) -> dict[str, Any]:
        body = super()._bedrock_body(req, reply)
        calls = reply.calls if isinstance(reply, ToolReply) else ()
        if not calls:
            return body
        self.ledger.issue(calls)
        content = body["output"]["message"]["content"]
        if not reply.text:
            content[:] = [b for b in content if "text" not in b]
        content += [
            {"toolUse": {"toolUseId": c.id, "name": c.name, "input": json.loads(c.arguments)}}
            for c in calls
        ]
        body["stopReason"] = "tool_use"
        return body
