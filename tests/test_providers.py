"""Real provider SDK clients against the loopback server: wire shape, outputs, errors, limits."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http.client
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import pytest

from benchmark.models import PROVIDERS, parse_model_id, provider_class
from benchmark.models._http import LoopSemaphore, parse_retry_after, status_kind
from benchmark.models.anthropic import AnthropicModel
from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.models.openai import OpenAIModel
from benchmark.models.openai_compatible import OpenAICompatibleModel
from tests.loopback import Fault, LoopbackServer, Reply, Usage

KEY = "sk-loopback-SECRET-0123456789"
CTX = CallContext(problem_id="p1", sample=0, iteration=0, output_format="yaml")
CONFIG = GenerateConfig(temperature=0.3, max_tokens=321, seed=42)
MESSAGES = [
    ChatMessage("system", "You write CloudFormation."),
    ChatMessage("user", "Make a bucket."),
    ChatMessage("assistant", "Resources: {}"),
    ChatMessage("user", "cfn-lint says: E1001 ..."),
]

Factory = Callable[..., ModelAPI]


def make_anthropic(server: LoopbackServer, **kw: Any) -> ModelAPI:
    kw.setdefault("max_retries", 0)
    return AnthropicModel("claude-test", api_key=KEY, base_url=server.anthropic_base_url, **kw)


def make_openai(server: LoopbackServer, **kw: Any) -> ModelAPI:
    kw.setdefault("max_retries", 0)
    return OpenAIModel("gpt-test", api_key=KEY, base_url=server.openai_base_url, **kw)


def make_compatible(server: LoopbackServer, **kw: Any) -> ModelAPI:
    kw.setdefault("max_retries", 0)
    kw.setdefault("api_key", KEY)
    return OpenAICompatibleModel("meta-llama/Llama-3-8B", base_url=server.openai_base_url, **kw)


ALL = pytest.mark.parametrize(
    "make", [make_anthropic, make_openai, make_compatible], ids=["anthropic", "openai", "compat"]
)
TWO = pytest.mark.parametrize("make", [make_anthropic, make_openai], ids=["anthropic", "openai"])


def run(model: ModelAPI, body: Callable[[ModelAPI], Awaitable[Any]]) -> Any:
    """Run `body(model)` in a fresh loop and close the model's client afterwards."""

    async def go() -> Any:
        try:
            return await body(model)
        finally:
            await model.aclose()

    return asyncio.run(go())


def call(model: ModelAPI, config: GenerateConfig = CONFIG) -> ModelOutput:
    return run(model, lambda m: m.generate(MESSAGES, config, CTX))


def call_error(model: ModelAPI) -> ModelError:
    with pytest.raises(ModelError) as info:
        call(model)
    return info.value


# -- successful calls ----------------------------------------------------------------------


@ALL
def test_output_fields_recorded(loopback: Callable[..., LoopbackServer], make: Factory) -> None:
    server = loopback(["Resources:\n  B:\n    Type: AWS::S3::Bucket\n"], usage=Usage(40, 9, 16))
    out = call(make(server))
    assert out.text == "Resources:\n  B:\n    Type: AWS::S3::Bucket\n"
    assert out.finish_reason in ("stop", "end_turn")
    # Whole prompt for both APIs (Anthropic's uncached input + cache reads), cached part apart.
    assert (out.input_tokens, out.output_tokens, out.cached_tokens) == (40, 9, 16)
    assert out.latency_s is not None and out.latency_s > 0
    assert out.request_id == "req_loop_0000"
    assert len(server.requests) == 1 and server.errors == []


@ALL
def test_truncation_finish_reason(loopback: Callable[..., LoopbackServer], make: Factory) -> None:
    wire = "max_tokens" if make is make_anthropic else "length"
    server = loopback([Reply("Resources:", finish_reason=wire)])
    assert call(make(server)).finish_reason == wire


@ALL
def test_scripted_replies_in_order_and_callable(
    loopback: Callable[..., LoopbackServer], make: Factory
) -> None:
    server = loopback(["one", "two"])
    model = make(server)

    async def twice(m: ModelAPI) -> list[str]:
        return [(await m.generate(MESSAGES, CONFIG, CTX)).text for _ in range(2)]

    assert run(model, twice) == ["one", "two"]

    echo = loopback(lambda body, path: f"{path}:{body['model']}")
    text = call(make(echo)).text
    assert text.endswith(":" + echo.requests[0].body["model"])
    assert text.startswith(echo.requests[0].path)


