"""Whole sweeps against a faulty loopback server, and a job killed with SIGKILL then resumed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmark.records.tables import ATTEMPT_KEY, JOURNAL, read_table
from tests.loopback import Fault

ROOT = Path(__file__).resolve().parent.parent
SEED = 100
FAKE_KEY = "sk-compat-FAKE-0123456789abcdef"
_TASK = re.compile(r"task-(\d+)(?: step (\d+))?")


def write_problems(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for n in range(count):
        (folder / f"task-{n:02d}.yaml").write_text(
            f"id: task-{n:02d}\ntitle: Queue {n}\nprompt: Create one SQS queue for task-{n:02d}.\n"
        )
    return folder


def clean_at(task: str, sample: int) -> int:
    """The step at which this chain's template becomes clean (5 = never, within 4 iterations)."""
    return 2 + hashlib.sha256(f"{task}/{sample}".encode()).digest()[0] % 4


def identity(body: dict) -> tuple[str, int, int]:
    """(task, sample, iteration) of the attempt a request belongs to."""
    text = body["messages"][-1]["content"]
    task, step = _TASK.search(text).groups()
    return f"task-{task}", body["seed"] - SEED, 1 if step is None else int(step) + 1


def reply(body: dict, path: str) -> str:
    """A deterministic answer: a function of the request alone, so a resumed run can match."""
    task, sample, step = identity(body)
    props = "" if step >= clean_at(task, sample) else ', "Properties": {"Nope": 1}'
    template = (
        f'{{"Description": "{task} step {step}", '
        f'"Resources": {{"Q": {{"Type": "AWS::SQS::Queue"{props}}}}}}}'
    )
    return f"```json\n{template}\n```"


def command(
    run_dir: Path, dataset: Path, url: str, *extra: str, timeout_s: float = 0.5
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmark.run",
        "model.id=openai-compatible/loopback-model",
        f"model.providers.openai_compatible.base_url={url}",
        f"model.providers.openai_compatible.timeout_s={timeout_s}",
        "model.providers.openai_compatible.max_retries=8",
        "model.providers.openai_compatible.backoff_base_s=0.01",
        "model.providers.openai_compatible.backoff_max_s=0.2",
        f"model.seed={SEED}",
        f"dataset.path={dataset}",
        "dataset.name=tasks",
        "loop.samples=3",
        "loop.max_iterations=4",
        "lint.workers=1",
        "cache.enabled=false",
        "progress=false",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def environment() -> dict[str, str]:
    return {**os.environ, "OPENAI_COMPATIBLE_API_KEY": FAKE_KEY}


def final_keys(run_dir: Path) -> set[tuple]:
    attempts = read_table(run_dir, "attempts")
    assert not attempts.duplicated(subset=ATTEMPT_KEY).any()
    return set(
        zip(
            attempts["problem_id"],
            attempts["sample"],
            attempts["iteration"],
            attempts["stop_reason"].fillna(""),
            strict=True,
        )
    )


KINDS = [
    Fault(429, retry_after=0.05),
    Fault(500),
    Fault(529),
    Fault.hang(3.0),
    Fault.reset(),
    Fault.truncated(),
]


def fault_plan(body: dict, path: str, seen: int) -> Fault | None:
    """A fifth of the attempts fail once, decided by the attempt a request belongs to.

    Sample 0's generation of task k meets fault kind k, so every kind is injected whatever
    the hash draws; the other attempts meet a seeded hash draw. Never by arrival order.
    """
    task, sample, iteration = identity(body)
    if seen:
        return None  # the retry gets through
    if sample == 0 and iteration == 1:
        return KINDS[int(task.removeprefix("task-")) % len(KINDS)]
    return RANDOM_FAULTS(body, path, seen)


RANDOM_FAULTS = Fault.random_rate(0.2, KINDS, seed=7)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sweep_survives_a_fifth_of_calls_failing(loopback, tmp_path: Path) -> None:
    server = loopback(reply, faults=fault_plan)
    dataset = write_problems(tmp_path / "tasks", 6)
    run_dir = tmp_path / "run"
    done = subprocess.run(
        command(run_dir, dataset, server.openai_base_url),
        env=environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    attempts = read_table(run_dir, "attempts")
    # every attempt row is present exactly once, chains unbroken from 1 to their stop
    assert not attempts.duplicated(subset=ATTEMPT_KEY).any()
    for (task, sample), chain in attempts.groupby(["problem_id", "sample"]):
        stop = min(clean_at(task, sample), 4)
        assert sorted(chain["iteration"]) == list(range(1, stop + 1)), (task, sample)
    # the faults met are exactly the plan's for these attempts: the same on any machine
    first_sight = {identity(r.body): r.fault for r in server.requests if r.fault}
    planned = {
        identity(r.body): fault.kind
        for r in server.requests
        if (fault := fault_plan(r.body, r.path, 0)) is not None
    }
    assert first_sight == planned
    assert set(server.injected) == {k.kind for k in KINDS}, server.injected
    assert sum(server.injected.values()) == len(planned)  # one fault per planned attempt
    assert attempts["model_error"].isna().all()  # every fault was retried away
    retries = {
        (row.problem_id, row.sample, row.iteration): row.retries
        for row in attempts.itertuples(index=False)
    }
    assert all(retries[key] >= 1 for key in planned), "a faulted attempt was not retried"
    # the fake key reached no file of the run: Parquet, .hydra configs, logs
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


class AnswerThenHold:
    """A `faults` hook: once armed with `answer(n)`, the next n requests go through and every
    later one is held (a hang the server's stop() cuts short), so a job can be killed at a
    point that does not depend on how fast the machine is."""

    def __init__(self) -> None:
        self.left: int | None = None  # None: answer everything
        self._lock = threading.Lock()

    def answer(self, n: int | None) -> None:
        with self._lock:
            self.left = n

    def __call__(self, body: dict, path: str, seen: int) -> Fault | None:
        with self._lock:
            if self.left is None:
                return None
            if self.left > 0:
                self.left -= 1
                return None
        return Fault.hang(600)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_job_resumes_to_the_same_attempts_without_repeating_calls(
    loopback, tmp_path: Path
) -> None:
    hold = AnswerThenHold()
    server = loopback(reply, faults=hold)
    dataset = write_problems(tmp_path / "tasks", 6)
    reference, killed = tmp_path / "reference", tmp_path / "killed"

    done = subprocess.run(
        command(reference, dataset, server.openai_base_url),
        env=environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    before_kill = len(server.requests)

    answered = 12  # then every call hangs: the job is killed with exactly 12 attempts recorded
    hold.answer(answered)
    job = subprocess.Popen(
        command(killed, dataset, server.openai_base_url, timeout_s=250),
        env=environment(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    journal = killed / JOURNAL
    while not (journal.exists() and journal.read_text().count("\n") >= answered):
        assert job.poll() is None, "the job ended before it was killed"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    hold.answer(None)
    recorded = read_table(killed, "attempts")
    assert len(recorded) == answered
    finished = set(
        zip(recorded["problem_id"], recorded["sample"], recorded["iteration"], strict=True)
    )

    done = subprocess.run(
        command(killed, dataset, server.openai_base_url),
        env=environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert final_keys(killed) == final_keys(reference)
    assert json.loads((killed / "job.json").read_text())["resumed_attempts"] == len(recorded)

    calls = Counter(identity(r.body) for r in server.requests[before_kill:] if r.fault is None)
    repeated = {key: n for key, n in calls.items() if key in finished and n > 1}
    assert not repeated, f"finished attempts were asked again: {repeated}"
