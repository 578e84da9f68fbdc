"""A scripted HTTP server on 127.0.0.1 that speaks the OpenAI and Anthropic chat wire formats.

Real SDK clients can be pointed at it (`base_url=server.anthropic_base_url` or
`server.openai_base_url`) so provider code is tested end to end without the network.

    with LoopbackServer(["first reply", "second reply"]) as server:
        ...  # call the SDK; then inspect server.requests

Replies are a list consumed in order (str or Reply), or a callable
`(request_json, path) -> str | Reply`. `faults` makes chosen calls fail: either a mapping
{call_index: Fault} or a callable `(call_index, request_json, path) -> Fault | None`.
Call indexes count every POST the server received, from 0, retries included.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Api = Literal["openai", "anthropic"]

OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions")
ANTHROPIC_PATHS = ("/v1/messages",)


@dataclass(frozen=True)
class Usage:
    """Token counts reported for every successful reply.

    `input_tokens` is the whole prompt, cached part included (OpenAI's convention); on the
    Anthropic wire it is split into `input_tokens` (uncached) + `cache_read_input_tokens`.
    """

    input_tokens: int = 21
    output_tokens: int = 8
    cached_tokens: int = 5


@dataclass(frozen=True)
class Reply:
    """One scripted reply. `finish_reason` is the raw wire value (None: the normal stop)."""

    text: str
    finish_reason: str | None = None


@dataclass(frozen=True)
class Fault:
    """Make a call fail with `status`, in the error shape of the API that was called.

    `retry_after` (seconds, may be fractional) sets the Retry-After header; `body` replaces
    the generated JSON error body; `error_type` / `message` / `code` tune the generated one.
    """

    status: int
    retry_after: float | None = None
    message: str | None = None
    error_type: str | None = None
    code: str | None = None
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class LoggedRequest:
    index: int
    api: Api | None
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None if the body was not JSON
    status: int = 0  # what the server answered


ReplyScript = Sequence[str | Reply] | Callable[[dict[str, Any], str], str | Reply]
FaultHook = Mapping[int, Fault] | Callable[[int, dict[str, Any], str], Fault | None]

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


class LoopbackServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port>, served from a daemon thread."""

    def __init__(
        self,
        replies: ReplyScript | None = None,
        *,
        latency_s: float = 0.0,
        faults: FaultHook | None = None,
        usage: Usage | None = None,
    ) -> None:
        self.replies = replies if replies is not None else []
        self.latency_s = latency_s
        self.faults = faults
        self.usage = usage or Usage()
        self.requests: list[LoggedRequest] = []
        self.errors: list[str] = []  # server-side problems (script exhausted, bad path, ...)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._next_reply = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in injected latency
        self._httpd.shutdown()
        self._httpd.server_close()
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
        return f"http://127.0.0.1:{self.port}"

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
        self, api: Api | None, path: str, headers: dict[str, str], body: Any
    ) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(len(self.requests), api, path, headers, body)
            self.requests.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return entry

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _wait_latency(self) -> None:
        if self.latency_s > 0:
            self._stopping.wait(self.latency_s)

    def _fault_for(self, entry: LoggedRequest) -> Fault | None:
        if self.faults is None:
            return None
        body = entry.body if isinstance(entry.body, dict) else {}
        if callable(self.faults):
            return self.faults(entry.index, body, entry.path)
        return self.faults.get(entry.index)

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

    def respond(self, entry: LoggedRequest) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Status, headers and JSON body answering one logged request."""
        rid = f"req_loop_{entry.index:04d}"
        if entry.api is None:
            self.errors.append(f"unknown path {entry.path}")
            return 404, {}, {"error": {"message": f"no route {entry.path}", "type": "not_found"}}
        fault = self._fault_for(entry)
        if fault is not None:
            return _error_response(entry.api, fault, rid)
        body = entry.body if isinstance(entry.body, dict) else {}
        reply = self._reply_for(body, entry.path)
        if reply is None:
            self.errors.append(f"call {entry.index}: no scripted reply left")
            fault = Fault(
                500, message="loopback: no scripted reply left", headers={"x-should-retry": "false"}
            )
            return _error_response(entry.api, fault, rid)
        if entry.api == "openai":
            return 200, {"x-request-id": rid}, self._openai_body(entry, body, reply)
        return 200, {"request-id": rid}, self._anthropic_body(entry, body, reply)

    def _openai_body(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply
    ) -> dict[str, Any]:
        u = self.usage
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
            "usage": {
                "prompt_tokens": u.input_tokens,
                "completion_tokens": u.output_tokens,
                "total_tokens": u.input_tokens + u.output_tokens,
                "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }

    def _anthropic_body(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply
    ) -> dict[str, Any]:
        u = self.usage
        return {
            "id": f"msg_loop_{entry.index:04d}",
            "type": "message",
            "role": "assistant",
            "model": req.get("model", "unknown"),
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": reply.finish_reason or "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": u.input_tokens - u.cached_tokens,
                "output_tokens": u.output_tokens,
                "cache_read_input_tokens": u.cached_tokens,
                "cache_creation_input_tokens": 0,
            },
        }


def _error_response(api: Api, fault: Fault, rid: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = {"x-request-id" if api == "openai" else "request-id": rid}
    if fault.retry_after is not None:
        headers["retry-after"] = f"{fault.retry_after:g}"
    headers.update(fault.headers)
    if fault.body is not None:
        return fault.status, headers, fault.body
    message = fault.message or f"loopback fault {fault.status}"
    if api == "openai":
        etype, code = _OPENAI_ERRORS.get(fault.status, ("server_error", None))
        error = {
            "message": message,
            "type": fault.error_type or etype,
            "param": None,
            "code": fault.code if fault.code is not None else code,
        }
        return fault.status, headers, {"error": error}
    etype = fault.error_type or _ANTHROPIC_ERRORS.get(fault.status, "api_error")
    error = {"type": etype, "message": message}
    if fault.code is not None:
        error["details"] = {"error_code": fault.code}
    return fault.status, headers, {"type": "error", "error": error, "request_id": rid}


def _api_for(path: str) -> Api | None:
    path = path.split("?", 1)[0].rstrip("/")
    if path in OPENAI_PATHS:
        return "openai"
    if path in ANTHROPIC_PATHS:
        return "anthropic"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: LoopbackServer  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        state = self.server_state
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = state._begin(_api_for(self.path), self.path, headers, body)
        try:
            state._wait_latency()
            status, out_headers, out_body = state.respond(entry)
            entry.status = status
        finally:
            # Leave the in-flight count before answering: once the client has the answer it
            # may send its next request, which must not be counted alongside this one.
            state._end()
        payload = json.dumps(out_body).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for name, value in out_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing to answer
