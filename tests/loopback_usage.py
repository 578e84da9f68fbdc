"""Token usage for the loopback server, reported the way each API documents it.

`Usage` reports the same fixed counts for every reply. `CountedUsage` counts tokens from the
texts (one token per 4 characters, rounded up) and keeps each API's prompt cache:

- Anthropic caches only what a request marks: a `cache_control` block caches the prefix up to
  and including it (tools, system, then messages), if that prefix holds at least `min_tokens`.
  A later request reads the longest cached prefix that ends at one of its breakpoints or at
  one of the `lookback` block boundaries before each. Usage splits the prompt into
  `cache_read_input_tokens`, `cache_creation_input_tokens` (the marked part not read, with its
  5m / 1h split under `cache_creation`) and `input_tokens` (the rest).
- OpenAI caches every prompt of at least 1024 tokens by itself; a later prompt of the same
  model reads the longest prefix seen before, in steps of 128 tokens from 1024, reported as
  `prompt_tokens_details.cached_tokens` (part of `prompt_tokens`).

Entries expire after their TTL on `clock` (Anthropic 5 minutes or 1 hour; OpenAI 10 minutes),
refreshed by each read.

Inside `batch(submitted_at)` (a batch's requests, counted when the batch ends) the requests
ran concurrently at moments the client cannot know, between the batch's submission and now:
each reads only entries cached before the batch, alive now (as late as it may have run), and
none of what the batch's other requests wrote; what it writes lives from `submitted_at` (as
early as it may have run) and is cached when the batch ends. A round whose entries die before
the next round has ended is thus billed for writing them again, as the provider would bill it.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
OPENAI_MIN_TOKENS = 1024
OPENAI_STEP = 128
TTL_S = {"5m": 300.0, "1h": 3600.0}
OPENAI_TTL_S = 600.0


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Usage:
    """The same counts for every reply. `input_tokens` is the whole prompt, cached part
    included (OpenAI's convention); on the Anthropic wire it is split into `input_tokens`
    (uncached) + `cache_read_input_tokens`; on Bedrock's into `inputTokens` +
    `cacheReadInputTokens` (sent only when `cached_tokens` > 0, as Bedrock reports cache fields
    only for a request that used a cache point)."""

    input_tokens: int = 21
    output_tokens: int = 8
    cached_tokens: int = 5
    clock: Callable[[], float] = time.monotonic

    @contextlib.contextmanager
    def batch(self, submitted_at: float) -> Iterator[None]:
        yield  # fixed counts: nothing cached, nothing to hold back

    def tokens(self, request: dict[str, Any], reply: str) -> int:
        """What the call costs against a tokens-per-minute limit."""
        return self.input_tokens + self.output_tokens

    def openai(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        return _openai_usage(self.input_tokens, self.cached_tokens, self.output_tokens)

    def anthropic(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        return _anthropic_usage(
            self.input_tokens - self.cached_tokens, self.cached_tokens, 0, "5m", self.output_tokens
        )

    def bedrock(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        return _bedrock_usage(self.input_tokens, self.cached_tokens, self.output_tokens)


@dataclass(frozen=True)
class RawUsage(Usage):
    """Usage sent as given, however malformed (a string count, a negative one, 10**30):
    `fields` overrides the usage object of every reply, on each API's wire; a value of
    `None` removes the field. For testing that a client survives what a server may send."""

    fields: dict[str, Any] = field(default_factory=dict)

    def _raw(self, usage: dict[str, Any]) -> dict[str, Any]:
        merged = {**usage, **self.fields}
        return {name: value for name, value in merged.items() if value is not None}

    def openai(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        return self._raw(super().openai(request, reply))

    def anthropic(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        return self._raw(super().anthropic(request, reply))

    def bedrock(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        return self._raw(super().bedrock(request, reply))


def _bedrock_usage(prompt: int, cached: int, output: int) -> dict[str, Any]:
    usage = {"inputTokens": prompt - cached, "outputTokens": output, "totalTokens": prompt + output}
    if cached:
        usage.update(cacheReadInputTokens=cached, cacheWriteInputTokens=0)
    return usage


def _openai_usage(prompt: int, cached: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _anthropic_usage(fresh: int, read: int, written: int, ttl: str, output: int) -> dict[str, Any]:
    return {
        "input_tokens": fresh,
        "output_tokens": output,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
        "cache_creation": {
            "ephemeral_5m_input_tokens": written if ttl == "5m" else 0,
            "ephemeral_1h_input_tokens": written if ttl == "1h" else 0,
        },
    }


@dataclass(frozen=True)
class _Block:
    text: str
    ttl: str | None  # the block's cache_control TTL; None: not a breakpoint


def _blocks(content: Any, role: str) -> list[_Block]:
    """A system prompt or message content (a string or a list of blocks) as text blocks."""
    if isinstance(content, str):
        return [_Block(f"{role}:{content}", None)]
    out = []
    for block in content or []:
        control = block.get("cache_control")
        ttl = control.get("ttl", "5m") if isinstance(control, dict) else None
        out.append(_Block(f"{role}:{block.get('text', '')}", ttl))
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


@dataclass
class CountedUsage:
    """Counted tokens and honest prompt caching; see the module docstring."""

    prompt_cache: bool = True
    min_tokens: int = 1024  # Anthropic's minimum cacheable prefix (Sonnet 4.5's)
    lookback: int = 20  # block boundaries checked before each Anthropic breakpoint
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, float] = field(default_factory=dict)  # key -> expiry time
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)  # the batch being counted

    @contextlib.contextmanager
    def batch(self, submitted_at: float) -> Iterator[None]:
        """Count a batch's requests (see the module docstring); call it when the batch ends."""
        writes: dict[str, float] = {}
        self._local.batch = (submitted_at, writes)
        try:
            yield
        finally:
            self._local.batch = None
            with self._lock:
                for key, expiry in writes.items():
                    self._entries[key] = max(self._entries.get(key, 0.0), expiry)

    def _times(self) -> tuple[float, float, dict[str, float]]:
        """(when reads happen, when writes happen, where writes go) for the current request."""
        now = self.clock()
        scope = getattr(self._local, "batch", None)
        if scope is None:
            return now, now, self._entries
        submitted_at, writes = scope
        return now, submitted_at, writes

    def _hit(self, key: str, now: float, ttl_s: float, written_at: float) -> bool:
        expiry = self._entries.get(key)
        if expiry is None or expiry < now:
            return False
        self._entries[key] = max(expiry, written_at + ttl_s)
        return True

    @staticmethod
    def _write(target: dict[str, float], key: str, expiry: float) -> None:
        target[key] = max(target.get(key, 0.0), expiry)

    def tokens(self, request: dict[str, Any], reply: str) -> int:
        """What the call costs against a tokens-per-minute limit: prompt (cached or not) and
        reply."""
        system = request.get("system") or ""
        return count_tokens(_text(system) + _openai_prompt(request)) + count_tokens(reply)

    def openai(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        prompt = _openai_prompt(request)
        total = count_tokens(prompt)
        cached = 0
        if self.prompt_cache and total >= OPENAI_MIN_TOKENS:
            model = str(request.get("model"))
            now, written_at, target = self._times()
            with self._lock:
                for n in range(OPENAI_MIN_TOKENS, total + 1, OPENAI_STEP):
                    key = _digest("openai", model, prompt[: n * CHARS_PER_TOKEN])
                    if self._hit(key, now, OPENAI_TTL_S, written_at):
                        cached = n
                    self._write(target, key, written_at + OPENAI_TTL_S)
        return _openai_usage(total, cached, count_tokens(reply))

    def bedrock(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        """Converse usage, counted (Bedrock's cache points are not modelled: nothing cached)."""
        return _bedrock_usage(
            self.tokens(request, reply) - count_tokens(reply), 0, count_tokens(reply)
        )

    def anthropic(self, request: dict[str, Any], reply: str) -> dict[str, Any]:
        blocks = _blocks(request.get("system") or [], "system")
        for message in request.get("messages", []):
            blocks += _blocks(message.get("content"), str(message.get("role")))
        sizes = [count_tokens(b.text) for b in blocks]
        ends = [sum(sizes[: i + 1]) for i in range(len(blocks))]  # tokens up to block i
        keys, running = [], hashlib.sha256(str(request.get("model")).encode())
        for block in blocks:
            running.update(b"\x00" + block.text.encode())
            keys.append(running.hexdigest())
        marks = [i for i, b in enumerate(blocks) if b.ttl is not None] if self.prompt_cache else []
        read_to = -1  # last block read from the cache
        written = 0
        ttl = "5m"
        now, written_at, target = self._times()
        with self._lock:
            for mark in marks:
                ttl_s = TTL_S.get(blocks[mark].ttl or "5m", TTL_S["5m"])
                for j in range(mark, max(-1, mark - self.lookback), -1):
                    if self._hit(keys[j], now, ttl_s, written_at):
                        read_to = max(read_to, j)
                        break
            read = ends[read_to] if read_to >= 0 else 0
            cacheable = [m for m in marks if ends[m] >= self.min_tokens]
            if cacheable and cacheable[-1] > read_to:
                written = ends[cacheable[-1]] - read
                ttl = blocks[cacheable[-1]].ttl or "5m"
            for mark in cacheable:
                ttl_s = TTL_S.get(blocks[mark].ttl or "5m", TTL_S["5m"])
                self._write(target, keys[mark], written_at + ttl_s)
        fresh = (ends[-1] if ends else 0) - read - written
        return _anthropic_usage(fresh, read, written, ttl, count_tokens(reply))


def _openai_prompt(request: dict[str, Any]) -> str:
    messages = request.get("messages", [])
    return "".join(f"{m.get('role')}\n{_text(m.get('content'))}\n" for m in messages)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()
