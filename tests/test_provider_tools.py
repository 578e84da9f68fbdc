"""Native tool use through the real SDK clients of every provider (Anthropic, OpenAI Chat
Completions and Responses, OpenAI-compatible servers, Bedrock Converse) against loopbacks that
call tools and check the turns sent back as the APIs do (tests/loopback_tools.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from anthropic.types import Message
from anthropic.types.messages import MessageBatchSucceededResult

from benchmark.models.anthropic import AnthropicModel
from benchmark.models.anthropic_batch import AnthropicBatchWire
from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
    ToolCall,
    ToolSpec,
)
from benchmark.models.bedrock import BedrockModel
from benchmark.models.openai import OpenAIModel
from benchmark.models.openai_batch import OpenAIBatchWire
from benchmark.models.openai_compatible import OpenAICompatibleModel
from benchmark.models.prompt_cache import PromptCache
from tests.loopback import LoggedRequest, LoopbackServer
from tests.loopback_anthropic_reasoning import Turn
from tests.loopback_tools import (
    AnthropicToolsApi,
    Call,
    Ledger,
    ToolReply,
    ToolsBedrockServer,
    ToolsServer,
    tool_use,
)
from tests.test_bedrock import AWS_CREDENTIALS, MODEL, REGION, aws  # noqa: F401 - a fixture

CTX = CallContext("p1", 0, 1, "yaml")
ASK = [ChatMessage("system", "You write CloudFormation."), ChatMessage("user", "A bucket.")]
TEMPLATE = {"type": "object", "properties": {"template": {"type": "string"}}}
LOOKUP = {"type": "object", "properties": {"resource_type": {"type": "string"}}}
TOOLS = (
    ToolSpec("validate_template", "Lint a template.", TEMPLATE),
    ToolSpec("get_resource_schema", "A resource type's schema.", LOOKUP),
    ToolSpec("submit_template", "The final answer.", TEMPLATE),
)
VALIDATE = Call("call_v1", "validate_template", '{"template": "Resources: {}"}')
LOOK = Call("call_l1", "get_resource_schema", '{"resource_type": "AWS::S3::Bucket"}')
PROVIDERS = ("anthropic", "openai-chat", "openai-responses", "openai-compatible", "bedrock")
OPENAI = ("openai-chat", "openai-responses", "openai-compatible")
Script = list[tuple[str, tuple[Call, ...]]]


def config(**kw: Any) -> GenerateConfig:
    return GenerateConfig(**{"temperature": 1.0, "max_tokens": 4096, "tools": TOOLS, **kw})


@dataclass
class Rig:
    ledger: Ledger
    model: ModelAPI
    server: LoopbackServer
    api: AnthropicToolsApi | None = None

    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.server.requests if r.method == "POST"]


@pytest.fixture
def rig(aws: None) -> Iterator[Callable[[str, Script], Rig]]:  # noqa: F811 - the fixture
    with ExitStack() as stack:

        def start(provider: str, script: Script) -> Rig:
            if provider == "anthropic":
                turns = [
                    Turn(t, tool_uses=tuple(tool_use(c) for c in calls)) for t, calls in script
                ]
                api = AnthropicToolsApi(turns)
                server = stack.enter_context(LoopbackServer(route=api))
                model = AnthropicModel("claude-x", api_key="sk-ant-t", base_url=server.url)
                return Rig(api.ledger, model, server, api)
            replies = [ToolReply(text, calls=calls) for text, calls in script]
            if provider == "bedrock":
                bedrock = stack.enter_context(ToolsBedrockServer(replies))
                model = BedrockModel(MODEL, region=REGION, endpoint_url=bedrock.url)
                return Rig(bedrock.ledger, model, bedrock)
            server = stack.enter_context(ToolsServer(replies))
            url = server.openai_base_url
            if provider == "openai-compatible":
                model = OpenAICompatibleModel("qwen3", api_key="", base_url=url)
            else:
                api_name = "chat" if provider == "openai-chat" else "responses"
                model = OpenAIModel("gpt-5.5", api_key="sk-t", base_url=url, api=api_name)
            return Rig(server.ledger, model, server)

        yield start


Step = Callable[[ModelOutput], list[ChatMessage]]


def answer(*results: str, error: bool = False) -> Step:
    """The previous reply as an assistant turn, then one tool turn per call it made."""

    def turns(out: ModelOutput) -> list[ChatMessage]:
        said = ChatMessage(
            "assistant", out.text, carry=tuple(out.carry), tool_calls=tuple(out.tool_calls)
        )
        return [
            said,
            *(
                ChatMessage("tool", r, tool_call_id=c.id, tool_name=c.name, is_error=error)
                for c, r in zip(out.tool_calls, results, strict=True)
            ),
        ]

    return turns


def drive(model: ModelAPI, cfg: GenerateConfig, *steps: Step) -> list[ModelOutput | ModelError]:
    """ASK, then each step's turns appended to the conversation and sent (a ModelError ends)."""

    async def go() -> list[ModelOutput | ModelError]:
        messages, outs = list(ASK), []
        try:
            for step in (None, *steps):
                if step is not None:
                    messages += step(outs[-1])
                try:
                    outs.append(await model.generate(messages, cfg, CTX))
                except ModelError as exc:
                    return [*outs, exc]
        finally:
            await model.aclose()
        return outs

    return asyncio.run(go())


