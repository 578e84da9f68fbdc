"""OpenAI chat models through the official `openai` SDK (Chat Completions, non-streaming)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import openai

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
    403: ("permission", True),
    404: ("model", True),
    408: ("timeout", False),
    409: ("conflict", False),
    413: ("invalid_request", True),
    422: ("invalid_request", True),
    429: ("rate_limit", False),
    504: ("timeout", False),
}


class OpenAIModel(ModelAPI):
    """A model behind OpenAI's Chat Completions API. Concurrency is capped per instance."""

    provider = "openai"
    # OpenAI deprecated `max_tokens` (rejected by reasoning models); other servers still want it.
    max_tokens_param: ClassVar[str] = "max_completion_tokens"

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
        self._client = openai.AsyncOpenAI(
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
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": config.temperature,
            self.max_tokens_param: config.max_tokens,
        }
        if config.seed is not None:
            kwargs["seed"] = config.seed
        async with self._gate():
            start = time.perf_counter()
            try:
                completion = await self._client.chat.completions.create(**kwargs)
            except openai.OpenAIError as exc:
                raise self._to_model_error(exc) from None
            latency = time.perf_counter() - start
        if not completion.choices:
            raise ModelError(f"{self.id}: response has no choices", kind="bad_response")
        choice = completion.choices[0]
        usage = completion.usage
        details = usage.prompt_tokens_details if usage else None
        extra: dict[str, str] = {}
        if choice.message.refusal:
            extra["refusal"] = choice.message.refusal
        if completion.system_fingerprint:
            extra["system_fingerprint"] = completion.system_fingerprint
        return ModelOutput(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
            cached_tokens=details.cached_tokens if details else None,
            latency_s=latency,
            request_id=completion._request_id,
            extra=extra,
        )

    def _to_model_error(self, exc: openai.OpenAIError) -> ModelError:
        if isinstance(exc, openai.APITimeoutError):
            return ModelError(f"{self.id}: request timed out", kind="timeout")
        if isinstance(exc, openai.APIConnectionError):
            return ModelError(f"{self.id}: connection error", kind="connection")
        if isinstance(exc, openai.APIResponseValidationError):
            return ModelError(f"{self.id}: malformed response", kind="bad_response")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            kind, fatal = _STATUS_KINDS.get(status, ("server" if status >= 500 else "http", False))
            if exc.code == "context_length_exceeded":
                kind, fatal = "context_length", False
            elif exc.code == "insufficient_quota":
                kind, fatal = "quota", True  # a 429 that retrying cannot fix
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = str(body.get("message") or "")
            text = f"{self.id}: HTTP {status} {exc.code or exc.type or ''} {detail}".strip()
            if exc.request_id:
                text += f" (x-request-id {exc.request_id})"
            return ModelError(self._scrub(text[:500]), fatal=fatal, kind=kind)
        return ModelError(self._scrub(f"{self.id}: {type(exc).__name__}: {exc}"[:500]))

    def _scrub(self, text: str) -> str:
        """Never let the key reach a message, even if the server echoes it."""
        return text.replace(self._secret, "***") if len(self._secret) >= 8 else text

    async def aclose(self) -> None:
        await self._client.close()
