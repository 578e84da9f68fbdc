"""What synthesizing one model-written CDK app came to: a template, or the stage that stopped it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

SynthStatus = Literal["ok", "syntax_error", "python_error", "cdk_error", "contract_error", "limit"]
LimitName = Literal["cpu", "wall", "memory", "file_size", "processes"]


@dataclass(frozen=True)
class SynthOutcome:
    """One synth. `line`/`column` point into the model's `app.py`; `message` is in its terms."""

    status: SynthStatus
    template: str | None = None  # synthesized template (JSON text), status ok only
    error_type: str | None = None  # "SyntaxError", "TypeError", "jsii.errors.JSIIError", ...
    message: str = ""
    line: int | None = None  # innermost traceback frame in the model's module
    column: int | None = None
    limit: str | None = None  # status limit: "cpu" | "wall" | "memory" | "file_size" | "processes"
    annotations: tuple[dict[str, str], ...] = ()  # {"level", "path", "message"} CDK added at synth
    seconds: float = 0.0  # wall seconds of this synth
    sandbox: str = ""  # "bwrap" | "unshare"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (annotations as a list)."""
        data = asdict(self)
        data["annotations"] = [dict(a) for a in self.annotations]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthOutcome:
        """The inverse of `to_dict`; keys it does not know are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["annotations"] = tuple(dict(a) for a in values.get("annotations") or ())
        return cls(**values)
