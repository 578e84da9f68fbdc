"""What one synth of a model-written CDK app came to (the shared contract of issue 23).

A minimal stand-in until the sandbox's own version lands; the fields are the contract's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

SynthStatus = Literal["ok", "syntax_error", "python_error", "cdk_error", "contract_error", "limit"]


@dataclass(frozen=True)
class SynthOutcome:
    """One synth: the template, or the stage that stopped it and where in app.py."""

    status: SynthStatus
    template: str | None = None  # synthesized template (JSON text), status ok only
    error_type: str | None = None  # "SyntaxError", "TypeError", "jsii.errors.JSIIError", ...
    message: str = ""  # one line-ish, the model's terms (no harness paths)
    line: int | None = None  # line in app.py: the innermost traceback frame in the model's module
    column: int | None = None
    limit: str | None = None  # status limit: "cpu" | "wall" | "memory" | "file_size" | "processes"
    # CDK annotations at synth: {"level": "error"|"warning"|"info",
    # "path": "/AppStack/Data/Resource", "message": ...}
    annotations: tuple[dict[str, str], ...] = ()
    seconds: float = 0.0  # wall seconds of this synth
    sandbox: str = ""  # "bwrap" | "unshare"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["annotations"] = [dict(a) for a in self.annotations]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthOutcome:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["annotations"] = tuple(dict(a) for a in data.get("annotations") or ())
        return cls(**known)
