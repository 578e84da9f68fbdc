"""The intent validator: a problem's intent checks, evaluated on each attempt's template.

Results are reported as `CheckResult`s with `source="intent"`; whether failures are fed back
to the model is the prompt set's decision, not this validator's. Whether the template parsed is
cfn-lint's to report (`parse_ok` stays True here); an unparseable template fails every check.
"""

from __future__ import annotations

from typing import Any

from benchmark.problems.intent_language import evaluate_text
from benchmark.validators.base import AttemptRef, CheckResult, ValidationResult

SOURCE = "intent"


def check_results(checks: list[Any], template: str) -> list[CheckResult]:
    """One result per check for `template`; an unparseable template fails them all."""
    _, outcomes = evaluate_text(checks, template)
    return [
        CheckResult(
            check_id=check.id,
            passed=outcome.passed,
            description=check.description,
            resource=outcome.resource,
            source=SOURCE,
        )
        for check, outcome in zip(checks, outcomes, strict=True)
    ]


class IntentValidator:
    """Evaluates `problem.intent_checks`; cheap enough to run inline (parse + JMESPath)."""

    name = "intent"
    gating = False

    async def validate(
        self, template: str, problem: Any, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        checks = list(getattr(problem, "intent_checks", None) or [])
        if not checks:
            return ValidationResult()
        try:
            results = check_results(checks, template)
        except Exception as exc:  # a bug here is reported as the validator failing, not raised
            return ValidationResult(failure=f"intent checks failed: {type(exc).__name__}: {exc}")
        return ValidationResult(checks=results)

    def close(self) -> None:
        """Nothing to release."""
