"""After a multirun: which jobs completed, which failed, and why, in one place.

Registered as a Hydra callback (conf/config.yaml). A job counts as complete only if its
`job.json` says so; a job with no `job.json` crashed; a submitit job can also fail inside its
pickled result without the launcher saying so, so those results are opened and checked.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from benchmark.runner.hydra_job import SUMMARY_FILE
from benchmark.secrecy import scrub

SWEEP_FILE = "sweep.json"
MAX_EXIT_CODE = 125  # 126 and up mean "not executable", "not found" and signals to a shell


def expected_jobs(task_overrides: list[str], params: Mapping[str, Any] | None = None) -> int:
    """How many jobs the basic sweeper makes of these overrides and a config's
    `hydra.sweeper.params` (an experiment's axes), as it does: the command line wins a key
    both give, and the jobs are the cartesian product."""
    parser = OverridesParser.create()
    swept = [f"{key}={value}" for key, value in (params or {}).items()]
    by_key = {o.key_or_group: o for o in parser.parse_overrides([*swept, *task_overrides])}
    return math.prod(
        len(list(o.sweep_string_iterator())) for o in by_key.values() if o.is_sweep_override()
    )


def submitit_failures(sweep_dir: Path) -> dict[str, str]:
    """submitit job id -> last line of the error its result pickle holds."""
    failures = {}
    for path in sorted((sweep_dir / ".submitit").glob("*/*_result.pkl")):
        try:
            with open(path, "rb") as handle:
                outcome, payload = pickle.load(handle)  # written by our own job
        except Exception as exc:  # unreadable: count it as a failure, say why
            failures[path.parent.name] = f"unreadable result: {exc}"
            continue
        if outcome != "success":
            failures[path.parent.name] = str(payload).strip().splitlines()[-1][:300]
    return failures


def summarize(sweep_dir: Path, expected: int) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for number in range(expected):
        marker = sweep_dir / str(number) / SUMMARY_FILE
        if marker.exists():
            data = json.loads(marker.read_text())
            jobs[str(number)] = {"status": data["status"], "error": data.get("fatal_error")}
        else:
            jobs[str(number)] = {"status": "missing", "error": "no job.json: the job crashed"}
    failed = {n: j for n, j in jobs.items() if j["status"] != "complete"}
    return {
        "sweep_dir": str(sweep_dir),
        "expected_jobs": expected,
        "complete": expected - len(failed),
        "not_complete": failed,
        "submitit_failures": submitit_failures(sweep_dir),
    }


def exit_code(summary: dict[str, Any]) -> int:
    """How many jobs did not complete (failed, stopped by the budget, interrupted, crashed),
    at most MAX_EXIT_CODE; 0 when every job did. A submitit job that failed in its pickled
    result is usually also a job without a complete `job.json`: the larger count is taken."""
    failed = max(len(summary["not_complete"]), len(summary["submitit_failures"]))
    return min(failed, MAX_EXIT_CODE)


class SweepSummary(Callback):
    """Writes `<sweep>/sweep.json`, prints one line per unfinished job, and fails the command
    when any job did not complete: the exit code is the number of such jobs (`exit_code`).
    When every job completed it ends with the next command to run: the sweep's report."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("plan", False):
            return  # plan=true: no job ran, by design
        sweep_dir = Path(config.hydra.sweep.dir)
        params = OmegaConf.select(config, "hydra.sweeper.params") or {}
        expected = expected_jobs(list(config.hydra.overrides.task), params)
        summary = scrub(summarize(sweep_dir, expected))
        (sweep_dir / SWEEP_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        bad = summary["not_complete"]
        print(
            f"sweep {sweep_dir}: {summary['complete']} of {summary['expected_jobs']} jobs complete",
            file=sys.stderr,
            flush=True,
        )
        for number, job in bad.items():
            print(f"  job {number}: {job['status']}: {job['error']}", file=sys.stderr)
        for job_id, error in summary["submitit_failures"].items():
            print(f"  submitit job {job_id} failed: {error}", file=sys.stderr)
        code = exit_code(summary)
        if code:
            sys.exit(code)
        print(f"next: make report RUN={sweep_dir}", flush=True)
