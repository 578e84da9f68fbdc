"""The validator protocol: a template goes in, findings (and named checks) come out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Level = Literal["E", "W", "I"]

PARSE_ERROR_RULE = "E0000"


@dataclass(frozen=True)
class Finding:
    """One problem a validator found, in cfn-lint's terms (1-based lines and columns)."""

    rule_id: str
    level: Level
    message: str
    path: tuple[str | int, ...] = ()
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    source: str = "cfn-lint"
    # a CDK app's construct path that made it (`AppStack/Data`); None for a template's own
    construct: str | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """Identity used to compare findings: message text is excluded (it can embed set order)."""
        return (self.rule_id, self.line, self.column, tuple(str(p) for p in self.path))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckResult:
    """A named pass/fail check (intent, security) evaluated on one template."""

    check_id: str
    passed: bool
    description: str = ""
    resource: str | None = None
    source: str = ""


@dataclass(frozen=True)
class AttemptRef:
    """Which attempt of the job a template belongs to, for validators that act on its behalf
    (deploy tags what it creates with the attempt's id)."""

    problem_id: str
    sample: int
    iteration: int


@dataclass
class ValidationResult:
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    parse_ok: bool = True
    failure: str | None = None  # the validator itself failed (timeout, crash): not a finding
    # `attempts` columns this validator vouches for, e.g. cfn_lint_version and lint_as_of
    provenance: dict[str, Any] = field(default_factory=dict)
    # `attempts` columns that judge the template, e.g. deployable (records.VALIDATOR_COLUMNS)
    columns: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Validator(Protocol):
    """Anything with a name and an async `validate`. The loop knows nothing else about it.

    A `gating` validator's findings decide whether a template is clean and are fed back, so if
    it fails the chain cannot go on. A reporting validator (intent, security, deploy by
    default) only records; its findings count for nothing unless a prompt set feeds them back.
    """

    name: str
    gating: bool

    async def validate(
        self, template: str, problem: Any, attempt: AttemptRef | None = None
    ) -> ValidationResult: ...

    def close(self) -> None: ...


def count_levels(findings: list[Finding]) -> dict[Level, int]:
    counts: dict[Level, int] = {"E": 0, "W": 0, "I": 0}
    for finding in findings:
        counts[finding.level] += 1
    return counts
