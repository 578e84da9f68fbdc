"""Whole jobs with deploy.enabled=true: nothing is left behind, checked through the API, after a
run, after a SIGTERM mid-deploy, and after a SIGKILL (the resumed job cleans up)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from analysis.report import build_report
from benchmark.records.tables import read_table
from benchmark.replication.rescore import main as rescore_main
from tests.cfn_loopback import FakeCloudFormation
from tests.conftest import FAKE_AWS

ROOT = Path(__file__).resolve().parent.parent
FAKE_KEYS = {"ANTHROPIC_API_KEY": "sk-ant-FAKE0123456789abcdef"}


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({**FAKE_AWS, **FAKE_KEYS})
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent")
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    return env


def command(run_dir: Path, url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmark.run",
        "deploy.enabled=true",
        f"deploy.endpoint_url={url}",
        "deploy.poll_s=0.05",
        "lint.workers=1",  # the lint pool is not under test here: one worker to start, not two
        "progress=false",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def start(run_dir: Path, url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        command(run_dir, url, *extra),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, what: str, timeout_s: float = 300.0) -> None:
    """Poll a condition; the generous timeout only bounds a broken run, it is not a target."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def live_stacks(url: str) -> list[dict]:
    client = boto3.client("cloudformation", region_name="us-east-1", endpoint_url=url)
    return client.describe_stacks()["Stacks"]


def all_stacks(url: str) -> list[dict]:
    client = boto3.client("cloudformation", region_name="us-east-1", endpoint_url=url)
    return client.list_stacks()["StackSummaries"]  # deleted ones too


@pytest.mark.slow
def test_smoke_sweep_on_moto_records_deployable_everywhere_and_leaves_nothing(
    moto_url, tmp_path
) -> None:
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.run",
            "-m",
            "dataset=smoke",
            "deploy.enabled=true",
            f"deploy.endpoint_url={moto_url}",
            "deploy.poll_s=0.05",
            "prompts.feed_back_checks=[deploy]",
            "loop.samples=2",
            "loop.max_iterations=3",
            "lint.workers=1",
            "progress=false",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "deploy: changeset mode" in done.stderr and "no cost" in done.stderr
    attempts = read_table(sweep, "attempts")
    assert attempts["deployable"].notna().all()
    assert set(attempts["deploy_mode"]) == {"changeset"}
    assert live_stacks(moto_url) == []
    created = attempts["deploy_create_s"].notna().sum()  # those that reached a change set
    assert len(all_stacks(moto_url)) == created > 0
    findings = read_table(sweep, "findings")
    deploy = findings[findings["source"] == "deploy"]
    assert set(deploy["attempt_id"]) == set(attempts.loc[~attempts["deployable"], "attempt_id"])
    # deploy findings are recorded, not counted: errors are the linter's
    lint_errors = findings[(findings["source"] == "cfn-lint") & (findings["level"] == "E")]
    per_attempt = lint_errors.groupby("attempt_id").size()
    errors = attempts.set_index("attempt_id")["errors"]
    assert (per_attempt.reindex(errors.index, fill_value=0) == errors).all()
    # fed back: a repair after an undeployable attempt is told why
    failed = attempts[~attempts["deployable"] & attempts["feedback"].notna()]
    assert failed["feedback"].str.contains("Deploying the template with CloudFormation").all()
    assert json.loads((sweep / "0" / "job.json").read_text())["deploy_leftovers"] == 0
    secrets = [*FAKE_AWS.values(), *FAKE_KEYS.values()]
    for path in sweep.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"a credential leaked into {path}"

    # re-scoring deploys the stored templates again, under the saved settings
    rescored = tmp_path / "rescored"
    assert rescore_main([str(sweep), "--out", str(rescored)]) == 0
    again = read_table(rescored, "attempts")
    assert len(again) == len(attempts) and again["deployable"].notna().all()
    assert live_stacks(moto_url) == []

    report = build_report(sweep, n_boot=50, fit_boot=0)
    text = report.markdown.read_text()
    assert "## Deployability" in text and "passItr@n" in text
    assert (report.markdown.parent / "deploy.csv").exists()


@pytest.mark.slow
def test_sigterm_mid_run_on_moto_leaves_no_stack_and_the_resume_finishes(
    moto_url, tmp_path
) -> None:
    run_dir = tmp_path / "run"
    extra = ("loop.samples=2", "loop.max_iterations=3")
    job = start(run_dir, moto_url, *extra)
    try:
        wait_for(lambda: len(all_stacks(moto_url)) >= 1, "a first change set")
        job.send_signal(signal.SIGTERM)
        _, err = job.communicate(timeout=300)
    finally:
        job.kill()
    assert job.returncode == 130, err[-2000:]
    assert live_stacks(moto_url) == []
    assert json.loads((run_dir / "job.json").read_text())["status"] == "interrupted"

    resumed = subprocess.run(
        command(run_dir, moto_url, *extra),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert read_table(run_dir, "attempts")["deployable"].notna().all()
    assert live_stacks(moto_url) == []


@pytest.fixture
def hanging(fake_aws):
    """A CloudFormation whose change sets never settle: every deployment is mid-way."""
    with FakeCloudFormation() as server:
        server.script.change_set = "hang"
        yield server


def test_sigterm_mid_deploy_deletes_every_stack_and_change_set(hanging, tmp_path) -> None:
    job = start(tmp_path / "run", hanging.url, "loop.samples=1", "loop.max_iterations=2")
    try:
        wait_for(hanging.created.is_set, "a change set")
        job.send_signal(signal.SIGTERM)
        _, err = job.communicate(timeout=120)
    finally:
        job.kill()
    assert job.returncode == 130, err[-2000:]
    assert hanging.calls["CreateChangeSet"] >= 1
    assert hanging.live_stacks() == [] and hanging.live_change_sets() == []
    assert "interrupted" in err


def test_a_resumed_job_deletes_what_its_killed_predecessor_left(hanging, tmp_path) -> None:
    run_dir = tmp_path / "run"
    extra = ("loop.samples=1", "loop.max_iterations=2")
    job = start(run_dir, hanging.url, *extra)
    try:
        wait_for(hanging.created.is_set, "a change set")
        job.send_signal(signal.SIGKILL)  # no cleanup at all
        job.communicate(timeout=60)
    finally:
        job.kill()
    left = hanging.live_stacks()
    assert left, "the kill should leave a stack behind"
    hanging.script.change_set = "complete"
    resumed = subprocess.run(
        command(run_dir, hanging.url, *extra),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "stacks left by an earlier run of this job" in resumed.stderr
    assert hanging.live_stacks() == [] and hanging.live_change_sets() == []
