"""The feedback loop: generate, extract, validate, stop if clean, else feed back and repeat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from benchmark.config import LoopConfig, PromptSetConfig
from benchmark.loop.extract import Extraction, extract_template, keep_template
from benchmark.loop.feedback import FeedbackInput, render_feedback
from benchmark.loop.prompts import feedback_filename, generation_messages, repair_messages
from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.problems.dataset import Problem
from benchmark.validators.base import AttemptRef, CheckResult, Finding
from benchmark.validators.suite import ValidatorSuite, Verdict


@dataclass(frozen=True)
class RecordedAttempt:
    """What a resumed chain needs of an attempt that was already recorded."""

    reply: str
    template: str
    feedback: str
    carry: tuple[dict[str, Any], ...] = ()  # the reply's reasoning items (ModelOutput.carry)
    # agent protocol: the tool that produced the row, its findings count, its turns (JSON)
    tool: str | None = None
    findings: int | None = None
    agent_turns: str | None = None


@dataclass(frozen=True)
class Resume:
    iteration: int
    messages: list[ChatMessage]
    previous: RecordedAttempt | None = None  # the last recorded attempt


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
    # clean | max_iterations | model_error | fatal_model_error | lint_failure; the agent
    # protocol's submitted | no_submission | max_turns; None: go on
    stop_reason: str | None = None
    model_error: str | None = None
    error_kind: str | None = None  # the ModelError's kind (connection, timeout, server, ...)
    lint_failures: list[str] = field(default_factory=list)
    feedback: str | None = None  # what the next repair call is told; None on the last attempt
    provenance: dict[str, Any] = field(default_factory=dict)  # validators' own columns
    columns: dict[str, Any] = field(default_factory=dict)  # judged columns, e.g. deployable
    agent: dict[str, Any] = field(default_factory=dict)  # agent protocol's columns (AGENT_COLUMNS)
    synthesized: str | None = None  # a CDK app's synthesized template (Verdict.synthesized)


async def judge(
    attempt: Attempt,
    text: str,
    suite: ValidatorSuite,
    template_as: str,
    output_format: str = "yaml",
) -> Verdict:
    """Extract the template (a CDK app's module, for output format python) from `text`, judge
    it with the job's validator suite and record the verdict on `attempt` (a gating validator
    that could not run stops it: lint_failure)."""
    problem = attempt.problem
    attempt.extraction = keep_template(extract_template(text, output_format), template_as)
    verdict = await suite.check(
        attempt.extraction.template,
        problem,
        AttemptRef(problem.id, attempt.sample, attempt.iteration),
    )
    attempt.findings, attempt.checks = verdict.findings, verdict.checks
    attempt.parse_ok, attempt.counts = verdict.parse_ok, verdict.counts
    attempt.lint_failures, attempt.clean = verdict.failures, verdict.clean
    attempt.provenance, attempt.columns = verdict.provenance, verdict.columns
    attempt.synthesized = verdict.synthesized
    attempt.finished_at = datetime.now(UTC)
    if verdict.gating_failed:
        attempt.stop_reason = "lint_failure"  # nothing trustworthy to feed back
    return verdict


def feedback_text(attempt: Attempt, prompts: PromptSetConfig, suite: ValidatorSuite) -> str:
    """What the prompt set's feedback design says of a judged attempt (the fixed loop's repair
    prompt, the agent's validate_template result)."""
    return render_feedback(
        prompts.feedback,
        FeedbackInput(
            attempt.findings,
            feedback_filename(prompts.output_format),
            attempt.extraction.template if attempt.extraction else "",
            attempt.problem.prompt.strip(),
            attempt.checks,
        ),
        (*prompts.feed_back_checks, *suite.fed_back_sources),
    )


