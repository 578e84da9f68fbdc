"""OpenAI reasoning models: the real SDK client against a loopback reasoning model
(tests/loopback_openai_reasoning.py), on Chat Completions and on the Responses API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.responses import Response, ResponseOutputRefusal

from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.openai import OpenAIModel, default_api
from benchmark.models.openai_batch import OpenAIBatchWire
from benchmark.models.openai_compatible import OpenAICompatibleModel
from benchmark.models.template_schema import TEMPLATE_JSON_SCHEMA
from tests.loopback import Reply
from tests.loopback_openai_reasoning import REASONING_TOKENS, ReasoningServer

KEY = "sk-loopback-SECRET-0123456789"
CTX = CallContext(problem_id="p1", sample=0, iteration=1, output_format="yaml")
TEMPLATE = "Resources:\n  B:\n    Type: AWS::S3::Bucket\n"
FIRST = [ChatMessage("system", "You write CloudFormation."), ChatMessage("user", "A bucket.")]


def config(**kw: Any) -> GenerateConfig:
    return GenerateConfig(**{"temperature": 1.0, "max_tokens": 4096, **kw})


@pytest.fixture
def server() -> Iterator[ReasoningServer]:
    with ReasoningServer([TEMPLATE, "Resources: {}\n", "third"]) as running:
        yield running


def model(server: ReasoningServer, **kw: Any) -> OpenAIModel:
    return OpenAIModel("gpt-6.2-sol", api_key=KEY, base_url=server.openai_base_url, **kw)


def turns(chosen: OpenAIModel, *calls: tuple[list[ChatMessage], GenerateConfig]) -> list[Any]:
    """Each call in order on one event loop (a ModelError is returned, not raised)."""

    async def go() -> list[Any]:
        out: list[Any] = []
        try:
            for messages, cfg in calls:
                try:
                    out.append(await chosen.generate(messages, cfg, CTX))
                except ModelError as exc:
                    out.append(exc)
        finally:
            await chosen.aclose()
        return out

    return asyncio.run(go())


def one(chosen: OpenAIModel, cfg: GenerateConfig, messages: list[ChatMessage] = FIRST) -> Any:
    return turns(chosen, (messages, cfg))[0]


def follow_up(first: ModelOutput, carry: bool = True) -> list[ChatMessage]:
    said = ChatMessage("assistant", first.text, tuple(first.carry) if carry else ())
    return [*FIRST, said, ChatMessage("user", "cfn-lint says: E3001 ...")]


# -- Chat Completions ----------------------------------------------------------------------


def test_chat_sends_effort_and_reads_reasoning_tokens(server: ReasoningServer) -> None:
    out = one(model(server), config(effort="high"))
    body = server.bodies("openai")[0]
    assert body["reasoning_effort"] == "high" and body["max_completion_tokens"] == 4096
    assert "max_tokens" not in body
    assert out.text == TEMPLATE and out.finish_reason == "stop" and not out.hit_token_limit
    assert out.reasoning_tokens == REASONING_TOKENS["high"]
    assert out.output_tokens == REASONING_TOKENS["high"] + len(TEMPLATE) // 4 + 1  # included
    assert out.service_tier == "default" and model(server).api == "chat"


def test_chat_without_effort_sends_none(server: ReasoningServer) -> None:
    one(model(server), config())
    assert "reasoning_effort" not in server.bodies("openai")[0]


def test_chat_reasoning_that_eats_the_cap_is_flagged(server: ReasoningServer) -> None:
    out = one(model(server), config(effort="high", max_tokens=520))
    assert out.finish_reason == "length" and out.hit_token_limit
    assert out.text == TEMPLATE[:32] and out.reasoning_tokens == 512


def test_unsupported_effort_is_a_fatal_one_line_error() -> None:
    with ReasoningServer(["x"], efforts=frozenset({"low", "medium", "high"})) as server:
        error = one(model(server), config(effort="none"))
    assert isinstance(error, ModelError) and error.fatal and error.kind == "invalid_request"
    assert "'none' is not supported" in str(error) and "\n" not in str(error)


@pytest.mark.parametrize("thinking", ["adaptive", 2048])
def test_thinking_other_than_off_is_refused_in_one_line(
    server: ReasoningServer, thinking: str | int
) -> None:
    error = one(model(server), config(thinking=thinking))
    assert isinstance(error, ModelError) and error.fatal
    assert f"model.thinking={thinking} is not an OpenAI setting" in str(error)
    assert "\n" not in str(error) and server.requests == []


def test_thinking_off_is_effort_none_and_contradicts_another_effort(
    server: ReasoningServer,
) -> None:
    one(model(server), config(thinking="off"))
    assert server.bodies("openai")[0]["reasoning_effort"] == "none"
    error = one(model(server), config(thinking="off", effort="high"))
    assert isinstance(error, ModelError) and "contradicts model.effort=high" in str(error)


def test_compatible_server_gets_reasoning_effort(server: ReasoningServer) -> None:
    compatible = OpenAICompatibleModel("qwen3", api_key="", base_url=server.openai_base_url)
    out = turns(compatible, (FIRST, config(effort="low")))[0]
    body = server.bodies("openai")[0]
    assert body["reasoning_effort"] == "low" and body["max_tokens"] == 4096
    assert out.reasoning_tokens == REASONING_TOKENS["low"]


# -- Responses API -------------------------------------------------------------------------


def test_responses_two_turns_carry_reasoning(server: ReasoningServer) -> None:
    chosen = model(server, api="responses")
    assert chosen.api == "responses"
    first = one(chosen, config(effort="low"))
    assert first.text == TEMPLATE and first.finish_reason == "completed"
    assert first.reasoning_tokens == REASONING_TOKENS["low"]
    assert [c["type"] for c in first.carry] == ["reasoning"]
    assert first.carry[0]["encrypted_content"] == server.issued[first.carry[0]["id"]]
    second = one(model(server, api="responses"), config(effort="low"), follow_up(first))
    assert isinstance(second, ModelOutput) and second.text == "Resources: {}\n"
    assert server.carried == 1
    body = server.responses_bodies[1]
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    assert body["instructions"] == "You write CloudFormation."
    assert body["reasoning"] == {"effort": "low"} and body["max_output_tokens"] == 4096
    assert [i.get("type") for i in body["input"]] == ["message", "reasoning", "message", "message"]
    assert "temperature" not in body and "seed" not in body  # a reasoning model, reasoning


def test_responses_turn_without_its_reasoning_is_refused_by_the_server(
    server: ReasoningServer,
) -> None:
    """The check the carry test relies on: the loopback does refuse a turn sent bare."""
    first = one(model(server, api="responses"), config())
    error = one(model(server, api="responses"), config(), follow_up(first, carry=False))
    assert isinstance(error, ModelError) and "missing_reasoning" in str(error)


def test_responses_ignores_carry_of_another_provider(server: ReasoningServer) -> None:
    thinking = {"type": "thinking", "thinking": "...", "signature": "sig"}
    said = ChatMessage("assistant", "Resources: {}", (thinking,))
    messages = [*FIRST, said, ChatMessage("user", "again")]
    one(model(server, api="responses"), config(), messages)
    sent = server.responses_bodies[0]["input"]
    assert thinking not in sent and [i["role"] for i in sent] == ["user", "assistant", "user"]


def test_responses_truncated_reply_is_flagged(server: ReasoningServer) -> None:
    out = one(model(server, api="responses"), config(effort="medium", max_tokens=130))
    assert out.finish_reason == "max_output_tokens" and out.hit_token_limit
    assert out.text == TEMPLATE[:8]


def test_responses_scripted_incomplete_is_flagged() -> None:
    with ReasoningServer([Reply("Resources:", finish_reason="max_output_tokens")]) as server:
        out = one(model(server, api="responses"), config())
    assert out.finish_reason == "max_output_tokens" and out.hit_token_limit


@pytest.mark.parametrize("kind", ["json_object", "json_schema"])
def test_responses_structured_output_is_text_format(server: ReasoningServer, kind: str) -> None:
    one(model(server, api="responses"), config(response_format=kind))
    sent = server.responses_bodies[0]["text"]["format"]
    assert sent["type"] == kind
    if kind == "json_schema":
        assert sent["schema"] == TEMPLATE_JSON_SCHEMA and sent["name"]


def test_responses_summary_only_on_responses(server: ReasoningServer) -> None:
    one(model(server, api="responses"), config(effort="high", thinking_display="summarized"))
    assert server.responses_bodies[0]["reasoning"] == {"effort": "high", "summary": "auto"}
    error = one(model(server), config(thinking_display="summarized"))
    assert isinstance(error, ModelError) and "needs the Responses API" in str(error)


def test_responses_errors_are_classified_as_on_chat() -> None:
    with ReasoningServer(["x"], efforts=frozenset({"high"})) as server:
        error = one(model(server, api="responses"), config(effort="low"))
    assert isinstance(error, ModelError) and error.fatal and error.kind == "invalid_request"
    assert "unsupported_value" in str(error)


@pytest.mark.parametrize(
    ("name", "effort", "temperature", "sent"),
    [
        ("gpt-6.2-sol", "high", 1.0, False),  # reasoning: 1.0 is its own, left out
        ("gpt-6.2-sol", None, 1.0, False),  # the default effort may reason
        ("gpt-6.2-sol", "none", 1.0, True),  # not reasoning: sampling applies
        ("gpt-6.2-sol", "high", 0.3, True),  # sent, for the API to refuse, never dropped
        ("gpt-4o", None, 1.0, True),
    ],
)
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_temperature_left_out_only_where_a_reasoning_model_samples_at_1(
    server: ReasoningServer, name: str, effort: str | None, temperature: float, sent: bool, api: str
) -> None:
    chosen = OpenAIModel(name, api_key=KEY, base_url=server.openai_base_url, api=api)  # type: ignore[arg-type]
    one(chosen, config(effort=effort, temperature=temperature))
    body = server.requests[0].body
    assert ("temperature" in body) is sent
    if sent:
        assert body["temperature"] == temperature


# -- choosing the API; capabilities --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "api"),
    [
        ("gpt-5", "responses"),
        ("gpt-5.2", "responses"),
        ("gpt-6.2-sol", "responses"),
        ("o3-mini", "responses"),
        ("o1", "responses"),
        ("ft:gpt-5-mini:acme::x1", "responses"),
        ("gpt-4o", "chat"),
        ("gpt-4.1-mini", "chat"),
        ("omni-moderation-latest", "chat"),
    ],
)
def test_default_api(name: str, api: str) -> None:
    assert default_api(name) == api


def test_unknown_api_refused() -> None:
    with pytest.raises(ValueError, match="api must be 'chat' or 'responses'"):
        OpenAIModel("gpt-5", api_key=KEY, api="assistants")  # type: ignore[arg-type]


def test_no_capabilities_from_the_models_api(server: ReasoningServer) -> None:
    """The SDK's Model carries none, so none is asked for (the table decides instead)."""
    assert "capabilities" not in openai.types.Model.model_fields
    assert asyncio.run(model(server).fetch_capabilities()) is None
    assert server.requests == []


