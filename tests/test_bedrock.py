"""The Bedrock provider: the real boto3 client, SigV4-signed, against the loopback server's
Converse wire format. Replies, usage, stop reasons, every error kind, retries, credentials."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmark.config import BedrockConfig, ConfigError
from benchmark.models import provider_class
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.bedrock import BedrockModel, _keep_unmodelled_usage, _output
from benchmark.models.cache import cacheable
from benchmark.models.pricing import cost_usd, price_for
from benchmark.models.retry import RetryingModel
from benchmark.runner.factory import create_model
from tests.loopback import Fault, LoopbackServer, Reply, Usage, bedrock_model_id
from tests.test_config import settings_for

MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
REGION = "eu-west-1"
# Fake, but shaped like the real thing; none of them may reach a message, a file or a log.
AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKE0123456789AB",
    "AWS_SECRET_ACCESS_KEY": "fakeSecret/0123456789abcdefghijklmnopqrstu",
    "AWS_SESSION_TOKEN": "FAKEsessionTOKEN0123456789abcdefghijklmnop",
}
CTX = CallContext(problem_id="p1", sample=0, iteration=1, output_format="yaml")
CONFIG = GenerateConfig(temperature=0.3, max_tokens=321, seed=42)
MESSAGES = [
    ChatMessage("system", "You write CloudFormation."),
    ChatMessage("user", "Make a bucket."),
    ChatMessage("assistant", "Resources: {}"),
    ChatMessage("user", "cfn-lint says: E1001 ..."),
]


def isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> None:
    """An AWS environment of the test's own: no ~/.aws files, no instance role, no region or
    endpoint from the machine (AWS_REGION is set to a wrong one, to show it is not read)."""
    for name in (
        *AWS_CREDENTIALS,
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_BEARER_TOKEN_BEDROCK",  # a Bedrock API key: newer botocore signs with it instead
        "AWS_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    isolate_aws(monkeypatch, tmp_path, **AWS_CREDENTIALS)
    yield


def make(server: LoopbackServer, **kw: Any) -> BedrockModel:
    kw.setdefault("region", REGION)
    kw.setdefault("timeout_s", 10.0)
    return BedrockModel(MODEL, endpoint_url=server.url, **kw)


def run(model: Any, body: Callable[[Any], Any]) -> Any:
    async def go() -> Any:
        try:
            return await body(model)
        finally:
            await model.aclose()

    return asyncio.run(go())


def call(model: Any, messages: list[ChatMessage] = MESSAGES) -> ModelOutput:
    return run(model, lambda m: m.generate(messages, CONFIG, CTX))


def call_error(model: Any) -> ModelError:
    with pytest.raises(ModelError) as info:
        call(model)
    return info.value


# -- replies ---------------------------------------------------------------------------------


def test_reply_usage_latency_and_request_id(aws, loopback) -> None:
    server = loopback(["Resources:\n  B:\n    Type: AWS::S3::Bucket\n"], usage=Usage(40, 9, 16))
    out = call(make(server))
    assert out.text == "Resources:\n  B:\n    Type: AWS::S3::Bucket\n"
    assert out.finish_reason == "end_turn"
    # the whole prompt, as for the other providers: Bedrock's inputTokens + cache reads
    assert (out.input_tokens, out.output_tokens, out.cached_tokens) == (40, 9, 16)
    assert out.latency_s is not None and out.latency_s > 0
    assert out.request_id == "req_loop_0000"
    assert "server_latency_ms" in out.extra
    assert len(server.requests) == 1 and server.errors == []


def test_no_cache_fields_reported_means_no_cached_count(aws, loopback) -> None:
    server = loopback(["ok"], usage=Usage(30, 4, 0))
    out = call(make(server))
    assert "cacheReadInputTokens" not in str(server.requests)  # nothing reported on the wire
    assert (out.input_tokens, out.output_tokens, out.cached_tokens) == (30, 4, None)


def test_cache_writes_count_as_input_and_are_kept_apart() -> None:
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": "a"}, {"text": "b"}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 10,
            "outputTokens": 3,
            "cacheReadInputTokens": 20,
            "cacheWriteInputTokens": 30,
        },
        "ResponseMetadata": {"RequestId": "r-1"},
    }
    out = _output(response, 0.5)
    assert (out.text, out.input_tokens, out.cached_tokens) == ("ab", 60, 20)
    assert out.cache_write_tokens == 30 and out.request_id == "r-1"
    # priced from the table: 10 fresh, 20 read, 30 written (1.25x input), 3 output
    price = price_for(f"bedrock/{MODEL}")
    assert price is not None and price.cache_write == pytest.approx(1.25 * price.input)
    expected = (
        10 * price.input + 20 * price.cached_input + 30 * price.cache_write + 3 * price.output
    )
    assert cost_usd(price, out) == pytest.approx(expected / 1e6)
    response["usage"] = {"inputTokens": 10, "outputTokens": 3}  # no cache point: no fields
    assert _output(response, 0.5).cache_write_tokens is None


def test_usage_hook_leaves_a_botocore_that_models_the_cache_fields_alone() -> None:
    class Raw:
        content = b'{"usage": {"cacheReadInputTokens": 99, "cacheWriteInputTokens": 98}}'

    modelled = {"usage": {"inputTokens": 1, "cacheReadInputTokens": 7, "cacheWriteInputTokens": 0}}
    _keep_unmodelled_usage(Raw(), modelled)
    assert modelled["usage"] == {
        "inputTokens": 1,
        "cacheReadInputTokens": 7,
        "cacheWriteInputTokens": 0,
    }
    dropped: dict[str, Any] = {"usage": {"inputTokens": 1}}
    _keep_unmodelled_usage(Raw(), dropped)
    assert dropped["usage"] == {
        "inputTokens": 1,
        "cacheReadInputTokens": 99,
        "cacheWriteInputTokens": 98,
    }
    Raw.content = b"not json"
    untouched: dict[str, Any] = {"usage": {"inputTokens": 1}}
    _keep_unmodelled_usage(Raw(), untouched)
    assert untouched == {"usage": {"inputTokens": 1}}


@pytest.mark.parametrize("stop", ["end_turn", "max_tokens", "stop_sequence"])
def test_stop_reasons_recorded_as_sent(aws, loopback, stop: str) -> None:
    server = loopback([Reply("Resources:", finish_reason=stop)])
    out = call(make(server))
    assert out.finish_reason == stop and "refusal" not in out.extra and cacheable(out)


@pytest.mark.parametrize("stop", ["content_filtered", "guardrail_intervened"])
def test_a_filtered_reply_is_a_refusal_and_never_cached(aws, loopback, stop: str) -> None:
    server = loopback([Reply("I can't help with that.", finish_reason=stop)])
    out = call(make(server))
    assert out.finish_reason == stop and out.extra["refusal"] == stop and not cacheable(out)


def test_converse_wire_format_and_sigv4(aws, loopback) -> None:
    server = loopback(["ok"])
    model = make(server)
    assert model.id == f"bedrock/{MODEL}"
    call(model)
    (req,) = server.requests
    assert req.api == "bedrock" and bedrock_model_id(req.path) == MODEL
    assert req.path == "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse"
    body = req.body
    assert body["system"] == [{"text": "You write CloudFormation."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][2]["content"] == [{"text": "cfn-lint says: E1001 ..."}]
    assert body["inferenceConfig"] == {"maxTokens": 321, "temperature": 0.3}
    assert "modelId" not in body and "seed" not in str(body)  # the id is in the path; no seed
    # signed for the configured region (AWS_REGION says otherwise) and Bedrock's signing name
    auth = req.headers["authorization"]
    access_key = AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={access_key}/")
    assert f"/{REGION}/bedrock/aws4_request" in auth
    assert req.headers["x-amz-security-token"] == AWS_CREDENTIALS["AWS_SESSION_TOKEN"]
    assert AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(req.headers)


def test_without_a_system_message(aws, loopback) -> None:
    server = loopback(["ok"])
    call(make(server), [ChatMessage("user", "hi")])
    assert "system" not in server.requests[0].body


def test_endpoint_is_aws_own_unless_configured(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    model = BedrockModel(MODEL, region=REGION)
    try:
        assert model._client.meta.endpoint_url == f"https://bedrock-runtime.{REGION}.amazonaws.com"
        assert model._client.meta.region_name == REGION
    finally:
        asyncio.run(model.aclose())


# -- errors ------------------------------------------------------------------------------------

ERROR_CASES = [
    (Fault(429), "ThrottlingException", "rate_limit", False),
    (Fault(503), "ServiceUnavailableException", "server", False),
    (Fault(429, error_type="ModelNotReadyException"), "ModelNotReady", "model_not_ready", False),
    (Fault(500), "InternalServerException", "server", False),
    (Fault(408), "ModelTimeoutException", "timeout", False),
    (Fault(424), "ModelErrorException", "server", False),
    (Fault(403), "AccessDeniedException", "permission", True),
    (Fault(404), "ResourceNotFoundException", "model", True),
    (
        Fault(400, message="The provided model identifier is invalid."),
        "ValidationException",
        "invalid_request",
        True,
    ),
    (
        Fault(400, message="Input is too long for requested model."),
        "ValidationException",
        "context_length",
        False,
    ),
    (Fault(403, error_type="UnrecognizedClientException"), "UnrecognizedClient", "auth", True),
    # the type named only in the body's __type, as some AWS services send it
    (
        Fault(403, body={"__type": "com.amazon.bedrock#AccessDeniedException", "message": "no"}),
        "AccessDeniedException",
        "permission",
        True,
    ),
]


@pytest.mark.parametrize(("fault", "code", "kind", "fatal"), ERROR_CASES)
def test_error_kinds(aws, loopback, fault: Fault, code: str, kind: str, fatal: bool) -> None:
    server = loopback(["never sent"], faults={0: fault})
    err = call_error(make(server))
    assert (err.kind, err.fatal) == (kind, fatal)
    text = str(err)
    assert code in text and "x-amzn-RequestId req_loop_0000" in text and "\n" not in text
    assert text.startswith(f"bedrock/{MODEL}: HTTP {fault.status} ")
    assert len(server.requests) == 1  # botocore's own retries are off


@pytest.mark.parametrize(
    ("fault", "kind"),
    [(Fault.reset(), "connection"), (Fault.truncated(), "bad_response")],
)
def test_transport_faults_are_transient(aws, loopback, fault: Fault, kind: str) -> None:
    server = loopback(["never sent"], faults={0: fault})
    err = call_error(make(server))
    assert (err.kind, err.fatal) == (kind, False)
    assert len(server.requests) == 1


def test_read_timeout_is_transient(aws, loopback) -> None:
    server = loopback(["never sent"], faults={0: Fault.hang(30)})
    err = call_error(make(server, timeout_s=0.5))
    assert (err.kind, err.fatal) == ("timeout", False)


def test_connection_refused_is_transient(aws) -> None:
    with LoopbackServer() as server:
        url = server.url
    model = BedrockModel(MODEL, region=REGION, endpoint_url=url, timeout_s=2)
    err = call_error(model)
    assert (err.kind, err.fatal) == ("connection", False)


def test_credentials_never_in_an_error_message(aws, loopback) -> None:
    echoed = " ".join(AWS_CREDENTIALS.values())
    server = loopback(["never sent"], faults={0: Fault(400, message=f"bad request {echoed}")})
    text = str(call_error(make(server)))
    assert AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in text
    assert AWS_CREDENTIALS["AWS_SESSION_TOKEN"] not in text and "***" in text


def wrapped(server: LoopbackServer, max_retries: int = 5) -> RetryingModel:
    return RetryingModel(
        make(server),
        max_retries=max_retries,
        timeout_s=10,
        backoff_base_s=0.001,
        backoff_max_s=0.01,
    )


def test_transient_errors_are_retried_by_the_harness(aws, loopback) -> None:
    faults = {
        0: Fault(429),
        1: Fault(503),
        2: Fault(429, error_type="ModelNotReadyException"),
        3: Fault(500),
    }
    server = loopback(["at last"], faults=faults)
    out = call(wrapped(server))
    assert out.text == "at last" and out.extra["retries"] == "4"
    assert len(server.requests) == 5 and server.injected["429"] == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault(403),
        Fault(404),
        Fault(400, message="The provided model identifier is invalid."),
    ],
    ids=["access-denied", "not-found", "unknown-model"],
)
def test_fatal_errors_are_not_retried(aws, loopback, fault: Fault) -> None:
    server = loopback(["never sent"], faults={0: fault})
    err = call_error(wrapped(server))
    assert err.fatal and len(server.requests) == 1


# -- concurrency: the event loop never blocks on boto3 ---------------------------------------


def test_calls_run_off_the_event_loop(aws, loopback) -> None:
    released = threading.Event()

    def reply(body: dict, path: str) -> str:
        # holds the call until a coroutine on the event loop says so: a boto3 call blocking
        # the loop would leave it waiting here for the whole 10 s, and `released` unset
        return "released" if released.wait(10) else "loop was blocked"

    server = loopback(reply)

    async def body(model: BedrockModel) -> str:
        task = asyncio.create_task(model.generate(MESSAGES, CONFIG, CTX))
        while not server.requests:
            await asyncio.sleep(0.01)
        released.set()
        return (await task).text

    assert run(make(server), body) == "released"


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_capped(aws, loopback, limit: int) -> None:
    server = loopback(lambda body, path: "ok", latency_s=0.05)

    async def body(model: BedrockModel) -> list[str]:
        calls = [model.generate(MESSAGES, CONFIG, CTX) for _ in range(3 * limit)]
        return [o.text for o in await asyncio.gather(*calls)]

    assert run(make(server, max_concurrency=limit), body) == ["ok"] * (3 * limit)
    assert 1 <= server.max_in_flight <= limit


# -- credentials and config --------------------------------------------------------------------


def test_no_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path)
    with pytest.raises(ValueError, match="missing AWS credentials") as info:
        BedrockModel(MODEL, region=REGION, endpoint_url="http://127.0.0.1:9")
    text = str(info.value)
    assert "AWS_ACCESS_KEY_ID" in text and "\n" not in text


def test_unknown_profile_is_one_line(aws) -> None:
    with pytest.raises(ValueError, match=r"model.providers.bedrock.profile.*'nope' not found"):
        BedrockModel(MODEL, region=REGION, profile="nope")


def test_profile_from_the_shared_files_wins_over_the_environment(aws, loopback, tmp_path) -> None:
    (tmp_path / "aws-credentials").write_text(
        "[bench]\naws_access_key_id = AKIAPROFILE000000000\n"
        "aws_secret_access_key = profileSecret0123456789\n"
    )
    server = loopback(["ok"])
    call(make(server, profile="bench"))
    auth = server.requests[0].headers["authorization"]
    assert "Credential=AKIAPROFILE000000000/" in auth
    assert "x-amz-security-token" not in server.requests[0].headers


def test_config_section_and_factory(aws, loopback, tmp_path: Path) -> None:
    server = loopback(["ok"])
    settings = settings_for(
        f"model.id=bedrock/{MODEL}",
        f"model.providers.bedrock.endpoint_url={server.url}",
        f"model.providers.bedrock.region={REGION}",
        "model.providers.bedrock.max_retries=2",
        "model.providers.bedrock.max_concurrency=3",
        f"cache.path={tmp_path / 'cache.sqlite'}",
        "cache.enabled=false",
    )
    transport = settings.model.provider_config()
    assert isinstance(transport, BedrockConfig) and transport.region == REGION
    assert settings.result_fingerprint()["model"]["endpoint"] == server.url
    model = create_model(settings, {}, None)
    assert isinstance(model, RetryingModel) and isinstance(model.inner, BedrockModel)
    assert model.inner.max_concurrency == 3 and model.inner.region == REGION
    assert provider_class("bedrock") is BedrockModel
    assert call(model).text == "ok"


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("model.providers.bedrock.region=Mars", "model.providers.bedrock.region"),
        ("+model.providers.bedrock.regoin=eu-west-1", "model.providers.bedrock.regoin"),
        ("+model.providers.bedrock.base_url=http://x", "model.providers.bedrock"),
        ("+model.providers.bedrock.api_key_env=AWS_SECRET_ACCESS_KEY", "model.providers.bedrock"),
    ],
)
def test_bad_bedrock_config_is_one_line(override: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_for(f"model.id=bedrock/{MODEL}", override)
    assert str(info.value).startswith(f"config error at '{where}'")
    assert "\n" not in str(info.value)


def test_batch_mode_is_refused_at_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path)  # refused before credentials are even looked for
    settings = settings_for(f"model.id=bedrock/{MODEL}", "model.batch=true")
    with pytest.raises(ConfigError) as info:
        create_model(settings, {}, None, tmp_path)
    message = str(info.value)
    assert message.startswith("config error at 'model.batch': bedrock ") and "\n" not in message
    assert "S3" in message and "anthropic, openai" in message


def test_factory_turns_missing_credentials_into_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path)
    settings = settings_for(f"model.id=bedrock/{MODEL}", "cache.enabled=false")
    with pytest.raises(ConfigError, match="missing AWS credentials"):
        create_model(settings, {}, None)
