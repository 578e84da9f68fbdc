"""Test doubles that speak the project's interfaces: a scripted model and an inline linter."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
    ToolCall,
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


ToolReply = ModelOutput | ModelError | Callable[[list[ChatMessage], CallContext], ModelOutput]


def tool_call(call_id: str, name: str, arguments: dict[str, Any] | str) -> ToolCall:
    """A tool call as a provider hands it over (`arguments` as JSON text, or raw text)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(call_id, name, text)


def turn_reply(*calls: ToolCall, text: str = "") -> ModelOutput:
    """A tool-calling reply with fixed usage: 10 tokens in, 20 out."""
    return ModelOutput(
        text=text, finish_reason="stop", input_tokens=10, output_tokens=20, tool_calls=list(calls)
    )


class ToolScriptedModel(ModelAPI):
    """A tool-using model from a script: a list (one entry per call) or a function of the
    call's turn (`context.turn`), so that a resumed chain gets the same replies."""

    provider = "scripted"
    supports_tools = True

    def __init__(self, script: list[ToolReply] | Callable[[int], ModelOutput]) -> None:
        super().__init__("tools")
        self.script = script
        self.calls: list[tuple[list[ChatMessage], GenerateConfig, CallContext]] = []

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        self.calls.append((list(messages), config, context))
        if not isinstance(self.script, list):
            assert context.turn is not None
            return self.script(context.turn)
        reply = self.script.pop(0)
        if isinstance(reply, ModelError):
            raise reply
        return reply(messages, context) if callable(reply) else reply
