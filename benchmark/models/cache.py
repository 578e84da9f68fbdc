"""A content-addressed response cache on disk (SQLite), in front of any real provider.

The key holds everything that can change the reply: provider, model, endpoint, temperature,
max tokens, seed, response format, effort, thinking and its display, the tools offered and
the tool choice, every message (system prompt included, the reasoning items carried on
assistant turns, tool calls and tool results), the output format, and the chain position
(problem, sample, iteration, and the agent protocol's turn). The position is there because a
stateless repair can send the very same messages twice, in one chain or in two problems'
chains, and a sampling model would not answer twice alike: a rerun served from the cache must
replay each original chain, not reuse one reply. Transport settings (timeouts, concurrency,
retries) stay out. Errors and refusals are never stored. Several processes may share one file
(WAL journal, busy timeout).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from benchmark.models.base import (
    CallContext,
    Capabilities,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ProblemLike,
)

REFUSAL_FINISH_REASONS = frozenset({"refusal", "content_filter"})


def cache_key(
    model: ModelAPI,
    endpoint: str | None,
    messages: list[ChatMessage],
    config: GenerateConfig,
    context: CallContext,
) -> str:
    material = {
        "provider": model.provider,
        "model": model.name,
        "endpoint": endpoint,
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "seed": config.seed,
        "messages": [[m.role, m.content] for m in messages],
        "output_format": context.output_format,
        "problem": context.problem_id,
        "sample": context.sample,
        "iteration": context.iteration,
    }
    # each absent when unset, so that older entries stay valid
    for name in ("response_format", "effort", "thinking", "thinking_display"):
        if getattr(config, name) is not None:
            material[name] = getattr(config, name)
    if any(m.carry for m in messages):  # reasoning carried back changes the answer
        material["carry"] = [list(m.carry) for m in messages]
    # tool use (agent protocol): each absent when unset, as above
    if config.tools:
        material["tools"] = [[t.name, t.description, t.parameters] for t in config.tools]
    if config.tool_choice is not None:
        material["tool_choice"] = config.tool_choice
    if any(_tool_fields(m) for m in messages):
        material["tool_turns"] = [_tool_fields(m) for m in messages]
    if context.turn is not None:
        material["turn"] = context.turn
    text = json.dumps(material, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _tool_fields(message: ChatMessage) -> list[object]:
    """A message's tool-use fields, [] when it has none (a turn of the fixed protocols)."""
    if not (message.tool_calls or message.tool_call_id or message.tool_name or message.is_error):
        return []
    calls = [[c.id, c.name, c.arguments] for c in message.tool_calls]
    return [calls, message.tool_call_id, message.tool_name, message.is_error]


def cacheable(output: ModelOutput) -> bool:
    """Only real answers are kept: no refusals, no empty replies (a reply of tool calls only
    is an answer)."""
    refused = output.finish_reason in REFUSAL_FINISH_REASONS or "refusal" in output.extra
    return (bool(output.text.strip()) or bool(output.tool_calls)) and not refused


class ResponseCache:
    """key -> ModelOutput, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, output TEXT)"
        )

    def get(self, key: str) -> ModelOutput | None:
        row = self._db.execute("SELECT output FROM responses WHERE key = ?", (key,)).fetchone()
        return ModelOutput(**json.loads(row[0])) if row else None

    def put(self, key: str, model_id: str, output: ModelOutput) -> None:
        payload = json.dumps(dataclasses.asdict(output))
        self._db.execute(
            "INSERT OR IGNORE INTO responses (key, model, output) VALUES (?, ?, ?)",
            (key, model_id, payload),
        )

    def close(self) -> None:
        self._db.close()


class CachedModel(ModelAPI):
    """Answers from the cache when it can; a hit keeps the original usage and is marked.
    A reply `holds_secret` says holds one (a server echoing a key) is never stored."""

    def __init__(
        self,
        inner: ModelAPI,
        cache: ResponseCache,
        endpoint: str | None,
        holds_secret: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(inner.name)
        self.holds_secret = holds_secret or (lambda _text: False)
        self.inner = inner
        self.provider = inner.provider
        self.cache = cache
        self.endpoint = endpoint
        self.hits = 0

    @property
    def simulated(self) -> bool:
        return self.inner.simulated

    def skip_reason(self, problem: ProblemLike) -> str | None:
        return self.inner.skip_reason(problem)

    @property
    def api(self) -> str:
        return self.inner.api

    async def fetch_capabilities(self) -> Capabilities | None:
        return await self.inner.fetch_capabilities()

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        key = cache_key(self.inner, self.endpoint, messages, config, context)
        stored = self.cache.get(key)
        if stored is not None:
            self.hits += 1
            stored.extra = {**stored.extra, "cache_hit": "true"}
            return stored
        output = await self.inner.generate(messages, config, context)
        if cacheable(output) and not self.holds_secret(output.text):
            self.cache.put(key, self.inner.id, output)
        return output

    def chain_opened(self) -> None:
        self.inner.chain_opened()

    def chain_closed(self) -> None:
        self.inner.chain_closed()

    def status(self) -> str | None:
        return self.inner.status()

    async def aclose(self) -> None:
        self.cache.close()
        await self.inner.aclose()