def test_anthropic_wire_format(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["ok"])
    out = call(make_anthropic(server))
    (req,) = server.requests
    assert req.path == "/v1/messages"
    body = req.body
    assert body["model"] == "claude-test"
    assert body["system"] == "You write CloudFormation."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][2]["content"] == "cfn-lint says: E1001 ..."
    assert body["max_tokens"] == 321
    # No seed on this API; temperature is rejected by anthropic-version 2026-10-21.
    assert "seed" not in body and "temperature" not in body
    assert out.extra["temperature"] == "omitted"
    assert req.headers["anthropic-version"]
    assert KEY in req.headers["authorization"]


def test_anthropic_without_system_message(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["ok"])
    msgs = [ChatMessage("user", "hi")]
    run(make_anthropic(server), lambda m: m.generate(msgs, CONFIG, CTX))
    assert "system" not in server.requests[0].body


def test_anthropic_multiple_system_messages_joined(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["ok"])
    msgs = [ChatMessage("system", "a"), ChatMessage("system", "b"), ChatMessage("user", "hi")]
    run(make_anthropic(server), lambda m: m.generate(msgs, CONFIG, CTX))
    assert server.requests[0].body["system"] == "a\n\nb"
    assert server.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]


def test_openai_wire_format(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["ok"])
    out = call(make_openai(server))
    (req,) = server.requests
    assert req.path == "/v1/chat/completions"
    body = req.body
    assert body["model"] == "gpt-test"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in MESSAGES]
    assert body["temperature"] == 0.3
    assert body["seed"] == 42
    assert body["max_completion_tokens"] == 321 and "max_tokens" not in body
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert out.extra["system_fingerprint"] == "fp_loopback"


def test_openai_seed_omitted_when_none(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["ok"])
    call(make_openai(server), GenerateConfig(temperature=0.0, max_tokens=10))
    assert "seed" not in server.requests[0].body
    assert server.requests[0].body["temperature"] == 0.0


def test_openai_compatible_wire_format(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["ok"])
    model = make_compatible(server, api_key="")
    assert model.id == "openai-compatible/meta-llama/Llama-3-8B"
    call(model)
    (req,) = server.requests
    assert req.body["model"] == "meta-llama/Llama-3-8B"
    assert req.body["max_tokens"] == 321 and "max_completion_tokens" not in req.body
    assert req.body["temperature"] == 0.3 and req.body["seed"] == 42
    assert req.headers["authorization"] == "Bearer not-needed"


def test_openai_compatible_requires_base_url() -> None:
    with pytest.raises(ValueError, match="base_url is required"):
        OpenAICompatibleModel("llama3", api_key="")


def test_loopback_accepts_unversioned_openai_path(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["ok"])
    model = OpenAICompatibleModel("m", api_key="", base_url=server.url, max_retries=0)
    assert call(model).text == "ok"
    assert server.requests[0].path == "/chat/completions"


@ALL
def test_context_is_ignored(loopback: Callable[..., LoopbackServer], make: Factory) -> None:
    server = loopback(["same", "same"])
    other = CallContext(problem_id="zzz", sample=9, iteration=5, output_format="json")
    model = make(server)

    async def both(m: ModelAPI) -> None:
        await m.generate(MESSAGES, CONFIG, CTX)
        await m.generate(MESSAGES, CONFIG, other)

    run(model, both)
    first, second = server.bodies()
    assert first == second


# -- concurrency ---------------------------------------------------------------------------


@TWO
@pytest.mark.parametrize("limit", [2, 6])
def test_concurrency_limit_measured_at_server(
    loopback: Callable[..., LoopbackServer], make: Factory, limit: int
) -> None:
    server = loopback(lambda body, path: "ok", latency_s=0.2)
    model = make(server, max_concurrency=limit)

    async def six(m: ModelAPI) -> list[ModelOutput]:
        return await asyncio.gather(*(m.generate(MESSAGES, CONFIG, CTX) for _ in range(6)))

    outs = run(model, six)
    assert [o.text for o in outs] == ["ok"] * 6
    assert len(server.requests) == 6
    # Exactly the limit: never more in flight, and the calls did overlap up to it.
    assert server.max_in_flight == limit
    assert all(o.latency_s is not None and o.latency_s >= 0.2 for o in outs)


# -- errors: every failure is a ModelError with the right kind, fatal flag and Retry-After ----

TIMEOUT_S = 0.3

