"""Prompt-only problems in a sweep: the simulator skips them with one note, real models run them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import Settings, load_settings
from benchmark.problems.dataset import load_dataset
from benchmark.problems.importers.dpiaceval import import_dpiaceval
from benchmark.records.tables import read_table
from benchmark.runner.hydra_job import JobInfo, JobSummary, run_job
from benchmark.simulator import SimulatedModel
from tests.dpiaceval_fixture import IDS, PROMPT_ONLY, dpiaceval_layout

ROOT = Path(__file__).resolve().parent.parent
CLEAN = '```json\n{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}\n```'


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    out = tmp_path / "dpiaceval"
    import_dpiaceval(dpiaceval_layout(tmp_path / "download"), out)
    return out


def settings_for(dataset: Path, *overrides: str) -> Settings:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[
                f"dataset.path={dataset}",
                "dataset.name=dpiaceval",
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


def test_simulator_says_which_problems_it_cannot_run(dataset: Path) -> None:
    problems = {p.id: p for p in load_dataset(dataset)}
    simulator = SimulatedModel("default", problems=problems)
    assert {pid for pid, p in problems.items() if simulator.skip_reason(p)} == set(PROMPT_ONLY)
    assert simulator.skip_reason(problems[PROMPT_ONLY[0]]) == "prompt-only, no reference template"


@pytest.mark.slow
def test_simulator_sweep_skips_prompt_only_problems_with_one_note(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run(settings_for(dataset, "loop.max_iterations=2"), tmp_path / "run")
    assert summary.status == "complete" and summary.fatal_error is None
    assert summary.skipped_problems == dict.fromkeys(
        PROMPT_ONLY, "prompt-only, no reference template"
    )
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: simulated/default skips 2 of 5 problems "
        f"(prompt-only, no reference template: {', '.join(PROMPT_ONLY)})"
    ]
    attempts = read_table(tmp_path / "run", "attempts")
    assert set(attempts["problem_id"]) == set(IDS.values()) - set(PROMPT_ONLY)
    assert summary.chains == 3


@pytest.mark.slow
def test_real_model_runs_prompt_only_problems(
    loopback, dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = loopback(lambda body, path: CLEAN)
    settings = settings_for(
        dataset,
        "model.id=openai-compatible/loopback-model",
        f"model.providers.openai_compatible.base_url={server.openai_base_url}",
        "loop.max_iterations=1",
    )
    summary = run(settings, tmp_path / "run", "not-needed")
    assert summary.status == "complete" and summary.skipped_problems == {}
    assert "note:" not in capsys.readouterr().err
    attempts = read_table(tmp_path / "run", "attempts").set_index("problem_id")
    assert set(attempts.index) == set(IDS.values())
    # the prompt-only table problem's checks judge the reply (a queue: the table check fails)
    table = attempts.loc[PROMPT_ONLY[0]]
    assert table["intent_total"] == 3 and table["intent_passed"] == 0
