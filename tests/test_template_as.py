"""Prompt-set fields the paper's requests need: a repair system prompt, templates kept as
Python's json.dumps text (`null` when a reply is not JSON), and the followup's {template}."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from benchmark.config import LoopConfig, PromptSetConfig
from benchmark.loop.extract import Extraction, as_json_dumps, extract_template
from benchmark.loop.feedback_loop import Attempt, FeedbackLoop
from benchmark.loop.prompts import repair_messages
from benchmark.models.base import GenerateConfig
from benchmark.problems.dataset import load_dataset
from benchmark.validators.cfn_lint.validator import WarmLinter
from benchmark.validators.suite import ValidatorSuite
from tests.scripted import InlineLint, ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = PromptSetConfig(
    name="t",
    output_format="json",
    system="GEN SYSTEM",
    repair_system="REPAIR SYSTEM",
    generation="GEN {prompt}",
    repair="OLD {template} ERR {feedback}.",
    repair_followup="AGAIN {template} ERR {feedback}",
    feedback="raw",
    template_as="json_dumps",
)
TYPO = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Bogus": 1}}}}
CLEAN = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}


def test_json_dumps_form() -> None:
    pretty = json.dumps(TYPO, indent=4)
    assert as_json_dumps(Extraction(pretty, "bare-json")) == Extraction(
        json.dumps(TYPO), "bare-json"
    )
    assert as_json_dumps(extract_template("Resources:\n  Q: {}\n")).template == "null"
    assert as_json_dumps(Extraction("[" * 100_000, "whole-reply")).template == "null"
    assert as_json_dumps(Extraction('{"a": NaN, "a": 2}', "bare-json")).template == '{"a": 2}'


def test_repair_system_and_followup_template() -> None:
    history = PROMPTS.model_copy(update={"repair_system": None})
    stateless = repair_messages(PROMPTS, "stateless", [], "r", "T\n", "F")
    assert [m.content for m in stateless] == ["REPAIR SYSTEM", "OLD T ERR F."]
    assert repair_messages(history, "stateless", [], "r", "T", "F")[0].content == "GEN SYSTEM"
    followup = repair_messages(PROMPTS, "conversation", [], "r", "T", "F")
    assert followup[-1].content == "AGAIN T ERR F"


@pytest.fixture(scope="module")
def lint(warm_linter: WarmLinter) -> InlineLint:
    return InlineLint(warm_linter)


def test_the_loop_keeps_lints_and_sends_the_json_dumps_text(lint: InlineLint) -> None:
    problem = load_dataset(ROOT / "datasets" / "smoke")[0]
    model = ScriptedModel([json.dumps(TYPO, indent=2), "not JSON at all", json.dumps(CLEAN)])
    config = LoopConfig(max_iterations=3)
    suite = ValidatorSuite([lint], config.clean_when)
    loop = FeedbackLoop(model, suite, PROMPTS, config, lambda s: GenerateConfig(1.0, 100))
    attempts: list[Attempt] = []
    asyncio.run(loop.run_chain(problem, 0, attempts.append))

    first, second, third = attempts
    assert first.extraction is not None and first.extraction.template == json.dumps(TYPO)
    assert [f.rule_id for f in first.findings] == ["E3002"]
    assert second.extraction is not None and second.extraction.template == "null"
    assert [f.rule_id for f in second.findings] == ["E1001"]  # as cfn-lint says of `null`
    assert third.stop_reason == "clean"
    repair = model.calls[1][0]
    assert [m.role for m in repair] == ["system", "user"]
    assert repair[0].content == "REPAIR SYSTEM"
    assert repair[1].content == f"OLD {json.dumps(TYPO)} ERR {first.feedback}."
    assert first.feedback is not None and first.feedback.startswith("E3002 ")
    assert model.calls[2][0][1].content == f"OLD null ERR {second.feedback}."
