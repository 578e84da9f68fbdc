"""The agent protocol in a job: its rows, its resume, its settings, its schema lookups."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import ConfigError, load_settings
from benchmark.loop.agent_tools import SCHEMA, SUBMIT, VALIDATE
from benchmark.loop.prompts import check_prompt_set
from benchmark.models.base import ModelAPI
from benchmark.problems.dataset import load_dataset
from benchmark.records.origin import config_hash
from benchmark.records.resume import recorded_chains
from benchmark.records.tables import AGENT_COLUMNS, SCHEMAS, read_table
from benchmark.runner import factory, hydra_job
from benchmark.runner.hydra_job import JobInfo, run_job
from benchmark.validators.cfn_lint.schemas import resource_schema
from tests.scripted import ToolScriptedModel, tool_call, turn_reply

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "s3-versioned-bucket"
CLEAN = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
ERROR = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Bogus: 1\n"
AGENT_JOB = (
    "dataset=smoke",
    f"dataset.only=[{PROBLEM}]",
    "loop.protocol=agent",
    "loop.samples=1",
    "progress=false",
    "lint.workers=1",
    "cache.enabled=false",
)


def settings_for(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    raw = OmegaConf.to_container(cfg, resolve=True)
    raw["dataset"]["path"] = str(ROOT / raw["dataset"]["path"])
    return load_settings(raw)


def by_turn(turn: int):
    """A chain: look up, validate a broken template, validate the fix while looking up again
    (parallel calls), submit. A function of the turn, as a resumed chain needs."""
    lookup = tool_call(f"s{turn}", SCHEMA, {"resource_type": "AWS::SQS::Queue"})
    return {
        1: turn_reply(lookup, text="First the schema."),
        2: turn_reply(tool_call("v2", VALIDATE, {"template": ERROR})),
        3: turn_reply(tool_call("v3", VALIDATE, {"template": CLEAN}), lookup),
        4: turn_reply(tool_call("x4", SUBMIT, {"template": CLEAN})),
    }[turn]


def run(settings, out: Path, model: ModelAPI, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(hydra_job, "create_model", lambda *args, **kwargs: model)
    return asyncio.run(run_job(settings, JobInfo("sweep-a", 0, out), None))


COMPARED = [
    "attempt_id",
    "iteration",
    "tool",
    "turn",
    "schema_lookups",
    "schema_lookup_types",
    "submitted",
    "submission_validated",
    "open_findings_at_submit",
    "agent_turns",
    "template",
    "errors",
    "stop_reason",
    "feedback",
    "input_tokens",
    "output_tokens",
]


def test_an_agent_job_records_its_rows_with_the_agent_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = run(settings_for(*AGENT_JOB), tmp_path, ToolScriptedModel(by_turn), monkeypatch)
    assert summary.status == "complete" and summary.stop_reasons == {"submitted": 1}
    rows = read_table(tmp_path, "attempts").sort_values("iteration")
    assert list(rows["tool"]) == [VALIDATE, VALIDATE, SUBMIT]
    assert list(rows["turn"]) == [2, 3, 4]
    assert list(rows["schema_lookups"]) == [1, 0, 1]  # turn 3 looked up after validating
    assert json.loads(rows["schema_lookup_types"].iloc[0]) == ["AWS::SQS::Queue"]
    assert list(rows["submitted"]) == [False, False, True]
    assert rows["submission_validated"].iloc[-1] and rows["open_findings_at_submit"].iloc[-1] == 0
    assert list(rows["input_tokens"]) == [20, 10, 10]  # the lookup-only turn on the next row
    assert summary.input_tokens == 40  # every turn counted once
    assert list(rows["protocol"]) == ["agent"] * 3
    findings = read_table(tmp_path, "findings")
    assert set(findings["rule_id"]) == {"E3002"}  # the broken template's row, like any attempt


def test_a_budget_stopped_agent_chain_resumes_with_the_live_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = ToolScriptedModel(by_turn)
    run(settings_for(*AGENT_JOB), tmp_path / "live", live, monkeypatch)

    killed = ToolScriptedModel(by_turn)
    stopped = run(
        settings_for(*AGENT_JOB, "budget.max_tokens=50"), tmp_path / "k", killed, monkeypatch
    )
    assert stopped.status == "budget_exhausted" and stopped.unfinished_chains == 1
    assert [c[2].turn for c in killed.calls] == [1, 2]  # stopped after turn 2's row

    resumed = ToolScriptedModel(by_turn)
    again = run(settings_for(*AGENT_JOB), tmp_path / "k", resumed, monkeypatch)
    assert again.status == "complete" and again.resumed_attempts == 1
    assert [c[2].turn for c in resumed.calls] == [3, 4]  # no finished call repeated
    for (messages, config, context), (live_messages, live_config, live_context) in zip(
        resumed.calls, live.calls[2:], strict=True
    ):
        assert messages == live_messages and config == live_config and context == live_context

    def rows(folder: Path) -> pd.DataFrame:
        frame = read_table(folder, "attempts")[COMPARED]
        return frame.sort_values("iteration").reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(tmp_path / "k"), rows(tmp_path / "live"))


def test_a_simulated_agent_job_runs_offline(tmp_path: Path) -> None:
    settings = settings_for(*AGENT_JOB, "loop.samples=2")
    summary = asyncio.run(run_job(settings, JobInfo("sweep-s", 0, tmp_path), None))
    assert summary.status == "complete" and summary.chains == 2
    rows = read_table(tmp_path, "attempts")
    ends = set(rows.dropna(subset=["stop_reason"])["stop_reason"])
    assert ends <= {"submitted", "no_submission", "max_turns"}
    assert rows["submitted"].notna().all() and rows["agent_turns"].notna().all()


def test_agent_is_refused_at_start_for_a_provider_without_tool_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class NoTools(ModelAPI):
        provider = "openai"

    monkeypatch.setattr(factory, "provider_class", lambda provider: NoTools)
    settings = settings_for("loop.protocol=agent", "model.id=openai/gpt-4o")
    with pytest.raises(ConfigError) as caught:
        factory.create_model(settings, {}, "sk-test")
    assert "loop.protocol" in str(caught.value) and "\n" not in str(caught.value)
    factory.check_tool_use("openai", "stateless")  # the fixed loops need no tool use


def test_agent_settings_enter_the_fingerprint_only_for_the_agent() -> None:
    for protocol in ("stateless", "conversation"):
        data = settings_for(f"loop.protocol={protocol}").result_fingerprint()
        assert "max_turns" not in data["loop"] and "tool_result_max_chars" not in data["loop"]
        assert "agent" not in data["prompts"]  # so older runs keep their hash
    base = settings_for("loop.protocol=agent")
    assert base.result_fingerprint()["prompts"]["agent"] == base.prompts.agent_text
    hashes = {
        config_hash(settings_for("loop.protocol=agent", *extra).result_fingerprint())
        for extra in [
            (),
            ("loop.max_turns=7",),
            ("loop.tool_result_max_chars=500",),
            ("+prompts.agent='Do it: {prompt}'",),
        ]
    }
    assert len(hashes) == 4


def test_old_run_folders_read_the_agent_columns_as_null(tmp_path: Path) -> None:
    old = pa.schema([f for f in SCHEMAS["attempts"] if f.name not in AGENT_COLUMNS])
    row = {f.name: None for f in old}
    key = {
        "attempt_id": "a1",
        "sweep_id": "s",
        "job_id": 0,
        "model": "simulated/default",
        "provider": "simulated",
        "prompt_set": "paper",
        "protocol": "stateless",
        "max_iterations": 3,
        "problem_id": PROBLEM,
        "sample": 0,
        "iteration": 1,
    }
    row.update(key, template="T", feedback="F", reply="R", errors=1, warnings=0, infos=0)
    (tmp_path / "attempts").mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=old), tmp_path / "attempts/part-0.parquet")
    frame = read_table(tmp_path, "attempts")
    assert frame[list(AGENT_COLUMNS)].isna().all().all()
    problems = load_dataset(ROOT / "datasets" / "smoke", only=[PROBLEM])
    [recorded] = recorded_chains(tmp_path, "h", problems).partial.values()
    assert (recorded[0].tool, recorded[0].agent_turns, recorded[0].findings) == (None, None, 1)


def test_schema_lookup_of_a_resource_and_of_a_property_path() -> None:
    whole = resource_schema("AWS::S3::Bucket", None, ["us-east-1"], 8000)
    assert whole.startswith("AWS::S3::Bucket") and "VersioningConfiguration" in whole
    assert len(whole) <= 8000
    status = resource_schema(
        "AWS::S3::Bucket", "Properties.VersioningConfiguration", ["us-east-1"], 8000
    )
    assert "Required: Status" in status and '"Enabled", "Suspended"' in status
    tags = resource_schema("AWS::S3::Bucket", "Tags", ["us-east-1"], 8000)
    assert "Key: string; required" in tags
    assert len(resource_schema("AWS::EC2::Instance", None, ["us-east-1"], 400)) <= 400


def test_schema_lookup_of_an_unknown_type_or_property_names_close_ones() -> None:
    text = resource_schema("AWS::S3::Buckett", None, ["us-east-1", "eu-west-1"], 8000)
    assert text.startswith("error: unknown resource type") and "AWS::S3::Bucket" in text
    prop = resource_schema("AWS::S3::Bucket", "Versioning", ["us-east-1"], 8000)
    assert prop.startswith("error:") and "VersioningConfiguration" in prop


def test_every_prompt_set_has_an_agent_text_with_known_placeholders() -> None:
    for path in sorted((ROOT / "conf" / "prompts").glob("*.yaml")):
        if "language: cdk-python" in path.read_text():
            continue  # the agent validates templates, not CDK apps: refused for CDK at start
        settings = settings_for("loop.protocol=agent", f"prompts={path.stem}")
        check_prompt_set(settings.prompts)
        assert "{prompt}" in settings.prompts.agent_text
    bad = settings_for("loop.protocol=agent", "+prompts.agent='do {promt}'")
    with pytest.raises(ConfigError, match=r"prompts\.agent"):
        check_prompt_set(bad.prompts)
