"""pass@k and pass^k over samples, at every iteration, with problem-bootstrap CIs.

Other code benchmarks report these (IaC-Eval's pass@1; τ-bench's pass^k), so the harness's
figures can sit beside theirs. For one problem with `n` samples (chains) of which `c` succeed:

* pass@k = 1 − C(n−c, k) / C(n, k): the chance that at least one of k samples drawn without
  replacement succeeds (the unbiased estimator of Chen et al., 2021, "Evaluating Large Language
  Models Trained on Code", arXiv:2107.03374);
* pass^k = C(c, k) / C(n, k): the chance that all k succeed (reliability; unbiased likewise).

Both are computed per problem, then averaged over problems; problems with fewer than k samples
are left out of that k. Success at iteration i: for `clean`, the chain is lint-clean by
iteration i (its first i attempts hold a clean template); for `intent`, the template the chain
shows at iteration i passes every one of its intent checks (chains without intent checks are
not counted). CIs: percentile bootstrap over problems (`analysis.measures`).
"""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd

from analysis.load import GROUP_KEYS, group_list, select
from analysis.measures import percentile_ci, resample_weights

SUCCESS = {"clean": "lint-clean by iteration i", "intent": "all intent checks passed"}
METRICS = ("pass@k", "pass^k")
K_CHOICES = (1, 2, 3, 5, 10, 20, 50, 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 − C(n−c, k)/C(n, k): at least one of k samples succeeds (Chen et al., 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """C(c, k)/C(n, k): all k samples succeed."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return comb(c, k) / comb(n, k)


def successes(chains: pd.DataFrame) -> pd.DataFrame:
    """Per chain and iteration: `clean` (clean by then) and `intent` (1/0; NaN: no checks)."""
    rate = chains["intent_rate"].astype(float)
    intent = np.where(rate.notna(), (rate >= 1.0).astype(float), np.nan)
    return chains.assign(ok_clean=chains["clean_by"].astype(float), ok_intent=intent)


def ks_for(samples: np.ndarray) -> list[int]:
    """The k shown: 1, a few round numbers, and the most samples every problem has."""
    most = int(samples.min()) if len(samples) else 0
    return sorted({k for k in K_CHOICES if k <= most} | ({most} if most else set()))


def group_pass_k(
    chains: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """One group's long table: measure, metric, k, iteration, value, ci_low, ci_high,
    n_problems (problems with at least k samples), samples (the fewest per problem)."""
    rng = np.random.default_rng(seed)
    frame = successes(chains)
    rows = []
    for measure in SUCCESS:
        column = f"ok_{measure}"
        counted = frame[frame[column].notna()]
        if counted.empty:
            continue
        table = counted.groupby(["problem_id", "iteration"])[column].agg(["size", "sum"])
        n = table["size"].unstack(fill_value=0)
        c = table["sum"].unstack(fill_value=0)
        iterations = n.columns.to_numpy(dtype=int)
        n_arr, c_arr = n.to_numpy(dtype=int), c.to_numpy(dtype=int)
        weights = resample_weights(len(n), n_boot, rng)
        for k in ks_for(n_arr.max(axis=1)):
            usable = n_arr >= k  # P × T
            for metric, estimator in (("pass@k", pass_at_k), ("pass^k", pass_hat_k)):
                if metric == "pass^k" and k == 1:
                    continue  # pass^1 is pass@1
                values = np.zeros(n_arr.shape)
                for (p, t), ok in np.ndenumerate(usable):
                    if ok:
                        values[p, t] = estimator(int(n_arr[p, t]), int(c_arr[p, t]), k)
                count = usable.astype(float)
                with np.errstate(invalid="ignore", divide="ignore"):
                    point = values.sum(0) / count.sum(0)
                    reps = (weights @ values) / (weights @ count)
                low, high = percentile_ci(reps, level)
                for i, t in enumerate(iterations):
                    rows.append(
                        {
                            "measure": measure,
                            "metric": metric,
                            "k": k,
                            "iteration": int(t),
                            "value": point[i],
                            "ci_low": low[i],
                            "ci_high": high[i],
                            "n_problems": int(count[:, i].sum()),
                        }
                    )
    return pd.DataFrame(rows)


def pass_k_table(
    chains: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """`group_pass_k` for every group of filled chains, keyed by the group columns."""
    parts = []
    for group in group_list(chains, group_keys):
        part = group_pass_k(select(chains, group, group_keys), n_boot, seed)
        if not part.empty:
            parts.append(part.assign(**dict(zip(group_keys, group, strict=True))))
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, ignore_index=True)
    return frame[[*group_keys, *(c for c in frame.columns if c not in group_keys)]]


def display(table: pd.DataFrame) -> pd.DataFrame:
    """One group's long table as iteration rows with `value [low, high]` cells, one column per
    measure × metric × k."""
    cells = table.assign(
        column=table["measure"]
        + " "
        + table["metric"].str.replace("k", "", regex=False)
        + table["k"].astype(str),
        cell=[
            "–" if pd.isna(v) else f"{v:.2f} [{lo:.2f}, {hi:.2f}]"
            for v, lo, hi in zip(table["value"], table["ci_low"], table["ci_high"], strict=True)
        ],
    )
    order = list(dict.fromkeys(cells.sort_values(["measure", "metric", "k"])["column"]))
    wide = cells.pivot(index="iteration", columns="column", values="cell")
    return wide[order].reset_index()


NOTE = (
    "pass@k: the chance that at least one of k samples of a problem succeeds, 1 − C(n−c,k)/C(n,k) "
    "per problem (the unbiased estimator of Chen et al., 2021), averaged over problems; pass^k: "
    "the chance that all k succeed, C(c,k)/C(n,k). Success at iteration i: clean = lint-clean by "
    "iteration i; intent = the template shown at i passes all its intent checks. 95 % CIs: "
    "percentile bootstrap over problems. With one sample per problem only pass@1 exists "
    "(run more with loop.samples=N)."
)
