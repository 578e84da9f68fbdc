"""Hostile model replies: each is recorded and fed back as a finding; none crashes the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmark.config import LoopConfig, PromptSetConfig
from benchmark.loop.feedback_loop import Attempt, FeedbackLoop
from benchmark.models.base import GenerateConfig
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import RecordWriter, attempt_id, finding_rows, read_table
from benchmark.validators.cfn_lint.validator import CfnLintValidator
from benchmark.validators.intent import IntentValidator
from benchmark.validators.suite import ValidatorSuite
from tests.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = PromptSetConfig(
    name="t",
    output_format="yaml",
    system="S",
    generation="{prompt}",
    repair="{template}\n{feedback}",
    repair_followup="{feedback}",
    feedback="structured",
)
CLEAN = "```yaml\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n```"
BOMB = (
    "".join(
        f"{n}: &{n} ["
        + ", ".join(['"lol"'] * 9 if i == 0 else [f"*{'abcdefgh'[i - 1]}"] * 9)
        + "]\n"
        for i, n in enumerate("abcdefgh")
    )
    + "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Metadata:\n      x: *h\n"
)

REPLIES = {
    "empty": "",
    "prose only": "I'm sorry, I can't produce that template right now.",
    "unclosed fence": "```yaml\nResources:\n  Q:\n    Type: AWS::SQS::Qu",
    "truncated mid-key": '```json\n{"Resources": {"Q": {"Type": "AWS::S',
    "several templates": "A:\n```yaml\nResources: []\n```\nB:\n```yaml\nResources:\n  Q:\n"
    "    Type: AWS::SQS::Queue\n    Properties:\n      Bogus: 1\n```",
    "10 MB of text": "lorem ipsum " * 900_000,
    "yaml alias bomb": f"```yaml\n{BOMB}```",
    "non-utf8 bytes": "```yaml\nResources:\n  Q\udcff:\n    Type: AWS::SQS::Queue\x00\n```",
    "json with comments": '```json\n{\n  // a queue\n  "Resources": '
    '{"Q": {"Type": "AWS::SQS::Queue"}}\n}\n```',
    "a list": "```yaml\n- Resources\n- Outputs\n```",
    "a scalar": "```yaml\njust a string\n```",
}


@pytest.fixture(scope="module")
def suite():
    suite = ValidatorSuite(
        [CfnLintValidator(workers=1), IntentValidator()], "no_errors_or_warnings"
    )
    yield suite
    suite.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("label", list(REPLIES))
def test_hostile_reply_is_recorded_and_fed_back(suite, tmp_path: Path, label: str) -> None:
    problem = load_dataset(ROOT / "datasets" / "smoke")[0]
    model = ScriptedModel([REPLIES[label], CLEAN])
    attempts: list[Attempt] = []
    loop = FeedbackLoop(
        model, suite, PROMPTS, LoopConfig(max_iterations=2), lambda s: GenerateConfig(1.0, 100)
    )
    asyncio.run(loop.run_chain(problem, 0, attempts.append))

    first = attempts[0]
    assert first.extraction is not None and first.extraction.rule
    assert first.stop_reason is None, "a bad reply must not end the chain"
    assert first.counts["E"] >= 1 and not first.clean
    assert first.feedback and first.findings[0].rule_id in first.feedback
    assert first.findings[0].rule_id in model.calls[1][0][-1].content  # fed back to the model
    assert len(attempts) == 2 and attempts[1].clean

    # and it lands in Parquet intact (lone surrogates and NULs included)
    writer = RecordWriter(tmp_path / "0")
    key = {
        "sweep_id": "s",
        "job_id": 0,
        "model": "scripted/test",
        "provider": "scripted",
        "prompt_set": "t",
        "protocol": "stateless",
        "max_iterations": 2,
        "problem_id": problem.id,
        "sample": 0,
        "iteration": 1,
    }
    aid = attempt_id(key)
    writer.append(
        {
            "attempt_id": aid,
            **key,
            "reply": first.output.text,
            "template": first.extraction.template,
            "extraction_rule": first.extraction.rule,
            "errors": first.counts["E"],
        },
        finding_rows(aid, key, first.findings),
    )
    writer.close()
    row = read_table(tmp_path, "attempts").iloc[0]
    assert row["extraction_rule"] == first.extraction.rule and row["errors"] >= 1