class FeedbackLoop:
    """Runs problem x sample chains against one model with one prompt set and protocol."""

    def __init__(
        self,
        model: ModelAPI,
        suite: ValidatorSuite,
        prompts: PromptSetConfig,
        loop: LoopConfig,
        generate_config: Callable[[int], GenerateConfig],
        may_start: Callable[[], bool] = lambda: True,
    ) -> None:
        self.model = model
        self.suite = suite
        self.prompts = prompts
        self.loop = loop
        self.generate_config = generate_config  # sample index -> config
        self.may_start = may_start  # asked before every attempt (the sweep's budget)

    async def run_chain(
        self,
        problem: Problem,
        sample: int,
        on_attempt: Callable[[Attempt], None],
        resume: Resume | None = None,
    ) -> Attempt | None:
        """Run one chain to its stop; `on_attempt` receives each attempt as it finishes.

        Returns the last attempt, or None if `may_start` refused an attempt (budget spent):
        the chain is left unfinished for a later resume.
        """
        iteration, messages = (
            (resume.iteration, resume.messages)
            if resume
            else (1, generation_messages(self.prompts, problem))
        )
        previous = resume.previous if resume else None
        while True:
            if not self.may_start():
                return None
            attempt = await self._attempt(problem, sample, iteration, messages, previous)
            if attempt.stop_reason is None and iteration >= self.loop.max_iterations:
                attempt.stop_reason = "max_iterations"
            if attempt.stop_reason is None:
                attempt.feedback = feedback_text(attempt, self.prompts, self.suite)
            on_attempt(attempt)
            if attempt.stop_reason == "fatal_model_error":
                raise FatalModelError(attempt.model_error or "fatal model error")
            if attempt.stop_reason is not None:
                return attempt
            assert attempt.output is not None and attempt.extraction is not None
            assert attempt.feedback is not None
            previous = RecordedAttempt(
                attempt.output.text,
                attempt.extraction.template,
                attempt.feedback,
                tuple(attempt.output.carry),
            )
            messages = self.next_messages(messages, previous)
            iteration += 1

    def next_messages(
        self, messages: list[ChatMessage], previous: RecordedAttempt
    ) -> list[ChatMessage]:
        """The messages of the repair call that follows a reply and its feedback."""
        return repair_messages(
            self.prompts,
            self.loop.protocol,
            messages,
            previous.reply,
            previous.template,
            previous.feedback,
            previous.carry,
        )

    def resume_point(self, problem: Problem, recorded: Sequence[RecordedAttempt]) -> Resume:
        """Where a chain with these recorded attempts (iterations 1..n, none final) goes on."""
        messages = generation_messages(self.prompts, problem)
        for row in recorded:
            messages = self.next_messages(messages, row)
        last = recorded[-1] if recorded else None
        return Resume(iteration=len(recorded) + 1, messages=messages, previous=last)

    async def _attempt(
        self,
        problem: Problem,
        sample: int,
        iteration: int,
        messages: list[ChatMessage],
        previous: RecordedAttempt | None = None,
    ) -> Attempt:
        attempt = Attempt(problem, sample, iteration, started_at=datetime.now(UTC))
        context = CallContext(
            problem.id,
            sample,
            iteration,
            self.prompts.output_format,
            previous_template=previous.template if previous else None,
            previous_feedback=previous.feedback if previous else None,
            max_iterations=self.loop.max_iterations,
        )
        try:
            attempt.output = await self.model.generate(
                messages, self.generate_config(sample), context
            )
        except ModelError as exc:
            attempt.model_error = f"{exc.kind}: {exc}"
            attempt.error_kind = exc.kind
            attempt.stop_reason = "fatal_model_error" if exc.fatal else "model_error"
            attempt.finished_at = datetime.now(UTC)
            return attempt

        prompts = self.prompts
        verdict = await judge(
            attempt, attempt.output.text, self.suite, prompts.template_as, prompts.output_format
        )
        if attempt.stop_reason is None and verdict.clean:
            attempt.stop_reason = "clean"
        return attempt
