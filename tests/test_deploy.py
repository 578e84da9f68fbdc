"""The deploy validator against moto's server and a scripted CloudFormation, real boto3 client.

moto is a fair stand-in for the API (it is no validator: it passes templates AWS rejects); the
failures moto cannot produce (a failing change set, a rollback, a hanging deletion, throttling)
come from tests/cfn_loopback.py. Everything is checked through the API afterwards.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from benchmark.config import ConfigError, DeployConfig, LoopConfig, PromptSetConfig, Settings
from benchmark.loop.feedback import FeedbackInput, render_feedback
from benchmark.loop.feedback_loop import FeedbackLoop
from benchmark.models.base import GenerateConfig
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import VALIDATOR_COLUMNS, attempt_id, outcome_columns
from benchmark.validators.base import AttemptRef, Finding
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter
from benchmark.validators.deploy.cleanup import main as janitor
from benchmark.validators.deploy.cloudformation import CHANGE_SET_RULE, RESOURCE_RULE, VALIDATE_RULE
from benchmark.validators.deploy.ledger import StackLedger
from benchmark.validators.deploy.tags import ATTEMPT_TAG, JOB_TAG, SWEEP_TAG
from benchmark.validators.deploy.validator import DeployJob, DeployValidator
from benchmark.validators.suite import ValidatorSuite
from tests.cfn_loopback import FakeCloudFormation
from tests.scripted import InlineLint, ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "datasets" / "smoke"
KEY_BASE = {
    "sweep_id": "sweep-t",
    "job_id": 0,
    "model": "simulated/default",
    "provider": "simulated",
    "prompt_set": "paper",
    "protocol": "stateless",
    "max_iterations": 3,
}


def reference(problem: str) -> str:
    return yaml.safe_load((SMOKE / f"{problem}.yaml").read_text())["reference_template"]


BUCKET = reference("s3-versioned-bucket")
TABLE = reference("dynamodb-orders-table")


def config(url: str, **overrides: Any) -> DeployConfig:
    fields = dict(
        enabled=True,
        endpoint_url=url,
        poll_s=0.01,
        timeout_s=10,
        delete_timeout_s=10,
        request_timeout_s=10,
        max_retries=3,
    )
    return DeployConfig(**{**fields, **overrides})


def validator(url: str, tmp_path: Path, dataset: Path = SMOKE, **overrides: Any):
    job = DeployJob("sweep-t", 0, KEY_BASE, tmp_path, dataset)
    return DeployValidator(config(url, **overrides), job)


def cloudformation(url: str) -> Any:
    return boto3.client("cloudformation", region_name="us-east-1", endpoint_url=url)


def live(url: str) -> list[dict]:
    return cloudformation(url).describe_stacks()["Stacks"]


def run(v: DeployValidator, template: str, problem: str = "p", iteration: int = 1):
    return asyncio.run(v.validate(template, None, AttemptRef(problem, 0, iteration)))


# ---- moto ---------------------------------------------------------------------------------


def test_the_suites_moto_validates_templates_as_moto_does(moto_server) -> None:
    """conftest builds the rules of moto's ValidateTemplate once: its answers are moto's own."""
    from moto.cloudformation import models, utils

    assert models.validate_template_cfn_lint is not utils.validate_template_cfn_lint
    bad = [
        (ROOT / "tests" / "templates" / n).read_text()
        for n in ("bad_types.json", "broken_yaml.yaml")
    ]
    answers = {}
    for template in (BUCKET, *bad):
        ours = [str(m) for m in models.validate_template_cfn_lint(template)]
        assert ours == [str(m) for m in utils.validate_template_cfn_lint(template)]
        answers[template] = ours
    assert not answers[BUCKET] and all(answers[t] for t in bad)  # both verdicts exercised


def test_changeset_mode_deploys_a_reference_and_leaves_nothing(moto_url, tmp_path) -> None:
    v = validator(moto_url, tmp_path)
    try:
        result = run(v, BUCKET)
        assert live(moto_url) == []  # deleted after the attempt, not only at job end
    finally:
        v.close()
    assert result.findings == [] and result.failure is None
    assert result.columns["deployable"] is True and result.columns["deploy_mode"] == "changeset"
    assert all(result.columns[f"deploy_{s}_s"] >= 0 for s in ("validate", "create", "delete"))
    created = cloudformation(moto_url).list_stacks()["StackSummaries"]  # deleted ones too
    assert [s["StackStatus"] for s in created] == ["DELETE_COMPLETE"]
    assert StackLedger(tmp_path).undeleted() == []


def test_a_rejected_template_is_a_validation_finding(moto_url, tmp_path) -> None:
    v = validator(moto_url, tmp_path)
    try:
        result = run(v, "Resources:\n  Bucket: {Type: AWS::S3::Bucket\n")
        empty = run(v, "   \n")
    finally:
        v.close()
    assert result.columns["deployable"] is False and result.failure is None
    assert [(f.rule_id, f.source, f.level) for f in result.findings] == [
        (VALIDATE_RULE, "deploy", "E")
    ]
    assert empty.columns["deployable"] is False and empty.findings[0].rule_id == VALIDATE_RULE
    assert live(moto_url) == []


def test_stack_mode_creates_and_deletes_the_resources(moto_url, tmp_path) -> None:
    v = validator(moto_url, tmp_path, mode="stack", max_stacks=5)
    try:
        result = run(v, TABLE, "dynamodb-orders-table")
    finally:
        v.close()
    assert result.columns["deployable"] is True and result.columns["deploy_mode"] == "stack"
    assert live(moto_url) == []
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_url)
    assert dynamodb.list_tables()["TableNames"] == []  # the stack's table went with it


def test_a_job_deletes_what_its_killed_predecessor_left(moto_url, tmp_path) -> None:
    cf = cloudformation(moto_url)

    def leftover(name: str, sweep: str | None, job: str) -> None:
        tags = [{"Key": JOB_TAG, "Value": job}]
        tags += [{"Key": SWEEP_TAG, "Value": sweep}] if sweep else []
        cf.create_change_set(
            StackName=name,
            ChangeSetName=name,
            ChangeSetType="CREATE",
            TemplateBody=BUCKET,
            Tags=tags,
        )

    leftover("mine", "sweep-t", "0")
    leftover("other-job", "sweep-t", "1")
    leftover("other-sweep", "sweep-u", "0")
    leftover("not-ours", None, "0")
    validator(moto_url, tmp_path).close()
    assert sorted(s["StackName"] for s in live(moto_url)) == [
        "not-ours",
        "other-job",
        "other-sweep",
    ]


def test_janitor_lists_then_deletes_by_tag(moto_url, tmp_path, capsys) -> None:
    cf = cloudformation(moto_url)
    for name, sweep in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("untagged", None)):
        tags = [{"Key": SWEEP_TAG, "Value": sweep}] if sweep else []
        cf.create_stack(StackName=name, TemplateBody=BUCKET, Tags=tags)
    args = ["cleanup", "--region", "us-east-1", "--endpoint-url", moto_url, "--poll-s", "0.01"]
    assert janitor([*args, "--sweep", "A", "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "2 stacks" in listed and "a1" in listed and "a2" in listed and "b1" not in listed
    assert len(live(moto_url)) == 4
    assert janitor([*args, "--sweep", "A"]) == 0
    assert sorted(s["StackName"] for s in live(moto_url)) == ["b1", "untagged"]
    assert janitor(args) == 0  # every sweep
    assert [s["StackName"] for s in live(moto_url)] == ["untagged"]


def test_sweep_cap_is_shared_by_the_jobs_of_a_sweep(moto_url, tmp_path) -> None:
    first = validator(moto_url, tmp_path, max_stacks=2)
    second = DeployValidator(
        config(moto_url, max_stacks=2), DeployJob("sweep-t", 1, KEY_BASE, tmp_path, SMOKE)
    )
    try:
        results = [run(first, BUCKET, iteration=1), run(second, BUCKET, iteration=2)]
        capped = run(first, BUCKET, iteration=3)
    finally:
        first.close()
        second.close()
    assert [r.columns["deployable"] for r in results] == [True, True]
    assert capped.columns.get("deployable") is None and "max_stacks=2" in capped.failure
    assert StackLedger(tmp_path).created() == 2


def test_no_credentials_is_one_line(moto_url, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError, match="no AWS credentials in the standard chain"):
        validator(moto_url, tmp_path)


# ---- scripted failures --------------------------------------------------------------------


@pytest.fixture
def fake(fake_aws):
    with FakeCloudFormation() as server:
        yield server


def test_every_stack_is_tagged_with_sweep_job_and_attempt(fake, tmp_path) -> None:
    fake.script.delete = "hang"  # keep it, to read its tags
    v = validator(fake.url, tmp_path, delete_timeout_s=0.05)
    try:
        run(v, BUCKET, "s3-versioned-bucket", iteration=2)
        stack = fake.live_stacks()[0]
    finally:
        fake.script.delete = "complete"
        v.close()
    aid = attempt_id({**KEY_BASE, "problem_id": "s3-versioned-bucket", "sample": 0, "iteration": 2})
    assert stack.tags == {SWEEP_TAG: "sweep-t", JOB_TAG: "0", ATTEMPT_TAG: aid}
    assert stack.name.startswith(f"iacfb-{aid}-")
    assert fake.live_stacks() == []


def test_a_failed_change_set_is_a_change_set_finding(fake, tmp_path) -> None:
    fake.script.change_set = "fail"
    v = validator(fake.url, tmp_path)
    try:
        result = run(v, BUCKET)
    finally:
        v.close()
    assert result.columns["deployable"] is False
    assert [(f.rule_id, f.message) for f in result.findings] == [
        (CHANGE_SET_RULE, "Parameters: [BucketName] must have values")
    ]
    assert fake.live_stacks() == [] and fake.live_change_sets() == []
    assert fake.calls["DeleteChangeSet"] == 1 and fake.calls["DeleteStack"] == 1


def test_a_rollback_names_the_failed_resources_first(fake, tmp_path) -> None:
    fake.script.stack = "rollback"
    v = validator(fake.url, tmp_path, mode="stack", max_stacks=3)
    try:
        result = run(v, BUCKET)
    finally:
        v.close()
    assert result.columns["deployable"] is False
    assert [(f.rule_id, f.path) for f in result.findings] == [
        (RESOURCE_RULE, ("Resources", "Bucket")),
        (RESOURCE_RULE, ("Resources", "Table")),  # the cancelled one comes last
    ]
    assert result.findings[0].message.startswith("Bucket (AWS::S3::Bucket): artifacts already")
    assert fake.live_stacks() == []
    create = next(r for r in fake.requests if r["Action"] == "CreateStack")
    assert create["OnFailure"] == "ROLLBACK" and create["TimeoutInMinutes"] == "1"


def test_a_hanging_deletion_is_reported_not_hidden(fake, tmp_path, capsys) -> None:
    fake.script.delete = "hang"
    v = validator(fake.url, tmp_path, delete_timeout_s=0.05)
    try:
        result = run(v, BUCKET)
    finally:
        v.close()
    assert result.columns["deployable"] is True  # the template deployed; its cleanup did not
    assert "still DELETE_IN_PROGRESS" in result.failure
    assert len(v.leftovers) == 1 and len(fake.live_stacks()) == 1
    err = capsys.readouterr().err
    assert "LEFT BEHIND" in err and "python -m benchmark.validators.deploy cleanup" in err
    assert StackLedger(tmp_path).undeleted() == [fake.live_stacks()[0].name]


def test_a_failed_deletion_says_why(fake, tmp_path) -> None:
    fake.script.delete = "fail"
    v = validator(fake.url, tmp_path)
    try:
        result = run(v, BUCKET)
    finally:
        v.close()
    assert "DELETE_FAILED: The bucket you tried to delete is not empty" in result.failure


def test_throttled_calls_are_retried_by_botocore(fake, tmp_path) -> None:
    fake.script.throttle = {"ValidateTemplate": 2, "CreateChangeSet": 1}
    v = validator(fake.url, tmp_path)
    try:
        result = run(v, BUCKET)
    finally:
        v.close()
    assert result.columns["deployable"] is True and result.failure is None
    assert fake.calls["ValidateTemplate"] == 3 and fake.calls["CreateChangeSet"] == 2


def test_throttling_past_the_retries_is_not_judged(fake, tmp_path) -> None:
    fake.script.throttle = {"ValidateTemplate": 100}
    v = validator(fake.url, tmp_path, max_retries=1)
    try:
        result = run(v, BUCKET)
    finally:
        v.close()
    assert result.columns["deployable"] is None and result.findings == []
    assert "Throttling" in result.failure


def test_a_change_set_that_never_settles_times_out_and_is_deleted(fake, tmp_path) -> None:
    fake.script.change_set = "hang"
    v = validator(fake.url, tmp_path, timeout_s=0.05)
    try:
        result = run(v, BUCKET)
    finally:
        v.close()
    assert result.columns["deployable"] is None
    assert "change set still CREATE_IN_PROGRESS after 0.05s" in result.failure
    assert fake.live_stacks() == []


def test_parameter_files_give_values_for_declared_parameters(fake, tmp_path) -> None:
    dataset = tmp_path / "data"
    (dataset / "parameters").mkdir(parents=True)
    (dataset / "parameters" / "t.yaml").write_text("TableName: orders-x\nUnused: 1\n")
    v = validator(fake.url, tmp_path, dataset)
    try:
        run(v, TABLE, "t")
        run(v, TABLE, "other")
    finally:
        v.close()
    creates = [r for r in fake.requests if r["Action"] == "CreateChangeSet"]
    assert creates[0]["Parameters.member.1.ParameterKey"] == "TableName"
    assert creates[0]["Parameters.member.1.ParameterValue"] == "orders-x"
    assert "Parameters.member.2.ParameterKey" not in creates[0]  # not declared: not sent
    assert not any(k.startswith("Parameters.member") for k in creates[1])  # defaults


def test_a_bad_parameter_file_is_one_line_naming_it(fake, tmp_path) -> None:
    dataset = tmp_path / "data"
    (dataset / "parameters").mkdir(parents=True)
    (dataset / "parameters" / "t.yaml").write_text("TableName: {nested: value}\n")
    with pytest.raises(ConfigError, match=r"t\.yaml: parameter 'TableName'"):
        validator(fake.url, tmp_path, dataset)


def test_capabilities_come_from_validate_template(fake, tmp_path) -> None:
    fake.script.capabilities = ["CAPABILITY_NAMED_IAM"]
    v = validator(fake.url, tmp_path)
    try:
        run(v, BUCKET)
    finally:
        v.close()
    create = next(r for r in fake.requests if r["Action"] == "CreateChangeSet")
    assert create["Capabilities.member.1"] == "CAPABILITY_NAMED_IAM"


# ---- configuration ------------------------------------------------------------------------


def test_stack_mode_needs_a_sweep_cap() -> None:
    with pytest.raises(ValueError, match=r"set deploy\.max_stacks"):
        DeployConfig(enabled=True, mode="stack")
    assert DeployConfig(enabled=True, mode="stack", max_stacks=10).max_stacks == 10


def test_deploy_settings_enter_the_fingerprint_only_when_enabled() -> None:
    from tests.test_config import settings_for

    off: Settings = settings_for()
    on: Settings = settings_for("deploy.enabled=true")
    assert "deploy" not in off.result_fingerprint()
    assert on.result_fingerprint()["deploy"]["mode"] == "changeset"
    timeout: Settings = settings_for("deploy.enabled=true", "deploy.timeout_s=5")
    assert timeout.result_fingerprint() == on.result_fingerprint()


def test_janitor_deletes_a_stack_whose_change_set_is_still_being_created(fake, tmp_path) -> None:
    fake.script.change_set = "hang"
    cloudformation(fake.url).create_change_set(
        StackName="stuck",
        ChangeSetName="stuck",
        ChangeSetType="CREATE",
        TemplateBody=BUCKET,
        Tags=[{"Key": SWEEP_TAG, "Value": "S"}],
    )
    args = ["cleanup", "--region", "us-east-1", "--endpoint-url", fake.url, "--poll-s", "0.01"]
    assert janitor(args) == 0
    assert fake.live_stacks() == [] and fake.live_change_sets() == []


# ---- how deploy's findings travel: counted only when gating, fed back when asked -----------

CLEAN_QUEUE = "```yaml\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n```"
UNDEPLOYABLE = "```yaml\nDescription: BadThing\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n```"


def _chain(url: str, tmp_path: Path, replies: list[str], gating: bool, feed_back: list[str]):
    prompts = PromptSetConfig(
        name="t",
        output_format="yaml",
        system="S",
        generation="GEN {prompt}",
        repair="REPAIR\n{template}\n---\n{feedback}",
        repair_followup="FOLLOWUP\n{feedback}",
        feedback="structured",
        feed_back_checks=feed_back,
    )
    deploy = validator(url, tmp_path, gating=gating)
    suite = ValidatorSuite([InlineLint(WarmLinter(LintSettings())), deploy], "no_errors")
    model = ScriptedModel(list(replies))
    config = LoopConfig(max_iterations=3)
    loop = FeedbackLoop(model, suite, prompts, config, lambda sample: GenerateConfig(1.0, 100))
    attempts: list = []
    try:
        asyncio.run(loop.run_chain(load_dataset(SMOKE)[0], 0, attempts.append))
    finally:
        suite.close()
    return attempts


def test_a_reporting_deploy_records_but_neither_counts_nor_stops(fake, tmp_path) -> None:
    fake.script.validate, fake.script.reject_if = "reject", "BadThing"
    attempts = _chain(fake.url, tmp_path, [UNDEPLOYABLE], gating=False, feed_back=[])
    (only,) = attempts
    assert only.stop_reason == "clean" and only.counts["E"] == 0  # lint-clean: the chain ends
    assert only.columns["deployable"] is False
    assert [f.rule_id for f in only.findings] == [VALIDATE_RULE]  # recorded all the same


def test_a_gating_deploy_keeps_the_chain_going_and_feeds_its_errors_back(fake, tmp_path) -> None:
    fake.script.validate, fake.script.reject_if = "reject", "BadThing"
    attempts = _chain(fake.url, tmp_path, [UNDEPLOYABLE, CLEAN_QUEUE], gating=True, feed_back=[])
    assert [a.stop_reason for a in attempts] == [None, "clean"]
    assert attempts[0].counts["E"] == 1 and not attempts[0].clean
    feedback = attempts[0].feedback
    assert "Deploying the template with CloudFormation failed:" in feedback
    assert "1. D1001 at (template): Template format error" in feedback
    assert [a.columns["deployable"] for a in attempts] == [False, True]
    assert fake.live_stacks() == []


def test_feedback_lists_deploy_errors_apart_and_only_when_asked() -> None:
    findings = [
        Finding("E3002", "E", "bad property", ("Resources", "B", "Properties", "X"), 4),
        Finding(
            RESOURCE_RULE,
            "E",
            "B (AWS::S3::Bucket): exists",
            ("Resources", "B"),
            None,
            source="deploy",
        ),
    ]
    data = FeedbackInput(findings, "template.yaml")
    without = render_feedback("structured", data)
    assert without == "1. E3002 (error) at Resources.B.Properties.X, line 4: bad property"
    asked = render_feedback("raw", data, ["deploy"])
    assert asked.startswith("E3002 bad property\ntemplate.yaml:4:1")
    assert asked.endswith(
        "Deploying the template with CloudFormation failed:\n"
        "1. D3002 at Resources.B: B (AWS::S3::Bucket): exists"
    )


def test_validator_columns_are_null_unless_set_and_unknown_ones_refused() -> None:
    counts = {"E": 0, "W": 0, "I": 0}
    out = outcome_columns(counts, True, True, True, [], [])
    assert all(out[name] is None for name in VALIDATOR_COLUMNS)
    out = outcome_columns(counts, True, True, True, [], [], {"deployable": False})
    assert out["deployable"] is False
    with pytest.raises(ValueError, match="not in the attempts schema"):
        outcome_columns(counts, True, True, True, [], [], {"deployed": True})


def test_the_region_is_the_configured_one_never_the_environments(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "af-south-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "af-south-1")
    v = validator(fake.url, tmp_path, region="eu-west-2")
    v.close()
    assert v.client.meta.region_name == "eu-west-2"


def test_the_start_line_says_what_each_mode_creates_and_costs() -> None:
    from benchmark.validators.deploy.validator import announcement

    free = announcement(DeployConfig(enabled=True), "s1")
    paid = announcement(DeployConfig(enabled=True, mode="stack", max_stacks=7), "s1")
    assert "change set" in free and "no cost" in free and "MONEY" not in free
    assert "REAL AWS RESOURCES, WHICH COSTS MONEY" in paid and "at most 7 this sweep" in paid
    assert "python -m benchmark.validators.deploy cleanup --region us-east-1 --sweep s1" in paid
