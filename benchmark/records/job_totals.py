"""`job.json`'s totals over the whole job: every row its folder holds, not only this run's.

A resumed job's run counts only the attempts it made itself; `count_whole_job` moves those
counts to `this_run` and sets the totals from the job's recorded rows, so that a job's totals
are the same however many runs it took.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from benchmark.records.reply_flags import ReplyFlags
from benchmark.records.tables import read_table

# JobSummary fields that count the job's rows (the others describe this run)
TOTALS = (
    "attempts",
    "chains",
    "clean_chains",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cost_usd",
    "model_errors",
    "lint_failures",
    "response_cache_hits",
    "retries",
    "stop_reasons",
    "reply_flags",
)


def _sum(column: pd.Series) -> int:
    return int(column.fillna(0).sum())


def totals(attempts: pd.DataFrame) -> dict[str, Any]:
    """The `TOTALS` of a job's `attempts` rows, counted as `Recorder` counts them one by one."""
    stops = attempts[attempts["stop_reason"].notna()]  # a chain's last attempt says why it ended
    unpriced = (attempts["reply"].notna() & attempts["cost_usd"].isna()).any()
    return {
        "attempts": len(attempts),
        "chains": len(stops),
        "clean_chains": int(stops["clean"].fillna(False).astype(bool).sum()),
        "input_tokens": _sum(attempts["input_tokens"]),
        "output_tokens": _sum(attempts["output_tokens"]),
        "cached_tokens": _sum(attempts["cached_tokens"]),
        "cache_write_tokens": _sum(attempts["cache_write_tokens"]),
        "cost_usd": None if unpriced else float(attempts["cost_usd"].fillna(0.0).sum()),
        "model_errors": int(attempts["model_error"].notna().sum()),
        "lint_failures": int(attempts["lint_failure"].notna().sum()),
        "response_cache_hits": int(attempts["cache_hit"].fillna(False).astype(bool).sum()),
        "retries": _sum(attempts["retries"]),
        "stop_reasons": {str(k): int(n) for k, n in stops["stop_reason"].value_counts().items()},
        "reply_flags": ReplyFlags.from_rows(attempts),
    }


def count_whole_job(summary: Any, job_dir: Path) -> None:
    """Move `summary`'s run counts to `summary.this_run`; set its `TOTALS` from `job_dir`'s rows.
    Rows that cannot be read leave the run's counts in place, `this_run` null, and a warning."""
    this_run = {name: getattr(summary, name) for name in TOTALS}
    try:
        whole = totals(read_table(job_dir, "attempts"))
    except (OSError, ValueError, pa.ArrowException) as exc:
        detail = " ".join(str(exc).split())
        print(
            f"warning: {job_dir}/job.json counts this run only: its rows cannot be read: {detail}",
            file=sys.stderr,
            flush=True,
        )
        summary.this_run = None
        return
    for name, value in whole.items():
        setattr(summary, name, value)
    summary.this_run = this_run
