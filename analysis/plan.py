"""Planned against actual: a run's `plan.json` (written before its first call) beside what the
attempts recorded, per job and in total: calls, input and output tokens, cost.

Reads only the run folder: `<run>/plan.json` (the sweep's plan: every job and the total), or,
where a sweep has none, each job folder's own `<run>/<job>/plan.json`. The plan's cost is on the
basis the job was billed on (online, or batch prices under `model.batch=true`); the actual
cost is the recorded `cost_usd` (0 for a response-cache hit; unknown where a row has no price).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

PLAN_FILE = "plan.json"
NOTE = (
    "Planned before the first call (plan.json): expected from a simulator profile's chains, "
    "maximum with every chain to its iteration limit and every reply max_tokens long. Actual: "
    "the recorded attempts (a resumed or budget-stopped job shows what it has so far; "
    "response-cache hits cost 0)."
)
SIMULATED_NOTE = (
    "Simulated jobs cost 0; their recorded tokens are the simulator's word counts, so their "
    "planned tokens (a real model's, counted from characters) do not compare."
)


def load_plan(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's plan: its own plan.json, else its jobs' plan.json files merged; None if none."""
    run = Path(run_dir)
    path = run / PLAN_FILE
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    jobs: list[dict[str, Any]] = []
    for job_file in sorted(run.glob(f"*/{PLAN_FILE}")):
        data = json.loads(job_file.read_text(encoding="utf-8"))
        jobs += data.get("jobs", [])
    return {"jobs": jobs} if jobs else None


def _actual(attempts: pd.DataFrame) -> dict[str, float | None]:
    cost = attempts["cost_usd"]
    return {
        # one call per attempt, but a response-cache hit made none
        "calls": float(len(attempts) - attempts["cache_hit"].fillna(False).astype(bool).sum()),
        "input_tokens": float(attempts["input_tokens"].fillna(0).sum()),
        "output_tokens": float(attempts["output_tokens"].fillna(0).sum()),
        "cost_usd": None if cost.isna().all() else float(cost.fillna(0).sum()),
    }


def planned_vs_actual(plan: dict[str, Any], attempts: pd.DataFrame) -> pd.DataFrame:
    """One row per planned job and a total row: expected, maximum and actual of each measure."""
    rows = []
    for job in plan.get("jobs", []):
        mine = attempts[attempts["job_id"] == job["job_id"]]
        actual = _actual(mine)
        cost = job["cost_usd"][job["billed"]]
        rows.append(
            {
                "job": str(job["job_id"]),
                "model": job["model"],
                "prompt_set": job["prompt_set"],
                "protocol": job["protocol"],
                "calls_expected": job["calls"]["expected"],
                "calls_max": job["calls"]["maximum"],
                "calls_actual": actual["calls"],
                "input_expected": job["input_tokens"]["expected"],
                "input_max": job["input_tokens"]["maximum"],
                "input_actual": actual["input_tokens"],
                "output_expected": job["output_tokens"]["expected"],
                "output_max": job["output_tokens"]["maximum"],
                "output_actual": actual["output_tokens"],
                "cost_expected": cost["expected"],
                "cost_max": cost["maximum"],
                "cost_actual": actual["cost_usd"],
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    total: dict[str, Any] = {"job": "total", "model": f"{len(frame)} jobs"}
    for column in frame.columns[4:]:
        values = frame[column]
        total[column] = None if values.isna().any() else float(values.sum())
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def display_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The comparison as the report shows it: `actual (expected, max)` per measure."""

    def n(v: Any) -> str:
        return "?" if v is None or pd.isna(v) else f"{v:,.0f}"

    def usd(v: Any) -> str:
        return "n/a" if v is None or pd.isna(v) else f"${v:,.2f}"

    out = frame[["job", "model", "prompt_set", "protocol"]].fillna("").copy()
    for name, key, fmt in [
        ("calls", "calls", n),
        ("input tokens", "input", n),
        ("output tokens", "output", n),
        ("cost", "cost", usd),
    ]:
        out[f"{name}: actual (planned, max)"] = [
            f"{fmt(r[f'{key}_actual'])} ({fmt(r[f'{key}_expected'])}, {fmt(r[f'{key}_max'])})"
            for _, r in frame.iterrows()
        ]
    return out
