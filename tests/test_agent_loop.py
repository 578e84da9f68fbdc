"""The agent protocol's chain: tools, limits, reminder, forced submission, errors, rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from benchmark.config import LoopConfig, PromptSetConfig
from benchmark.loop.agent import AgentLoop
from benchmark.loop.agent_tools import NO_FINDINGS, REMINDER, SCHEMA, SUBMIT, VALIDATE, cap
from benchmark.loop.feedback_loop import Attempt
from benchmark.models.base import GenerateConfig, ModelError
from benchmark.problems.dataset import load_dataset
from benchmark.validators.cfn_lint.validator import WarmLinter
from benchmark.validators.suite import ValidatorSuite
from tests.scripted import InlineLint, ToolScriptedModel, tool_call, turn_reply

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = PromptSetConfig(
    name="t",
    output_format="yaml",
    system="SYSTEM",
    generation="GEN {prompt}",
    repair="REPAIR\n{template}\n---\n{feedback}",
    repair_followup="FOLLOWUP\n{feedback}",
    feedback="structured",
    agent="AGENT {format_name} {prompt}",
)
CLEAN = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
ERROR = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Bogus: 1\n"


@pytest.fixture(scope="module")
def lint(warm_linter: WarmLinter) -> InlineLint:
    return InlineLint(warm_linter)


@pytest.fixture(scope="module")
def problem():
    return load_dataset(ROOT / "datasets" / "smoke", only=["s3-versioned-bucket"])[0]


def run(model, lint, problem, **loop_args) -> list[Attempt]:
    rows: list[Attempt] = []
    config = LoopConfig(protocol="agent", **loop_args)
    suite = ValidatorSuite([lint], config.clean_when)
    loop = AgentLoop(
        model, suite, PROMPTS, config, lambda s: GenerateConfig(1.0, 100), ["us-east-1"]
    )
    asyncio.run(loop.run_chain(problem, 0, rows.append))
    return rows


def validate(call_id: str, template: str):
    return tool_call(call_id, VALIDATE, {"template": template})


def submit(call_id: str, template: str):
    return tool_call(call_id, SUBMIT, {"template": template})


def test_a_chain_validates_fixes_validates_and_submits(lint, problem) -> None:
    model = ToolScriptedModel(
        [
            turn_reply(validate("a", ERROR), text="Let me check."),
            turn_reply(validate("b", CLEAN)),
            turn_reply(submit("c", CLEAN)),
        ]
    )
    rows = run(model, lint, problem)
    assert [r.iteration for r in rows] == [1, 2, 3]
    assert [r.agent["tool"] for r in rows] == [VALIDATE, VALIDATE, SUBMIT]
    assert [r.stop_reason for r in rows] == [None, None, "submitted"]
    assert [r.counts["E"] for r in rows] == [1, 0, 0] and rows[-1].clean
    assert "E3002" in (rows[0].feedback or "") and rows[1].feedback == NO_FINDINGS
    last = rows[-1].agent
    assert last["submitted"] and last["submission_validated"]
    assert last["open_findings_at_submit"] == 0
    assert [r.agent["submitted"] for r in rows] == [False, False, True]
    # the model saw the validator's text as the tool's result, in a tool turn
    second, _, context = model.calls[1]
    assert [m.role for m in second] == ["system", "user", "assistant", "tool"]
    assert second[0].content == "SYSTEM" and second[1].content.startswith("AGENT YAML")
    assert second[2].tool_calls[0].id == "a" and second[3].tool_call_id == "a"
    assert second[3].content == rows[0].feedback and not second[3].is_error
    assert context.iteration == 2 and context.turn == 2
    assert context.previous_template == ERROR and context.previous_feedback == rows[0].feedback
    assert all(config.tools and config.tool_choice is None for _, config, _ in model.calls)
    # each turn's transcript rides on its row; usage on the row it made
    turns = json.loads(rows[0].agent["agent_turns"])
    assert [t["turn"] for t in turns] == [1] and turns[0]["reply"] == "Let me check."
    assert turns[0]["results"][0]["content"] == rows[0].feedback
    assert [r.output.input_tokens for r in rows if r.output] == [10, 10, 10]


def test_a_template_submitted_unvalidated_is_validated_by_the_harness(lint, problem) -> None:
    rows = run(ToolScriptedModel([turn_reply(submit("a", ERROR))]), lint, problem)
    assert len(rows) == 1 and rows[0].stop_reason == "submitted"
    assert rows[0].counts["E"] == 1 and not rows[0].clean  # the harness checked it
    assert rows[0].agent["submission_validated"] is False
    assert rows[0].agent["open_findings_at_submit"] is None


def test_submitting_a_template_with_known_findings_records_them(lint, problem) -> None:
    model = ToolScriptedModel([turn_reply(validate("a", ERROR)), turn_reply(submit("b", ERROR))])
    last = run(model, lint, problem)[-1]
    assert last.agent["submission_validated"] is True
    assert last.agent["open_findings_at_submit"] == sum(last.counts.values()) >= 1


def test_a_reply_with_a_template_and_no_tool_call_is_a_submission(lint, problem) -> None:
    text = f"Here it is:\n```yaml\n{CLEAN}```"
    rows = run(ToolScriptedModel([turn_reply(text=text)]), lint, problem)
    assert [(r.agent["tool"], r.stop_reason, r.clean) for r in rows] == [
        ("reply", "submitted", True)
    ]


def test_a_reply_with_neither_gets_one_reminder_then_ends_without_submission(lint, problem) -> None:
    model = ToolScriptedModel([turn_reply(text="Thinking."), turn_reply(text="Still thinking.")])
    rows = run(model, lint, problem)
    assert len(model.calls) == 2
    assert model.calls[1][0][-1].role == "user" and model.calls[1][0][-1].content == REMINDER
    assert len(rows) == 1
    end = rows[0]
    assert end.stop_reason == "no_submission" and end.extraction is None
    assert end.agent["tool"] is None and end.agent["submitted"] is False
    assert end.output is not None and end.output.input_tokens == 20  # both turns' usage
    assert [t["turn"] for t in json.loads(end.agent["agent_turns"])] == [1, 2]


def test_reaching_max_iterations_asks_once_for_a_submission(lint, problem) -> None:
    model = ToolScriptedModel(
        [
            turn_reply(validate("a", ERROR)),
            turn_reply(validate("b", ERROR)),
            turn_reply(submit("c", ERROR)),
        ]
    )
    rows = run(model, lint, problem, max_iterations=2)
    forced_messages, forced_config, _ = model.calls[2]
    assert forced_config.tool_choice == SUBMIT
    assert forced_messages[-1].role == "user" and "2 validate_template calls" in (
        forced_messages[-1].content
    )
    assert [r.stop_reason for r in rows] == [None, None, "submitted"]


def test_a_validate_call_past_the_limit_is_a_tool_error(lint, problem) -> None:
    model = ToolScriptedModel(
        [turn_reply(validate("a", ERROR), validate("b", CLEAN)), turn_reply(submit("c", CLEAN))]
    )
    rows = run(model, lint, problem, max_iterations=1)
    results = model.calls[1][0]
    assert [m.is_error for m in results if m.role == "tool"] == [False, True]
    assert [r.agent["tool"] for r in rows] == [VALIDATE, SUBMIT]


def test_reaching_max_turns_forces_one_submission_request_then_ends(lint, problem) -> None:
    lookup = tool_call("s", SCHEMA, {"resource_type": "AWS::S3::Bucket"})
    model = ToolScriptedModel([turn_reply(lookup), turn_reply(lookup), turn_reply(lookup)])
    rows = run(model, lint, problem, max_turns=3)
    assert len(model.calls) == 3
    assert [c.tool_choice for _, c, _ in model.calls] == [None, None, SUBMIT]
    assert "3 turns" in model.calls[2][0][-1].content
    assert [r.stop_reason for r in rows] == ["max_turns"]
    assert rows[0].agent["schema_lookups"] == 2  # the forced turn's call was not run
    assert rows[0].output is not None and rows[0].output.output_tokens == 60


def test_malformed_arguments_and_unknown_tools_are_tool_errors(lint, problem) -> None:
    model = ToolScriptedModel(
        [
            turn_reply(
                tool_call("a", VALIDATE, '{"template": "Resources'),
                tool_call("b", "deploy_stack", {}),
                tool_call("c", VALIDATE, {"templat": CLEAN}),
                tool_call("d", VALIDATE, "[1, 2]"),
            ),
            turn_reply(submit("e", CLEAN)),
        ]
    )
    rows = run(model, lint, problem)
    tools = [m for m in model.calls[1][0] if m.role == "tool"]
    assert [m.tool_call_id for m in tools] == ["a", "b", "c", "d"]
    assert all(m.is_error and m.content.startswith("error:") for m in tools)
    assert "unknown tool" in tools[1].content and "'template'" in tools[2].content
    assert [r.stop_reason for r in rows] == ["submitted"]


def test_parallel_tool_calls_run_in_order_and_usage_lands_once(lint, problem) -> None:
    lookup = tool_call("s", SCHEMA, {"resource_type": "AWS::SQS::Queue"})
    model = ToolScriptedModel(
        [
            turn_reply(lookup),  # a lookup-only turn: its usage waits for the next row
            turn_reply(validate("a", ERROR), lookup, validate("b", CLEAN)),
            turn_reply(submit("c", CLEAN)),
        ]
    )
    rows = run(model, lint, problem)
    assert [m.tool_call_id for m in model.calls[2][0] if m.role == "tool"] == ["s", "a", "s", "b"]
    assert [r.agent["turn"] for r in rows] == [2, 2, 3]
    assert [r.agent["schema_lookups"] for r in rows] == [1, 1, 0]
    assert json.loads(rows[0].agent["schema_lookup_types"]) == ["AWS::SQS::Queue"]
    assert [r.output.input_tokens for r in rows if r.output] == [20, 0, 10]
    assert [len(json.loads(r.agent["agent_turns"])) for r in rows] == [2, 0, 1]
    assert model.calls[2][2].schema_lookups == ()  # reset by the validate after it


def test_a_schema_lookup_answers_from_cfn_lint_bounded(lint, problem) -> None:
    lookup = tool_call("s", SCHEMA, {"resource_type": "AWS::S3::Bucket"})
    model = ToolScriptedModel([turn_reply(lookup), turn_reply(submit("c", CLEAN))])
    run(model, lint, problem, tool_result_max_chars=300)
    result = model.calls[1][0][-1]
    assert result.role == "tool" and result.tool_name == SCHEMA and not result.is_error
    assert "AWS::S3::Bucket" in result.content and len(result.content) <= 300
    assert model.calls[1][2].schema_lookups == ("AWS::S3::Bucket",)


def test_a_model_error_ends_the_chain_with_a_row(lint, problem) -> None:
    model = ToolScriptedModel([ModelError("boom", kind="server")])
    rows = run(model, lint, problem)
    assert [(r.stop_reason, r.error_kind) for r in rows] == [("model_error", "server")]


@pytest.mark.parametrize("max_chars", [100, 150, 1000])
def test_a_capped_tool_result_fits_and_says_how_much_was_cut(max_chars: int) -> None:
    text = "x" * 5000
    capped = cap(text, max_chars)
    kept = capped.index("\n[cut")
    assert len(capped) <= max_chars and f"{5000 - kept} of 5000 characters" in capped
    assert cap("short", max_chars) == "short"
