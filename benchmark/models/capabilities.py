"""What a model supports: effort levels, thinking modes, structured output, batch, output limit.

A provider's Models API is the first source (`ModelAPI.fetch_capabilities`); the documented
table `capabilities.yaml` beside this module is the fallback, each entry with the page and the
date it was read. A field left out (None) is unknown, and an unknown is never refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import yaml

# `model.effort` values, ordered low -> high (benchmark.models.base re-exports it)
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
THINKING_MODES = ("off", "adaptive", "budget")
TABLE = Path(__file__).with_name("capabilities.yaml")


def thinking_mode(thinking: str | int | None) -> str | None:
    """`model.thinking` as a capability: "off", "adaptive", or "budget" for a token budget."""
    if thinking is None:
        return None
    return "budget" if isinstance(thinking, int) else thinking


@dataclass(frozen=True)
class Capabilities:
    """One model's capabilities. `efforts` / `thinking` are the complete sets it accepts
    (an empty set: the knob is not supported at all); None anywhere: unknown."""

    efforts: frozenset[str] | None = None
    thinking: frozenset[str] | None = None  # subset of THINKING_MODES
    structured_outputs: bool | None = None
    batch: bool | None = None
    max_output_tokens: int | None = None
    source: str = "table"  # models_api | table | simulator

    def to_json(self) -> dict[str, Any]:
        return {
            "efforts": None if self.efforts is None else sorted(self.efforts),
            "thinking": None if self.thinking is None else sorted(self.thinking),
            "structured_outputs": self.structured_outputs,
            "batch": self.batch,
            "max_output_tokens": self.max_output_tokens,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Capabilities:
        efforts, thinking = data.get("efforts"), data.get("thinking")
        return cls(
            efforts=None if efforts is None else frozenset(efforts),
            thinking=None if thinking is None else frozenset(thinking),
            structured_outputs=data.get("structured_outputs"),
            batch=data.get("batch"),
            max_output_tokens=data.get("max_output_tokens"),
            source=str(data.get("source", "table")),
        )

    def refusal(
        self,
        effort: str | None,
        thinking: str | int | None,
        response_format: str | None = None,
        batch: bool = False,
    ) -> str | None:
        """Why these settings cannot run on the model (the first reason), or None."""
        mode = thinking_mode(thinking)
        if effort is not None and self.efforts is not None and effort not in self.efforts:
            return f"model.effort={effort} is not supported ({_named(self.efforts, 'effort')})"
        if mode is not None and self.thinking is not None and mode not in self.thinking:
            named = _named(self.thinking, "thinking")
            return f"model.thinking={thinking} is not supported ({named})"
        if response_format == "json_schema" and self.structured_outputs is False:
            return "model.response_format=json_schema is not supported (no structured outputs)"
        if batch and self.batch is False:
            return "model.batch=true is not supported (no batch API for this model)"
        return None


def _named(values: frozenset[str], what: str) -> str:
    order = {"effort": EFFORTS, "thinking": THINKING_MODES}[what]
    known = [v for v in order if v in values] + sorted(values - set(order))
    return f"supported: {', '.join(known)}" if known else f"it takes no {what} setting"


@cache
def _table() -> tuple[tuple[str, str, Capabilities], ...]:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    rows = []
    for entry in data["models"]:
        caps = Capabilities.from_json({**entry, "source": "table"})
        unknown = (caps.efforts or frozenset()) - set(EFFORTS)
        unknown |= (caps.thinking or frozenset()) - set(THINKING_MODES)
        if unknown:  # a typo would refuse a setting the model has
            raise ValueError(f"{TABLE.name}: {entry['match']}: unknown values {sorted(unknown)}")
        rows.append((str(entry["provider"]), str(entry["match"]), caps))
    return tuple(rows)


def table_capabilities(provider: str, name: str) -> Capabilities | None:
    """The table's entry for `provider/name` (the first pattern that matches), or None."""
    for row_provider, pattern, caps in _table():
        if row_provider == provider and fnmatchcase(name, pattern):
            return caps
    return None