def result_ids(ledger: Ledger) -> list[str]:
    return [r[0] for r in ledger.results[-1]]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_turn_round_trips(rig: Callable[[str, Script], Rig], provider: str) -> None:
    r = rig(provider, [("", (VALIDATE,)), ("Submitted.", ())])
    first, second = drive(r.model, config(), answer("no findings"))
    assert isinstance(first, ModelOutput) and isinstance(second, ModelOutput), second
    assert first.tool_calls == [ToolCall(VALIDATE.id, VALIDATE.name, first.tool_calls[0].arguments)]
    assert first.tool_calls[0].parsed() == {"template": "Resources: {}"}
    assert (second.text, second.tool_calls) == ("Submitted.", [])
    assert r.ledger.refusals == [] and result_ids(r.ledger) == [VALIDATE.id]
    assert "no findings" in json.dumps(r.ledger.results[-1][0][1])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parallel_tool_calls_in_one_turn(rig: Callable[[str, Script], Rig], provider: str) -> None:
    r = rig(provider, [("Checking both.", (VALIDATE, LOOK)), ("Done.", ())])
    first, second = drive(r.model, config(), answer("no findings", "Properties: ..."))
    assert isinstance(second, ModelOutput), second
    assert [c.name for c in first.tool_calls] == ["validate_template", "get_resource_schema"]
    assert first.text == "Checking both."
    assert result_ids(r.ledger) == [VALIDATE.id, LOOK.id]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_model_that_never_calls_a_tool(rig: Callable[[str, Script], Rig], provider: str) -> None:
    r = rig(provider, [("Resources: {}", ())])
    (out,) = drive(r.model, config())
    assert isinstance(out, ModelOutput) and (out.text, out.tool_calls) == ("Resources: {}", [])


NAMED = {"type": "function", "function": {"name": "submit_template"}}  # Chat Completions
CHOICES = {  # tool_choice submit_template, required, auto as each API takes it
    "anthropic": ({"type": "tool", "name": "submit_template"}, {"type": "any"}, {"type": "auto"}),
    "openai-chat": (NAMED, "required", "auto"),
    "openai-responses": ({"type": "function", "name": "submit_template"}, "required", "auto"),
    "openai-compatible": (NAMED, "required", "auto"),
    "bedrock": ({"tool": {"name": "submit_template"}}, {"any": {}}, {"auto": {}}),
}


