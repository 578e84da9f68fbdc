"""The feedback loop: generate, extract, validate, stop if clean, else feed back and repeat."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmark.config import LoopConfig, PromptSetConfig
from benchmark.extract import Extraction, extract_template
from benchmark.feedback import render_feedback
from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.problems import Problem
from benchmark.prompts import generation_messages, repair_messages
from benchmark.validators.base import CheckResult, Finding, Validator, count_levels

CLEAN_RULES: dict[str, Callable[[dict[str, int]], bool]] = {
    "no_errors": lambda c: c["E"] == 0,
    "no_errors_or_warnings": lambda c: c["E"] == 0 and c["W"] == 0,
    "no_findings": lambda c: c["E"] == 0 and c["W"] == 0 and c["I"] == 0,
}


class FatalModelError(RuntimeError):
    """A model error that no retry can mend (bad key, unknown model): the job must stop."""


@dataclass
class Attempt:
    """Everything one iteration of one chain produced."""

    problem: Problem
    sample: int
    iteration: int
    started_at: datetime
    finished_at: datetime | None = None
    output: ModelOutput | None = None
    extraction: Extraction | None = None
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    parse_ok: bool | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"E": 0, "W": 0, "I": 0})
    clean: bool = False
    # clean | max_iterations | model_error | fatal_model_error | lint_failure; None: go on
    stop_reason: str | None = None
    model_error: str | None = None
    lint_failures: list[str] = field(default_factory=list)


class FeedbackLoop:
    """Runs problem x sample chains against one model with one prompt set and protocol."""

    def __init__(
        self,
        model: ModelAPI,
        validators: Sequence[Validator],
        prompts: PromptSetConfig,
        loop: LoopConfig,
        generate_config: Callable[[int], GenerateConfig],
    ) -> None:
        self.model = model
        self.validators = list(validators)
        self.prompts = prompts
        self.loop = loop
        self.generate_config = generate_config  # sample index -> config
        self.is_clean = CLEAN_RULES[loop.clean_when]
        self.filename = f"template.{prompts.output_format}"

    async def run_chain(
        self, problem: Problem, sample: int, on_attempt: Callable[[Attempt], None]
    ) -> Attempt:
        """Run one chain to its stop; `on_attempt` receives each attempt as it finishes."""
        messages = generation_messages(self.prompts, problem)
        for iteration in range(1, self.loop.max_iterations + 1):
            attempt = await self._attempt(problem, sample, iteration, messages)
            if attempt.stop_reason is None and iteration == self.loop.max_iterations:
                attempt.stop_reason = "max_iterations"
            on_attempt(attempt)
            if attempt.stop_reason == "fatal_model_error":
                raise FatalModelError(attempt.model_error)
            if attempt.stop_reason is not None:
                return attempt
            assert attempt.output is not None and attempt.extraction is not None
            feedback = render_feedback(
                self.prompts.feedback,
                attempt.findings,
                self.filename,
                attempt.checks if self.prompts.feed_back_checks else (),
            )
            messages = repair_messages(
                self.prompts,
                self.loop.protocol,
                messages,
                attempt.output.text,
                attempt.extraction.template,
                feedback,
            )
        raise AssertionError("unreachable: the last iteration always stops the chain")

    async def _attempt(
        self, problem: Problem, sample: int, iteration: int, messages: list[ChatMessage]
    ) -> Attempt:
        attempt = Attempt(problem, sample, iteration, started_at=datetime.now(UTC))
        context = CallContext(problem.id, sample, iteration, self.prompts.output_format)
        try:
            attempt.output = await self.model.generate(
                messages, self.generate_config(sample), context
            )
        except ModelError as exc:
            attempt.model_error = f"{exc.kind}: {exc}"
            attempt.stop_reason = "fatal_model_error" if exc.fatal else "model_error"
            attempt.finished_at = datetime.now(UTC)
            return attempt

        attempt.extraction = extract_template(attempt.output.text)
        results = await asyncio.gather(
            *(v.validate(attempt.extraction.template, problem) for v in self.validators)
        )
        attempt.parse_ok = all(r.parse_ok for r in results)
        gating_failed = False
        for validator, result in zip(self.validators, results, strict=True):
            attempt.findings.extend(result.findings)
            attempt.checks.extend(result.checks)
            if result.failure:
                attempt.lint_failures.append(f"{validator.name}: {result.failure}")
                gating_failed = gating_failed or validator.gating
        attempt.counts = count_levels(attempt.findings)
        attempt.finished_at = datetime.now(UTC)
        if gating_failed:
            attempt.stop_reason = "lint_failure"  # nothing trustworthy to feed back
        elif self.is_clean(attempt.counts):
            attempt.clean = True
            attempt.stop_reason = "clean"
        return attempt
