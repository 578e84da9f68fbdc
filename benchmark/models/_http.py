"""What the SDK-backed providers share: key checks, a concurrency gate, error classification.

Retries are not done here: the SDK clients run with `max_retries=0` and RetryingModel retries
every ModelError that is not `fatal`, waiting at least its `retry_after`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

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


class SDKModel(ModelAPI):
    """Base of the providers behind an official SDK: the parts that do not depend on the SDK."""

    request_id_header: ClassVar[str] = "request-id"  # named in error messages
    rate_limit_headers: ClassVar[Parser | None] = None  # reads this API's rate-limit headers

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
        """A timeout or a failed/dropped connection (refused, reset, closed early)."""
        if timeout:
            return self.error("timeout", "request timed out")
        root: BaseException = exc
        while root.__cause__ is not None:  # e.g. APIConnectionError <- ... <- ConnectionResetError
            root = root.__cause__
        why = f" ({type(root).__name__})" if root is not exc else ""
        return self.error("connection", f"connection error{why}")

    def bad_response(self, exc: Exception) -> ModelError:
        """A reply whose body could not be read: cut short, not JSON, or the wrong shape."""
        return self.error("bad_response", f"malformed response: {type(exc).__name__}: {exc}")
