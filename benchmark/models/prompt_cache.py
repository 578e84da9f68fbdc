"""Where Anthropic prompt-cache breakpoints go: on the prefix a later call will send again.

Anthropic caches a prompt prefix only where a block carries `cache_control`. A write costs
1.25x the input price (2x with the 1-hour TTL, which batch mode uses: a round can outlast 5
minutes); every later read of it costs 0.1x. So a token written when it first appears and
then sent n more times costs 1.25 + 0.1n (2 + 0.1n) instead of 1 + n: the write pays if the
prefix is sent again at least once (at least twice with the 1-hour TTL). Breakpoints:

- the generation call: the whole prompt (system + generation prompt), which the problem's
  other samples send again and, in the conversation protocol, every repair starts with;
- a conversation repair: the newest turn, as Anthropic documents for multi-turn caching, so
  the history before it is read and the new turn written for the next repair; on the chain's
  last iterations, where a write would not be read often enough to pay (`max_iterations` in
  the call's context), the end of the last prefix written instead: read, nothing written;
- a stateless repair shares only the system prompt with other calls.

A prefix shorter than the model's minimum cacheable length is never cached (nor billed as a
write), so no breakpoint goes there. Token counts are estimated generously (about 3 characters
a token), so a prefix long enough to cache is never left unmarked; a mark on one that is in
fact too short costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from benchmark.models.base import ChatMessage

Ttl = Literal["5m", "1h"]

# Anthropic's documented minimum cacheable prompt length, by model family (prefix of the
# model name, longest match first); any other Claude model: DEFAULT_MIN_TOKENS.
MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
DEFAULT_MIN_TOKENS = 1024  # Sonnet 4.5, Sonnet 4, Opus 4.1, Opus 4, Sonnet 3.7
CHARS_PER_TOKEN = 3.0  # generous on purpose: English prose runs ~4, YAML/JSON ~3
# a write pays if the prefix is read at least this many times: 1.25 + 0.1n < 1 + n from n = 1,
# 2 + 0.1n < 1 + n from n = 2
WRITE_PAYS_AFTER_READS: dict[str, int] = {"5m": 1, "1h": 2}


def min_cacheable_tokens(model: str) -> int:
    for family in sorted(MIN_CACHEABLE_TOKENS, key=len, reverse=True):
        if model.startswith(family):
            return MIN_CACHEABLE_TOKENS[family]
    return DEFAULT_MIN_TOKENS


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class PromptCache:
    """Anthropic prompt caching for one model: on or off, TTL online and in batch mode."""

    enabled: bool = True
    min_tokens: int = DEFAULT_MIN_TOKENS
    ttl_online: Ttl = "5m"
    ttl_batch: Ttl = "1h"  # a batch round can take longer than 5 minutes

    def ttl(self, batch: bool) -> Ttl:
        return self.ttl_batch if batch else self.ttl_online

    def breakpoints(
        self,
        messages: Sequence[ChatMessage],
        iteration: int,
        max_iterations: int | None = None,
        *,
        batch: bool = False,
    ) -> list[int]:
        """Indexes of the messages that close a cacheable prefix worth marking (at most 1)."""
        if not self.enabled or not messages:
            return []
        newest = len(messages) - 1
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if any(m.role == "assistant" for m in messages):  # a conversation repair
            mark = newest
            if max_iterations is not None:
                # the last iteration whose write is re-read often enough to pay
                paying = max_iterations - WRITE_PAYS_AFTER_READS[self.ttl(batch)]
                if iteration > paying:
                    written = max(1, paying)  # its prompt ended with its user turn number
                    mark = users[min(written, len(users)) - 1]
            marks = [mark]
        elif iteration == 1 and users:
            marks = [newest]  # the generation prompt
        else:
            marks = [i for i, m in enumerate(messages) if m.role == "system"][-1:]
        return [i for i in marks if self._long_enough(messages[: i + 1])]

    def _long_enough(self, prefix: Sequence[ChatMessage]) -> bool:
        return sum(estimate_tokens(m.content) for m in prefix) >= self.min_tokens
