"""The synth stage in front of the suite: an app that makes no template is judged on its own
findings, a template goes through the usual validators; CDK rows and their columns."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.config import ConfigError
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import SCHEMAS, read_table
from benchmark.runner import hydra_job, suite_factory
from benchmark.runner.hydra_job import JobInfo, run_job
from benchmark.runner.plan.job import plan_job
from benchmark.validators.cdk.outcome import SynthOutcome
from benchmark.validators.cdk.stage import CdkSynthStage
from benchmark.validators.cfn_lint.validator import WarmLinter
from benchmark.validators.intent import IntentValidator
from benchmark.validators.suite import ValidatorSuite
from tests.scripted import InlineLint, ScriptedModel
from tests.test_config import ROOT, settings_for

CDK_FIXTURE = ROOT / "tests" / "cdk_dataset"  # two small CDK problems in the shipped format

BUCKET = next(p for p in load_dataset(CDK_FIXTURE) if p.id == "versioned-bucket")
CDK_JOB = ("dataset=paper33-cdk", "prompts=cdk", f"dataset.path={CDK_FIXTURE}")
# what the reference app synthesizes to, as far as these tests need
SYNTHESIZED = json.dumps(
    {
        "Resources": {
            "Data666C94C7": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
                "Metadata": {"aws:cdk:path": "AppStack/Data/Resource"},
            }
        }
    }
)


class FixedPool:
    """A pool that answers every app with one outcome (the sandbox's own tests synthesize)."""

    kind = "bwrap"
    cgroup_problem: str | None = None

    def __init__(self, outcome: SynthOutcome) -> None:
        self.outcome, self.codes, self.started, self.closed = outcome, [], False, False

    async def start(self) -> None:
        self.started = True

    async def synth(self, code: str) -> SynthOutcome:
        self.codes.append(code)
        return self.outcome

    def close(self) -> None:
        self.closed = True


def suite_with(outcome: SynthOutcome, warm_linter: WarmLinter) -> tuple[ValidatorSuite, FixedPool]:
    pool = FixedPool(outcome)
    suite = ValidatorSuite(
        [InlineLint(warm_linter), IntentValidator()],
        "no_errors_or_warnings",
        CdkSynthStage(pool),  # type: ignore[arg-type]
    )
    return suite, pool


def test_an_app_that_makes_no_template_is_judged_on_the_stage_findings(
    warm_linter: WarmLinter,
) -> None:
    failed = SynthOutcome(
        "python_error", error_type="TypeError", message="unexpected keyword", line=8, seconds=0.5
    )
    suite, pool = suite_with(failed, warm_linter)
    asyncio.run(suite.prepare())
    verdict = asyncio.run(suite.check(BUCKET.reference_app, BUCKET))
    assert pool.started and pool.codes == [BUCKET.reference_app]
    assert [(f.rule_id, f.source, f.line) for f in verdict.findings] == [("S1002", "python", 8)]
    assert verdict.counts == {"E": 1, "W": 0, "I": 0} and not verdict.clean
    assert not verdict.parse_ok and verdict.synthesized is None
    assert [c.passed for c in verdict.checks] == [False, False]  # every intent check fails
    assert verdict.provenance["synth_stage"] == "python"
    assert verdict.provenance["sandbox"] is None and verdict.provenance["synth_seconds"] == 0.5
    suite.close()
    assert pool.closed


def test_a_synthesized_template_goes_through_the_usual_validators(
    warm_linter: WarmLinter,
) -> None:
    made = SynthOutcome("ok", template=SYNTHESIZED, seconds=0.4, sandbox="bwrap")
    suite, _ = suite_with(made, warm_linter)
    verdict = asyncio.run(suite.check(BUCKET.reference_app, BUCKET))
    assert verdict.clean and verdict.parse_ok and verdict.synthesized == SYNTHESIZED
    assert [c.passed for c in verdict.checks] == [True, True]  # judged on the template
    assert verdict.provenance["synth_stage"] is None and verdict.provenance["sandbox"] == "bwrap"
    assert verdict.provenance["cfn_lint_version"]  # the linter vouched for it
    broken = json.loads(SYNTHESIZED)
    broken["Resources"]["Data666C94C7"]["Properties"]["Bogus"] = 1
    suite, _ = suite_with(SynthOutcome("ok", template=json.dumps(broken)), warm_linter)
    verdict = asyncio.run(suite.check(BUCKET.reference_app, BUCKET))
    assert "E3002" in {f.rule_id for f in verdict.findings} and not verdict.clean
    assert verdict.provenance["synth_stage"] == "template"


def test_a_stage_that_fails_is_a_failure_not_a_crash(warm_linter: WarmLinter) -> None:
    suite, pool = suite_with(SynthOutcome("ok"), warm_linter)

    async def broken(code: str) -> SynthOutcome:
        raise OSError("no scratch space")

    pool.synth = broken  # type: ignore[method-assign]
    verdict = asyncio.run(suite.check("x = 1\n", BUCKET))
    assert verdict.gating_failed and verdict.failures == ["cdk-synth: OSError: no scratch space"]


def test_a_run_folder_from_before_the_cdk_columns_still_loads(tmp_path: Path) -> None:
    for name, added in (
        ("attempts", {"language", "synth_stage", "cdk_version"}),
        ("findings", {"construct"}),
    ):
        old = pa.schema([f for f in SCHEMAS[name] if f.name not in added])
        part = tmp_path / "job" / name / "part-1-00000.parquet"
        part.parent.mkdir(parents=True)
        pq.write_table(old.empty_table(), part)
        frame = read_table(tmp_path, name)
        assert added <= set(frame.columns)


def test_a_cdk_job_without_the_extra_stops_at_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = "CDK apps need the cdk extra (aws_cdk not installed): make install EXTRAS=dev,cdk"
    monkeypatch.setattr(suite_factory, "cdk_available", lambda: reason)
    model = ScriptedModel([])
    monkeypatch.setattr(hydra_job, "create_model", lambda *args, **kwargs: model)
    settings = settings_for(*CDK_JOB, "progress=false", "lint.workers=1")
    with pytest.raises(ConfigError) as caught:
        asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path), None))
    assert (
        str(caught.value)
        == f"config error at 'dataset': dataset 'paper33-cdk' is cdk-python: {reason}"
    )
    assert model.calls == [] and not (tmp_path / "attempts").exists()


