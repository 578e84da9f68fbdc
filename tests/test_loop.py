"""The feedback loop: both protocols, every stop rule, parse failures fed back, model errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmark.config import LoopConfig, PromptSetConfig
from benchmark.loop.feedback_loop import Attempt, FatalModelError, FeedbackLoop
from benchmark.models.base import GenerateConfig, ModelError
from benchmark.problems.dataset import load_dataset
from benchmark.validators.cfn_lint.validator import WarmLinter
from benchmark.validators.suite import ValidatorSuite
from tests.scripted import InlineLint, ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = PromptSetConfig(
    name="t",
    output_format="yaml",
    system="SYSTEM",
    generation="GEN {prompt}",
    repair="REPAIR\n{template}\n---\n{feedback}",
    repair_followup="FOLLOWUP\n{feedback}",
    feedback="raw",
)
CLEAN = "```yaml\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n```"
WARNING_ONLY = (
    "```yaml\nParameters:\n  Unused:\n    Type: String\n"
    "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n```"
)
ERROR = "```yaml\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Bogus: 1\n```"
BROKEN = "```yaml\nResources:\n  Q: [unclosed\n```"


@pytest.fixture(scope="module")
def lint(warm_linter: WarmLinter) -> InlineLint:
    return InlineLint(warm_linter)


@pytest.fixture(scope="module")
def problem():
    return load_dataset(ROOT / "datasets" / "smoke")[0]


def run(model, lint, problem, **loop_args) -> list[Attempt]:
    attempts: list[Attempt] = []
    config = LoopConfig(**loop_args)
    suite = ValidatorSuite([lint], config.clean_when)
    loop = FeedbackLoop(model, suite, PROMPTS, config, lambda s: GenerateConfig(1.0, 100))
    asyncio.run(loop.run_chain(problem, 0, attempts.append))
    return attempts


def test_stateless_repair_sees_only_template_and_feedback(lint, problem) -> None:
    model = ScriptedModel([ERROR, CLEAN])
    attempts = run(model, lint, problem, protocol="stateless")
    assert [a.stop_reason for a in attempts] == [None, "clean"]
    repair_messages = model.calls[1][0]
    assert [m.role for m in repair_messages] == ["system", "user"]
    repair = repair_messages[1].content
    assert "Bogus: 1" in repair and "E3002" in repair  # previous template + lint output
    assert problem.prompt.strip() not in repair  # no problem text in the paper's protocol


def test_conversation_keeps_the_history(lint, problem) -> None:
    model = ScriptedModel([ERROR, ERROR, CLEAN])
    run(model, lint, problem, protocol="conversation")
    third = model.calls[2][0]
    assert [m.role for m in third] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert problem.prompt.strip() in third[1].content
    assert third[2].content == ERROR and third[-1].content.startswith("FOLLOWUP")


@pytest.mark.parametrize(
    ("clean_when", "stops_at"),
    [("no_errors", 2), ("no_errors_or_warnings", 3), ("no_findings", 3)],
)
def test_clean_rules(lint, problem, clean_when: str, stops_at: int) -> None:
    model = ScriptedModel([ERROR, WARNING_ONLY, CLEAN])
    attempts = run(model, lint, problem, clean_when=clean_when)
    assert len(attempts) == stops_at
    assert attempts[-1].clean and attempts[-1].stop_reason == "clean"
    assert not any(a.clean for a in attempts[:-1])


def test_iteration_limit_stops_the_chain(lint, problem) -> None:
    attempts = run(ScriptedModel([ERROR] * 3), lint, problem, max_iterations=3)
    assert [a.iteration for a in attempts] == [1, 2, 3]
    assert attempts[-1].stop_reason == "max_iterations" and not attempts[-1].clean


def test_unparseable_template_is_fed_back_as_E0000(lint, problem) -> None:
    model = ScriptedModel([BROKEN, CLEAN])
    attempts = run(model, lint, problem)
    assert attempts[0].parse_ok is False and attempts[0].counts["E"] == 1
    assert "E0000" in model.calls[1][0][-1].content


def test_model_error_is_recorded_and_ends_the_chain(lint, problem) -> None:
    model = ScriptedModel([ERROR, ModelError("server said 500", kind="server")])
    attempts = run(model, lint, problem)
    assert attempts[-1].stop_reason == "model_error"
    assert attempts[-1].model_error == "server: server said 500"


def test_fatal_model_error_stops_everything(lint, problem) -> None:
    model = ScriptedModel([ModelError("bad key", fatal=True, kind="auth")])
    with pytest.raises(FatalModelError, match="bad key"):
        run(model, lint, problem)
