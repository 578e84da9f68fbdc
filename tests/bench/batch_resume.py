"""Batch resume: kill a job while its batch is pending, rerun it, count the batch creations.

A paper-sized round, 33 problems x 5 samples (K=3 iterations, the sweep's small templates), in
batch mode on the OpenAI loopback. The loopback lets the first batch end and holds every later
one; the job is killed (SIGKILL) as soon as round 2's batch is in its journal, then rerun into
the same folder. Figure: for each request of the pending batch, how many batches the server
saw it in (target: 1, the rerun polled the same batch), and that the rerun's records equal a
run that was never killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmark.models.batch_journal import JOURNAL_FILE
from benchmark.records.tables import read_table
from tests.bench import ROOT, Context, Row, Section, info
from tests.bench.jobs import FAKE_KEY, SEED, Replies, Size, run_job, write_problems
from tests.loopback import LoopbackServer
from tests.loopback_batch import BatchScript

FULL = Size(problems=33, samples=5, iterations=3, concurrency=8)
QUICK = Size(problems=2, samples=2, iterations=3, concurrency=2)
KEYS = {"OPENAI_API_KEY": FAKE_KEY}


def overrides(run_dir: Path, dataset: Path, url: str, size: Size, progress: bool) -> list[str]:
    return [
        "model.id=openai/gpt-4o",
        f"model.providers.openai.base_url={url}",
        "model.batch=true",
        "model.batch_poll_s=0.05",
        f"model.seed={SEED}",
        f"dataset.path={dataset}",
        "dataset.name=bench",
        f"loop.samples={size.samples}",
        f"loop.max_iterations={size.iterations}",
        "cache.enabled=false",
        f"progress={str(progress).lower()}",
        f"hydra.run.dir={run_dir}",
    ]


def key(body: dict) -> str:
    return json.dumps(body, sort_keys=True)


def run(ctx: Context) -> Section:
    size = QUICK if ctx.quick else FULL
    folder = ctx.work / "batch-resume"
    dataset = write_problems(folder / "dataset", size.problems)
    release = threading.Event()
    script = BatchScript(polls=1, release=release)
    with LoopbackServer(Replies(size.iterations), batches=script) as server:
        url = server.openai_base_url
        release.set()
        reference = folder / "reference"
        run_job(
            overrides(reference, dataset, url, size, False) + ctx.job_overrides,
            reference,
            verbose=False,
            keys=KEYS,
        )
        before = len(server.batch.created)

        script.hold_after = before + 1  # the killed run's first batch ends, its second is held
        release.clear()
        killed = folder / "killed"
        argv = [
            sys.executable,
            "-m",
            "benchmark.run",
            *overrides(killed, dataset, url, size, False),
            *ctx.job_overrides,
        ]
        job = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **KEYS}, stderr=subprocess.DEVNULL
        )
        journal = killed / JOURNAL_FILE
        while not (journal.exists() and journal.read_text().count('"submitted"') >= 2):
            if job.poll() is not None:
                raise RuntimeError("the job ended before it could be killed")
            time.sleep(0.05)
        job.send_signal(signal.SIGKILL)
        job.wait()
        recorded = len(read_table(killed, "attempts"))
        pending = server.batch.created[before + 1]
        release.set()
        rerun = run_job(
            overrides(killed, dataset, url, size, ctx.verbose) + ctx.job_overrides,
            killed,
            verbose=ctx.verbose,
            keys=KEYS,
        )
        created = server.batch.created[before:]
    seen: dict[str, int] = {key(body): 0 for body in pending[3]}
    for _, _, _, bodies in created:
        for body in bodies:
            if key(body) in seen:
                seen[key(body)] += 1
    worst = max(seen.values())
    columns = ["problem_id", "sample", "iteration", "errors", "stop_reason"]
    same = (
        read_table(killed, "attempts")[columns]
        .sort_values(columns[:3], ignore_index=True)
        .equals(
            read_table(reference, "attempts")[columns].sort_values(columns[:3], ignore_index=True)
        )
    )
    raw = {
        "size": vars(size),
        "pending_batch": pending[1],
        "pending_requests": len(seen),
        "attempts_before_kill": recorded,
        "batches_killed_run": 2,
        "batches_rerun": len(created) - 2,
        "creations_per_pending_request": sorted(set(seen.values())),
        "rerun_summary": rerun.summary,
        "records_equal_reference": same,
    }
    rows = [
        Row(
            f"batch resume: creations per pending request ({len(seen)} requests)",
            worst,
            str(worst),
            "1",
            worst == 1,
        ),
        Row("batch resume: records equal an unkilled run", float(same), str(same), "True", same),
        info("batch resume: attempts recorded before the kill", recorded, "", 0),
        info("batch resume: batches the rerun created", len(created) - 2, "", 0),
    ]
    return Section("batch_resume", rows, raw)
