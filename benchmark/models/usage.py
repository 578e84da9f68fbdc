"""Figures read from a model's reply, judged where they enter the benchmark.

A server may send anything where a count belongs: the openai and anthropic SDKs build their
response models without validation (`construct`), and botocore passes JSON numbers through,
so `usage.completion_tokens` can arrive as "lots", -5 or 10**30. Every `ModelOutput` is judged
here when it is made (`ModelOutput.__post_init__`), whichever provider, batch or cache made it:
a figure that is not sound becomes None and the reason is kept (`usage_flags`), so one bad
reply never crashes a job, overflows a Parquet column, prices a call wrongly or lowers a
budget.
"""

from __future__ import annotations

import math
from typing import Any

MAX_CALL_TOKENS = 10_000_000  # far beyond any context window: more for one call is absurd
# a batch answers within 24 hours and may be resubmitted a few times; a call never takes a week
MAX_LATENCY_S = 7 * 24 * 3600.0
MAX_RETRIES = 10_000

# ModelOutput's token counts; every provider reports the first two, so a missing one is flagged
COUNTS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
)
REPORTED = frozenset({"input_tokens", "output_tokens"})
SECONDS = ("latency_s",)
# optional text: null or a string
TEXTS = ("finish_reason", "request_id", "batch_id", "thinking_display", "service_tier", "speed")
JUDGED = (*COUNTS, *SECONDS, *TEXTS)


def count_flaw(value: object, limit: int = MAX_CALL_TOKENS) -> str | None:
    """Why `value` is not a sound count of at most `limit` (None: it is one). None is a
    missing count: the caller says whether that is a flaw."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "not an integer"
    if value < 0:
        return "negative"
    if value > limit:
        return "absurd"
    return None


def seconds_flaw(value: object, limit: float = MAX_LATENCY_S) -> str | None:
    """Why `value` is not a sound duration in seconds (None: it is one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "not a number"
    if not math.isfinite(value):
        return "not finite"
    if value < 0:
        return "negative"
    if value > limit:
        return "absurd"
    return None


def flaw(name: str, value: object) -> str | None:
    """Why `value` is not sound for the ModelOutput field `name` (None: it is)."""
    if value is None:
        return "missing" if name in REPORTED else None
    if name in COUNTS:
        return count_flaw(value)
    if name in SECONDS:
        return seconds_flaw(value)
    if name in TEXTS:
        return None if isinstance(value, str) else "not text"
    raise ValueError(f"{name!r} is not a figure ModelOutput judges")


def retries_flaw(value: str) -> str | None:
    """Why `extra["retries"]` (a count kept as text) is not sound (None: it is)."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        return "not an integer"
    return count_flaw(count, MAX_RETRIES)


def add_counts(*parts: Any) -> Any:
    """The sum of counts a provider reports apart (Anthropic's fresh, cache-read and
    cache-write input). A part that is missing or not a sound count is passed on as it came
    instead, for `ModelOutput` to judge and flag: summing it could crash, or hide it."""
    for part in parts:
        if part is None or count_flaw(part) is not None:
            return part
    return sum(parts)


def flags_text(flags: dict[str, str]) -> str | None:
    """The `usage_flags` column: "output_tokens=not an integer; input_tokens=absurd"."""
    return "; ".join(f"{name}={why}" for name, why in flags.items()) or None
