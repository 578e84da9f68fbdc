"""What synthesizing one CDK app came to (STAND-IN of the contract's type; the sandbox
helper's version replaces this file at merge)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

SynthStatus = Literal["ok", "syntax_error", "python_error", "cdk_error", "contract_error", "limit"]


@dataclass(frozen=True)
class SynthOutcome:
    status: SynthStatus
    template: str | None = None  # synthesized template (JSON text), status ok only
    error_type: str | None = None  # "SyntaxError", "TypeError", "jsii.errors.JSIIError", ...
    message: str = ""  # one line-ish, the model's terms (no harness paths)
    line: int | None = None  # line in app.py of the innermost frame in the model's module
    column: int | None = None
    limit: str | None = None  # status limit: cpu | wall | memory | file_size | processes
    annotations: tuple[dict[str, str], ...] = ()  # CDK annotations at synth
    seconds: float = 0.0  # wall seconds of this synth
    sandbox: str = ""  # bwrap | unshare

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthOutcome:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["annotations"] = tuple(values.get("annotations") or ())
        return cls(**values)
