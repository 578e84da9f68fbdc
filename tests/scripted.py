"""Test doubles that speak the project's interfaces: a scripted model and an inline linter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.validators.base import PARSE_ERROR_RULE, AttemptRef, ValidationResult
from benchmark.validators.cfn_lint.validator import CFN_LINT_VERSION, WarmLinter, lint_columns

Reply = str | ModelError | Callable[[list[ChatMessage], CallContext], str]


class ScriptedModel(ModelAPI):
    """Replies from a script, one entry per call (per problem id if the script is a dict)."""

    provider = "scripted"

    def __init__(self, script: list[Reply] | dict[str, list[Reply]]) -> None:
        super().__init__("test")
        self.script = script
        self.calls: list[tuple[list[ChatMessage], CallContext]] = []

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        self.calls.append((list(messages), context))
        queue = self.script[context.problem_id] if isinstance(self.script, dict) else self.script
        reply = queue.pop(0)
        if isinstance(reply, ModelError):
            raise reply
        text = reply(messages, context) if callable(reply) else reply
        return ModelOutput(text=text, finish_reason="stop", input_tokens=10, output_tokens=20)


class InlineLint:
    """cfn-lint in this process (no pool): fast enough for loop tests."""

    name = "cfn-lint"
    gating = True

    def __init__(self, linter: WarmLinter) -> None:
        self.linter = linter

    async def validate(
        self, template: str, problem: Any = None, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        findings, as_of = self.linter.lint_dated(template)
        return ValidationResult(
            findings=findings,
            parse_ok=all(f.rule_id != PARSE_ERROR_RULE for f in findings),
            provenance=lint_columns(CFN_LINT_VERSION, as_of),
        )

    def close(self) -> None:
        pass
