"""The `attempts` columns of reasoning: the knobs a job set (effort, thinking, its display, the
API spoken) and what the reply reported (reasoning tokens, service tier, speed, the items
carried to the next turn). The carry column is read back on resume (benchmark/records/resume.py)
so that a resumed conversation sends the same messages as one that was never stopped."""

from __future__ import annotations

import json
from typing import Any

from benchmark.models.base import ModelOutput


def thinking_text(thinking: str | int | None) -> str | None:
    """`model.thinking` as the `thinking` column: off | adaptive | budget:<n> | null."""
    if thinking is None:
        return None
    return f"budget:{thinking}" if isinstance(thinking, int) else thinking


def carry_text(carry: list[dict[str, Any]]) -> str | None:
    """The `reasoning_carry` column: the items as a JSON list, null when there are none."""
    return json.dumps(carry, ensure_ascii=False, separators=(",", ":")) if carry else None


def carry_items(text: object) -> tuple[dict[str, Any], ...]:
    """The carry items a `reasoning_carry` cell holds (none for null, or for a cell that is not
    a JSON list of objects: an older row, or a damaged one, carries nothing)."""
    if not isinstance(text, str) or not text:
        return ()
    try:
        items = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return ()
    return tuple(items)


def reasoning_columns(
    effort: str | None,
    thinking: str | int | None,
    thinking_display: str | None,
    model_api: str,
    output: ModelOutput | None,
) -> dict[str, Any]:
    """One attempt's reasoning columns: the configured knobs, and what its reply reported
    (null where no reply came). The display is the one reported, else the one asked for."""
    return {
        "effort": effort,
        "thinking": thinking_text(thinking),
        "thinking_display": (output.thinking_display if output else None) or thinking_display,
        "model_api": model_api or None,
        "reasoning_tokens": output.reasoning_tokens if output else None,
        "service_tier": output.service_tier if output else None,
        "speed": output.speed if output else None,
        "reasoning_carry": carry_text(output.carry) if output else None,
    }
