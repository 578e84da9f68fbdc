"""Self-hosted servers that speak OpenAI's Chat Completions (Ollama, vLLM, llama.cpp server).

`base_url` is required and must include the API prefix, e.g. `http://localhost:11434/v1`
(Ollama) or `http://localhost:8000/v1` (vLLM). Local servers usually ignore the key, so an
empty `api_key` is replaced by the dummy "not-needed" (the SDK refuses an empty one).
The output cap is sent as `max_tokens`, which these servers understand. `model.effort` is sent
as `reasoning_effort` (as to OpenAI; vLLM and Ollama take it for their reasoning models); a
server that rejects it answers with its error, reported like any bad request. Tools go as on
Chat Completions (benchmark/models/openai_tools.py); a server without tool support answers its
own error, reported the same way.
"""

from __future__ import annotations

from typing import ClassVar

from benchmark.models.openai import OpenAIModel
from benchmark.models.ratelimit import RateLimiter

DUMMY_API_KEY = "not-needed"


class OpenAICompatibleModel(OpenAIModel):
    provider = "openai-compatible"
    max_tokens_param: ClassVar[str] = "max_tokens"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 0,
        max_concurrency: int = 8,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        if not base_url:
            raise ValueError(
                f"{self.provider}: base_url is required (e.g. http://localhost:11434/v1 for "
                f"Ollama, http://localhost:8000/v1 for vLLM) for model {name!r}"
            )
        super().__init__(
            name,
            api_key=api_key or DUMMY_API_KEY,
            base_url=base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            rate_limiter=rate_limiter,
        )
