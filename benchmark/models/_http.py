"""What the SDK-backed providers share: key checks, a concurrency gate, error classification.

Retries are not done here: the SDK clients run with `max_retries=0` and RetryingModel retries
every ModelError that is not `fatal`, waiting at least its `retry_after`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from benchmark.models.base import ModelAPI, ModelError
from benchmark.models.ratelimit import Parser, RateLimiter

# status -> (kind, fatal). Fatal errors would fail every call of the job the same way.
# Any other 5xx is ("server", transient); any other status ("http", transient).
STATUS_KINDS: dict[int, tuple[str, bool]] = {
    400: ("invalid_request", True),
    401: ("auth", True),
    402: ("billing", True),
    403: ("permission", True),
    404: ("model", True),
    408: ("timeout", False),
    409: ("conflict", False),
    413: ("invalid_request", True),
    422: ("invalid_request", True),
    429: ("rate_limit", False),
    504: ("timeout", False),
    529: ("overloaded", False),  # Anthropic's "overloaded_error"
}

# What both SDKs let escape, unwrapped, when a 2xx body is cut short or is not JSON.
BODY_DECODE_ERRORS: tuple[type[Exception], ...] = (json.JSONDecodeError, UnicodeDecodeError)

# The SDKs build reply objects without validation, so a body of the wrong shape (a list, text,
# missing fields) only fails when the provider reads it, with one of these.
BODY_SHAPE_ERRORS: tuple[type[Exception], ...] = (AttributeError, TypeError, KeyError)

MAX_MESSAGE = 500

# Timeouts while connecting, by class name: httpx's and httpcore's ConnectTimeout, botocore's
# and urllib3's ConnectTimeoutError (named, not imported: each SDK vendors its own stack).
CONNECT_TIMEOUTS = frozenset({"ConnectTimeout", "ConnectTimeoutError"})


def status_kind(status: int) -> tuple[str, bool]:
    """(kind, fatal) for an HTTP error status."""
    return STATUS_KINDS.get(status, ("server" if status >= 500 else "http", False))


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds the server asked to wait, or None when it did not say (or said nonsense).

    Reads `retry-after-ms` first (OpenAI's and Anthropic's precise variant), then `retry-after`
    as seconds (fractions accepted) or as an HTTP-date (RFC 9110; a past date gives 0.0).
    `headers` must look names up case-insensitively (httpx Headers do) or be lower-cased.
    """
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class LoopSemaphore:
    """At most `limit` holders at once, from whichever event loop is running.

    asyncio primitives belong to one loop, and each `asyncio.run` makes a new one; the
    semaphore is re-created when a different loop asks for a slot.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"concurrency limit must be >= 1, got {limit}")
        self.limit = limit
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem, self._loop = asyncio.Semaphore(self.limit), loop
        return self._sem

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._current():
            yield


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what caused it, outermost first: `__cause__`, else `__context__`, even where
    suppressed (httpcore raises `from None` while handling the socket's OSError)."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        node = node.__cause__ or node.__context__


def connection_failure(exc: BaseException) -> str | None:
    """What kept a call from reaching the server, in words, or None if nothing says so."""
    for node in causes(exc):
        if isinstance(node, ConnectionRefusedError):
            return "connection refused"
        if isinstance(node, socket.gaierror):
            return "host not found"
        if isinstance(node, ssl.SSLError):
            return f"TLS error ({getattr(node, 'reason', None) or type(node).__name__})"
        if CONNECT_TIMEOUTS & {cls.__name__ for cls in type(node).__mro__}:
            return "connect timeout"
    return None


def display_url(url: str | None) -> str | None:
    """`url` fit to name in a message: any `user:password@` masked, no trailing slash."""
    if not url:
        return None
    parts = urlsplit(str(url))
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts).rstrip("/")


class SDKModel(ModelAPI):
    """Base of the providers behind an official SDK: the parts that do not depend on the SDK."""

    request_id_header: ClassVar[str] = "request-id"  # named in error messages
    rate_limit_headers: ClassVar[Parser | None] = None  # reads this API's rate-limit headers
    endpoint: str | None = None  # where calls go (credentials masked), named in transport errors

    def __init__(self, name: str, *, api_key: str, max_concurrency: int) -> None:
        super().__init__(name)
        if not api_key:
            raise ValueError(f"{self.provider}: api_key is empty")
        if max_concurrency < 1:
            raise ValueError(f"{self.provider}: max_concurrency must be >= 1")
        self._secret = api_key
        self.max_concurrency = max_concurrency
        self._gate = LoopSemaphore(max_concurrency)

    def http_client(self, factory: Callable[..., Any], limiter: RateLimiter | None) -> Any:
        """The SDK's HTTP client with a hook that shows every response's rate-limit headers
        to `limiter` (None, the SDK's default client, without one)."""
        parse = type(self).rate_limit_headers
        if limiter is None or parse is None:
            return None
        return factory(event_hooks={"response": [limiter.response_hook(parse)]})

    def scrub(self, text: str) -> str:
        """Never let the key reach a message, even if the server echoes it."""
        return text.replace(self._secret, "***") if len(self._secret) >= 8 else text

    def error(
        self, kind: str, detail: str, *, fatal: bool = False, retry_after: float | None = None
    ) -> ModelError:
        """A ModelError whose message names the model and never contains the key."""
        text = self.scrub(f"{self.id}: {detail}")[:MAX_MESSAGE]
        return ModelError(text, fatal=fatal, kind=kind, retry_after=retry_after)

    def status_error(
        self,
        status: int,
        headers: Mapping[str, str],
        summary: str,
        *,
        request_id: str | None,
        override: tuple[str, bool] | None = None,
    ) -> ModelError:
        """The ModelError for an HTTP error status; `override` replaces the (kind, fatal)."""
        kind, fatal = override or status_kind(status)
        detail = f"HTTP {status} {summary}".strip()
        if request_id:
            detail += f" ({self.request_id_header} {request_id})"
        return self.error(kind, detail, fatal=fatal, retry_after=parse_retry_after(headers))

    def transport_error(self, exc: Exception, *, timeout: bool) -> ModelError:
        """A timeout or a failed/dropped connection (refused, DNS, TLS, reset, closed early).

        Failing to reach the server at all, a connect timeout included, is kind "connection"
        and names the endpoint (a job stops after a run of them: benchmark/runner/call_health.py);
        a server that was reached but did not answer in time is kind "timeout"."""
        where = f" at {self.endpoint}" if self.endpoint else ""
        why = connection_failure(exc)
        if timeout and why != "connect timeout":
            return self.error("timeout", "request timed out")
        if why is None:
            root = list(causes(exc))[-1]  # e.g. APIConnectionError <- ... <- ConnectionResetError
            why = "connection error" + (f" ({type(root).__name__})" if root is not exc else "")
        return self.error("connection", f"{why}{where}")

    def bad_response(self, exc: Exception) -> ModelError:
        """A reply whose body could not be read: cut short, not JSON, or the wrong shape."""
        return self.error("bad_response", f"malformed response: {type(exc).__name__}: {exc}")
