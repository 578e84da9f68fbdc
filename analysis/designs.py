"""Feedback designs compared: one row per model × design (prompt set) × protocol.

Columns (each with a 95 % problem-bootstrap CI):

* `k`, `C`: decay rate and plateau of y(t) = A·e^(−k(t−1)) + C fitted to the *errors per
  template* series (mean errors per chain, chains filled forward); CIs from refits of
  problem-resampled curves; `rank_k` = 1 for the fastest decay within model × protocol;
* `plateau`: the plateau iteration (first whole t with 95 % of the fitted decay done), its CI
  the same transform of k's bounds;
* `clean@n` for n in CLEAN_AT: share of chains clean at iteration n (for chains that stop at
  their first clean attempt, as this harness runs them, clean by n: passItr@n);
* `intent`: intent pass rate at the group's last iteration: mean over chains with intent
  checks of the share of checks passed by the template each chain shows there (its final
  answer: a chain that stopped clean shows its clean template);
* `compliance`: security compliance at the last iteration (see `analysis.security`), where the
  run has security checks.

The table is assembled from what the report computes anyway (per-iteration measures, fits,
compliance), so it adds no bootstrap of its own; `compare_designs` computes them for a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import figures
from analysis.fit import bootstrap_params, fit_decay, plateau_iteration, summarize
from analysis.load import GROUP_KEYS, fill_chains, load_run, select
from analysis.measures import LABELS, ProblemData, per_iteration, problem_data, resample_weights
from analysis.security import compliance_by_iteration, has_security

DESIGN_KEYS = ["model", "prompt_set", "protocol"]
# the feedback designs in the order benchmark.loop.feedback defines them (a test keeps them equal)
DESIGN_ORDER = ["raw", "structured", "explained", "excerpt", "errors-only", "intent"]
CLEAN_AT = (1, 5, 10)
FIT_SERIES = LABELS[("errors", "mean")]


def has_designs(frame: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> bool:
    """Whether some model ran more than one prompt set × protocol (and the grouping keeps them
    apart)."""
    if not set(DESIGN_KEYS) <= set(group_keys):
        return False
    combos = frame[DESIGN_KEYS].drop_duplicates()
    return bool((combos.groupby("model").size() > 1).any())


def fit_errors(
    datasets: dict[tuple, ProblemData],
    group_keys: list[str] = GROUP_KEYS,
    fit_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """Decay fit of errors per template per group, CIs from `fit_boot` problem-bootstrap
    refits (the report's `fits` rows for FIT_SERIES have the same columns)."""
    rng = np.random.default_rng(seed)
    rows = []
    for group, data in datasets.items():
        t, y = data.iterations.astype(float), data.point("errors")
        fit, boot = fit_decay(t, y), None
        if fit is not None and fit_boot > 0 and len(data.problems) > 1:
            weights = resample_weights(len(data.problems), fit_boot, rng)
            boot = bootstrap_params(t, data.replicates("errors", weights), fit.params)
        summary = summarize(t, y, boot)
        rows.append({**dict(zip(group_keys, group, strict=True)), "measure": FIT_SERIES, **summary})
    return pd.DataFrame(rows)


def _value(long: pd.DataFrame, measure: str, iteration: int) -> tuple[float, float, float]:
    hit = long[(long["measure"] == measure) & (long["iteration"] == iteration)]
    if hit.empty:
        return (np.nan, np.nan, np.nan)
    row = hit.iloc[0]
    return float(row["value"]), float(row["ci_low"]), float(row["ci_high"])


def _design_rank(design: str) -> tuple[int, str]:
    return (
        (DESIGN_ORDER.index(design), "") if design in DESIGN_ORDER else (len(DESIGN_ORDER), design)
    )


def design_table(
    long: pd.DataFrame,
    fits: pd.DataFrame,
    security: pd.DataFrame | None = None,
    group_keys: list[str] = GROUP_KEYS,
) -> pd.DataFrame:
    """One numeric row per group: the module's columns, each `x` with `x_low` / `x_high`.

    `long` is `per_iteration`'s table (`stat == "mean"` rows are used), `fits` holds rows with
    `measure == FIT_SERIES`, `security` is `compliance_by_iteration`'s table (or None).
    """
    means = long[long["stat"] == "mean"]
    fitted = fits[fits["measure"] == FIT_SERIES]
    rows = []
    for group in means[group_keys].drop_duplicates().itertuples(index=False, name=None):
        part = select(means, group, group_keys)
        last = int(part["iteration"].max())
        first = part[part["iteration"] == 1]
        row: dict[str, object] = dict(zip(group_keys, group, strict=True))
        row["problems"] = int(first["n_problems"].max()) if len(first) else 0
        row["chains"] = int(first["n_chains"].max()) if len(first) else 0
        row["last_iteration"] = last
        fit = select(fitted, group, group_keys)
        fit_row = fit.iloc[0] if len(fit) else pd.Series(dtype=object)
        for name in ("k", "C"):
            for suffix in ("", "_low", "_high"):
                row[f"{name}{suffix}"] = float(fit_row.get(f"{name}{suffix}", np.nan))
        row["plateau"] = plateau_iteration(row["k"])  # type: ignore[arg-type]
        row["plateau_low"] = plateau_iteration(row["k_high"])  # type: ignore[arg-type]
        row["plateau_high"] = plateau_iteration(row["k_low"])  # type: ignore[arg-type]
        method = fit_row.get("ci_method", fit_row.get("note", "not fitted"))
        row["fit_ci"] = method if isinstance(method, str) else "not fitted"
        for n in CLEAN_AT:
            value = _value(part, "clean", n)
            row[f"clean@{n}"], row[f"clean@{n}_low"], row[f"clean@{n}_high"] = value
        row["intent"], row["intent_low"], row["intent_high"] = _value(part, "intent", last)
        if security is not None and not security.empty:
            sec = select(security, group, group_keys)
            sec = sec[sec["iteration"] == last]
            values = sec.iloc[0] if len(sec) else pd.Series(dtype=float)
            for suffix in ("", "_low", "_high"):
                row[f"compliance{suffix}"] = float(values.get(f"compliance{suffix}", np.nan))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    others = [k for k in group_keys if k != "prompt_set"]
    table["rank_k"] = (
        table.groupby(others, dropna=False)["k"].rank(ascending=False, method="min").astype("Int64")
    )
    order = table["prompt_set"].map(_design_rank)
    table = table.assign(_order=order).sort_values([*others, "_order"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def _ci(row: pd.Series, name: str, fmt: str) -> str:
    value = row.get(name)
    if value is None or pd.isna(value):
        return "–"
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if low is None or pd.isna(low) or high is None or pd.isna(high):
        return fmt.format(value)
    return f"{fmt.format(value)} [{fmt.format(low)}, {fmt.format(high)}]"


def display_table(table: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """The numeric table as `value [low, high]` text cells, for the report."""
    out = table[group_keys].rename(columns={"prompt_set": "design (prompt set)"})
    out["problems"] = table["problems"]
    out["chains"] = table["chains"]
    out["k, errors/template [95 % CI]"] = table.apply(lambda r: _ci(r, "k", "{:.3g}"), axis=1)
    out["rank (k)"] = table["rank_k"].astype(object).where(table["rank_k"].notna(), "–")
    out["C, errors/template [95 % CI]"] = table.apply(lambda r: _ci(r, "C", "{:.3g}"), axis=1)
    out["plateau iteration [CI]"] = table.apply(lambda r: _ci(r, "plateau", "{:.0f}"), axis=1)
    for n in CLEAN_AT:
        out[f"clean at {n} [95 % CI]"] = table.apply(
            lambda r, n=n: _ci(r, f"clean@{n}", "{:.2f}"), axis=1
        )
    out["intent @last [95 % CI]"] = table.apply(lambda r: _ci(r, "intent", "{:.2f}"), axis=1)
    if "compliance" in table:
        out["security compliance @last [95 % CI]"] = table.apply(
            lambda r: _ci(r, "compliance", "{:.3f}"), axis=1
        )
    return out


def method_note(table: pd.DataFrame, n_boot: int, fit_boot: int) -> str:
    """What the table's columns are and how their CIs were computed."""
    lasts = sorted({int(t) for t in table["last_iteration"]}) if len(table) else []
    horizon = ", ".join(str(t) for t in lasts) or "–"
    return (
        "k and C: fit of y = A·e^(−k(t−1)) + C to errors per template (mean errors per chain, "
        f"chains filled forward); CIs from {fit_boot} refits of problem-resampled curves; "
        "rank (k) 1 = fastest decay within model × protocol. Plateau iteration: first whole "
        "iteration with 95 % of the fitted decay done (extrapolated when beyond the last "
        "iteration), its CI from k's. Clean at n: share of chains whose template at "
        "iteration n is clean (clean by n for chains that stop at their first clean attempt). "
        "Intent @last: mean share of intent checks passed by the template each chain shows "
        f"at the last iteration ({horizon}), i.e. its final answer. Security compliance @last: "
        "share of chains whose final template passes every security check. Other CIs: "
        f"percentile bootstrap over problems ({n_boot} resamples)."
    )


@dataclass
class DesignComparison:
    table: pd.DataFrame  # numeric, `design_table`
    display: pd.DataFrame  # text cells, `display_table`
    note: str


def compare_designs(
    run_dir: str | Path,
    n_boot: int = 2000,
    fit_boot: int = 500,
    seed: int = 0,
    stopped: str = "carry",
    group_keys: list[str] = GROUP_KEYS,
) -> DesignComparison:
    """The design table of a run folder, computed from scratch (the report reuses its own)."""
    run = load_run(run_dir)
    chains = fill_chains(run.attempts, stopped, group_keys)  # type: ignore[arg-type]
    datasets = problem_data(chains, group_keys)
    long = per_iteration(chains, group_keys, n_boot=n_boot, seed=seed)
    fits = fit_errors(datasets, group_keys, fit_boot, seed)
    security = None
    if has_security(run.attempts):
        security = compliance_by_iteration(datasets, group_keys, n_boot, seed)
    table = design_table(long, fits, security, group_keys)
    return DesignComparison(
        table, display_table(table, group_keys), method_note(table, n_boot, fit_boot)
    )


def design_figure(table: pd.DataFrame) -> Figure:
    """Dot-and-whisker panels (k, C, clean at 1 / 5 / 10, intent, compliance): designs on the
    y axis, protocols told apart by marker and line style."""
    frame = table.copy()
    several = frame["model"].nunique() > 1
    frame["row"] = (
        frame["model"] + " · " + frame["prompt_set"] if several else frame["prompt_set"]
    ).astype(str)
    panels = [
        ("k", "k: error decay rate / iteration (log)"),
        ("C", "C: error plateau (errors / template)"),
        *((f"clean@{n}", f"clean fraction at iteration {n}") for n in CLEAN_AT),
        ("intent", "intent pass rate, last iteration"),
    ]
    if "compliance" in frame and frame["compliance"].notna().any():
        panels.append(("compliance", "security compliance, last iteration"))
    panels = [(c, label) for c, label in panels if frame[c].notna().any()]
    return figures.dot_whisker(frame, panels, row="row", series="protocol", log=("k",))
