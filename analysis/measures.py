"""Per-iteration measures of filled chains, with 95 % bootstrap CIs over problems.

The bootstrap resamples *problems* (each problem brings all its samples), never single
attempts: chains of one problem are correlated. A replicate is a vector of multinomial
counts over problems, so every statistic of a replicate is a weighted sum of per-problem
sums (`counts @ per_problem`), which keeps thousands of replicates cheap. CIs are percentile
intervals.

Measures (for each model × prompt set × protocol × iteration):

* `errors`, `warnings`, `infos`, `findings` (all three): `sum` over chains and `mean` per
  template (per chain);
* `clean`: `sum` = chains clean at iteration n (the template each chain shows there), `mean`
  = that share. Chains this harness runs stop at their first clean attempt and are filled
  forward, so for them clean at n is clean by n (IaCGen's passItr@n); a recorded run whose
  chains went on after a clean template (the paper's own loop) can fall, as the paper's
  "clean at iteration n" does;
* `intent`: `mean` = average over chains with intent checks of the share of checks passed;
* `compliant` (security): `mean` = share of chains with security checks whose shown template
  passed all of them; `security`: `mean` = average share of security checks passed.
  Both are kept in `ProblemData` (see `analysis.security`), not in `MEASURES`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.load import GROUP_KEYS, group_list, select
from benchmark.progress import progress_bar

COUNTS = ["errors", "warnings", "infos", "findings"]
MEASURES: list[tuple[str, str]] = [
    *((m, s) for m in COUNTS for s in ("sum", "mean")),
    ("clean", "sum"),
    ("clean", "mean"),
    ("intent", "mean"),
]
LABELS = {
    ("errors", "mean"): "errors per template",
    ("warnings", "mean"): "warnings per template",
    ("infos", "mean"): "infos per template",
    ("findings", "mean"): "findings per template",
    ("clean", "mean"): "clean fraction (at iteration n)",
    ("intent", "mean"): "intent pass rate",
    ("compliant", "mean"): "security compliance (all checks passed)",
    ("security", "mean"): "security checks passed (mean share)",
}
RATES = {"intent": "intent_rate", "security": "security_rate", "compliant": "compliant"}


@dataclass
class ProblemData:
    """Per-problem × iteration sums of one group: what every bootstrap replicate is built from."""

    group: tuple
    problems: np.ndarray
    iterations: np.ndarray
    num: dict[str, np.ndarray] = field(default_factory=dict)  # name -> P × T sums
    den: dict[str, np.ndarray] = field(default_factory=dict)  # name -> P × T counts

    @classmethod
    def from_chains(cls, chains: pd.DataFrame, group: tuple = ()) -> ProblemData:
        frame = chains.assign(chains=1.0, clean_n=chains["clean"].astype(float))
        for name, column in RATES.items():  # a chain counts where it has a rate
            rate = chains[column] if column in chains else pd.Series(np.nan, index=chains.index)
            frame[f"{name}_n"] = rate.notna().astype(float)
            frame[f"{name}_sum"] = rate.fillna(0.0).astype(float)
        columns = [*COUNTS, "chains", "clean_n", *(f"{n}_{s}" for n in RATES for s in ("n", "sum"))]
        table = frame.pivot_table(
            index="problem_id", columns="iteration", values=columns, aggfunc="sum", fill_value=0
        )
        problems = np.asarray(table.index)
        iterations = np.asarray(sorted(frame["iteration"].unique()), dtype=int)

        def matrix(name: str) -> np.ndarray:
            return table[name].reindex(columns=iterations, fill_value=0).to_numpy(dtype=float)

        data = cls(group=group, problems=problems, iterations=iterations)
        for name in COUNTS:
            data.num[name] = matrix(name)
            data.den[name] = matrix("chains")
        data.num["clean"] = matrix("clean_n")
        data.den["clean"] = matrix("chains")
        for name in RATES:
            data.num[name] = matrix(f"{name}_sum")
            data.den[name] = matrix(f"{name}_n")
        return data

    def subset(self, problems: np.ndarray) -> ProblemData:
        """The same data restricted to (and ordered as) `problems`."""
        index = pd.Index(self.problems).get_indexer(problems)
        if (index < 0).any():
            raise KeyError("problem not in this data")
        out = ProblemData(self.group, np.asarray(problems), self.iterations)
        out.num = {k: v[index] for k, v in self.num.items()}
        out.den = {k: v[index] for k, v in self.den.items()}
        return out

    def point(self, measure: str, stat: str = "mean") -> np.ndarray:
        """The statistic on the data as observed, one value per iteration."""
        return _stat(self.num[measure].sum(0), self.den[measure].sum(0), stat)

    def replicates(self, measure: str, weights: np.ndarray, stat: str = "mean") -> np.ndarray:
        """B × T statistic for B resamples given as B × P problem multiplicities."""
        return _stat(weights @ self.num[measure], weights @ self.den[measure], stat)


def _stat(num: np.ndarray, den: np.ndarray, stat: str) -> np.ndarray:
    if stat == "sum":
        return num
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def resample_weights(n_problems: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """B × P multiplicities: each row is one bootstrap draw of P problems with replacement."""
    return rng.multinomial(n_problems, np.full(n_problems, 1.0 / n_problems), size=n_boot).astype(
        float
    )


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring NaN replicates."""
    tail = (1.0 - level) / 2.0 * 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN bounds
        low, high = np.nanpercentile(replicates, [tail, 100.0 - tail], axis=0)
    return low, high


