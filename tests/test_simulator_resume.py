"""Exact resume on the simulator: a chain's state comes from the record, never from memory.

A real `python -m benchmark.run` job is killed with SIGKILL while it writes and rerun into the
same folder; its attempts must equal those of the same job left alone, row for row. In
process, every resume point of every chain of a calibrated profile continues exactly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmark.config import LoopConfig
from benchmark.loop.feedback_loop import Attempt, FeedbackLoop, RecordedAttempt
from benchmark.loop.prompts import check_prompt_set
from benchmark.models.base import GenerateConfig
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import JOURNAL, read_table
from benchmark.simulator import SimulatedModel, load_profile
from benchmark.validators.cfn_lint.validator import CfnLintValidator, LintSettings
from benchmark.validators.intent import IntentValidator
from benchmark.validators.suite import ValidatorSuite

ROOT = Path(__file__).resolve().parents[1]
COMPARED = [
    "attempt_id",
    "problem_id",
    "sample",
    "iteration",
    "reply",
    "template",
    "errors",
    "warnings",
    "infos",
    "clean",
    "stop_reason",
    "feedback",
    "model_error",
    "request_id",
    "input_tokens",
    "output_tokens",
    "simulated",
    "origin",
]
JOB = [
    "dataset=smoke",
    "loop.samples=6",
    "loop.max_iterations=6",
    "loop.concurrency=2",
    "lint.workers=1",
    "progress=false",
    "model.simulator.latency_s=0.05",
]
WAIT_S = 240.0  # a deadline for a loaded CI machine, not a synchronisation


def run_job(run_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark.run", f"hydra.run.dir={run_dir}", *JOB],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def journal_rows(run_dir: Path) -> int:
    path = run_dir / JOURNAL
    return path.read_bytes().count(b"\n") if path.exists() else 0


def rows(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    attempts = read_table(run_dir, "attempts")[COMPARED]
    attempts = attempts.sort_values("attempt_id").reset_index(drop=True)
    findings = read_table(run_dir, "findings")[["attempt_id", "finding_index", "rule_id", "path"]]
    return attempts, findings.sort_values(["attempt_id", "finding_index"]).reset_index(drop=True)


@pytest.mark.slow
def test_a_killed_and_resumed_simulated_job_records_what_an_uninterrupted_one_does(
    tmp_path: Path,
) -> None:
    alone, killed = tmp_path / "alone" / "run", tmp_path / "killed" / "run"  # same sweep id
    assert run_job(alone).wait(timeout=WAIT_S) == 0

    job = run_job(killed)
    deadline = time.monotonic() + WAIT_S
    while journal_rows(killed) < 12:  # a dozen attempts recorded, the rest still to come
        assert job.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "the job recorded nothing in time"
        time.sleep(0.02)
    os.kill(job.pid, signal.SIGKILL)
    job.wait(timeout=WAIT_S)
    assert not (killed / "job.json").exists()  # killed mid-run, not after its end
    recorded = len(read_table(killed, "attempts"))

    assert run_job(killed).wait(timeout=WAIT_S) == 0
    expected, resumed = rows(alone), rows(killed)
    assert 12 <= recorded < len(expected[0])
    pd.testing.assert_frame_equal(resumed[0], expected[0])
    pd.testing.assert_frame_equal(resumed[1], expected[1])


def _loop(prompt_set: str, protocol: str) -> tuple[FeedbackLoop, ValidatorSuite]:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from benchmark.config import PromptSetConfig

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"prompts={prompt_set}"])
    prompts = PromptSetConfig(**OmegaConf.to_container(cfg.prompts, resolve=True))  # type: ignore[arg-type]
    check_prompt_set(prompts)
    suite = ValidatorSuite(
        [CfnLintValidator(LintSettings(), workers=1), IntentValidator()], "no_errors_or_warnings"
    )
    loop = LoopConfig(max_iterations=6, samples=1, protocol=protocol)  # type: ignore[arg-type]
    return FeedbackLoop(None, suite, prompts, loop, lambda s: GenerateConfig(1.0, 4096)), suite  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prompt_set", "protocol"), [("paper", "stateless"), ("structured", "conversation")]
)
def test_every_resume_point_of_a_calibrated_chain_continues_exactly(
    prompt_set: str, protocol: str
) -> None:
    problems = {p.id: p for p in load_dataset(ROOT / "datasets" / "smoke")}
    profile = load_profile("synthetic-truth")
    loop, suite = _loop(prompt_set, protocol)

    def model() -> SimulatedModel:  # a fresh instance each time: nothing carried in memory
        return SimulatedModel("truth", problems=problems, profile=profile)

    async def chain(problem_id: str, sample: int, done: list[Attempt]) -> list[Attempt]:
        loop.model = model()
        out: list[Attempt] = []
        resume = None
        if done:
            recorded = [
                RecordedAttempt(a.output.text, a.extraction.template, a.feedback)  # type: ignore[union-attr]
                for a in done
            ]
            resume = loop.resume_point(problems[problem_id], recorded)
        await loop.run_chain(problems[problem_id], sample, out.append, resume)
        return out

    def key(attempts: list[Attempt]) -> list[tuple]:
        return [
            (a.iteration, a.output.text if a.output else None, a.stop_reason, a.model_error)
            for a in attempts
        ]

    async def main() -> int:
        checked = 0
        for problem_id in sorted(problems):
            for sample in range(4):
                whole = await chain(problem_id, sample, [])
                assert all(a.model_error is None for a in whole)
                for cut in range(1, len(whole)):
                    rest = await chain(problem_id, sample, whole[:cut])
                    assert key(rest) == key(whole[cut:]), (problem_id, sample, cut)
                    checked += 1
        return checked

    try:
        assert asyncio.run(main()) > 10
    finally:
        suite.close()
