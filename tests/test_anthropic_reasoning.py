"""Anthropic reasoning models through the real SDK client against the loopback's reasoning API:
effort and thinking on the wire, thinking blocks carried across turns, streaming, JSON-schema
output, a reply cut at max_tokens, refusals in one line, and the Models API's capabilities."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from benchmark.models.anthropic import AnthropicModel, message_output
from benchmark.models.anthropic_batch import AnthropicBatchWire
from benchmark.models.anthropic_reasoning import ANTHROPIC_EFFORTS
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.capabilities import Capabilities
from benchmark.models.prompt_cache import PromptCache
from benchmark.models.template_schema import TEMPLATE_JSON_SCHEMA
from tests.loopback import Fault, LoggedRequest, LoopbackServer
from tests.loopback_anthropic_reasoning import ReasoningApi, Turn, capabilities, sdk_efforts

KEY = "sk-ant-loopback-test-key"
MODEL = "claude-opus-5-5"
CTX = CallContext("p1", 0, 1, "yaml")
ASK = [ChatMessage("system", "You write CloudFormation."), ChatMessage("user", "A bucket.")]


def config(**kw: Any) -> GenerateConfig:
    return GenerateConfig(**{"temperature": 1.0, "max_tokens": 4096, **kw})


@pytest.fixture
def serve(
    loopback: Callable[..., LoopbackServer],
) -> Callable[..., tuple[ReasoningApi, LoopbackServer]]:
    def start(turns: Any, **kw: Any) -> tuple[ReasoningApi, LoopbackServer]:
        api = ReasoningApi(turns, **kw)
        return api, loopback(route=api)

    return start


def model_at(server: LoopbackServer, **kw: Any) -> AnthropicModel:
    return AnthropicModel(MODEL, api_key=KEY, base_url=server.anthropic_base_url, **kw)


def call(
    model: AnthropicModel, *calls: tuple[list[ChatMessage], GenerateConfig]
) -> list[ModelOutput]:
    async def go() -> list[ModelOutput]:
        try:
            return [await model.generate(m, c, CTX) for m, c in calls]
        finally:
            await model.aclose()

    return asyncio.run(go())


def posts(server: LoopbackServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.method == "POST"]


@pytest.mark.parametrize(
    ("settings", "output_config", "thinking"),
    [
        (
            {"effort": "low", "thinking": "adaptive", "thinking_display": "summarized"},
            {"effort": "low"},
            {"type": "adaptive", "display": "summarized"},
        ),
        ({"effort": "max", "thinking": "adaptive"}, {"effort": "max"}, {"type": "adaptive"}),
        ({"thinking": 2048}, None, {"type": "enabled", "budget_tokens": 2048}),
        ({"effort": "xhigh", "thinking": "off"}, {"effort": "xhigh"}, {"type": "disabled"}),
        ({}, None, None),
    ],
    ids=["adaptive-low", "adaptive-max", "budget", "off", "defaults"],
)
def test_effort_and_thinking_go_out_as_the_api_takes_them(
    serve: Callable[..., Any], settings: dict[str, Any], output_config: Any, thinking: Any
) -> None:
    api, server = serve([Turn("Resources: {}")])
    (out,) = call(model_at(server), (ASK, config(**settings)))
    (body,) = posts(server)
    assert body.get("output_config") == output_config
    assert body.get("thinking") == thinking
    assert not api.refusals
    thinks = thinking is not None and thinking["type"] != "disabled"
    assert out.text == "Resources: {}"  # text blocks only, never the thinking
    assert out.reasoning_tokens == (30 if thinks else 0)
    assert out.output_tokens == out.reasoning_tokens + 12  # all billed output
    assert (out.service_tier, out.speed) == ("standard", "standard")
    assert len(out.carry) == (1 if thinks else 0)
    assert out.thinking_display == ("summarized" if thinks else None)
    assert model_at(server).api == "messages"


def test_omitted_thinking_is_reported_and_still_carries_its_signature(
    serve: Callable[..., Any],
) -> None:
    _, server = serve([Turn("Resources: {}")])
    (out,) = call(model_at(server), (ASK, config(thinking="adaptive", thinking_display="omitted")))
    assert out.thinking_display == "omitted"
    (block,) = out.carry
    assert block["thinking"] == "" and block["signature"].startswith("sig-")


def test_a_conversation_sends_the_thinking_blocks_back_unchanged(serve: Callable[..., Any]) -> None:
    api, server = serve([Turn("Resources: {}", redacted=True), Turn("Resources: {B: {}}")])
    settings = config(effort="high", thinking="adaptive")
    model = model_at(server)

    async def conversation() -> tuple[ModelOutput, ModelOutput]:
        try:
            first = await model.generate(ASK, settings, CTX)
            turn = ChatMessage("assistant", first.text, carry=tuple(first.carry))
            again = [*ASK, turn, ChatMessage("user", "cfn-lint: E3001. Fix it.")]
            return first, await model.generate(again, settings, CallContext("p1", 0, 2, "yaml"))
        finally:
            await model.aclose()

    first, second = asyncio.run(conversation())
    assert [b["type"] for b in first.carry] == ["thinking", "redacted_thinking"]
    assert first.carry[0]["signature"] and first.carry[1]["data"]
    sent = posts(server)[1]["messages"][1]
    assert sent == {
        "role": "assistant",
        "content": [*first.carry, {"type": "text", "text": first.text}],
    }
    assert not api.refusals and second.text == "Resources: {B: {}}"


@pytest.mark.parametrize(
    ("carry", "refusal"),
    [
        ((), "missing"),
        (({"type": "thinking", "thinking": "edited", "signature": "sig-x"},), "signature"),
    ],
    ids=["dropped", "changed"],
)
def test_the_loopback_refuses_a_turn_without_its_thinking_blocks_as_sent(
    serve: Callable[..., Any], carry: tuple[dict[str, Any], ...], refusal: str
) -> None:
    api, server = serve([Turn("Resources: {}"), Turn("unused")])
    settings = config(thinking="adaptive")
    first, *_ = call(model_at(server), (ASK, settings))
    again = [*ASK, ChatMessage("assistant", first.text, carry=carry), ChatMessage("user", "Fix.")]
    with pytest.raises(ModelError) as caught:
        call(model_at(server), (again, settings))
    assert caught.value.fatal and caught.value.kind == "invalid_request"
    assert refusal in api.refusals[0]


def test_another_providers_carry_items_are_not_sent(serve: Callable[..., Any]) -> None:
    _, server = serve([Turn("Resources: {}", thinking=None)])
    reasoning = {"type": "reasoning", "id": "rs_1", "encrypted_content": "opaque"}
    turn = ChatMessage("assistant", "Resources: {}", carry=(reasoning,))
    call(model_at(server), ([*ASK, turn, ChatMessage("user", "Fix.")], config()))
    assert posts(server)[0]["messages"][1] == {"role": "assistant", "content": "Resources: {}"}


def test_carried_blocks_keep_the_prompt_cache_breakpoint(serve: Callable[..., Any]) -> None:
    _, server = serve([Turn("Resources: {}", thinking=None)])
    model = model_at(server, prompt_cache=PromptCache(min_tokens=1))
    block = {"type": "thinking", "thinking": "t", "signature": "sig-1"}
    history = [
        *ASK,
        ChatMessage("assistant", "Resources: {}", carry=(block,)),
        ChatMessage("user", "Fix."),
    ]
    params = model.request_params(
        history, config(), CallContext("p1", 0, 2, "yaml", max_iterations=10)
    )
    assistant, newest = params["messages"][1:]
    assert assistant["content"] == [block, {"type": "text", "text": "Resources: {}"}]
    assert newest["content"][0]["cache_control"]["type"] == "ephemeral"


def test_a_streamed_reply_reads_as_the_same_output(serve: Callable[..., Any]) -> None:
    api, server = serve(lambda body: Turn("Resources: {}", redacted=True))
    settings = config(effort="medium", thinking="adaptive")
    (streamed,) = call(model_at(server), (ASK, settings))
    assert api.streamed == 1 and posts(server)[0]["stream"] is True
    reference = model_at(server)

    async def plain() -> ModelOutput:  # the same request, not streamed, read the same way
        try:
            params = reference.request_params(ASK, settings, CTX)
            return message_output(await reference.client.messages.create(**params), None)
        finally:
            await reference.aclose()

    expected = asyncio.run(plain())
    for name in (
        "text",
        "finish_reason",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "carry",
        "thinking_display",
        "service_tier",
        "speed",
    ):
        assert getattr(streamed, name) == getattr(expected, name), name
    assert streamed.reasoning_tokens == 30 and streamed.request_id == "req_loop_0000"
    assert streamed.latency_s is not None


def test_a_call_the_sdk_would_refuse_unstreamed_streams(serve: Callable[..., Any]) -> None:
    _, server = serve(lambda body: Turn("Resources: {}", thinking=None))
    big = config(max_tokens=64_000)
    sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.anthropic_base_url)
    with pytest.raises(ValueError, match="Streaming is required"):  # the SDK's own rule
        asyncio.run(
            sdk.messages.create(
                model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=64_000
            )
        )
    (out,) = call(model_at(server), (ASK, big))
    small, off = call(model_at(server), (ASK, config()), (ASK, config(thinking="off")))
    bodies = posts(server)
    assert [b.get("stream") for b in bodies] == [True, None, None]
    assert out.text == small.text == off.text == "Resources: {}"


OVERLOAD = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
OVERLOADED = f"event: error\ndata: {json.dumps(OVERLOAD)}\n\n".encode()  # mid-stream, after 200


def cut_before_the_end(entry: LoggedRequest) -> Any:
    """A stream that stops before saying why (no message_delta, no message_stop)."""
    status, payload, kind = ReasoningApi([Turn("Resources: {}")])(entry)
    kept = [
        e for e in payload.split(b"\n\n") if b"message_delta" not in e and b"message_stop" not in e
    ]
    return status, b"\n\n".join(kept), kind


@pytest.mark.parametrize(
    ("server_kw", "kind", "fatal"),
    [
        ({"faults": {0: Fault(429, retry_after=2)}}, "rate_limit", False),
        ({"faults": {0: Fault(401)}}, "auth", True),
        ({"faults": {0: Fault.reset()}}, "connection", False),
        ({"faults": {0: Fault.truncated()}}, "bad_response", False),
        ({"route": lambda entry: (200, OVERLOADED, "text/event-stream")}, "overloaded", False),
        ({"route": cut_before_the_end}, "bad_response", False),
    ],
    ids=["429", "401", "reset", "truncated", "error-event", "cut-stream"],
)
def test_a_streamed_call_fails_as_an_unstreamed_one_would(
    loopback: Callable[..., LoopbackServer], server_kw: dict[str, Any], kind: str, fatal: bool
) -> None:
    server = loopback(["unused"], **server_kw)
    with pytest.raises(ModelError) as caught:
        call(model_at(server), (ASK, config(thinking="adaptive")))
    assert (caught.value.kind, caught.value.fatal) == (kind, fatal)
    assert "\n" not in str(caught.value) and KEY not in str(caught.value)
    if kind == "rate_limit":
        assert caught.value.retry_after == 2


def test_json_schema_output_sends_the_template_schema(serve: Callable[..., Any]) -> None:
    api, server = serve([Turn('{"Resources": {}}', thinking=None)])
    (out,) = call(model_at(server), (ASK, config(effort="low", response_format="json_schema")))
    (body,) = posts(server)
    assert body["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": TEMPLATE_JSON_SCHEMA},
    }
    assert not api.refusals and out.text == '{"Resources": {}}'
    assert AnthropicModel.response_formats == frozenset({"json_schema"})


def test_a_reply_stopped_at_max_tokens_hit_the_token_limit(serve: Callable[..., Any]) -> None:
    _, server = serve(
        [Turn("Resources:\n  Bucket:\n    Ty", stop_reason="max_tokens"), Turn("Resources: {}")]
    )
    cut, whole = call(model_at(server), (ASK, config(thinking="adaptive")), (ASK, config()))
    assert cut.finish_reason == "max_tokens" and cut.hit_token_limit
    assert whole.finish_reason == "end_turn" and not whole.hit_token_limit


def test_thinking_that_eats_the_budget_cuts_the_reply_and_says_so(
    serve: Callable[..., Any],
) -> None:
    template = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
    turn = Turn(template, thinking_tokens=3_500, text_tokens=1_000)
    _, server = serve([turn, turn])
    cut, whole = call(
        model_at(server),
        (ASK, config(max_tokens=4096, thinking="adaptive")),
        (ASK, config(max_tokens=8192, thinking="adaptive")),
    )
    assert cut.hit_token_limit and cut.output_tokens == 4096 and cut.reasoning_tokens == 3_500
    assert len(cut.text) < len(template)
    assert not whole.hit_token_limit and whole.text == template


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"effort": "minimal"}, "effort 'minimal'"),
        ({"effort": "none"}, "effort 'none'"),
        ({"thinking": 512}, "thinking budget 512"),
        ({"thinking": 8192}, "below max_tokens"),
        ({"thinking": "sometimes"}, "thinking 'sometimes'"),
        ({"response_format": "json_object"}, "json_object"),
    ],
)
def test_a_setting_anthropic_has_no_value_for_is_refused_in_one_line(
    serve: Callable[..., Any], settings: dict[str, Any], named: str
) -> None:
    _, server = serve([])
    with pytest.raises(ModelError) as caught:
        call(model_at(server), (ASK, config(**settings)))
    message = str(caught.value)
    assert caught.value.fatal and named in message and "\n" not in message
    assert message.startswith(f"anthropic/{MODEL}: ")
    assert server.requests == []  # refused before anything was sent


def test_batch_requests_carry_effort_and_thinking_and_never_stream(
    serve: Callable[..., Any],
) -> None:
    _, server = serve([])
    wire = AnthropicBatchWire(model_at(server))
    params = wire.params(ASK, config(max_tokens=64_000, effort="high", thinking="adaptive"), CTX)
    assert params["output_config"] == {"effort": "high"}
    assert params["thinking"] == {"type": "adaptive"}
    assert "stream" not in params
    asyncio.run(wire.aclose())


def test_capabilities_come_from_the_models_api(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caps = capabilities(("low", "medium", "high", "xhigh", "max"), ("adaptive",), batch=False)
    _, server = serve([], models={MODEL: caps}, max_tokens=128_000)
    model, other = (
        model_at(server),
        AnthropicModel("claude-nope", api_key=KEY, base_url=server.anthropic_base_url),
    )

    async def go() -> tuple[Capabilities | None, Capabilities | None]:
        try:
            return await model.fetch_capabilities(), await other.fetch_capabilities()
        finally:
            await model.aclose()
            await other.aclose()

    with caplog.at_level(logging.WARNING):
        found, unknown = asyncio.run(go())
    assert found == Capabilities(
        efforts=frozenset(ANTHROPIC_EFFORTS),
        thinking=frozenset({"adaptive"}),
        structured_outputs=True,
        batch=False,
        max_output_tokens=128_000,
        source="models_api",
    )
    assert Capabilities.from_json(found.to_json()) == found
    assert unknown is None
    (record,) = [r for r in caplog.records if "claude-nope" in r.getMessage()]
    assert "404" in record.getMessage() and "\n" not in record.getMessage()
    assert [r.path for r in server.model_lookups] == [
        f"/v1/models/{MODEL}",
        "/v1/models/claude-nope",
    ]


def test_an_effort_the_model_lacks_is_refused_by_the_api_as_fatal(
    serve: Callable[..., Any],
) -> None:
    api, server = serve([Turn("x")], models={MODEL: capabilities(("low", "medium", "high"))})
    with pytest.raises(ModelError) as caught:
        call(model_at(server), (ASK, config(effort="max")))
    assert caught.value.fatal and "max is not supported" in str(caught.value)
    assert len(api.refusals) == 1


def test_the_effort_levels_are_the_sdks() -> None:
    assert sdk_efforts() == ANTHROPIC_EFFORTS