def sent_choice(provider: str, body: dict[str, Any]) -> Any:
    return (body["toolConfig"] if provider == "bedrock" else body).get(
        "toolChoice" if provider == "bedrock" else "tool_choice"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_choice_forces_a_named_tool_or_any(
    rig: Callable[[str, Script], Rig], provider: str
) -> None:
    submit = Call("call_s1", "submit_template", '{"template": "Resources: {}"}')
    sent, calls = [], []
    for choice in ("submit_template", "required", "auto", None):
        r = rig(provider, [("", (submit,))])
        (out,) = drive(r.model, config(tool_choice=choice))
        assert isinstance(out, ModelOutput) and r.ledger.refusals == [], out
        sent.append(sent_choice(provider, r.bodies()[0]))
        calls.append(out.tool_calls[0].name)
    assert sent == [*CHOICES[provider], None]  # each as the SDK's param type takes it
    assert calls == ["submit_template"] * 4


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_loopback_refuses_a_forced_tool_it_was_not_given(
    rig: Callable[[str, Script], Rig], provider: str
) -> None:
    r = rig(provider, [("never", ())])
    (out,) = drive(r.model, config(tool_choice="deploy_stack"))
    assert isinstance(out, ModelError) and "deploy_stack" in r.ledger.refusals[-1]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["unknown id", "no result"])
def test_the_loopback_refuses_results_that_do_not_match_the_calls(
    rig: Callable[[str, Script], Rig], provider: str, fault: str
) -> None:
    """The check the round trips pass is real: a wrong id or a missing result is a 400."""
    r = rig(provider, [("", (VALIDATE,)), ("never", ())])

    def wrong(out: ModelOutput) -> list[ChatMessage]:
        turns = answer("no findings")(out)
        if fault == "no result":
            return [*turns[:1], ChatMessage("user", "Go on.")]
        return [turns[0], ChatMessage("tool", "x", tool_call_id="call_other", tool_name="x")]

    _first, second = drive(r.model, config(), wrong)
    assert isinstance(second, ModelError) and "400" in str(second)
    assert r.ledger.refusals


@pytest.mark.parametrize("provider", OPENAI)
def test_malformed_arguments_parse_to_none_and_are_answered_with_an_error(
    rig: Callable[[str, Script], Rig], provider: str
) -> None:
    broken = Call("call_b1", "validate_template", '{"template": "Resources: {')
    r = rig(provider, [("", (broken,)), ("Fixed.", ())])
    first, second = drive(r.model, config(), answer("arguments are not JSON", error=True))
    assert isinstance(second, ModelOutput), second
    assert first.tool_calls[0].arguments == broken.arguments  # kept as the model sent it
    assert first.tool_calls[0].parsed() is None
    assert result_ids(r.ledger) == [broken.id]  # replayed exactly, answered by id


TOOL_SHAPES = {
    "anthropic": (
        "tools",
        {"name": "validate_template", "description": "Lint a template.", "input_schema": TEMPLATE},
    ),
    "openai-chat": (
        "tools",
        {
            "type": "function",
            "function": {
                "name": "validate_template",
                "description": "Lint a template.",
                "parameters": TEMPLATE,
            },
        },
    ),
    "openai-responses": (
        "tools",
        {
            "type": "function",
            "name": "validate_template",
            "description": "Lint a template.",
            "parameters": TEMPLATE,
            "strict": False,
        },
    ),
    "bedrock": (
        "toolConfig",
        {
            "toolSpec": {
                "name": "validate_template",
                "description": "Lint a template.",
                "inputSchema": {"json": TEMPLATE},
            }
        },
    ),
}


@pytest.mark.parametrize("provider", sorted(TOOL_SHAPES))
def test_tools_go_out_as_each_api_takes_them(
    rig: Callable[[str, Script], Rig], provider: str
) -> None:
    r = rig(provider, [("Resources: {}", ())])
    drive(r.model, config())
    key, shape = TOOL_SHAPES[provider]
    tools = r.bodies()[0][key]
    first = tools["tools"][0] if provider == "bedrock" else tools[0]
    assert first == shape and "parallel_tool_calls" not in r.bodies()[0]


