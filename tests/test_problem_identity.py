"""The problems' content is part of a job's identity: in the config hash, and on every row."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from benchmark.config import ConfigError
from benchmark.problems.dataset import load_dataset
from benchmark.records.origin import config_hash
from benchmark.records.tables import read_table
from benchmark.runner.hydra_job import JobInfo, run_job
from studies.synthesize import compose_settings

SMOKE = Path(__file__).resolve().parent.parent / "datasets" / "smoke"
IDS = sorted(p.stem for p in SMOKE.glob("*.yaml"))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A copy of the smoke dataset that a test may edit."""
    return Path(shutil.copytree(SMOKE, tmp_path / "smoke"))


def settings(dataset: Path, *overrides: str):
    return compose_settings(
        [
            f"dataset.path={dataset}",
            "model.id=simulated/default",
            "loop.samples=1",
            "loop.max_iterations=2",
            "lint.workers=1",
            "progress=false",
            *overrides,
        ]
    )


def reword(dataset: Path, problem_id: str) -> None:
    """Change the request of one problem."""
    path = dataset / f"{problem_id}.yaml"
    text = path.read_text()
    assert "\nprompt: >-\n  " in text
    path.write_text(text.replace("\nprompt: >-\n  ", "\nprompt: >-\n  Reworded: ", 1))


def hash_of(dataset: Path, *overrides: str) -> str:
    return config_hash(settings(dataset, *overrides).result_fingerprint())


def test_a_changed_problem_changes_the_config_hash(dataset: Path) -> None:
    before = hash_of(dataset)
    (dataset / f"{IDS[0]}.yaml").write_text(
        "# a comment is not content\n" + (dataset / f"{IDS[0]}.yaml").read_text()
    )
    assert hash_of(dataset) == before
    reword(dataset, IDS[0])
    assert hash_of(dataset) != before


def test_the_hash_covers_exactly_the_jobs_problems(dataset: Path) -> None:
    only, limited = (
        hash_of(dataset, f"dataset.only=[{IDS[1]}]"),
        hash_of(dataset, "dataset.limit=1"),
    )
    reword(dataset, IDS[2])  # neither job runs it
    assert hash_of(dataset, f"dataset.only=[{IDS[1]}]") == only
    assert hash_of(dataset, "dataset.limit=1") == limited
    reword(dataset, IDS[0])  # the first problem: the limited job runs it
    assert hash_of(dataset, "dataset.limit=1") != limited


@pytest.mark.slow  # runs a simulated job (lint workers)
def test_a_resume_after_a_problem_changed_is_refused_naming_it(
    dataset: Path, tmp_path: Path
) -> None:
    job = JobInfo("s", 0, tmp_path / "0")
    summary = asyncio.run(run_job(settings(dataset), job, None))
    assert summary.status == "complete"
    rows = read_table(job.output_dir, "attempts")
    digests = {p.id: p.sha256 for p in load_dataset(dataset)}
    assert rows["problem_sha256"].tolist() == rows["problem_id"].map(digests).tolist()

    reword(dataset, IDS[1])
    with pytest.raises(ConfigError) as refused:
        asyncio.run(run_job(settings(dataset), job, None))
    message = str(refused.value)
    assert "\n" not in message and "problem files changed" in message
    assert IDS[1] in message and IDS[0] not in message and IDS[2] not in message
    assert read_table(job.output_dir, "attempts").equals(rows)  # nothing was added
