"""Where Anthropic prompt-cache breakpoints go, and with which TTL.

Anthropic caches a prompt prefix only where a block carries `cache_control`. A write costs
1.25x the input price (2x with the 1-hour TTL); every later read of it costs 0.1x and
refreshes its lifetime. So a token written when it first appears and then sent n more times
costs 1.25 + 0.1n (2 + 0.1n) instead of 1 + n: the write pays if the prefix is read again at
least once (at least twice with the 1-hour TTL). Breakpoints:

- the generation call: the whole prompt (system + generation prompt), which every repair of
  a conversation starts with and, online, the problem's other samples send again. A stateless
  job's generation prompt is read by no later call, and in batch mode its samples run in the
  same batch, concurrently (a prefix one request writes is not promised to the others): there
  it is left unmarked, as it is when a problem has one sample;
- a conversation repair: the newest turn, as Anthropic documents for multi-turn caching, so
  the history before it is read and the new turn written for the next repair; on the chain's
  last iterations, where a write would not be read often enough to pay (`max_iterations` in
  the call's context), the end of the last prefix written instead: read, nothing written;
- a stateless repair shares only the system prompt with other calls.

A prefix shorter than the model's minimum cacheable length is never cached (nor billed as a
write), so no breakpoint goes there. Token counts are estimated generously (about 3 characters
a token), so a prefix long enough to cache is never left unmarked; a mark on one that is in
fact too short costs nothing.

TTL: online, 5 minutes (a chain's next call follows within seconds). In batch mode an entry a
request writes in one round is read by its chain's request in the next, and a batch may run
its requests at any moment between submission and end: the entry must live from the round's
submission until the next round's end. `BatchCacheTtl` (`model.prompt_cache_ttl=auto`) picks
the 5-minute TTL while the rounds it has seen say that span stays well inside 5 minutes, and
the 1-hour TTL otherwise, and for a job's first round, before any round was seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from benchmark.models.base import ChatMessage

Ttl = Literal["5m", "1h"]
LoopProtocol = Literal["conversation", "stateless"]
TTL_S: dict[Ttl, float] = {"5m": 300.0, "1h": 3600.0}

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
    """Anthropic prompt caching for one job: on or off, TTL online and in batch mode, and what
    the job's chains look like (their protocol, samples per problem)."""

    enabled: bool = True
    min_tokens: int = DEFAULT_MIN_TOKENS
    ttl_online: Ttl = "5m"
    ttl_batch: Ttl = "1h"  # fixed, or under `auto` until rounds were seen (BatchCacheTtl)
    protocol: LoopProtocol = "conversation"
    samples: int | None = None  # chains per problem; None: unknown (several)

    def ttl(self, batch: bool) -> Ttl:
        return self.ttl_batch if batch else self.ttl_online

    def breakpoints(
        self,
        messages: Sequence[ChatMessage],
        iteration: int,
        max_iterations: int | None = None,
        *,
        batch: bool = False,
        ttl: Ttl | None = None,
        previous_ttl: Ttl | None = None,
    ) -> list[int]:
        """Indexes of the messages that close a cacheable prefix worth marking (at most 1).

        `ttl`: the TTL this call's writes get (None: the configured one); `previous_ttl`: the
        one the chain's previous call was sent with (None: the same), which says whether that
        call wrote its prompt (see `_last_written`)."""
        if not self.enabled or not messages:
            return []
        ttl = ttl or self.ttl(batch)
        newest = len(messages) - 1
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if any(m.role == "assistant" for m in messages):  # a conversation repair
            if _write_pays(iteration, max_iterations, ttl):
                marks = [newest]
            else:  # read what an earlier call of the chain wrote, write nothing
                written = _last_written(iteration, max_iterations, previous_ttl or ttl)
                marks = [users[min(written, len(users)) - 1]]
        elif iteration == 1 and users:
            marks = [newest] if self._generation_read_again(batch) else []
        else:
            marks = [i for i, m in enumerate(messages) if m.role == "system"][-1:]
        return [i for i in marks if self._long_enough(messages[: i + 1])]

    def _generation_read_again(self, batch: bool) -> bool:
        """Whether a later call is sure to send the generation prompt again: a conversation's
        repairs, or online another sample of the problem."""
        return self.protocol == "conversation" or (not batch and self.samples != 1)

    def _long_enough(self, prefix: Sequence[ChatMessage]) -> bool:
        return sum(estimate_tokens(m.content) for m in prefix) >= self.min_tokens


def _write_pays(iteration: int, max_iterations: int | None, ttl: Ttl) -> bool:
    """Whether a conversation call's new turn is read by enough later calls of its chain."""
    return max_iterations is None or max_iterations - iteration >= WRITE_PAYS_AFTER_READS[ttl]


def _last_written(iteration: int, max_iterations: int | None, previous_ttl: Ttl) -> int:
    """The latest iteration before `iteration` whose call wrote its prompt to the cache.

    The generation call always does, and so does every call a write pays for: all but the
    chain's last two whatever the TTL, so only the previous call's TTL can say no."""
    previous = iteration - 1
    if previous <= 1 or _write_pays(previous, max_iterations, previous_ttl):
        return max(previous, 1)
    return max(previous - 1, 1)


# A round's entries must outlive the predicted span between their write and their read
# twice over: the 5-minute TTL is used only while that span stays under 2.5 minutes.
TTL_MARGIN = 2.0


class BatchCacheTtl:
    """The TTL a batch job gives each round's cache writes (`model.prompt_cache_ttl=auto`).

    A request of round r writes an entry its chain's request of round r+1 reads. A batch may
    run a request at any moment between its submission and its end, so the entry must live
    from round r's submission to round r+1's end: a batch's duration, the gap until the next
    round is submitted (lint, feedback, the slowest chain) and the next batch's duration.
    Predicted from what this job has seen: twice its longest batch plus its longest gap. While
    `TTL_MARGIN` times that fits in 5 minutes, a round is written with the 5-minute TTL;
    otherwise, and for the first round (nothing seen yet: Anthropic says most batches end
    within an hour, and advises the 1-hour TTL for batches), with the 1-hour TTL. A round that
    outlasts its entries anyway is billed for writing them again, and the next round it
    informs is written for an hour. `fixed`: every round gets that TTL (`5m` / `1h` set).
    """

    def __init__(self, fixed: Ttl | None = None) -> None:
        self.fixed = fixed
        self.longest_batch_s: float | None = None
        self.longest_gap_s: float | None = None
        self._ends: list[float] = []  # batch ends since the last round started

    def batch_ended(self, submitted_at: float, ended_at: float) -> None:
        """A batch this job submitted at `submitted_at` was seen ended at `ended_at`."""
        duration = max(ended_at - submitted_at, 0.0)
        self.longest_batch_s = max(self.longest_batch_s or 0.0, duration)
        self._ends.append(ended_at)

    def round_started(self, at: float) -> Ttl:
        """A round is being submitted at `at`: the TTL its writes get."""
        for end in self._ends:
            self.longest_gap_s = max(self.longest_gap_s or 0.0, at - end, 0.0)
        self._ends.clear()
        return self.ttl()

    def predicted_span_s(self) -> float | None:
        """Seconds an entry must live: from a round's submission to the next round's end."""
        if self.longest_batch_s is None:
            return None
        return 2 * self.longest_batch_s + (self.longest_gap_s or 0.0)

    def ttl(self) -> Ttl:
        if self.fixed is not None:
            return self.fixed
        span = self.predicted_span_s()
        return "5m" if span is not None and TTL_MARGIN * span <= TTL_S["5m"] else "1h"