def test_anthropic_tool_results_are_one_user_turn_with_errors_kept(
    rig: Callable[[str, Script], Rig],
) -> None:
    r = rig("anthropic", [("Both.", (VALIDATE, LOOK)), ("Done.", ())])
    drive(r.model, config(), answer("E3002 ...", "unknown type", error=True))
    assistant, results = r.bodies()[1]["messages"][1:]
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use", "tool_use"]
    assert results["role"] == "user"
    assert [(b["type"], b["tool_use_id"], b["is_error"]) for b in results["content"]] == [
        ("tool_result", VALIDATE.id, True),
        ("tool_result", LOOK.id, True),
    ]


def test_bedrock_tool_results_are_one_user_turn_with_error_status(
    rig: Callable[[str, Script], Rig],
) -> None:
    r = rig("bedrock", [("", (VALIDATE, LOOK)), ("Done.", ())])
    drive(r.model, config(), answer("E3002 ...", "unknown type", error=True))
    assistant, results = r.bodies()[1]["messages"][1:]
    assert [list(b) for b in assistant["content"]] == [["toolUse"], ["toolUse"]]  # no blank text
    assert [b["toolResult"]["status"] for b in results["content"]] == ["error", "error"]
    assert results["content"][0]["toolResult"]["content"] == [{"text": "E3002 ..."}]


def test_openai_chat_sends_tool_messages_by_call_id(rig: Callable[[str, Script], Rig]) -> None:
    r = rig("openai-chat", [("", (VALIDATE,)), ("Done.", ())])
    drive(r.model, config(), answer("no findings"))
    assistant, tool = r.bodies()[1]["messages"][2:]
    assert assistant["content"] is None and assistant["tool_calls"][0]["id"] == VALIDATE.id
    assert tool == {"role": "tool", "tool_call_id": VALIDATE.id, "content": "no findings"}


def test_responses_replays_reasoning_then_calls_then_outputs(
    rig: Callable[[str, Script], Rig],
) -> None:
    r = rig("openai-responses", [("", (VALIDATE, LOOK)), ("Done.", ())])
    drive(r.model, config(), answer("no findings", "Properties: ..."))
    kinds = [item.get("type") for item in r.bodies()[1]["input"]]
    assert kinds == [
        "message",
        "reasoning",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
    ]


def test_responses_calls_without_their_reasoning_are_refused(
    rig: Callable[[str, Script], Rig],
) -> None:
    r = rig("openai-responses", [("", (VALIDATE,)), ("never", ())])

    def without_carry(out: ModelOutput) -> list[ChatMessage]:
        said, *results = answer("no findings")(out)
        return [ChatMessage("assistant", "", tool_calls=said.tool_calls), *results]

    _first, second = drive(r.model, config(), without_carry)
    assert isinstance(second, ModelError) and "reasoning item" in r.ledger.refusals[-1]


def test_anthropic_thinking_with_tool_use_streams_and_carries_thinking_first(
    rig: Callable[[str, Script], Rig],
) -> None:
    r = rig("anthropic", [("", (VALIDATE, LOOK)), ("Done.", ())])
    first, second = drive(r.model, config(thinking="adaptive"), answer("ok", "Properties"))
    assert isinstance(second, ModelOutput), second
    assert r.api is not None and r.api.streamed == 2  # thinking streams: tool_use assembled
    assert [c.parsed() for c in first.tool_calls] == [
        {"template": "Resources: {}"},
        {"resource_type": "AWS::S3::Bucket"},
    ]
    assistant = r.bodies()[1]["messages"][1]
    assert [b["type"] for b in assistant["content"]] == ["thinking", "tool_use", "tool_use"]
    assert r.api.refusals == []  # the signed thinking blocks came back unchanged, first


def test_bedrock_thinking_with_tool_use_carries_reasoning_first(
    rig: Callable[[str, Script], Rig],
) -> None:
    r = rig("bedrock", [("", (VALIDATE,)), ("Done.", ())])
    _first, second = drive(r.model, config(thinking="adaptive"), answer("ok"))
    assert isinstance(second, ModelOutput), second
    assistant = r.bodies()[1]["messages"][1]
    assert [next(iter(b)) for b in assistant["content"]] == [
        "reasoningContent",
        "reasoningContent",
        "toolUse",
    ]


