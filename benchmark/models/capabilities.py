"""What a model supports, as its provider's Models API (or the documented table) says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Capabilities:
    """None in a field: unknown. `thinking` is a subset of {"off", "adaptive", "budget"};
    `source` is "models_api" or "table"."""

    efforts: frozenset[str] | None = None
    thinking: frozenset[str] | None = None
    structured_outputs: bool | None = None
    batch: bool | None = None
    max_output_tokens: int | None = None
    source: str = "table"

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
            source=data.get("source", "table"),
        )
