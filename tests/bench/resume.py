"""Resume: rerun a finished sweep into the same folder; count the model calls and the time."""

from __future__ import annotations

from tests.bench import Context, Row, Section, at_most, info
from tests.bench.jobs import run_job
from tests.bench.sweep import finished_sweep


def run(ctx: Context) -> Section:
    sweep = finished_sweep(ctx)
    before = len(sweep.server.requests)
    again = run_job(sweep.overrides, sweep.run_dir, verbose=ctx.verbose)
    calls = len(sweep.server.requests) - before
    first = sweep.first
    raw = {
        "calls": calls,
        "first_process_s": first.wall_s,
        "rerun_process_s": again.wall_s,
        "first_job_s": first.job_s,
        "rerun_job_s": again.job_s,
        "rerun_summary": again.summary,
    }
    skipped = again.summary["resumed_chains_finished"]
    # job.json counts the whole job; the rerun's own attempts are in this_run
    if skipped != sweep.size.chains or again.summary["this_run"]["attempts"] != 0:
        raise RuntimeError(f"the rerun did not skip every chain: {again.summary}")
    rows = [
        Row("resume: model calls on rerun", calls, str(calls), "0", calls == 0),
        info("resume: rerun, whole process", again.wall_s, "s", 2),
        at_most(
            "resume: rerun / first run, whole process", 100 * again.wall_s / first.wall_s, 5, "%"
        ),
        info("resume: rerun / first run, job (run_job)", 100 * again.job_s / first.job_s, "%", 2),
    ]
    return Section("resume", rows, raw)