def problem_data(
    chains: pd.DataFrame, group_keys: list[str] = GROUP_KEYS
) -> dict[tuple, ProblemData]:
    """ProblemData for each group of a filled-chains frame."""
    return {
        g: ProblemData.from_chains(select(chains, g, group_keys), g)
        for g in group_list(chains, group_keys)
    }


def per_iteration(
    chains: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    progress: bool = False,
) -> pd.DataFrame:
    """Long table: group keys, iteration, measure, stat, value, ci_low, ci_high, n_*."""
    rng = np.random.default_rng(seed)
    rows = []
    datasets = problem_data(chains, group_keys)
    for group, data in progress_bar(
        datasets.items(), desc="per-iteration bootstrap", disable=not progress, leave=False
    ):
        weights = resample_weights(len(data.problems), n_boot, rng)
        n_chains = data.den["errors"].sum(0)
        n_problems = (data.den["errors"] > 0).sum(0)
        for measure, stat in MEASURES:
            value = data.point(measure, stat)
            low, high = percentile_ci(data.replicates(measure, weights, stat), level)
            for i, t in enumerate(data.iterations):
                rows.append(
                    {
                        **dict(zip(group_keys, group, strict=True)),
                        "iteration": int(t),
                        "measure": measure,
                        "stat": stat,
                        "value": value[i],
                        "ci_low": low[i],
                        "ci_high": high[i],
                        "n_chains": int(n_chains[i]),
                        "n_problems": int(n_problems[i]),
                    }
                )
    return pd.DataFrame(rows)


def wide_table(long: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """One group's long table as iteration rows with `value [low, high]` cells."""

    def cell(row: pd.Series) -> str:
        if pd.isna(row["value"]):
            return "–"
        if row["stat"] == "sum":
            return f"{row['value']:.0f} [{row['ci_low']:.0f}, {row['ci_high']:.0f}]"
        return (
            f"{row['value']:.{digits}f} [{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]"
        )

    frame = long.assign(cell=long.apply(cell, axis=1))
    frame["column"] = frame["measure"] + " " + frame["stat"]
    frame.loc[frame["column"] == "clean mean", "column"] = "clean fraction"
    frame.loc[frame["column"] == "clean sum", "column"] = "clean chains"
    frame.loc[frame["column"] == "intent mean", "column"] = "intent pass rate"
    order = [
        "errors mean",
        "warnings mean",
        "infos mean",
        "findings mean",
        "errors sum",
        "warnings sum",
        "findings sum",
        "clean chains",
        "clean fraction",
        "intent pass rate",
    ]
    table = frame.pivot(index="iteration", columns="column", values="cell")
    table = table[[c for c in order if c in table.columns]]
    chains = frame.drop_duplicates("iteration").set_index("iteration")["n_chains"]
    table.insert(0, "chains", chains)
    return table.reset_index()
