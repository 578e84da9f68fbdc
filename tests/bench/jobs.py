"""What the sweep, resume and memory benchmarks share: a generated dataset, a scripted model on
the loopback server, and one `benchmark.run` job run as a subprocess against it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench import ROOT

SEED = 100
FAKE_KEY = "sk-bench-not-a-real-key"
_TASK = re.compile(r"task-(\d+)(?: sample \d+ step (\d+))?")


@dataclass(frozen=True)
class Size:
    problems: int
    samples: int
    iterations: int  # K: every chain runs exactly this many attempts
    concurrency: int  # C: chains in flight, and the provider's concurrency cap
    latency_s: float = 0.0  # injected by the loopback server on every call

    @property
    def chains(self) -> int:
        return self.problems * self.samples

    @property
    def attempts(self) -> int:
        return self.chains * self.iterations


def write_problems(folder: Path, count: int) -> Path:
    """`count` one-queue problems, task-0000 ... (no reference template, no intent checks)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"task-{n:04d}.yaml").write_text(
            f"id: task-{n:04d}\ntitle: Queue {n}\nprompt: Create one SQS queue for task-{n:04d}.\n"
        )
    return folder


def template(task: str, sample: int, step: int, clean_at: int) -> str:
    """The reply's template: one E3002 finding before step `clean_at`, clean from it on."""
    props = "" if step >= clean_at else ', "Properties": {"Nope": 1}'
    return (
        f'{{"Description": "task-{task} sample {sample} step {step}", '
        f'"Resources": {{"Q": {{"Type": "AWS::SQS::Queue"{props}}}}}}}'
    )


class Replies:
    """A deterministic model: the reply is a function of the request alone (so a rerun matches).

    Each chain's template is distinct (problem, sample, step are in its Description), so the
    harness's lint cache never answers for another chain.
    """

    def __init__(self, clean_at: int) -> None:
        self.clean_at = clean_at

    def __call__(self, body: dict[str, Any], path: str) -> str:
        match = _TASK.search(body["messages"][-1]["content"])
        assert match, "request names no task"
        task, previous = match.groups()
        step = 1 if previous is None else int(previous) + 1
        text = template(task, body["seed"] - SEED, step, self.clean_at)
        return f"```json\n{text}\n```"


def command(run_dir: Path, dataset: Path, url: str, size: Size, *, progress: bool) -> list[str]:
    """The overrides of one job: openai-compatible provider on `url`, no response cache."""
    return [
        "model.id=openai-compatible/bench-model",
        f"model.providers.openai_compatible.base_url={url}",
        f"model.providers.openai_compatible.max_concurrency={size.concurrency}",
        f"model.seed={SEED}",
        f"dataset.path={dataset}",
        "dataset.name=bench",
        f"loop.samples={size.samples}",
        f"loop.max_iterations={size.iterations}",
        f"loop.concurrency={size.concurrency}",
        "cache.enabled=false",
        f"progress={str(progress).lower()}",
        f"hydra.run.dir={run_dir}",
    ]


@dataclass(frozen=True)
class JobRun:
    wall_s: float  # the whole process, interpreter start to exit
    summary: dict[str, Any]  # job.json: its `seconds` is run_job's own wall time

    @property
    def job_s(self) -> float:
        return float(self.summary["seconds"])


def run_job(
    overrides: list[str],
    run_dir: Path,
    *,
    verbose: bool,
    module: list[str] | None = None,
    keys: dict[str, str] | None = None,
) -> JobRun:
    """Run `python -m benchmark.run <overrides>` (or `module`) and read its job.json.

    Its stdout (the log, also in the run folder's run.log) is dropped; its stderr (progress bar,
    warnings, errors) is shown when `verbose`, else kept for the error message. `keys`: fake
    API keys to set (the openai-compatible one always is).
    """
    argv = [sys.executable, "-m", *(module or ["benchmark.run"]), *overrides]
    env = {**os.environ, "OPENAI_COMPATIBLE_API_KEY": FAKE_KEY, **(keys or {})}
    err = None if verbose else subprocess.PIPE
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        detail = (done.stderr or "")[-3000:] if not verbose else "(see its output above)"
        raise RuntimeError(f"job failed with exit code {done.returncode}: {detail}")
    summary = json.loads((run_dir / "job.json").read_text())
    if summary["status"] != "complete":
        raise RuntimeError(f"job ended {summary['status']}: {summary}")
    return JobRun(wall, summary)
