"""All of a run's validators applied to one template, and what their results add up to.

A CDK job's suite has a front stage (validators/cdk/stage.py): the model's app is synthesized
first; an app that makes no template is judged on the stage's own findings (intent checks all
failed), and a template goes through the usual validators, their findings mapped back to the
app's constructs (validators/cdk/findings.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmark.validators.base import (
    AttemptRef,
    CheckResult,
    Finding,
    ValidationResult,
    Validator,
    count_levels,
)
from benchmark.validators.cdk.findings import map_template_findings, stage_of
from benchmark.validators.cdk.stage import CdkSynthStage, SynthResult
from benchmark.validators.intent import check_results

STAGES = ("python", "cdk", "template")  # a CDK app's stages, in the order they run

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
    synthesized: str | None = None  # the template a CDK app synthesized to (front stage only)


def _applies(validator: Validator, problem: Any) -> bool:
    applies = getattr(validator, "applies", None)
    return applies(problem) if callable(applies) else True


class ValidatorSuite:
    """Runs every validator concurrently on a template and judges it under one clean rule.

    A validator with an `applies(problem)` method runs only where it says so (the collateral
    validator: edit problems only); elsewhere it adds nothing, not even null columns."""

    def __init__(
        self,
        validators: Sequence[Validator],
        clean_when: str,
        front: CdkSynthStage | None = None,
    ) -> None:
        self.validators = list(validators)
        self.is_clean = CLEAN_RULES[clean_when]
        self.front = front  # a CDK app's synth stage: runs first, its template goes on
        self._closed = False

    async def prepare(self) -> None:
        """Let every validator that has a `prepare` step (start its workers, check its settings)
        and the front stage do it now, before any chain starts; a setting it refuses raises
        ConfigError."""
        stages = [*self.validators, *([self.front] if self.front else [])]
        await asyncio.gather(
            *(v.prepare() for v in stages if callable(getattr(v, "prepare", None)))
        )

    @property
    def fed_back_sources(self) -> tuple[str, ...]:
        """Sources whose findings are always fed back besides the linter's: the gating ones."""
        return tuple(v.name for v in self.validators if v.gating and v.name != "cfn-lint")

    async def check(
        self, template: str, problem: Any, attempt: AttemptRef | None = None
    ) -> Verdict:
        """The verdict on `template` (with a front stage: on the app it synthesizes to)."""
        if self.front is None:
            return await self._validate(template, problem, attempt)
        try:
            synth = await self.front.run(template, problem)
        except Exception as exc:  # the stage itself failed (not the app): nothing to judge
            failure = f"{self.front.name}: {type(exc).__name__}: {exc}"
            return Verdict(parse_ok=False, failures=[failure], gating_failed=True)
        made = synth.outcome.template
        if made is None:
            verdict = Verdict(parse_ok=False, findings=list(synth.findings))
            checks = list(getattr(problem, "intent_checks", None) or [])
            verdict.checks = check_results(checks, "")  # no template: every check fails
            verdict.counts = count_levels(synth.findings)
        else:
            verdict = await self._validate(made, problem, attempt, synth, template)
        verdict.synthesized = made
        verdict.provenance.update(synth.provenance)
        verdict.provenance["synth_stage"] = None if verdict.clean else _failed_stage(verdict)
        return verdict

    async def _validate(
        self,
        template: str,
        problem: Any,
        attempt: AttemptRef | None,
        synth: SynthResult | None = None,
        code: str = "",
    ) -> Verdict:
        """Every validator on `template`; a synthesized one's findings mapped to the app
        (`code`) and the synth stage's own findings counted first."""
        validators = [v for v in self.validators if _applies(v, problem)]
        results: list[ValidationResult] = await asyncio.gather(
            *(v.validate(template, problem, attempt) for v in validators)
        )
        verdict = Verdict(parse_ok=all(r.parse_ok for r in results))
        counted: list[Finding] = list(synth.findings) if synth else []
        verdict.findings.extend(counted)
        for validator, result in zip(validators, results, strict=True):
            found = (
                map_template_findings(result.findings, template, code) if synth else result.findings
            )
            verdict.findings.extend(found)
            verdict.checks.extend(result.checks)
            verdict.provenance.update(result.provenance)
            verdict.columns.update(result.columns)
            if validator.gating:
                counted.extend(found)
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
        for validator in [*reversed(self.validators), *([self.front] if self.front else [])]:
            try:
                validator.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _failed_stage(verdict: Verdict) -> str | None:
    """The first stage (python, cdk, template) whose findings kept an app from being clean;
    None where none did (a validator failed)."""
    if verdict.gating_failed:
        return None
    found = {stage_of(f) for f in verdict.findings}
    return next((stage for stage in STAGES if stage in found), None)
