"""Sweep efficiency: one job against the loopback server with a fixed latency per call.

Every chain runs exactly K attempts (dirty until its K-th reply), so the ideal schedule is
ceil(N·S / C) waves of K steps, each step one call plus one lint of the reply:

    ideal = ceil(N·S / C) · K · (latency + lint)

where `lint` is the warm linter's mean time on this sweep's own templates, measured here just
before the job. Efficiency = ideal / measured, on the job's own wall time (run_job, as written
to job.json) and, for information, on the whole process (interpreter and Hydra start included).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter
from tests.bench import Context, Section, at_least, info
from tests.bench.jobs import JobRun, Replies, Size, command, run_job, template, write_problems
from tests.loopback import LoopbackServer

FULL = Size(problems=64, samples=5, iterations=3, concurrency=8, latency_s=0.5)
QUICK = Size(problems=2, samples=2, iterations=2, concurrency=2, latency_s=0.05)


@dataclass
class FinishedSweep:
    """A sweep run to completion; its server is kept alive for a rerun (same endpoint)."""

    size: Size
    run_dir: Path
    overrides: list[str]
    server: LoopbackServer
    first: JobRun
    calls: int


def lint_seconds(size: Size, count: int = 24) -> float:
    """Mean seconds the warm linter takes on this sweep's templates (after one warm-up)."""
    linter = WarmLinter(LintSettings())
    texts = [
        template(f"{p:04d}", s, step, size.iterations)
        for p in range(size.problems)
        for s in range(size.samples)
        for step in range(1, size.iterations + 1)
    ][: count + 1]
    linter.lint(texts[0])
    start = time.perf_counter()
    for text in texts[1:]:
        linter.lint(text)
    return (time.perf_counter() - start) / max(1, len(texts) - 1)


def first_run(ctx: Context, size: Size) -> FinishedSweep:
    """Run the sweep once into a fresh folder (no response cache) and keep it for a rerun."""
    folder = ctx.work / "sweep"
    dataset = write_problems(folder / "dataset", size.problems)
    server = ctx.cleanup.enter_context(
        LoopbackServer(Replies(size.iterations), latency_s=size.latency_s)
    )
    run_dir = folder / "run"
    overrides = command(run_dir, dataset, server.openai_base_url, size, progress=ctx.verbose)
    overrides += ctx.job_overrides
    first = run_job(overrides, run_dir, verbose=ctx.verbose)
    calls = len(server.requests)
    if first.summary["attempts"] != size.attempts or calls != size.attempts:
        raise RuntimeError(f"expected {size.attempts} attempts and calls, got {first.summary}")
    return FinishedSweep(size, run_dir, overrides, server, first, calls)


def finished_sweep(ctx: Context) -> FinishedSweep:
    """The run's finished sweep, made now if the sweep benchmark did not run."""
    if "sweep" not in ctx.shared:
        ctx.shared["sweep"] = first_run(ctx, QUICK if ctx.quick else FULL)
    return ctx.shared["sweep"]


def run(ctx: Context) -> Section:
    size = QUICK if ctx.quick else FULL
    lint_s = lint_seconds(size, 4 if ctx.quick else 24)
    sweep = finished_sweep(ctx)
    waves = math.ceil(size.chains / size.concurrency)
    model_s = waves * size.iterations * size.latency_s
    ideal = model_s + waves * size.iterations * lint_s
    job_s, wall_s = sweep.first.job_s, sweep.first.wall_s
    overhead_ms = 1000 * (job_s - model_s) / size.attempts
    raw: dict[str, Any] = {
        "size": asdict(size),
        "waves": waves,
        "lint_s_per_template": lint_s,
        "ideal_model_s": model_s,
        "ideal_s": ideal,
        "job_s": job_s,
        "process_s": wall_s,
        "startup_s": wall_s - job_s,
        "calls": sweep.calls,
        "max_in_flight": sweep.server.max_in_flight,
        "summary": sweep.first.summary,
    }
    label = (
        f"{size.problems}x{size.samples} chains, K={size.iterations}, "
        f"C={size.concurrency}, {size.latency_s:g}s/call"
    )
    rows = [
        info(f"sweep: ideal schedule ({label})", ideal, "s", 1),
        info("sweep: measured, job (run_job)", job_s, "s", 1),
        at_least("sweep: efficiency, job (ideal / measured)", 100 * ideal / job_s, 90, "%"),
        info("sweep: efficiency, whole process (incl. start-up)", 100 * ideal / wall_s, "%", 1),
        info("sweep: harness overhead per attempt (excl. model)", overhead_ms, "ms", 1),
        info("sweep: calls in flight at most", sweep.server.max_in_flight, "", 0),
    ]
    return Section("sweep", rows, raw)