# (fault, kind, fatal, retry_after). Each call goes out once: the SDK's retries are off.
FAULT_CASES = [
    pytest.param(Fault(429, retry_after=0.5), "rate_limit", False, 0.5, id="429"),
    pytest.param(Fault(500), "server", False, None, id="500"),
    pytest.param(Fault(503, retry_after=2), "server", False, 2.0, id="503"),
    pytest.param(Fault(529), "overloaded", False, None, id="529"),
    pytest.param(Fault.hang(5.0), "timeout", False, None, id="hang"),
    pytest.param(Fault.reset(), "connection", False, None, id="reset"),
    pytest.param(Fault.truncated(), "bad_response", False, None, id="truncated"),
    pytest.param(Fault(200, body=[1, 2]), "bad_response", False, None, id="200-list"),
    pytest.param(Fault(200, body={"x": 1}), "bad_response", False, None, id="200-no-fields"),
    pytest.param(Fault(400), "invalid_request", True, None, id="400"),
    pytest.param(Fault(401, retry_after=1), "auth", True, 1.0, id="401"),
    pytest.param(Fault(403), "permission", True, None, id="403"),
    pytest.param(Fault(404), "model", True, None, id="404"),
]


@ALL
@pytest.mark.parametrize(("fault", "kind", "fatal", "retry_after"), FAULT_CASES)
def test_fault_becomes_model_error(
    loopback: Callable[..., LoopbackServer],
    make: Factory,
    fault: Fault,
    kind: str,
    fatal: bool,
    retry_after: float | None,
) -> None:
    server = loopback(["never"], faults={0: fault})
    start = time.perf_counter()
    model = make(server, timeout_s=TIMEOUT_S)
    err = call_error(model)
    assert (err.kind, err.fatal, err.retry_after) == (kind, fatal, retry_after)
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    assert str(err).startswith(model.id + ": ")
    assert len(server.requests) == 1 and server.injected == {fault.kind: 1}
    assert time.perf_counter() - start < TIMEOUT_S + 1.0  # a hang is cut by the timeout
    if fault.mode == "status" and fault.status >= 400:
        assert f"HTTP {fault.status}" in str(err) and "req_loop_0000" in str(err)


@pytest.mark.parametrize(
    ("make", "status", "kind"),
    [
        (make_anthropic, 401, "auth"),
        (make_openai, 401, "auth"),
        (make_anthropic, 404, "model"),
        (make_openai, 404, "model"),
        (make_anthropic, 400, "invalid_request"),
        (make_openai, 400, "invalid_request"),
        (make_compatible, 404, "model"),
    ],
)
def test_fatal_errors_not_retried_by_sdk(
    loopback: Callable[..., LoopbackServer], make: Factory, status: int, kind: str
) -> None:
    server = loopback(["never"], faults={0: Fault(status)})
    err = call_error(make(server, max_retries=2))
    assert (err.fatal, err.kind) == (True, kind)
    assert len(server.requests) == 1  # even with SDK retries on


@TWO
def test_sdk_retries_still_work_when_asked(
    loopback: Callable[..., LoopbackServer], make: Factory
) -> None:
    server = loopback(["recovered"], faults={0: Fault(429, retry_after=0.01)})
    out = call(make(server, max_retries=1))
    assert out.text == "recovered"
    assert [r.status for r in server.requests] == [429, 200]
    assert out.request_id == "req_loop_0001"


@TWO
def test_retry_after_ms_and_http_date(
    loopback: Callable[..., LoopbackServer], make: Factory
) -> None:
    in_30s = email.utils.formatdate(time.time() + 30, usegmt=True)
    server = loopback(
        [],
        faults={
            0: Fault(429, retry_after=9, headers={"retry-after-ms": "250"}),
            1: Fault(503, headers={"retry-after": in_30s}),
            2: Fault(429, headers={"retry-after": "soon"}),
        },
    )
    model = make(server)

    async def three(m: ModelAPI) -> list[float | None]:
        hints = []
        for _ in range(3):
            with pytest.raises(ModelError) as info:
                await m.generate(MESSAGES, CONFIG, CTX)
            hints.append(info.value.retry_after)
        return hints

    ms, date, junk = run(model, three)
    assert ms == 0.25
    assert date is not None and 28.0 <= date <= 30.0
    assert junk is None


@TWO
def test_timeout_is_non_fatal(loopback: Callable[..., LoopbackServer], make: Factory) -> None:
    server = loopback(["too late"], latency_s=2.0)
    err = call_error(make(server, timeout_s=0.2))
    assert (err.fatal, err.kind) == (False, "timeout")


