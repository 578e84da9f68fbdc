"""All of a run's validators applied to one template, and what their results add up to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmark.validators.base import AttemptRef, CheckResult, Finding, Validator, count_levels

CLEAN_RULES: dict[str, Callable[[dict[str, int]], bool]] = {
    "no_errors": lambda c: c["E"] == 0,
    "no_errors_or_warnings": lambda c: c["E"] == 0 and c["W"] == 0,
    "no_findings": lambda c: c["E"] == 0 and c["W"] == 0 and c["I"] == 0,
}


@dataclass
class Verdict:
    findings: list[Finding] = field(default_factory=list)  # every validator's
    checks: list[CheckResult] = field(default_factory=list)
    parse_ok: bool = True
    # findings by level, of the gating validators only: a reporting validator's findings
    # (deploy's) are recorded but neither counted nor judged
    counts: dict[str, int] = field(default_factory=lambda: {"E": 0, "W": 0, "I": 0})
    clean: bool = False
    failures: list[str] = field(default_factory=list)  # "<validator>: <what failed>"
    gating_failed: bool = False  # a validator whose findings decide `clean` could not run
    provenance: dict[str, Any] = field(default_factory=dict)  # from every validator
    columns: dict[str, Any] = field(default_factory=dict)  # judged columns, e.g. deployable


def _applies(validator: Validator, problem: Any) -> bool:
    applies = getattr(validator, "applies", None)
    return applies(problem) if callable(applies) else True


class ValidatorSuite:
    """Runs every validator concurrently on a template and judges it under one clean rule.

    A validator with an `applies(problem)` method runs only where it says so (the collateral
    validator: edit problems only); elsewhere it adds nothing, not even null columns."""

    def __init__(self, validators: Sequence[Validator], clean_when: str) -> None:
        self.validators = list(validators)
        self.is_clean = CLEAN_RULES[clean_when]
        self._closed = False

    async def prepare(self) -> None:
        """Let every validator that has a `prepare` step (start its workers, check its settings)
        do it now, before any chain starts; a setting it refuses raises ConfigError."""
        await asyncio.gather(
            *(v.prepare() for v in self.validators if callable(getattr(v, "prepare", None)))
        )

    @property
    def fed_back_sources(self) -> tuple[str, ...]:
        """Sources whose findings are always fed back besides the linter's: the gating ones."""
        return tuple(v.name for v in self.validators if v.gating and v.name != "cfn-lint")

    async def check(
        self, template: str, problem: Any, attempt: AttemptRef | None = None
    ) -> Verdict:
        validators = [v for v in self.validators if _applies(v, problem)]
        results = await asyncio.gather(
            *(v.validate(template, problem, attempt) for v in validators)
        )
        verdict = Verdict(parse_ok=all(r.parse_ok for r in results))
        counted: list[Finding] = []
        for validator, result in zip(validators, results, strict=True):
            verdict.findings.extend(result.findings)
            verdict.checks.extend(result.checks)
            verdict.provenance.update(result.provenance)
            verdict.columns.update(result.columns)
            if validator.gating:
                counted.extend(result.findings)
            if result.failure:
                verdict.failures.append(f"{validator.name}: {result.failure}")
                verdict.gating_failed = verdict.gating_failed or validator.gating
        verdict.counts = count_levels(counted)
        verdict.clean = not verdict.gating_failed and self.is_clean(verdict.counts)
        return verdict

    def close(self) -> None:
        """Close every validator, last opened first (deploy's cleanup does not wait behind a
        linter pool's shutdown), even when one fails to. Closing twice is a no-op."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for validator in reversed(self.validators):
            try:
                validator.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
