"""A scripted HTTP server on 127.0.0.1 that speaks the OpenAI and Anthropic chat wire formats,
and Amazon Bedrock's Converse (`POST /model/{modelId}/converse`).

Real SDK clients can be pointed at it (`base_url=server.anthropic_base_url` or
`server.openai_base_url`; boto3's `endpoint_url=server.url` with dummy credentials) so provider
code is tested end to end without the network. It does not check SigV4 signatures: the
`authorization` header is logged like any other. `tls=` (tests/loopback_tls.py) serves HTTPS.

    with LoopbackServer(["first reply", "second reply"]) as server:
        ...  # call the SDK; then inspect server.requests

Replies are a list consumed in order (str or Reply), or a callable
`(request_json, path) -> str | Reply`. `faults` makes chosen calls fail, either

- a callable `(request_json, path, seen) -> Fault | None`, where `seen` counts how many times
  the server received this very request (same path, same body) before. It decides a request's
  fault from what the request is, never from when it arrived, so concurrent clients meet the
  same faults on every machine and under any load. `Fault.random_rate(...)` is one; or
- a mapping {call_index: Fault}, call indexes counting every POST from 0, retries included.
  Arrival order is only reproducible for a client that sends one call at a time: use it for
  sequential tests only.

`usage` sets the usage each reply reports (tests/loopback_usage.py): fixed counts (`Usage`),
counted ones with prompt caching (`CountedUsage`), or malformed ones sent as given (`RawUsage`).

A faulted call never consumes a scripted reply; `server.injected` counts the faults injected,
by `Fault.kind`.

`route` answers the requests it knows before anything else (no faults, no script): a callable
`(LoggedRequest) -> (status, JSON body or bytes, content type) | None`, such as the Anthropic
reasoning API of tests/loopback_anthropic_reasoning.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import unquote

from tests.loopback_batch import BatchScript, BatchService
from tests.loopback_limits import RateLimit
from tests.loopback_tls import TlsFiles
from tests.loopback_usage import CountedUsage, Usage

Api = Literal["openai", "anthropic", "bedrock"]
FaultMode = Literal["status", "hang", "reset", "truncated"]

OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions")
ANTHROPIC_PATHS = ("/v1/messages",)
BEDROCK_PATH = re.compile(r"/model/(?P<model>[^/]+)/converse")  # the model id is URL-encoded


@dataclass(frozen=True)
class Reply:
    """One scripted reply. `finish_reason` is the raw wire value (None: the normal stop)."""

    text: str
    finish_reason: str | None = None


@dataclass(frozen=True)
class Fault:
    """Make a call fail. `Fault(status)` answers `status` in the error shape of the API called.

    `retry_after` (seconds, may be fractional) sets the Retry-After header; `body` replaces
    the generated JSON error body; `error_type` / `message` / `code` tune the generated one;
    `headers` are added to the answer. The constructors below make the non-HTTP faults.
    """

    status: int
    retry_after: float | None = None
    message: str | None = None
    error_type: str | None = None
    code: str | None = None
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    mode: FaultMode = "status"
    hold_s: float = 0.0

    @classmethod
    def hang(cls, seconds: float, *, status: int = 504) -> Fault:
        """Hold the request `seconds` (cut short by `stop()`), then answer `status`.

        Meant to outlast the client's timeout; a client that does wait gets a 504 error.
        """
        return cls(status, mode="hang", hold_s=seconds)

    @classmethod
    def reset(cls) -> Fault:
        """Drop the connection without answering (SO_LINGER 0: the client sees a TCP RST)."""
        return cls(0, mode="reset")

    @classmethod
    def truncated(cls) -> Fault:
        """Answer 200 with the first half of a normal reply's JSON (Content-Length matches)."""
        return cls(200, mode="truncated")

    @staticmethod
    def random_rate(
        rate: float = 0.2, kinds: Sequence[Fault] | None = None, seed: int = 0
    ) -> RandomFaults:
        """A `faults` hook failing about `rate` of requests with one of `kinds` (RandomFaults)."""
        return RandomFaults(rate, DEFAULT_RANDOM_KINDS if kinds is None else kinds, seed)

    @property
    def kind(self) -> str:
        """Label counted in `LoopbackServer.injected`: the mode, or the status as a string."""
        return str(self.status) if self.mode == "status" else self.mode