@TWO
def test_connection_refused_is_non_fatal(
    loopback: Callable[..., LoopbackServer], make: Factory
) -> None:
    server = loopback([])
    model = make(server)
    url = server.url
    server.stop()  # nothing listens on that port any more
    err = call_error(model)
    assert (err.fatal, err.kind) == (False, "connection")
    assert f": connection refused at {url}" in str(err)  # the cause and where


def test_openai_context_length_is_not_fatal(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback([], faults={0: Fault(400, code="context_length_exceeded")})
    err = call_error(make_openai(server))
    assert (err.fatal, err.kind) == (False, "context_length")


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens",
        "the request exceeds the available context size, try increasing it",
    ],
)
def test_self_hosted_context_overflow_is_not_fatal(
    loopback: Callable[..., LoopbackServer], message: str
) -> None:
    server = loopback([], faults={0: Fault(400, message=message)})
    err = call_error(make_compatible(server))
    assert (err.fatal, err.kind) == (False, "context_length")


def test_other_bad_requests_stay_fatal(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback([], faults={0: Fault(400, message="'messages' must be a list")})
    err = call_error(make_compatible(server))
    assert (err.fatal, err.kind) == (True, "invalid_request")


def test_anthropic_prompt_too_long_is_not_fatal(loopback: Callable[..., LoopbackServer]) -> None:
    fault = Fault(400, message="prompt is too long: 210000 tokens > 200000 maximum")
    server = loopback([], faults={0: fault})
    err = call_error(make_anthropic(server))
    assert (err.fatal, err.kind) == (False, "context_length")


def test_openai_insufficient_quota_is_fatal(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback([], faults={0: Fault(429, code="insufficient_quota", retry_after=0.5)})
    err = call_error(make_openai(server))
    assert (err.fatal, err.kind, err.retry_after) == (True, "quota", 0.5)


@ALL
def test_api_key_never_in_error_message(
    loopback: Callable[..., LoopbackServer], make: Factory
) -> None:
    fault = Fault(401, message=f"Incorrect API key provided: {KEY}")
    server = loopback([], faults={0: fault})
    err = call_error(make(server))
    assert err.kind == "auth"
    assert KEY not in str(err) and KEY not in repr(err.args)
    assert "***" in str(err)
    assert err.__cause__ is None and err.__suppress_context__


@TWO
def test_empty_api_key_rejected(make: Factory) -> None:
    cls = AnthropicModel if make is make_anthropic else OpenAIModel
    with pytest.raises(ValueError, match="api_key is empty"):
        cls("m", api_key="")


# -- shared helpers ------------------------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": " 7 "}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({"retry-after": email.utils.formatdate(NOW + 42, usegmt=True)}, 42.0),
        ({"retry-after": email.utils.formatdate(NOW - 42, usegmt=True)}, 0.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # the RFC's example: past
        ({"retry-after": "-3"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": ""}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


def test_parse_retry_after_reads_httpx_headers_case_insensitively() -> None:
    assert parse_retry_after(httpx2.Headers({"Retry-After": "1.5"})) == 1.5
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ("invalid_request", True)),
        (401, ("auth", True)),
        (403, ("permission", True)),
        (404, ("model", True)),
        (429, ("rate_limit", False)),
        (500, ("server", False)),
        (502, ("server", False)),
        (504, ("timeout", False)),
        (529, ("overloaded", False)),
        (418, ("http", False)),
    ],
)
def test_status_kind(status: int, expected: tuple[str, bool]) -> None:
    assert status_kind(status) == expected


def test_loop_semaphore_rebinds_to_each_loop() -> None:
    gate = LoopSemaphore(2)
    peak = 0
    holding = 0

    async def hold() -> None:
        nonlocal peak, holding
        async with gate.slot():
            holding += 1
            peak = max(peak, holding)
            await asyncio.sleep(0.01)
            holding -= 1

    async def five() -> None:
        await asyncio.gather(*(hold() for _ in range(5)))

    asyncio.run(five())
    asyncio.run(five())  # a new loop: a semaphore bound to the old one would raise here
    assert peak == 2
    with pytest.raises(ValueError):
        LoopSemaphore(0)


# -- loopback server self-checks -----------------------------------------------------------


def test_loopback_script_exhausted_is_reported(loopback: Callable[..., LoopbackServer]) -> None:
    server = loopback(["only one"])
    model = make_openai(server, max_retries=2)

    async def twice(m: ModelAPI) -> None:
        await m.generate(MESSAGES, CONFIG, CTX)
        await m.generate(MESSAGES, CONFIG, CTX)

    with pytest.raises(ModelError, match="no scripted reply left"):
        run(model, twice)
    assert len(server.requests) == 2  # x-should-retry: false stopped the SDK's retries
    assert server.errors == ["call 1: no scripted reply left"]


def test_loopback_context_manager_and_error_shapes() -> None:
    with LoopbackServer([], faults={0: Fault(529), 1: Fault(429, retry_after=3)}) as server:
        base = server.url
        model_a = make_anthropic(server)
        model_o = make_openai(server)
        err_a = call_error(model_a)
        err_o = call_error(model_o)
        assert server.requests[0].api == "anthropic" and server.requests[1].api == "openai"
    assert err_a.kind == "overloaded" and "overloaded_error" in str(err_a)
    assert err_o.kind == "rate_limit" and "rate_limit_exceeded" in str(err_o)
    assert err_o.retry_after == 3.0
    with pytest.raises(RuntimeError):
        _ = server.url
    assert base.startswith("http://127.0.0.1:")


def test_loopback_faults_do_not_consume_replies(loopback: Callable[..., LoopbackServer]) -> None:
    faults = {0: Fault.truncated(), 1: Fault.reset(), 2: Fault(500)}
    server = loopback(["first", "second"], faults=faults)

    async def until_two_replies(m: ModelAPI) -> list[str]:
        texts: list[str] = []
        while len(texts) < 2:
            with contextlib.suppress(ModelError):
                texts.append((await m.generate(MESSAGES, CONFIG, CTX)).text)
        return texts

    assert run(make_openai(server), until_two_replies) == ["first", "second"]
    assert [r.fault for r in server.requests] == ["truncated", "reset", "500", None, None]
    assert [r.status for r in server.requests] == [200, 0, 500, 200, 200]


def test_loopback_stop_is_prompt_with_held_and_idle_connections() -> None:
    server = LoopbackServer(["kept"], faults={1: Fault.hang(60)}).start()
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    idle.request("POST", "/v1/chat/completions", body=b"{}")
    assert idle.getresponse().read()  # keep-alive: the handler now waits for a next request
    held = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.2)
    held.request("POST", "/v1/messages", body=b"{}")
    with pytest.raises(TimeoutError):
        held.getresponse()
    start = time.perf_counter()
    server.stop()
    assert time.perf_counter() - start < 1.0
    idle.close()
    held.close()


def test_random_rate_rate_determinism_and_no_repeat() -> None:
    def decisions(seed: int, order: list[int]) -> dict[int, str | None]:
        hook = Fault.random_rate(rate=0.2, kinds=[Fault(500), Fault.reset()], seed=seed)
        return {
            i: None if (f := hook({"n": i}, "/v1/messages", 0)) is None else f.kind for i in order
        }

    forward = list(range(2000))
    first = decisions(0, forward)
    # decided by what a request is, not by when it came: any arrival order, the same faults
    assert first == decisions(0, forward[::-1]) == decisions(0, forward[1::2] + forward[::2])
    assert first != decisions(1, forward)
    assert 0.17 <= sum(d is not None for d in first.values()) / len(first) <= 0.23
    assert {"500", "reset"} == {d for d in first.values() if d}
    # the path is part of what a request is
    other = Fault.random_rate(rate=0.2, kinds=[Fault(500)], seed=0)
    assert [other({"n": i}, "/v1/chat/completions", 0) for i in range(200)] != [
        other({"n": i}, "/v1/messages", 0) for i in range(200)
    ]

    # Only a request's first sight can fail, even at rate 1: every retry gets through.
    hook = Fault.random_rate(rate=1.0, kinds=[Fault(500)], seed=0)
    assert [hook({"same": True}, "/v1/messages", seen) is not None for seen in range(4)] == [
        True,
        False,
        False,
        False,
    ]
    with pytest.raises(ValueError):
        Fault.random_rate(rate=1.5)


def test_loopback_counts_sightings_per_request(loopback: Callable[..., LoopbackServer]) -> None:
    seen_by_prompt: dict[str, list[int]] = {}

    def record(body: dict, path: str, seen: int) -> Fault | None:
        seen_by_prompt.setdefault(body["messages"][-1]["content"], []).append(seen)
        return Fault(500) if seen == 0 else None

    server = loopback(lambda body, path: "ok", faults=record)

    async def go(m: ModelAPI) -> None:
        for prompt in ("a", "b", "a"):
            with contextlib.suppress(ModelError):
                await m.generate([ChatMessage("user", prompt)], CONFIG, CTX)

    run(make_openai(server), go)
    assert seen_by_prompt == {"a": [0, 1], "b": [0]}
    assert server.injected == {"500": 2}


@TWO
def test_random_rate_through_the_server(
    loopback: Callable[..., LoopbackServer], make: Factory
) -> None:
    kinds = [Fault(429, retry_after=0), Fault(500), Fault.reset(), Fault.truncated()]

    async def until_ok(m: ModelAPI, n: int) -> int:
        msgs = [ChatMessage("user", f"prompt {n}")]
        for attempt in range(1, 4):
            try:
                await m.generate(msgs, CONFIG, CTX)
            except ModelError as exc:
                assert not exc.fatal
                continue
            return attempt
        raise AssertionError(f"prompt {n} never got through")

    def session(seed: int, concurrent: bool) -> tuple[LoopbackServer, list[int]]:
        server = loopback(lambda body, path: "ok", faults=Fault.random_rate(0.2, kinds, seed))

        async def go(m: ModelAPI) -> list[int]:
            if concurrent:  # arrival order is up to the scheduler: the faults must not care
                return list(await asyncio.gather(*(until_ok(m, n) for n in range(60))))
            return [await until_ok(m, n) for n in range(60)]

        return server, run(make(server, max_concurrency=8), go)

    def faults_by_prompt(server: LoopbackServer) -> dict[str, str]:
        return {r.body["messages"][-1]["content"]: r.fault for r in server.requests if r.fault}

    server, tries = session(seed=0, concurrent=False)
    assert max(tries) == 2 and len(tries) == 60  # one retry always suffices
    injected = sum(server.injected.values())
    assert injected == tries.count(2) == len(server.requests) - 60
    assert 0.1 <= injected / 60 <= 0.3
    assert set(server.injected) <= {f.kind for f in kinds}
    again, tries_again = session(seed=0, concurrent=True)
    assert again.injected == server.injected and tries_again == tries
    assert faults_by_prompt(again) == faults_by_prompt(server)
    other, _ = session(seed=1, concurrent=False)
    assert faults_by_prompt(other) != faults_by_prompt(server)


# -- registry ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("anthropic/claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
        ("openai/gpt-4o", ("openai", "gpt-4o")),
        ("openai-compatible/meta-llama/Llama-3-8B", ("openai-compatible", "meta-llama/Llama-3-8B")),
        ("simulated/baseline", ("simulated", "baseline")),
    ],
)
def test_parse_model_id(model_id: str, expected: tuple[str, str]) -> None:
    assert parse_model_id(model_id) == expected


