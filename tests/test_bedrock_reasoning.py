"""Bedrock reasoning: the real boto3 client (SigV4-signed, the locked botocore) against a
thinking model on the loopback's Converse wire (tests/loopback_bedrock_reasoning.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmark.config import ConfigError
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.bedrock import BedrockModel
from benchmark.models.bedrock_reasoning import reasoning_fields
from benchmark.runner.factory import check_response_format
from tests.loopback import LoggedRequest, Reply
from tests.loopback_bedrock_reasoning import THINKING_TEXT, ThinkingBedrockServer
from tests.test_bedrock import AWS_CREDENTIALS, MODEL, REGION, aws  # noqa: F401 - a fixture

CTX = CallContext(problem_id="p1", sample=0, iteration=1, output_format="yaml")
FIRST = [ChatMessage("system", "You write CloudFormation."), ChatMessage("user", "A bucket.")]
NOVA = "amazon.nova-pro-v1:0"


def config(**kw: Any) -> GenerateConfig:
    return GenerateConfig(**{"temperature": 1.0, "max_tokens": 4096, **kw})


@pytest.fixture
def server() -> Iterator[ThinkingBedrockServer]:
    with ThinkingBedrockServer(["Resources: {}\n", "Resources:\n  B: {}\n"]) as running:
        yield running


def make(server: ThinkingBedrockServer, name: str = MODEL) -> BedrockModel:
    return BedrockModel(name, region=REGION, endpoint_url=server.url, timeout_s=10.0)


def turns(model: BedrockModel, *calls: tuple[list[ChatMessage], GenerateConfig]) -> list[Any]:
    """Each call in order on one event loop (a ModelError is returned, not raised)."""

    async def go() -> list[Any]:
        out: list[Any] = []
        try:
            for messages, cfg in calls:
                try:
                    out.append(await model.generate(messages, cfg, CTX))
                except ModelError as exc:
                    out.append(exc)
        finally:
            await model.aclose()
        return out

    return asyncio.run(go())


def signature_holds(server: ThinkingBedrockServer, entry: LoggedRequest) -> bool:
    """Whether the request's SigV4 signature covers the body the server got (AWS checks it)."""
    scheme, _, fields = entry.headers["authorization"].partition(" ")
    parts = dict(p.strip().split("=", 1) for p in fields.split(","))
    signed = parts["SignedHeaders"].split(";")
    request = AWSRequest(
        method="POST",
        url=server.url + entry.path,
        data=entry.raw,
        headers={name: entry.headers[name] for name in signed},
    )
    request.context["timestamp"] = entry.headers["x-amz-date"]
    credentials = Credentials(*AWS_CREDENTIALS.values())
    auth = SigV4Auth(credentials, "bedrock", REGION)
    to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    return scheme == "AWS4-HMAC-SHA256" and auth.signature(to_sign, request) == parts["Signature"]


def follow_up(first: ModelOutput, carry: bool = True) -> list[ChatMessage]:
    said = ChatMessage("assistant", first.text, tuple(first.carry) if carry else ())
    return [*FIRST, said, ChatMessage("user", "cfn-lint says: E3001 ...")]


def test_thinking_and_effort_go_in_additional_fields_and_blocks_carry(
    aws: None,  # noqa: F811
    server: ThinkingBedrockServer,
) -> None:
    cfg = config(effort="high", thinking=2048)
    first = turns(make(server), (FIRST, cfg))[0]
    assert server.fields[0] == {
        "output_config": {"effort": "high"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    assert first.text == "Resources: {}\n" and make(server).api == "converse"
    # both forms of reasoning block, as Bedrock sent them (the locked botocore models neither)
    assert first.carry == server.issued[0]
    assert first.carry[0]["reasoningContent"]["reasoningText"]["text"] == THINKING_TEXT
    second = turns(make(server), (follow_up(first), cfg))[0]
    assert isinstance(second, ModelOutput) and second.text == "Resources:\n  B: {}\n"
    assert server.carried == 1
    sent = server.bodies("bedrock")[1]["messages"][1]["content"]
    assert sent == [*server.issued[0], {"text": "Resources: {}\n"}]
    # written into the body before signing: the signature covers the blocks
    second_request = server.requests[1]
    assert signature_holds(server, second_request)
    second_request.raw = second_request.raw.replace(b"redactedContent", b"redactedContenT")
    assert not signature_holds(server, second_request)


def test_turn_without_its_thinking_blocks_is_refused_by_the_server(
    aws: None,  # noqa: F811
    server: ThinkingBedrockServer,
) -> None:
    """The check the carry test relies on: the loopback does refuse a turn sent bare."""
    cfg = config(thinking="adaptive")
    first = turns(make(server), (FIRST, cfg))[0]
    error = turns(make(server), (follow_up(first, carry=False), cfg))[0]
    assert isinstance(error, ModelError) and "lacks the thinking blocks" in str(error)


def test_adaptive_display_and_off(aws: None, server: ThinkingBedrockServer) -> None:  # noqa: F811
    turns(
        make(server),
        (FIRST, config(thinking="adaptive", thinking_display="summarized")),
        (FIRST, config(thinking="off")),
        (FIRST, config()),
    )
    assert server.fields == [
        {"thinking": {"type": "adaptive", "display": "summarized"}},
        {"thinking": {"type": "disabled"}},
        {},
    ]
    assert "additionalModelRequestFields" not in server.bodies("bedrock")[2]


def test_truncated_reply_is_flagged(aws: None) -> None:  # noqa: F811
    with ThinkingBedrockServer([Reply("Resources:", finish_reason="max_tokens")]) as server:
        out = turns(make(server), (FIRST, config(thinking="adaptive")))[0]
    assert out.finish_reason == "max_tokens" and out.hit_token_limit


def test_effort_for_a_model_other_than_anthropic_is_refused_in_one_line(
    aws: None,  # noqa: F811
    server: ThinkingBedrockServer,
) -> None:
    error = turns(make(server, NOVA), (FIRST, config(effort="low")))[0]
    assert isinstance(error, ModelError) and error.fatal and "\n" not in str(error)
    assert "Anthropic models only" in str(error) and server.requests == []


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"thinking_display": "omitted"}, "needs model.thinking adaptive"),
        ({"thinking": "lots"}, "expected off, adaptive or a budget"),
        ({"thinking": 0}, "expected off, adaptive or a budget"),
    ],
)
def test_bad_thinking_settings_refused(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        reasoning_fields(MODEL, config(**kw))


def test_json_schema_refused_at_start_saying_why() -> None:
    with pytest.raises(ConfigError) as info:
        check_response_format("bedrock", "json_schema")
    message = str(info.value)
    assert "outputConfig" in message and "does not model" in message and "\n" not in message