DEFAULT_RANDOM_KINDS: tuple[Fault, ...] = (
    Fault(429, retry_after=0.01),
    Fault(500),
    Fault(529),
    Fault.reset(),
    Fault.truncated(),
)


def request_key(body: Any, path: str) -> str:
    """What identifies a request for fault decisions: its path and its canonical JSON body."""
    return path + "\n" + json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


class RandomFaults:
    """Fails about `rate` of distinct requests with a fault drawn from `kinds`, reproducibly.

    Whether a request fails, and how, is a hash of (seed, path, body): the same requests meet
    the same faults whatever order they arrive in and however loaded the machine is. Only the
    first sight of a request can fail (`seen == 0`), so a retry of it gets through, and a retry
    a slow machine made on its own (a client timeout) never meets a fault of its own.
    """

    def __init__(self, rate: float, kinds: Sequence[Fault], seed: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        if not kinds:
            raise ValueError("kinds is empty")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.seed = seed

    def __call__(self, body: Any, path: str, seen: int) -> Fault | None:
        if seen:
            return None
        digest = hashlib.sha256(f"{self.seed}\n{request_key(body, path)}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw >= self.rate:
            return None
        return self.kinds[int.from_bytes(digest[8:16], "big") % len(self.kinds)]


@dataclass
class LoggedRequest:
    index: int
    api: Api | None
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None if the body was not JSON
    status: int = 0  # what the server answered (0: connection dropped, no answer)
    fault: str | None = None  # Fault.kind, if a fault was injected
    method: str = "POST"
    raw: bytes = b""  # the body as sent (a multipart upload is not JSON)


@dataclass(frozen=True)
class _Answer:
    status: int  # 0: drop the connection instead
    headers: dict[str, str]
    payload: bytes = b""
    hold_s: float = 0.0  # wait this long (or until stop()) before answering
    slow: bool = True  # False: answered without the server's latency (a rate-limit refusal)
    content_type: str = "application/json"


_DROP = _Answer(0, {})

ReplyScript = Sequence[str | Reply] | Callable[[dict[str, Any], str], str | Reply]
FaultHook = Mapping[int, Fault] | Callable[[Any, str, int], Fault | None]
Route = Callable[["LoggedRequest"], "tuple[int, Any, str] | None"]

# (error type, code) per status, in each API's vocabulary.
_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# Bedrock Runtime's modelled exceptions by status; others are set with `Fault(error_type=...)`
# (ModelNotReadyException is a 429 too, ServiceQuotaExceededException a 400).
_BEDROCK_ERRORS: dict[int, str] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


class LoopbackServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port>, served from a daemon thread."""

    def __init__(
        self,
        replies: ReplyScript | None = None,
        *,
        latency_s: float = 0.0,
        faults: FaultHook | None = None,
        usage: Usage | CountedUsage | None = None,
        rate_limit: RateLimit | None = None,
        batches: BatchScript | None = None,
        tls: TlsFiles | None = None,
        route: Route | None = None,
    ) -> None:
        self.route = route  # answers the requests it knows first (see the module docstring)
        self.tls = tls  # serve HTTPS with this certificate (tests/loopback_tls.py)
        self.replies = replies if replies is not None else []
        self.batch = BatchService(self, batches)  # the batch APIs (loopback_batch.py)
        self.rate_limit = rate_limit  # enforce requests / tokens per window (loopback_limits)
        self.latency_s = latency_s
        self.faults = faults
        self.usage = usage or Usage()
        self.requests: list[LoggedRequest] = []
        self.model_lookups: list[LoggedRequest] = []  # Models API GETs (no route: 404)
        self.errors: list[str] = []  # server-side problems (script exhausted, bad path, ...)
        self.injected: Counter[str] = Counter()  # faults injected, by Fault.kind
        self.in_flight = 0
        self.max_in_flight = 0
        self._sightings: Counter[str] = Counter()  # request_key -> times received
        self._batch_answers = 100_000  # numbers the replies given inside batches
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # set by stop(): wakes every waiting handler
        self._connections: set[socket.socket] = set()
        self._next_reply = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, port: int = 0) -> LoopbackServer:
        """Serve on `port` (0: a free one; another: e.g. where a stopped server was)."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        if self.tls is not None:  # the handshake happens in the handler's thread, on first read
            self._httpd.socket = self.tls.server_context().wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; prompt even with held (hang) requests or idle keep-alive clients."""
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers waiting out latency or a hang
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # handlers blocked reading a keep-alive connection see EOF
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("loopback server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        return self.url  # the SDK appends /v1/messages

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"  # the SDK appends /chat/completions

    # -- inspection ------------------------------------------------------------------------

    def bodies(self, api: Api | None = None) -> list[Any]:
        """Parsed JSON bodies of logged requests, optionally of one API only."""
        with self._lock:
            return [r.body for r in self.requests if api is None or r.api == api]

    # -- request handling (called from handler threads) ------------------------------------

    def _begin(
        self,
        api: Api | None,
        path: str,
        headers: dict[str, str],
        body: Any,
        method: str = "POST",
        raw: bytes = b"",
    ) -> LoggedRequest:
        with self._lock:
            if method == "GET" and path.startswith("/v1/models"):
                # a job's capability check (Models API) before its calls: logged apart, so that
                # `requests` and call indexes count the model calls alone
                entry = LoggedRequest(-1, api, path, headers, body)
                entry.method, entry.raw = method, raw
                self.model_lookups.append(entry)
                self.in_flight += 1
                return entry
            entry = LoggedRequest(len(self.requests), api, path, headers, body)
            entry.method, entry.raw = method, raw
            self.requests.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return entry

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _wait(self, seconds: float) -> bool:
        """Sleep `seconds`; True if stop() cut the wait short."""
        return seconds > 0 and self._stopping.wait(seconds)

    def _seen(self, key: str) -> int:
        """How many times a request with this key arrived before (and count this one)."""
        with self._lock:
            seen = self._sightings[key]
            self._sightings[key] += 1
        return seen

    def _fault_for(self, entry: LoggedRequest) -> Fault | None:
        if self.faults is None:
            return None
        body = entry.body if isinstance(entry.body, dict) else {}
        if callable(self.faults):
            seen = self._seen(request_key(entry.body, entry.path))
            fault = self.faults(body, entry.path, seen)
        else:
            fault = self.faults.get(entry.index)
        if fault is not None:
            with self._lock:
                self.injected[fault.kind] += 1
            entry.fault = fault.kind
        return fault

    def _reply_for(self, body: dict[str, Any], path: str) -> Reply | None:
        if callable(self.replies):
            out = self.replies(body, path)
        else:
            with self._lock:
                if self._next_reply >= len(self.replies):
                    return None
                out = self.replies[self._next_reply]
                self._next_reply += 1
        return out if isinstance(out, Reply) else Reply(str(out))

    def respond(self, entry: LoggedRequest) -> _Answer:
        """How to answer one logged request."""
        rid = f"req_loop_{entry.index:04d}"
        if self.route is not None and (routed := self.route(entry)) is not None:
            return _handled_answer(entry.api, rid, routed)
        if entry.api is not None and BatchService.api_for(entry.path):
            handled = self.batch.handle(entry)
            if handled is not None:
                return _handled_answer(entry.api, rid, handled)
            entry.api = None  # a batch path with no such route: answered 404 below
        if entry.index < 0:  # a Models API lookup no route answered: the model is unknown
            body = {"error": {"message": f"no model at {entry.path}", "type": "not_found_error"}}
            return _json_answer(404, {}, body)
        if entry.api is None:
            self.errors.append(f"unknown path {entry.path}")
            body = {"error": {"message": f"no route {entry.path}", "type": "not_found"}}
            return _json_answer(404, {}, body)
        fault = self._fault_for(entry)
        if fault is not None:
            return self._fault_answer(entry, fault, rid)
        body = entry.body if isinstance(entry.body, dict) else {}
        reply = self._reply_for(body, entry.path)
        if reply is None:
            self.errors.append(f"call {entry.index}: no scripted reply left")
            fault = Fault(
                500, message="loopback: no scripted reply left", headers={"x-should-retry": "false"}
            )
            return _error_answer(entry.api, fault, rid)
        if self.rate_limit is None:
            return self._success_answer(entry, body, reply, rid)
        admission = self.rate_limit.admit(entry.api, self.usage.tokens(body, reply.text))
        if not admission.admitted:
            self._give_back()
            message = f"loopback: rate limit reached, retry in {admission.retry_after_s:.3f}s"
            refusal = _error_answer(
                entry.api, Fault(429, message=message, headers=admission.headers), rid
            )
            return dataclasses.replace(refusal, slow=False)
        answer = self._success_answer(entry, body, reply, rid)
        return _Answer(answer.status, {**answer.headers, **admission.headers}, answer.payload)

    def process(self, api: Api, body: dict[str, Any], path: str, rid: str) -> tuple[int, Any]:
        """One request inside a batch: the status and JSON body the online call would get.

        Faults come from the `faults` hook (by request; call indexes mean nothing here); a
        fault that is not an HTTP status (hang, reset, truncated) becomes a 500."""
        fault = None
        if callable(self.faults):
            fault = self.faults(body, path, self._seen(request_key(body, path)))
        if fault is not None:
            with self._lock:
                self.injected[fault.kind] += 1
            if fault.mode != "status":
                fault = Fault(500, message=f"loopback: {fault.kind} inside a batch")
            answer = _error_answer(api, fault, rid)
            return answer.status, json.loads(answer.payload)
        reply = self._reply_for(body, path)
        if reply is None:
            self.errors.append(f"batch request {rid}: no scripted reply left")
            answer = _error_answer(api, Fault(500, message="loopback: no scripted reply"), rid)
            return answer.status, json.loads(answer.payload)
        with self._lock:
            index = self._batch_answers
            self._batch_answers += 1
        entry = LoggedRequest(index, api, path, {}, body)
        if api == "openai":
            return 200, self._openai_body(entry, body, reply)
        return 200, self._anthropic_body(entry, body, reply)

    def _give_back(self) -> None:
        """A scripted reply drawn for a call that was then refused goes back to the script."""
        if not callable(self.replies):
            with self._lock:
                self._next_reply -= 1

    def _fault_answer(self, entry: LoggedRequest, fault: Fault, rid: str) -> _Answer:
        assert entry.api is not None
        if fault.mode == "reset":
            return _DROP
        if fault.mode == "truncated":
            body = entry.body if isinstance(entry.body, dict) else {}
            whole = self._success_answer(entry, body, Reply("loopback: truncated reply"), rid)
            cut = whole.payload[: len(whole.payload) // 2]
            return _Answer(200, whole.headers, cut)
        answer = _error_answer(entry.api, fault, rid)
        if fault.mode == "hang":
            return _Answer(answer.status, answer.headers, answer.payload, fault.hold_s)
        return answer

    def _success_answer(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply, rid: str
    ) -> _Answer:
        if entry.api == "openai":
            return _json_answer(200, {"x-request-id": rid}, self._openai_body(entry, req, reply))
        if entry.api == "bedrock":
            body = self._bedrock_body(req, reply)
            return _json_answer(200, {"x-amzn-requestid": rid}, body)
        return _json_answer(200, {"request-id": rid}, self._anthropic_body(entry, req, reply))

    def _openai_body(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply
    ) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-loop-{entry.index:04d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model", "unknown"),
            "system_fingerprint": "fp_loopback",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason or "stop",
                }
            ],
            "usage": self.usage.openai(req, reply.text),
        }

    def _anthropic_body(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply
    ) -> dict[str, Any]:
        return {
            "id": f"msg_loop_{entry.index:04d}",
            "type": "message",
            "role": "assistant",
            "model": req.get("model", "unknown"),
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": reply.finish_reason or "end_turn",
            "stop_sequence": None,
            "usage": self.usage.anthropic(req, reply.text),
        }

    def _bedrock_body(self, req: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": reply.text}]}},
            "stopReason": reply.finish_reason or "end_turn",
            "usage": self.usage.bedrock(req, reply.text),
            "metrics": {"latencyMs": round(self.latency_s * 1000)},
        }


def bedrock_model_id(path: str) -> str | None:
    """The model id of a Converse path, decoded (`/model/a.b-v1%3A0/converse` -> `a.b-v1:0`)."""
    match = BEDROCK_PATH.fullmatch(path.split("?", 1)[0].rstrip("/"))
    return unquote(match["model"]) if match else None


def _handled_answer(api: Api | None, rid: str, handled: tuple[int, Any, str]) -> _Answer:
    """A batch route's or `route`'s (status, JSON body or bytes, content type) as an answer."""
    status, body, content_type = handled
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = "x-request-id" if api == "openai" else "request-id"
    return _Answer(status, {header: rid}, payload, content_type=content_type)


def _json_answer(status: int, headers: dict[str, str], body: Any) -> _Answer:
    return _Answer(status, headers, json.dumps(body).encode())


def _error_answer(api: Api, fault: Fault, rid: str) -> _Answer:
    if api == "bedrock":
        return _bedrock_error(fault, rid)
    headers = {"x-request-id" if api == "openai" else "request-id": rid}
    if fault.retry_after is not None:
        headers["retry-after"] = f"{fault.retry_after:g}"
    headers.update(fault.headers)
    if fault.body is not None:
        return _json_answer(fault.status, headers, fault.body)
    message = fault.message or f"loopback fault {fault.status}"
    if api == "openai":
        etype, code = _OPENAI_ERRORS.get(fault.status, ("server_error", None))
        error = {
            "message": message,
            "type": fault.error_type or etype,
            "param": None,
            "code": fault.code if fault.code is not None else code,
        }
        return _json_answer(fault.status, headers, {"error": error})
    etype = fault.error_type or _ANTHROPIC_ERRORS.get(fault.status, "api_error")
    error: dict[str, Any] = {"type": etype, "message": message}
    if fault.code is not None:
        error["details"] = {"error_code": fault.code}
    return _json_answer(fault.status, headers, {"type": "error", "error": error, "request_id": rid})


def _bedrock_error(fault: Fault, rid: str) -> _Answer:
    """A rest-json error as AWS sends it: the type in `x-amzn-ErrorType`, `{"message": ...}`.

    A `Fault(body=...)` goes out without that header, so a body's `__type` can name the type.
    """
    headers = {"x-amzn-requestid": rid}
    if fault.retry_after is not None:
        headers["retry-after"] = f"{fault.retry_after:g}"
    if fault.body is None:
        etype = fault.error_type or _BEDROCK_ERRORS.get(fault.status, "InternalServerException")
        headers["x-amzn-errortype"] = (
            f"{etype}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        )
    headers.update(fault.headers)
    message = fault.message or f"loopback fault {fault.status}"
    return _json_answer(fault.status, headers, fault.body or {"message": message})


def _api_for(path: str) -> Api | None:
    path = path.split("?", 1)[0].rstrip("/")
    if path in OPENAI_PATHS:
        return "openai"
    if path in ANTHROPIC_PATHS:
        return "anthropic"
    if BEDROCK_PATH.fullmatch(path):
        return "bedrock"
    batch_api = BatchService.api_for(path)
    return "openai" if batch_api == "openai" else "anthropic" if batch_api else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: LoopbackServer  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server_state._lock:
            self.server_state._connections.add(self.connection)

    def finish(self) -> None:
        with self.server_state._lock:
            self.server_state._connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the connection was reset or shut down under us
            super().finish()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        state = self.server_state
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = state._begin(_api_for(self.path), self.path, headers, body, method, raw)
        try:
            # decided on arrival (a rate limit admits at the gateway), answered after the
            # model's latency (a refusal at once)
            answer = state.respond(entry)
            wait = (state.latency_s if answer.slow else 0.0) + answer.hold_s
            if state._wait(wait):
                answer = _DROP  # stopping: do not keep a held request going
            entry.status = answer.status
        finally:
            # Leave the in-flight count before answering: once the client has the answer it
            # may send its next request, which must not be counted alongside this one.
            state._end()
        if answer.status == 0:
            self._drop()
            return
        try:
            self.send_response(answer.status)
            self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(answer.payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing to answer

    def _drop(self) -> None:
        """Close the connection abruptly: SO_LINGER 0 makes close() send a RST."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The fd really closes (sending the RST) once finish() has closed rfile and wfile too.
        self.connection.close()
