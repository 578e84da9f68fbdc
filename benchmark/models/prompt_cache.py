"""Where Anthropic prompt-cache breakpoints go: on the prefix a later call will send again.

Anthropic caches a prompt prefix only where a block carries `cache_control`, and bills the
write at 1.25x the input price (2x for the 1-hour TTL) and every later read at 0.1x. A
breakpoint pays where the prefix it closes is sent again:

- the generation call (iteration 1): system + generation prompt, sent again by the other
  samples of the problem and, in the conversation protocol, at the head of every repair;
- a conversation repair: the history before the newest turn (it ends with the model's last
  reply), which the next repair sends again; the generation prompt keeps its own breakpoint;
- a stateless repair: only the system prompt is shared with other calls.

A prefix shorter than the model's minimum cacheable length is never cached (and never billed
as a write), so no breakpoint is placed there. Token counts are estimated generously from the
text (about 3 characters a token), so a prefix long enough to cache is never left unmarked;
a mark on a prefix that is in fact too short costs nothing.
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

    def breakpoints(self, messages: Sequence[ChatMessage], iteration: int) -> list[int]:
        """Indexes of the messages that close a cacheable, re-sent prefix (at most 3)."""
        if not self.enabled or not messages:
            return []
        newest = len(messages) - 1
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        assistants = [i for i, m in enumerate(messages[:newest]) if m.role == "assistant"]
        systems = [i for i, m in enumerate(messages) if m.role == "system"]
        marks: list[int] = []
        if users and (iteration == 1 or users[0] != newest):
            marks.append(users[0])  # the generation prompt
        if assistants:
            marks.append(assistants[-1])  # the history before the newest turn
        if not marks and systems:
            marks.append(systems[-1])  # a stateless repair shares only the system prompt
        return [i for i in sorted(set(marks)) if self._long_enough(messages[: i + 1])]

    def _long_enough(self, prefix: Sequence[ChatMessage]) -> bool:
        return sum(estimate_tokens(m.content) for m in prefix) >= self.min_tokens
