"""Multiruns through real Hydra launchers; the sweep summary names every job that failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.records.tables import read_table
from benchmark.runner.sweep_summary import expected_jobs

ROOT = Path(__file__).resolve().parent.parent
SMALL = [
    "loop.samples=1",
    "loop.max_iterations=3",
    "progress=false",
    "lint.workers=1",
    "dataset.limit=2",
]


def multirun(sweep: Path, *overrides: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.run",
            "-m",
            *SMALL,
            f"hydra.sweep.dir={sweep}",
            *overrides,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env or dict(os.environ),
    )


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_two_jobs_through_a_real_launcher(tmp_path: Path, launcher: str) -> None:
    sweep = tmp_path / launcher
    done = multirun(sweep, f"hydra/launcher={launcher}", "loop.protocol=stateless,conversation")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((sweep / "sweep.json").read_text())
    assert summary["expected_jobs"] == 2 and summary["complete"] == 2
    assert not summary["not_complete"] and not summary["submitit_failures"]
    attempts = read_table(sweep, "attempts")  # the union of both jobs' parts
    assert sorted(attempts["job_id"].unique()) == [0, 1]
    assert set(attempts["protocol"]) == {"stateless", "conversation"}
    assert attempts["lint_failure"].isna().all()  # the lint workers ran inside the launcher
    if launcher == "submitit_local":
        assert list((sweep / ".submitit").glob("*/*_result.pkl"))


@pytest.mark.slow
def test_a_failed_job_is_named_and_fails_the_sweep(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    sweep = tmp_path / "mixed"
    done = multirun(sweep, "model.id=simulated/default,openai/gpt-4o", env=env)
    assert done.returncode == 1  # the number of jobs that did not complete
    summary = json.loads((sweep / "sweep.json").read_text())
    assert summary["complete"] == 1 and list(summary["not_complete"]) == ["1"]
    assert "OPENAI_API_KEY" in summary["not_complete"]["1"]["error"]
    assert "job 1: failed" in done.stderr
    assert json.loads((sweep / "0" / "job.json").read_text())["status"] == "complete"


def test_expected_jobs_is_the_cartesian_product() -> None:
    assert expected_jobs(["a=1,2", "b=x,y,z", "c=3"]) == 6
    assert expected_jobs(["c=3"]) == 1
    assert expected_jobs(["a=range(0,4)"]) == 4


def test_expected_jobs_count_an_experiments_sweeper_params() -> None:
    """conf/experiment/*.yaml sweep through hydra.sweeper.params; the command line wins a key
    both give (experiment-languages said "1 of 1 jobs complete" for its two jobs)."""
    params = {"+language": "cloudformation,cdk", "loop.protocol": "stateless,agent"}
    assert expected_jobs(["model.id=a,b,c"], params) == 12
    assert expected_jobs(["loop.protocol=agent", "model.id=a"], params) == 2
    assert expected_jobs(["language=cdk"], {"+language": "cloudformation,cdk"}) == 1
