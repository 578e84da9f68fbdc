"""Tokens a planned call would bill: a tokenizer count, and what Anthropic and OpenAI bill for
prompt-cache writes and reads (cache lookback, minimum cached prefix, cache step)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.config import Settings
from benchmark.loop.prompts import repair_messages
from benchmark.models.base import ChatMessage
from benchmark.models.pricing import Price, tokens_cost
from benchmark.models.prompt_cache import PromptCache, Ttl

LOOKBACK_BLOCKS = 20  # Anthropic looks this many blocks back from a breakpoint for a hit


OPENAI_MIN_CACHED = 1024  # OpenAI caches prompts from this many tokens ...


OPENAI_CACHE_STEP = 128  # ... in steps of this many


def count_tokens(messages: Sequence[ChatMessage], chars_per_token: float) -> float:
    """The documented approximation: the messages' characters / chars_per_token."""
    return sum(len(m.content) for m in messages) / chars_per_token


@dataclass
class Usage:
    """Tokens of one call (expected or summed): input includes cached and written."""

    input: float = 0.0
    output: float = 0.0
    cached: float = 0.0
    written: float = 0.0
    written_1h: float = 0.0

    def scaled(self, weight: float) -> Usage:
        return Usage(*(weight * v for v in self.values()))

    def values(self) -> tuple[float, ...]:
        return (self.input, self.output, self.cached, self.written, self.written_1h)

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def cost(self, price: Price | None) -> float | None:
        one_hour = min(self.written_1h, self.written)
        return tokens_cost(price, self.input, self.output, self.cached, self.written, one_hour)


def anthropic_usage(
    path: Sequence[Sequence[ChatMessage]],
    cache: PromptCache,
    *,
    batch: bool,
    ttl: Ttl,
    max_iterations: int,
    chars_per_token: float,
) -> list[Usage]:
    """Input, cache reads and writes of each call of a chain, under Anthropic's rules: a
    marked prefix of at least the minimum length is written unless read; a call reads the
    longest prefix an earlier call of the chain cached, ending within 20 blocks of a mark."""
    cached: set[tuple[ChatMessage, ...]] = set()
    out = []
    for iteration, messages in enumerate(path, start=1):
        ends = np.cumsum([len(m.content) / chars_per_token for m in messages])
        marks = cache.breakpoints(list(messages), iteration, max_iterations, batch=batch, ttl=ttl)
        read_to = -1
        for mark in marks:
            for j in range(mark, max(-1, mark - LOOKBACK_BLOCKS), -1):
                if tuple(messages[: j + 1]) in cached:
                    read_to = max(read_to, j)
                    break
        read = float(ends[read_to]) if read_to >= 0 else 0.0
        cacheable = [m for m in marks if ends[m] >= cache.min_tokens]
        written = float(ends[cacheable[-1]]) - read if cacheable and cacheable[-1] > read_to else 0
        cached.update(tuple(messages[: m + 1]) for m in cacheable)
        out.append(
            Usage(float(ends[-1]), 0.0, read, written, written if ttl == "1h" and written else 0.0)
        )
    return out


def openai_usage(
    path: Sequence[Sequence[ChatMessage]],
    settings: Settings,
    *,
    batch: bool,
) -> list[Usage]:
    """Input and cache reads of each call of a chain under OpenAI's automatic caching: a
    conversation resends its previous prompt, read from 1,024 tokens in steps of 128; a
    stateless repair shares only its fixed opening; nothing is read in batch mode."""
    cpt = settings.planning.chars_per_token
    out = []
    previous: Sequence[ChatMessage] | None = None
    for messages in path:
        total = count_tokens(messages, cpt)
        shared = 0.0
        if previous is not None and not batch:
            if settings.loop.protocol == "conversation":
                shared = count_tokens(previous, cpt)
            else:
                shared = fixed_opening(settings) / cpt
        cached = 0.0
        if shared >= OPENAI_MIN_CACHED:
            steps = math.floor((shared - OPENAI_MIN_CACHED) / OPENAI_CACHE_STEP)
            cached = float(OPENAI_MIN_CACHED + OPENAI_CACHE_STEP * steps)
        out.append(Usage(total, 0.0, cached))
        previous = messages
    return out


def fixed_opening(settings: Settings) -> int:
    """Characters every stateless repair prompt starts with: its system prompt and the
    repair text before the first template or feedback."""
    prompts = settings.prompts
    sample = repair_messages(prompts, "stateless", [], "", "\x00", "\x00")
    system, user = sample[0].content, sample[1].content
    return len(system) + user.index("\x00")