# -- batch mode ----------------------------------------------------------------------------


def test_batch_of_responses_requests_goes_to_v1_responses(server: ReasoningServer) -> None:
    """A Responses model's batch names /v1/responses, sends the online body and reads each
    result as a Response (reasoning, carry and truncation included)."""
    wire = OpenAIBatchWire(model(server, api="responses"))
    assert wire.endpoint == "/v1/responses"
    assert OpenAIBatchWire(model(server)).endpoint == "/v1/chat/completions"
    params = wire.params(FIRST, config(effort="high"), CTX)
    assert params["reasoning"] == {"effort": "high"} and params["store"] is False
    body = server.response_body(Reply(TEMPLATE), params)
    line = {"custom_id": "c1", "response": {"status_code": 200, "request_id": "r1", "body": body}}
    out = wire._result(line)
    assert isinstance(out, ModelOutput) and out.text == TEMPLATE and out.request_id == "r1"
    assert out.reasoning_tokens == REASONING_TOKENS["high"] and out.carry[0]["type"] == "reasoning"


def test_failed_response_is_a_transient_error_and_refusal_is_kept(server: ReasoningServer) -> None:
    chosen = model(server, api="responses")
    failed = Response.model_validate(
        {
            **server.response_body(Reply("x"), {"model": "gpt-6.2-sol"}),
            "status": "failed",
            "error": {"code": "server_error", "message": "the model broke"},
        }
    )
    with pytest.raises(ModelError) as info:
        chosen.response_output(failed, 0.1)
    assert info.value.kind == "server" and not info.value.fatal
    assert "server_error the model broke" in str(info.value)
    refused = Response.model_validate(server.response_body(Reply("x"), {"model": "m"}))
    refused.output[1].content = [ResponseOutputRefusal(type="refusal", refusal="I can't.")]
    out = chosen.response_output(refused, 0.1)
    assert out.extra["refusal"] == "I can't." and out.text == ""


def test_batch_of_responses_through_the_batch_api(server: ReasoningServer) -> None:
    """Submitted, polled and read back through the loopback's Batch API, end to end."""
    wire = OpenAIBatchWire(model(server, api="responses"))

    async def go() -> dict[str, Any]:
        try:
            requests = [(f"c{n}", wire.params(FIRST, config(effort="low"), CTX)) for n in (0, 1)]
            batch_id = await wire.submit(requests)
            while not (await wire.poll(batch_id)).ended:
                pass
            return await wire.results(batch_id)
        finally:
            await wire.aclose()

    results = asyncio.run(go())
    assert [b.endpoint for b in server.batch.batches.values()] == ["/v1/responses"]
    assert {results["c0"].text, results["c1"].text} == {TEMPLATE, "Resources: {}\n"}
    assert all(r.carry and r.reasoning_tokens == REASONING_TOKENS["low"] for r in results.values())
