"""Memory: peak RSS of one job process at 100 and at 1,000 problem×sample chains.

The job runs under `tests.bench.rss_probe`, which reads the process's own peak (VmHWM)
at exit; its lint workers are reported apart (the largest one's peak).
Replies come at once (no latency), every chain runs two attempts.
"""

from __future__ import annotations

import json
from typing import Any

from tests.bench import Context, Row, Section, at_most, info
from tests.bench.jobs import Replies, Size, command, run_job, write_problems
from tests.loopback import LoopbackServer

SAMPLES = 5
ITERATIONS = 2


def peak(ctx: Context, chains: int, samples: int) -> dict[str, Any]:
    size = Size(chains // samples, samples, ITERATIONS, concurrency=8)
    folder = ctx.work / f"memory-{chains}"
    dataset = write_problems(folder / "dataset", size.problems)
    out = folder / "rss.json"
    with LoopbackServer(Replies(ITERATIONS)) as server:
        run_dir = folder / "run"
        overrides = command(run_dir, dataset, server.openai_base_url, size, progress=ctx.verbose)
        overrides += ctx.job_overrides
        job = run_job(
            overrides, run_dir, verbose=ctx.verbose, module=["tests.bench.rss_probe", str(out)]
        )
        calls = len(server.requests)
    if job.summary["attempts"] != size.attempts or calls != size.attempts:
        raise RuntimeError(f"expected {size.attempts} attempts and calls, got {job.summary}")
    return {
        "chains": chains,
        "attempts": size.attempts,
        "job_s": job.job_s,
        **json.loads(out.read_text()),
    }


def run(ctx: Context) -> Section:
    small, large = (4, 40) if ctx.quick else (100, 1000)
    samples = 2 if ctx.quick else SAMPLES
    runs = [peak(ctx, chains, samples) for chains in (small, large)]
    mib = [r["self_kib"] / 1024 for r in runs]
    workers = [r["largest_child_kib"] / 1024 for r in runs]
    rows = [
        info(f"memory: job peak RSS, {small} chains", mib[0], "MiB", 1),
        info(f"memory: job peak RSS, {large} chains", mib[1], "MiB", 1),
        at_most(f"memory: peak RSS {large} / {small} chains", mib[1] / mib[0], 1.1),
        Row(
            f"memory: largest lint worker peak RSS, {small} / {large} chains",
            workers[1],
            f"{workers[0]:.0f} / {workers[1]:.0f} MiB",
        ),
    ]
    return Section("memory", rows, {"runs": runs})