@pytest.mark.parametrize("model_id", ["simulated/default", "openai/gpt-4o"])
def test_a_cdk_job_is_planned(model_id: str) -> None:
    plan = plan_job(settings_for(*CDK_JOB, f"model.id={model_id}", "loop.samples=1"))
    assert plan.problems == 2 and plan.input_tokens.expected > 0
    assert plan.output_tokens.maximum >= plan.output_tokens.expected > 0


def fenced(code: str) -> str:
    return f"Here is the app:\n```python\n{code}```\n"


@pytest.mark.slow
def test_a_cdk_job_runs_end_to_end_through_the_synth_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scripted model answers a misspelt keyword, then the reference app: the first attempt
    stops at Python with its line fed back as app.py, the repair synthesizes clean."""
    typo = BUCKET.reference_app.replace("versioned=True", "versiond=True")
    model = ScriptedModel([fenced(typo), fenced(BUCKET.reference_app)])
    monkeypatch.setattr(hydra_job, "create_model", lambda *args, **kwargs: model)
    settings = settings_for(
        *CDK_JOB,
        "dataset.only=[versioned-bucket]",
        "loop.samples=1",
        "loop.max_iterations=3",
        "progress=false",
        "lint.workers=1",
        "cdk.workers=1",
        "prompts.feedback=raw",  # the design that names the file
    )
    summary = asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path), None))
    assert summary.status == "complete" and summary.stop_reasons == {"clean": 1}
    rows = read_table(tmp_path, "attempts").sort_values("iteration")
    first, second = rows.iloc[0], rows.iloc[1]
    assert list(rows["language"]) == ["cdk-python"] * 2
    assert list(rows["extraction_rule"]) == ["fenced-python"] * 2
    assert first["template"] == typo and pd_null(first["synth_template"])
    assert first["synth_stage"] == "python" and first["errors"] == 1 and not first["parse_ok"]
    assert "app.py" in first["feedback"] and "versiond" in first["feedback"]
    assert first["feedback"] in model.calls[1][0][-1].content  # the repair call was told so
    assert second["clean"] and pd_null(second["synth_stage"])
    made = json.loads(second["synth_template"])
    assert any(r["Type"] == "AWS::S3::Bucket" for r in made["Resources"].values())
    assert second["intent_passed"] == second["intent_total"] == 2
    assert set(rows["sandbox"]) <= {"bwrap", "unshare"}
    assert rows["cdk_version"].str.startswith("2.").all()
    assert (rows["synth_seconds"] > 0).all()
    findings = read_table(tmp_path, "findings")
    assert list(findings["source"]) == ["python"] and "construct" in findings.columns


def pd_null(value: object) -> bool:
    return value is None or value != value


def test_the_jsii_cache_lives_under_the_project_runs_folder() -> None:
    sandbox = suite_factory.sandbox_settings(settings_for(*CDK_JOB).cdk)
    assert sandbox.jsii_cache == str(Path(__file__).resolve().parent.parent / "runs/.cache/jsii")
    assert (
        suite_factory.sandbox_settings(settings_for(*CDK_JOB, "cdk.jsii_cache=/j").cdk).jsii_cache
        == "/j"
    )
