"""Edit problems: the file format, the first call's words, feedback of collateral changes, the
dataset check, and a whole job recording the collateral columns."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import ConfigError, PromptSetConfig, Settings, load_settings
from benchmark.loop.feedback import FeedbackInput, render_feedback
from benchmark.loop.prompts import agent_messages, check_prompt_set, generation_messages
from benchmark.problems.check import check_dataset, warm_lint
from benchmark.problems.dataset import DatasetError, load_dataset, load_problem, parse_problem
from benchmark.records.origin import config_hash
from benchmark.records.tables import read_table
from benchmark.runner.hydra_job import JobInfo, JobSummary, run_job
from benchmark.validators.base import Finding

ROOT = Path(__file__).resolve().parent.parent
EDITS = Path(__file__).resolve().parent / "edit_problems"
# the CloudFormation sets: a CDK problem is never an edit problem (its loader refuses one)
PROMPT_SETS = sorted(
    p.stem
    for p in (ROOT / "conf" / "prompts").glob("*.yaml")
    if yaml.safe_load(p.read_text()).get("language", "cloudformation") == "cloudformation"
)


def fixture_data(name: str) -> dict[str, Any]:
    return yaml.safe_load((EDITS / f"{name}.yaml").read_text(encoding="utf-8"))


def prompt_set(name: str) -> PromptSetConfig:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"prompts={name}"])
    return PromptSetConfig.model_validate(OmegaConf.to_container(cfg.prompts, resolve=True))


# ---- the problem file ------------------------------------------------------------------------


def test_an_edit_problem_loads_with_its_expected_template_as_reference() -> None:
    problem = load_problem(EDITS / "bucket-encryption.yaml")
    assert problem.is_edit and problem.edit_kind == "add-encryption"
    assert problem.reference_template == problem.expected_template
    assert problem.must_keep == ["Resources/Bucket/Properties/VersioningConfiguration"]
    assert not load_problem(ROOT / "datasets" / "smoke" / "dynamodb-orders-table.yaml").is_edit


def test_the_digest_covers_the_edit_fields_and_keeps_other_problems_digests() -> None:
    data = fixture_data("topic-queue")
    base = parse_problem(data, "t").sha256
    assert parse_problem({**data, "must_keep": ["Resources/Topic"]}, "t").sha256 != base
    assert parse_problem({**data, "may_change": ["Outputs/*"]}, "t").sha256 != base
    assert parse_problem({**data, "edit_kind": "other"}, "t").sha256 != base
    # a problem without edit fields digests as it did before they existed (its rows' identity)
    smoke = load_problem(ROOT / "datasets" / "smoke" / "dynamodb-orders-table.yaml")
    assert smoke.sha256 == "b021dc8ac80e48c9dcb8612f9c5e8cf67f1a4dbf07861c45c72cee0521a90b70"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"initial_template": "Resources: [unclosed"},
            "t.yaml: field 'initial_template': does not parse: ",
        ),
        (
            {"initial_template": "apiVersion: v1\nkind: Pod\n"},
            "t.yaml: field 'initial_template': not a CloudFormation template: ",
        ),
        (
            {"must_keep": ["Resources/Topic", "Resources/Bucket"]},
            "t.yaml: field 'must_keep[1]': path 'Resources/Bucket' is not in the initial template",
        ),
        (
            {"initial_template": None},
            "t.yaml: field '(root)': Value error, 'expected_template' needs an 'initial_template'",
        ),
        ({"edit_kind": "rewrite"}, "t.yaml: field 'edit_kind': Input should be "),
    ],
)
def test_a_bad_edit_problem_is_refused_in_one_line(change: dict[str, Any], message: str) -> None:
    with pytest.raises(DatasetError) as caught:
        parse_problem({**fixture_data("topic-queue"), **change}, "t.yaml")
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text


# ---- the first call and the feedback ---------------------------------------------------------


@pytest.mark.parametrize("name", PROMPT_SETS)
def test_every_prompt_set_has_its_edit_text_and_it_carries_the_initial_template(name: str) -> None:
    prompts = prompt_set(name)
    assert prompts.edit is not None  # the shipped sets carry their own words
    check_prompt_set(prompts)
    problem = load_problem(EDITS / "topic-queue.yaml")
    assert problem.initial_template is not None
    for messages in (generation_messages(prompts, problem), agent_messages(prompts, problem)):
        first = messages[-1].content
        assert problem.prompt in first
        assert problem.initial_template.strip() in first
        assert "Subscription" not in first  # the expected template is never shown
    # a problem from nothing is asked as before
    plain = load_problem(ROOT / "datasets" / "smoke" / "dynamodb-orders-table.yaml")
    assert "{" not in generation_messages(prompts, plain)[-1].content.replace("{prompt}", "")


def test_a_bad_placeholder_in_an_edit_text_fails_at_start() -> None:
    prompts = prompt_set("structured").model_copy(update={"edit": "Change {initial}"})
    with pytest.raises(ConfigError, match=r"'prompts\.edit' of prompt set 'structured'"):
        check_prompt_set(prompts)
    agent = prompt_set("paper").model_copy(update={"agent_edit": "Change {x}"})
    with pytest.raises(ConfigError, match=r"'prompts\.agent_edit'"):
        check_prompt_set(agent)


def test_collateral_changes_are_fed_back_only_when_the_prompt_set_lists_them() -> None:
    lint = Finding("E3002", "E", "Additional properties are not allowed", ("Resources", "S"), 7)
    removed = Finding(
        "X1001", "W", "resource 'Q' (AWS::SQS::Queue) was removed", ("Resources", "Q"),
        source="collateral",
    )  # fmt: skip
    data = FeedbackInput([lint, removed], "template.yaml")
    for design in ("raw", "structured"):
        quiet = render_feedback(design, data, ())
        assert "E3002" in quiet and "X1001" not in quiet
        told = render_feedback(design, data, ("collateral",))
        assert told.startswith(quiet)
        assert told.endswith(
            "The change also altered what should have stayed as it was:\n"
            "1. X1001 at Resources.Q: resource 'Q' (AWS::SQS::Queue) was removed"
        )


# ---- the dataset check -----------------------------------------------------------------------


def test_check_datasets_proves_each_edit_problem_and_says_so() -> None:
    report = check_dataset(EDITS, warm_lint())
    assert report.ok, report.failures
    assert report.edits == [
        "bucket-encryption (add-encryption): expected template lint-clean, passes its "
        "1 intent check(s), no collateral change",
        "rename-parameter (rename-parameter): expected template lint-clean, passes its "
        "1 intent check(s), no collateral change",
        "topic-queue (wire-resources): expected template lint-clean, passes its "
        "2 intent check(s), no collateral change",
    ]


def test_check_datasets_fails_an_expected_template_that_drops_what_must_stay(
    tmp_path: Path,
) -> None:
    data = fixture_data("topic-queue")
    data["expected_template"] = data["expected_template"].split("Outputs:")[0]
    (tmp_path / "topic-queue.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    report = check_dataset(tmp_path, warm_lint())
    assert report.failures == [
        f"{tmp_path / 'topic-queue.yaml'}: field 'expected_template': collateral change X1004 "
        "at Outputs/QueueUrl: output 'QueueUrl' was removed"
    ]
    assert report.edits == ["topic-queue (wire-resources): 1 failure(s)"]


def test_check_datasets_fails_intent_checks_the_initial_template_already_passes(
    tmp_path: Path,
) -> None:
    data = fixture_data("topic-queue")
    data["intent_checks"] = [
        {"id": "q", "kind": "resource_exists", "description": "A queue", "type": "AWS::SQS::Queue"}
    ]
    (tmp_path / "topic-queue.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    report = check_dataset(tmp_path, warm_lint())
    assert report.failures == [
        f"{tmp_path / 'topic-queue.yaml'}: field 'intent_checks': every check already passes "
        "on the initial template (none checks the change)"
    ]


# ---- a whole job -----------------------------------------------------------------------------


def settings_for(*overrides: str) -> Settings:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[
                f"dataset.path={EDITS}",
                "dataset.name=edit-fixtures",
                "loop.samples=1",
                "progress=false",
                "lint.workers=1",
                "cache.enabled=false",
                *overrides,
            ],
        )
    return load_settings(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]


def run(settings: Settings, out: Path, api_key: str | None = None) -> JobSummary:
    return asyncio.run(run_job(settings, JobInfo("sweep-x", 0, out), api_key))


# the topic-queue change with the queue's output dropped (collateral) and a property the
# subscription does not have (a lint error, so the loop goes on to a repair)
CARELESS = """```yaml
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: orders
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 86400
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      Protocol: sqs
      TopicArn: !Ref Topic
      Endpoint: !GetAtt Queue.Arn
      Colour: blue
```"""


def _last_user_text(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else json.dumps(content)


@pytest.mark.slow
@pytest.mark.parametrize("feed_back", [False, True])
def test_a_job_on_an_edit_problem_records_collateral_changes(
    loopback, tmp_path: Path, feed_back: bool
) -> None:
    expected = load_problem(EDITS / "topic-queue.yaml").expected_template
    server = loopback(
        lambda body, path: (
            CARELESS
            if "Template to change" in _last_user_text(body) or "Template:" in _last_user_text(body)
            else f"```yaml\n{expected}```"
        )
    )
    settings = settings_for(
        "dataset.only=[topic-queue]",
        "prompts=structured",
        "model.id=openai-compatible/loopback-model",
        f"model.providers.openai_compatible.base_url={server.openai_base_url}",
        "loop.max_iterations=2",
        "loop.protocol=conversation",
        f"prompts.feed_back_checks=[{'collateral' if feed_back else ''}]",
    )
    summary = run(settings, tmp_path / "run", "not-needed")
    assert summary.status == "complete", summary.fatal_error
    attempts = read_table(tmp_path / "run", "attempts").sort_values("iteration")
    assert attempts["collateral_changes"].tolist() == [1, 0]
    assert attempts["expected_distance"].iloc[0] > 0 and attempts["expected_distance"].iloc[1] == 0
    assert attempts["warnings"].tolist() == [0, 0]  # collateral changes are not lint warnings
    findings = read_table(tmp_path / "run", "findings")
    collateral = findings[findings["source"] == "collateral"]
    assert collateral[["iteration", "rule_id", "path"]].values.tolist() == [
        [1, "X1004", "Outputs/QueueUrl"]
    ]
    first, repair = (_last_user_text(b) for b in server.bodies())
    assert "Template to change" not in first  # structured has its own words
    assert "MessageRetentionPeriod: 86400" in first and "Subscribe the queue" in first
    assert ("X1004 at Outputs.QueueUrl" in repair) is feed_back
    assert "E3002" in repair


@pytest.mark.slow
def test_a_simulated_job_on_edit_problems_fills_the_collateral_columns(tmp_path: Path) -> None:
    summary = run(settings_for("loop.max_iterations=2"), tmp_path / "run")
    assert summary.status == "complete", summary.fatal_error
    attempts = read_table(tmp_path / "run", "attempts")
    assert set(attempts["problem_id"]) == {p.id for p in load_dataset(EDITS)}
    assert attempts["collateral_changes"].notna().all()
    assert attempts["expected_distance"].between(0, 1).all()


def test_the_edit_text_is_in_the_config_hash_only_where_problems_are_edits() -> None:
    def hashed(*overrides: str) -> str:
        return config_hash(settings_for(*overrides).result_fingerprint())

    assert hashed("prompts.edit='Change it: {prompt} {template}'") != hashed()
    assert hashed("loop.protocol=agent", "+prompts.agent_edit='{prompt} {template}'") != hashed(
        "loop.protocol=agent"
    )
    smoke = f"dataset.path={ROOT / 'datasets' / 'smoke'}"
    assert hashed(smoke, "prompts.edit='Change it: {prompt} {template}'") == hashed(smoke)
