"""The report's \"what ran\": the sweep described, each group's provenance, and a note when the
rows were not linted alike."""

from __future__ import annotations

import pandas as pd

from analysis.load import (
    Run,
    group_label,
    select,
)
from analysis.provenance import LINT_DATE_SPAN_DAYS, Provenance, Rescore, installed_cfn_lint
from analysis.security import (
    has_security,
)


def _values(series: pd.Series) -> str:
    values = sorted({str(v) for v in series.dropna().unique()})
    return ", ".join(values) if values else "–"


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or nulls where the run was written before it."""
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def what_ran(run: Run, status: pd.DataFrame) -> list[str]:
    """Bullet lines describing the sweep: configuration, scale, versions, cost."""
    a = run.attempts
    provenance = Provenance.of_attempts(a, "run", str(run.path))
    samples = a.groupby(["model", "prompt_set", "protocol", "problem_id"])["sample"].nunique()
    cost = a["cost_usd"]
    reasoning = _column(a, "reasoning_tokens")
    priced = int(cost.notna().sum())
    stops = a["stop_reason"].dropna().value_counts()
    lines = [
        f"models: {_values(a['model'])}",
        f"prompt sets: {_values(a['prompt_set'])}; protocols: {_values(a['protocol'])}",
        f"limits: max_iterations {_values(a['max_iterations'])}; samples per problem "
        f"{_values(samples)}; max_tokens {_values(a['max_tokens'])}; temperature "
        f"{_values(a['temperature'])}; clean rule {_values(a['clean_rule'])}",
        f"problems: {a['problem_id'].nunique()} (dataset {_values(a['dataset'])})",
        f"chains: {len(status)} ("
        + ", ".join(f"{n} {s}" for s, n in status["status"].value_counts().items())
        + f"); attempts: {len(a)}",
        "stop reasons: " + (", ".join(f"{r} {n}" for r, n in stops.items()) or "–"),
        f"origin: {provenance.origin_text}",
        f"lint: {provenance.lint_text}",
        f"output format: {provenance.format_text}",
        (f"checkov version: {_values(a['checkov_version'])}; " if has_security(a) else "")
        + "benchmark version "
        f"{_values(a['benchmark_version'])}; git {_values(a['git_sha'].str[:10])}"
        + (" (dirty tree)" if a["git_dirty"].fillna(False).astype(bool).any() else ""),
        f"tokens: {int(a['input_tokens'].fillna(0).sum()):,} in, "
        f"{int(a['output_tokens'].fillna(0).sum()):,} out"
        + (f" (of which {int(reasoning.sum()):,} reasoning)" if reasoning.notna().any() else ""),
        f"reasoning: effort {_values(_column(a, 'effort'))}; thinking "
        f"{_values(_column(a, 'thinking'))} (display {_values(_column(a, 'thinking_display'))}); "
        f"model api {_values(_column(a, 'model_api'))}",
        f"cost: ${cost.sum():.2f} over {priced} priced attempts"
        + (f" ({len(a) - priced} attempts without a known price)" if priced < len(a) else ""),
        f"sweeps: {_values(a['sweep_id'])}; "
        f"jobs: {len(a[['sweep_id', 'job_id']].drop_duplicates())}",
    ]
    if a["started_at"].notna().any():
        lines.append(f"time: {a['started_at'].min()} to {a['finished_at'].max()}")
    if run.simulated:
        sim_models = _values(a.loc[a["simulated"].fillna(False).astype(bool), "model"])
        lines.append(f"simulated rows: {run.simulated_rows} of {len(a)} (models: {sim_models})")
    return lines


def group_provenance(
    run: Run, groups: list[tuple], group_keys: list[str]
) -> dict[tuple, Provenance]:
    """Origin, linter, dataset, prompt set and output format of each group's rows."""
    return {
        g: Provenance.of_attempts(
            select(run.attempts, g, group_keys), group_label(g, group_keys), str(run.path)
        )
        for g in groups
    }


def provenance_table(provenances: dict[tuple, Provenance]) -> pd.DataFrame:
    rows = []
    for p in provenances.values():
        row = p.row()
        rows.append({"group": row.pop("side"), **{k: v for k, v in row.items() if k != "run"}})
    return pd.DataFrame(rows)


def lint_note(provenances: dict[tuple, Provenance], run_path: str) -> str | None:
    """A note when the run's rows were not linted alike (one release, dates within a day),
    or carry no lint date at all, with the re-scoring command that mends it."""
    sides = list(provenances.values())
    release = next((p.main_version for p in sides if p.main_version), installed_cfn_lint())
    undated = sum(p.undated for p in sides)
    if undated:
        return (
            f"Lint date not recorded for {undated} row{'s' if undated != 1 else ''} (written "
            "before lint_as_of): cfn-lint's findings depend on the date, so make compare "
            "refuses this run until it is re-scored: `iacbench rescore "
            f"{run_path} --cfn-lint {release or 'VERSION'} --as-of DATE` (DATE: the lint date "
            "of the runs it is to be compared with)."
        )
    versions = {p.version for p in sides}
    dates = [d for p in sides for d in p.dates]
    alike = (
        all(p.uniform for p in sides)
        and len(versions) == 1
        and (max(dates) - min(dates)).days <= LINT_DATE_SPAN_DAYS
    )
    if alike:
        return None
    when = max((p.main_date for p in sides if p.main_date), default=None)
    detail = "; ".join(f"{p.label}: {p.lint_text}" for p in sides)
    advice = ""
    if release and when:
        command = Rescore(run_path, release, when).command
        advice = f" Put the run on one linter and date: `{command}`."
    return (
        "Not linted alike: cfn-lint's findings move between releases and between days, and "
        f"this run's rows were not judged by one release within {LINT_DATE_SPAN_DAYS} day "
        f"({detail}).{advice}"
    )
