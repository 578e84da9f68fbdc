"""Models on Amazon Bedrock through boto3's `bedrock-runtime` Converse API (non-streaming).

`bedrock/<model id>`: a Bedrock model id (`amazon.nova-pro-v1:0`), an inference profile
(`us.anthropic.claude-haiku-4-5-20251001-v1:0`, `global.…`) or an ARN. Credentials come only
from the standard AWS chain (environment, the shared files' profile, an instance or container
role); the region is always the configured one, never `AWS_REGION` or the profile's, and the
endpoint is `endpoint_url` or AWS's own (an `AWS_ENDPOINT_URL*` variable is ignored).

Bedrock API keys: a botocore whose Bedrock model lists bearer auth (1.44.x does; 1.35.x does
not) signs with
`AWS_BEARER_TOKEN_BEDROCK` instead of the AWS credentials whenever that variable is set, and
sends a bearer token only over HTTPS. So with such a botocore and that variable, the key counts
as the credential (no AWS keys needed), is scrubbed from messages like them, and a plain-HTTP
`endpoint_url` is refused at start in one line (botocore would fail every call).

boto3 is synchronous: each call runs on a thread pool of `max_concurrency` threads owned by the
model, so the event loop never blocks. The client is built once from its own Session (clients
are thread-safe, sessions are not). botocore's retries are off (one attempt per call) and its
read timeout is `timeout_s`: RetryingModel retries, as for the SDK providers.

Usage: Bedrock's `inputTokens` leaves out cache reads and writes, so `input_tokens` here is
their sum (the whole prompt, as for the other providers), `cached_tokens` the reads and
`cache_write_tokens` the writes (`cacheReadInputTokens`, `cacheWriteInputTokens`; absent, as
Converse leaves them out for a request without a cache point: None). The botocore pinned beside
checkov (1.35.x) predates the cache fields and its parser drops them, so they are read from the
raw body too when the parsed reply lacks them. This model sends no cache points itself, and
Converse splits no TTL out of the writes: they are priced as 5-minute writes.

Reasoning (benchmark/models/bedrock_reasoning.py): effort and thinking go to Anthropic models
through `additionalModelRequestFields`; their reasoning blocks are carried to the next turn.
Converse reports no reasoning share of `outputTokens` (`reasoning_tokens` is None; the count
includes it). Structured output (`model.response_format=json_schema`) would need Converse's
`outputConfig`, which the locked botocore does not model: it is refused at start, saying so.

Tool use: Converse's `toolConfig`, `toolUse` and `toolResult` blocks, which the locked botocore
models (benchmark/models/bedrock_tools.py).

Not here: batch mode (Bedrock's batch inference is a separate job API over S3; `model.batch`
is refused at start) and rate-limit pacing (Bedrock sends no rate-limit headers, so
`adapt_to_rate_limits` has nothing to pace by: up to `max_concurrency` calls run; a
ThrottlingException is retried with backoff and, as any 429, holds back the start of other
calls for about a second).
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import boto3
import botocore.exceptions as bce
import botocore.utils
from botocore.config import Config

from benchmark.models._http import BODY_SHAPE_ERRORS, SDKModel, display_url
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError, ModelOutput
from benchmark.models.bedrock_reasoning import (
    WIRE_MESSAGES,
    carried,
    inject_wire_messages,
    keep_reasoning_blocks,
    plain_messages,
    reasoning_fields,
    stash_wire_messages,
    wire_messages,
)
from benchmark.models.bedrock_tools import reply_tool_calls, tool_config
from benchmark.models.usage import add_counts

# Error codes -> (kind, fatal). Transient ones are retried by RetryingModel.
ERROR_KINDS: dict[str, tuple[str, bool]] = {
    "ThrottlingException": ("rate_limit", False),
    "ServiceUnavailableException": ("server", False),
    "InternalServerException": ("server", False),
    "ModelNotReadyException": ("model_not_ready", False),  # a model being loaded: try again
    "ModelTimeoutException": ("timeout", False),
    "ModelErrorException": ("server", False),  # the model failed on this request
    "AccessDeniedException": ("permission", True),  # no access to the model, or no IAM right
    "ResourceNotFoundException": ("model", True),
    "ValidationException": ("invalid_request", True),  # an unknown model id lands here too
    "ServiceQuotaExceededException": ("quota", True),
    "UnrecognizedClientException": ("auth", True),  # a bad access key
    "InvalidSignatureException": ("auth", True),
    "ExpiredTokenException": ("auth", True),
    "IncompleteSignatureException": ("auth", True),
    "MissingAuthenticationTokenException": ("auth", True),
}
# A prompt longer than the model's window is a chain's problem, not the job's.
_TOO_LONG = ("too long", "too many input tokens", "context length", "context window")
# Stop reasons that mean the model declined; such replies are never cached.
REFUSAL_STOP_REASONS = frozenset({"content_filtered", "guardrail_intervened"})
_CACHE_FIELDS = ("cacheReadInputTokens", "cacheWriteInputTokens")
BEARER_AUTH = "smithy.api#httpBearerAuth"  # in a service model's auth list
BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"  # botocore's variable for Bedrock's signing name


class BedrockModel(SDKModel):
    """A model on Bedrock. Concurrency is capped per instance; retries are the caller's."""

    provider = "bedrock"
    request_id_header: ClassVar[str] = "x-amzn-RequestId"
    supports_tools: ClassVar[bool] = True  # Converse toolConfig (bedrock_tools.py)
    # why `model.response_format` values are refused, said at start (runner/factory.py)
    response_format_note: ClassVar[str] = (
        f"Bedrock's structured output is Converse's outputConfig, which botocore "
        f"{botocore.__version__} (locked beside checkov) does not model"
    )

    def __init__(
        self,
        name: str,
        *,
        region: str,
        profile: str | None = None,
        endpoint_url: str | None = None,
        timeout_s: float = 120.0,
        max_concurrency: int = 8,
    ) -> None:
        try:
            session = boto3.Session(profile_name=profile, region_name=region)
        except bce.ProfileNotFound:
            raise ValueError(
                f"config error at 'model.providers.bedrock.profile': AWS profile {profile!r} "
                "not found in the shared config or credentials file"
            ) from None
        client = session.client(
            "bedrock-runtime",
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=min(timeout_s, 10.0),
                read_timeout=timeout_s,
                retries={"mode": "standard", "total_max_attempts": 1},
                max_pool_connections=max_concurrency,
                ignore_configured_endpoint_urls=endpoint_url is None,
            ),
        )
        api_key = bearer_token(client)
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        # Every secret in play is scrubbed from messages; SDKModel scrubs the first.
        secrets = [api_key] if api_key is not None else []
        if frozen is not None:
            secrets += [s for s in (frozen.secret_key, frozen.token) if s]
        problem = None
        if not secrets:
            where = f"profile {profile!r}" if profile else "the environment, the default profile"
            problem = (
                f"missing AWS credentials for model bedrock/{name}: none found in {where} or "
                "an instance role (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "model.providers.bedrock.profile)"
            )
        elif api_key is not None and not client.meta.endpoint_url.startswith("https://"):
            problem = (
                "config error at 'model.providers.bedrock.endpoint_url': "
                f"{client.meta.endpoint_url} is plain HTTP, and botocore "
                f"{botocore.__version__} signs with the Bedrock API key in {BEARER_ENV}, which "
                "it sends only over HTTPS: use an https:// endpoint, or unset "
                f"{BEARER_ENV} to sign with the AWS credentials"
            )
        if problem is not None:
            client.close()
            raise ValueError(problem)
        super().__init__(name, api_key=secrets[0], max_concurrency=max_concurrency)
        self._more_secrets = tuple(secrets[1:])
        self.auth = "api_key" if api_key is not None else "sigv4"
        self.region = region
        self._client = client
        self.endpoint = display_url(client.meta.endpoint_url)
        events = self._client.meta.events
        events.register("after-call.bedrock-runtime.Converse", _keep_unmodelled_usage)
        events.register("after-call.bedrock-runtime.Converse", keep_reasoning_blocks)
        events.register("before-parameter-build.bedrock-runtime.Converse", stash_wire_messages)
        events.register("before-call.bedrock-runtime.Converse", inject_wire_messages)
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="bedrock")

    def scrub(self, text: str) -> str:
        text = super().scrub(text)
        for secret in self._more_secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def api(self) -> str:
        return "converse"

    def request(self, messages: list[ChatMessage], config: GenerateConfig) -> dict[str, Any]:
        """The `converse` parameters of one call; ModelError (fatal) for a reasoning setting
        this model cannot take here."""
        try:
            fields = reasoning_fields(self.name, config)
        except ValueError as exc:
            raise self.error("invalid_request", str(exc), fatal=True) from None
        wire = wire_messages(messages)
        plain = plain_messages(wire)
        request: dict[str, Any] = {
            "modelId": self.name,
            "messages": plain,
            "inferenceConfig": {"maxTokens": config.max_tokens, "temperature": config.temperature},
        }
        if wire != plain:  # reasoning blocks go into the body past botocore's validation
            request[WIRE_MESSAGES] = wire
        system = [{"text": m.content} for m in messages if m.role == "system"]
        if system:
            request["system"] = system
        if fields:
            request["additionalModelRequestFields"] = fields
        thinking = (fields.get("thinking") or {}).get("type") in ("adaptive", "enabled")
        tools = tool_config(config, thinking=thinking)
        if tools is not None:
            request["toolConfig"] = tools
        return request

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        request = self.request(messages, config)
        loop = asyncio.get_running_loop()
        async with self._gate.slot():
            response, latency = await loop.run_in_executor(self._pool, self._converse, request)
        try:
            return _output(response, latency)
        except BODY_SHAPE_ERRORS as exc:
            raise self.bad_response(exc) from None

    def _converse(self, request: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """One blocking call, on a pool thread; latency is measured here, not in the queue."""
        start = time.perf_counter()
        try:
            response = self._client.converse(**request)
        except (bce.ClientError, bce.BotoCoreError) as exc:
            raise self._to_model_error(exc) from None
        return response, time.perf_counter() - start

    def _to_model_error(self, exc: Exception) -> ModelError:
        if isinstance(exc, bce.ClientError):
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            code, message = error.get("Code", ""), error.get("Message", "")
            status = int(meta.get("HTTPStatusCode") or 0)
            override = ERROR_KINDS.get(code)
            if code == "ValidationException" and any(s in message.lower() for s in _TOO_LONG):
                override = ("context_length", False)
            return self.status_error(
                status,
                meta.get("HTTPHeaders", {}),
                f"{code} {message}",
                request_id=meta.get("RequestId"),
                override=override,
            )
        if isinstance(exc, bce.ReadTimeoutError | bce.ConnectTimeoutError):
            return self.transport_error(exc, timeout=True)
        if isinstance(exc, bce.ConnectionError | bce.HTTPClientError):
            return self.transport_error(exc, timeout=False)
        if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
            return self.error("auth", f"AWS credentials unusable: {exc}", fatal=True)
        if isinstance(exc, bce.ParamValidationError):
            return self.error("invalid_request", " ".join(str(exc).split()), fatal=True)
        return self.error("error", f"{type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def bearer_token(client: Any) -> str | None:
    """The Bedrock API key this client signs with, or None when it signs with SigV4.

    botocore prefers a bearer token from `AWS_BEARER_TOKEN_<signing name>` when the service's
    model lists bearer auth and nothing in code chose a signature; older releases know neither.
    """
    model = client.meta.service_model
    if BEARER_AUTH not in (model.metadata.get("auth") or []):
        return None
    lookup = getattr(botocore.utils, "get_token_from_environment", None)
    return lookup(model.signing_name) if lookup is not None else None


def _keep_unmodelled_usage(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """Copy the cache token counts from the raw body when this botocore's model lacks them."""
    usage = parsed.get("usage")
    if not isinstance(usage, dict) or all(f in usage for f in _CACHE_FIELDS):
        return
    try:
        raw = json.loads(http_response.content)["usage"]
    except (ValueError, TypeError, KeyError):
        return
    for name in _CACHE_FIELDS:
        if isinstance(raw.get(name), int) and name not in usage:
            usage[name] = raw[name]


def _output(response: dict[str, Any], latency: float) -> ModelOutput:
    usage = response.get("usage")
    usage = usage if isinstance(usage, dict) else {}  # figures as sent: ModelOutput judges them
    blocks = response["output"]["message"]["content"]
    cache_read = usage.get("cacheReadInputTokens")
    cache_write = usage.get("cacheWriteInputTokens")
    fresh = usage.get("inputTokens")
    stop = response.get("stopReason")
    extra: dict[str, str] = {}
    latency_ms = (response.get("metrics") or {}).get("latencyMs")
    if latency_ms is not None:
        extra["server_latency_ms"] = str(latency_ms)
    if stop in REFUSAL_STOP_REASONS:
        extra["refusal"] = stop
    return ModelOutput(
        text="".join(b["text"] for b in blocks if "text" in b),
        finish_reason=stop,
        input_tokens=add_counts(fresh, cache_read or 0, cache_write or 0),
        output_tokens=usage.get("outputTokens"),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        latency_s=latency,
        request_id=response.get("ResponseMetadata", {}).get("RequestId"),
        extra=extra,
        carry=carried(blocks),
        tool_calls=reply_tool_calls(blocks),
    )