@pytest.mark.parametrize("provider", ["anthropic", "openai-chat", "openai-responses"])
def test_batch_requests_offer_tools_and_results_read_tool_calls(
    rig: Callable[[str, Script], Rig], provider: str
) -> None:
    """Batch mode sends the online body (tools included) and reads a result's calls."""
    r = rig(provider, [("", (VALIDATE,))])
    model, server = r.model, r.server
    if isinstance(model, AnthropicModel):
        params = AnthropicBatchWire(model).params(ASK, config(tool_choice="required"), CTX)
        assert r.api is not None
        _status, body, _type = r.api(LoggedRequest(0, "anthropic", "/v1/messages", {}, params))
        result: Any = MessageBatchSucceededResult(
            type="succeeded", message=Message.model_validate(body)
        )
        out = AnthropicBatchWire(model)._result(result)
        assert params["tool_choice"] == {"type": "any"}
    else:
        assert isinstance(model, OpenAIModel) and isinstance(server, ToolsServer)
        wire = OpenAIBatchWire(model)
        params = wire.params(ASK, config(tool_choice="required"), CTX)
        reply = ToolReply("", calls=(VALIDATE,))
        if provider == "openai-responses":
            body = server.response_body(reply, params)
        else:
            body = server._openai_body(
                LoggedRequest(0, "openai", wire.endpoint, {}, params), params, reply
            )
        response = {"status_code": 200, "request_id": "r1", "body": body}
        out = wire._result({"custom_id": "c1", "response": response})
        assert params["tool_choice"] == "required"
    asyncio.run(model.aclose())
    assert len(params["tools"]) == len(TOOLS)
    assert isinstance(out, ModelOutput), out
    assert [(c.id, c.parsed()) for c in out.tool_calls] == [
        (VALIDATE.id, {"template": "Resources: {}"})
    ]


def test_anthropic_cache_breakpoint_on_a_tool_turn_marks_its_result_block() -> None:
    """A conversation's newest turn may be a tool result: the breakpoint goes on that block,
    and the request is still one the SDK's MessageParam takes."""
    model = AnthropicModel("claude-x", api_key="k", prompt_cache=PromptCache(min_tokens=1))
    call = ToolCall(VALIDATE.id, VALIDATE.name, VALIDATE.arguments)
    messages = [
        *ASK,
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "no findings", tool_call_id=call.id),
    ]
    params = model.request_params(messages, config(), CallContext("p1", 0, 2, "yaml"))
    asyncio.run(model.aclose())
    last = params["messages"][-1]
    assert last["role"] == "user" and last["content"][-1]["type"] == "tool_result"
    assert last["content"][-1]["cache_control"]["type"] == "ephemeral"
    api = AnthropicToolsApi([])
    api.ledger.issue((VALIDATE,))
    assert api._problem(params) is None


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_a_forced_choice_with_thinking_on_goes_as_auto(
    rig: Callable[[str, Script], Rig], provider: str
) -> None:
    """Claude refuses a forced tool while thinking (a fatal 400): the choice goes as auto."""
    submit = Call("call_s1", "submit_template", '{"template": "Resources: {}"}')
    for choice in ("submit_template", "required"):
        r = rig(provider, [("", (submit,))])
        (out,) = drive(r.model, config(thinking="adaptive", tool_choice=choice))
        assert isinstance(out, ModelOutput), out  # the loopback refuses a forced choice
        assert sent_choice(provider, r.bodies()[0]) == CHOICES[provider][2]  # auto


def test_every_real_provider_supports_tools() -> None:
    assert all(
        cls.supports_tools
        for cls in (AnthropicModel, OpenAIModel, OpenAICompatibleModel, BedrockModel)
    )
    assert not ModelAPI.supports_tools
