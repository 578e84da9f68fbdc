"""All of a run's validators applied to one template, and what their results add up to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmark.validators.base import CheckResult, Finding, Validator, count_levels

CLEAN_RULES: dict[str, Callable[[dict[str, int]], bool]] = {
    "no_errors": lambda c: c["E"] == 0,
    "no_errors_or_warnings": lambda c: c["E"] == 0 and c["W"] == 0,
    "no_findings": lambda c: c["E"] == 0 and c["W"] == 0 and c["I"] == 0,
}


@dataclass
class Verdict:
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    parse_ok: bool = True
    counts: dict[str, int] = field(default_factory=lambda: {"E": 0, "W": 0, "I": 0})
    clean: bool = False
    failures: list[str] = field(default_factory=list)  # "<validator>: <what failed>"
    gating_failed: bool = False  # a validator whose findings decide `clean` could not run
    provenance: dict[str, Any] = field(default_factory=dict)  # from every validator


class ValidatorSuite:
    """Runs every validator concurrently on a template and judges it under one clean rule."""

    def __init__(self, validators: Sequence[Validator], clean_when: str) -> None:
        self.validators = list(validators)
        self.is_clean = CLEAN_RULES[clean_when]

    async def prepare(self) -> None:
        """Let every validator that has a `prepare` step (start its workers, check its settings)
        do it now, before any chain starts; a setting it refuses raises ConfigError."""
        await asyncio.gather(
            *(v.prepare() for v in self.validators if callable(getattr(v, "prepare", None)))
        )

    async def check(self, template: str, problem: Any) -> Verdict:
        results = await asyncio.gather(*(v.validate(template, problem) for v in self.validators))
        verdict = Verdict(parse_ok=all(r.parse_ok for r in results))
        for validator, result in zip(self.validators, results, strict=True):
            verdict.findings.extend(result.findings)
            verdict.checks.extend(result.checks)
            verdict.provenance.update(result.provenance)
            if result.failure:
                verdict.failures.append(f"{validator.name}: {result.failure}")
                verdict.gating_failed = verdict.gating_failed or validator.gating
        verdict.counts = count_levels(verdict.findings)
        verdict.clean = not verdict.gating_failed and self.is_clean(verdict.counts)
        return verdict

    def close(self) -> None:
        for validator in self.validators:
            validator.close()
