"""Claude through the official `anthropic` SDK (Messages API, non-streaming).

Sampling: the SDK (2.x) sends `anthropic-version: 2026-10-21`, under which the API rejects
`temperature`/`top_p`/`top_k` with a 400 on every model, and the SDK has dropped those
arguments. So `GenerateConfig.temperature` is NOT sent; each output records
`extra["temperature"] = "omitted"`. There is no seed parameter either.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic

from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)

# status -> (kind, fatal). Fatal errors would fail every call of the job the same way.
_STATUS_KINDS: dict[int, tuple[str, bool]] = {
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
    529: ("overloaded", False),
}


class AnthropicModel(ModelAPI):
    """A Claude model. Concurrency is capped per instance; retries are the SDK's own."""

    provider = "anthropic"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        max_concurrency: int = 8,
    ) -> None:
        super().__init__(name)
        if not api_key:
            raise ValueError(f"{self.provider}: api_key is empty")
        if max_concurrency < 1:
            raise ValueError(f"{self.provider}: max_concurrency must be >= 1")
        self._secret = api_key
        self.max_concurrency = max_concurrency
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem, self._sem_loop = asyncio.Semaphore(self.max_concurrency), loop
        return self._sem

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        kwargs: dict[str, Any] = {}
        if system:
            kwargs["system"] = system
        async with self._gate():
            start = time.perf_counter()
            try:
                msg = await self._client.messages.create(
                    model=self.name, messages=turns, max_tokens=config.max_tokens, **kwargs
                )
            except anthropic.AnthropicError as exc:
                raise self._to_model_error(exc) from None
            latency = time.perf_counter() - start
        usage = msg.usage
        cache_read = usage.cache_read_input_tokens or 0
        cache_write = usage.cache_creation_input_tokens or 0
        extra = {"temperature": "omitted"}
        if cache_write:
            extra["cache_creation_input_tokens"] = str(cache_write)
        return ModelOutput(
            text="".join(b.text for b in msg.content if b.type == "text"),
            finish_reason=msg.stop_reason,
            # Whole prompt, like OpenAI's prompt_tokens: Anthropic counts cache hits separately.
            input_tokens=usage.input_tokens + cache_read + cache_write,
            output_tokens=usage.output_tokens,
            cached_tokens=cache_read,
            latency_s=latency,
            request_id=msg._request_id,
            extra=extra,
        )

    def _to_model_error(self, exc: anthropic.AnthropicError) -> ModelError:
        if isinstance(exc, anthropic.APITimeoutError):
            return ModelError(f"{self.id}: request timed out", kind="timeout")
        if isinstance(exc, anthropic.APIConnectionError):
            return ModelError(f"{self.id}: connection error", kind="connection")
        if isinstance(exc, anthropic.APIResponseValidationError):
            return ModelError(f"{self.id}: malformed response", kind="bad_response")
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            kind, fatal = _STATUS_KINDS.get(status, ("server" if status >= 500 else "http", False))
            detail = exc.api_message or ""
            if status == 400 and "prompt is too long" in detail.lower():
                kind, fatal = "context_length", False
            text = f"{self.id}: HTTP {status} {exc.type or ''} {detail}".strip()
            if exc.request_id:
                text += f" (request-id {exc.request_id})"
            return ModelError(self._scrub(text[:500]), fatal=fatal, kind=kind)
        return ModelError(self._scrub(f"{self.id}: {type(exc).__name__}: {exc}"[:500]))

    def _scrub(self, text: str) -> str:
        """Never let the key reach a message, even if the server echoes it."""
        return text.replace(self._secret, "***") if len(self._secret) >= 8 else text

    async def aclose(self) -> None:
        await self._client.close()