@pytest.mark.parametrize(
    ("model_id", "match"),
    [
        ("gemini/pro", "unknown provider 'gemini'.*anthropic, bedrock, openai, openai-compatible"),
        ("gpt-4o", "unknown provider 'gpt-4o'"),
        ("openai/", "no model name"),
        ("anthropic", "no model name"),
        ("", "unknown provider ''"),
    ],
)
def test_parse_model_id_errors(model_id: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        parse_model_id(model_id)
    assert "\n" not in str(info.value)


def test_provider_class() -> None:
    assert set(PROVIDERS) == {"anthropic", "bedrock", "openai", "openai-compatible", "simulated"}
    assert provider_class("anthropic") is AnthropicModel
    assert provider_class("openai") is OpenAIModel
    assert provider_class("openai-compatible") is OpenAICompatibleModel
    for name in ("anthropic", "openai", "openai-compatible"):
        assert provider_class(name).provider == name
    with pytest.raises(ValueError, match="unknown provider"):
        provider_class("nope")


def test_provider_class_simulated_is_lazy() -> None:
    pytest.importorskip("benchmark.simulator")
    cls = provider_class("simulated")
    assert issubclass(cls, ModelAPI) and cls.provider == "simulated"


def test_model_ids() -> None:
    a = AnthropicModel("claude-sonnet-4-5", api_key=KEY)
    o = OpenAIModel("gpt-4o", api_key=KEY)
    assert (a.id, o.id) == ("anthropic/claude-sonnet-4-5", "openai/gpt-4o")
    assert not a.simulated and not o.simulated
    asyncio.run(a.aclose())
    asyncio.run(o.aclose())
