"""Security compliance per iteration (Checkov checks, the `security` check source).

An attempt is *compliant* when every security check run on its template passed
(`security_passed == security_total`, `security_total` not null). Per iteration, on the filled
chains (a chain that stopped keeps showing its last scored template):

* compliance = share of chains whose shown template is compliant;
* pass share = mean over chains of the share of security checks passed;

both over the chains whose shown template has security results (checkov ran and evaluated at
least one check); chains without are left out of the denominator, and counted (`checked`).
95 % CIs: the percentile problem bootstrap of `analysis.measures`.

Reference: IaCGen / DPIaC-Eval (arXiv:2506.05623) report a compliance rate of 8.4 %: the share
of their generated templates that passed Checkov's default checks. Their models, prompts,
problems and Checkov version differ from a run's, so the line is context, not a baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import GROUP_KEYS
from analysis.measures import ProblemData, percentile_ci, resample_weights

IACGEN_RATE = 0.084
IACGEN_LABEL = "IaCGen's reported compliance rate, 8.4 % (DPIaC-Eval, arXiv:2506.05623)"
IACGEN_NOTE = (
    "Reference line: IaCGen / DPIaC-Eval (arXiv:2506.05623, https://arxiv.org/abs/2506.05623) "
    "report a compliance rate of 8.4 %, the share of their generated templates that passed "
    "Checkov's default checks. Their models, prompts, problems and Checkov version differ from "
    "this run's: context, not a baseline."
)
DEFINITION = (
    "Compliant: every security (Checkov) check run on the template passed "
    "(security_passed = security_total). Per iteration, over the filled chains whose shown "
    "template has security results; pass share = mean over those chains of the share of checks "
    "passed. 95 % CIs: percentile bootstrap over problems."
)
NO_SECURITY = (
    "No security checks in this run (the Checkov extra was off or not installed): "
    "no compliance rate."
)
TOP = 10


def has_security(attempts: pd.DataFrame) -> bool:
    """Whether any attempt carries security check results."""
    return "security_total" in attempts and bool(attempts["security_total"].notna().any())


def compliance_by_iteration(
    datasets: dict[tuple, ProblemData],
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per group × iteration: `chains`, `checked`, `compliance` and `pass_share`, each with
    `_low` / `_high` bounds."""
    rng = np.random.default_rng(seed)
    rows = []
    for group, data in datasets.items():
        weights = resample_weights(len(data.problems), n_boot, rng)
        values = {}
        for name, measure in (("compliance", "compliant"), ("pass_share", "security")):
            low, high = percentile_ci(data.replicates(measure, weights), level)
            values[name] = (data.point(measure), low, high)
        chains, checked = data.den["errors"].sum(0), data.den["compliant"].sum(0)
        for i, t in enumerate(data.iterations):
            row = {**dict(zip(group_keys, group, strict=True)), "iteration": int(t)}
            row.update(chains=int(chains[i]), checked=int(checked[i]))
            for name, (value, low, high) in values.items():
                row.update({name: value[i], f"{name}_low": low[i], f"{name}_high": high[i]})
            rows.append(row)
    return pd.DataFrame(rows)


def failed_checks(
    chains: pd.DataFrame,
    checks: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    top: int = TOP,
) -> pd.DataFrame:
    """Security checks failed at iteration 1 and at each group's last iteration.

    Per group × iteration × check id: `failures` (failed check × resource results), `chains`
    (chains whose shown template fails it), `share` (of the chains with security results) and
    `rank` (by chains, then failures; only the `top` ranks are kept).
    """
    columns = [*group_keys, "iteration", "check_id", "description", "failures", "chains"]
    columns += ["share", "rank"]
    if checks.empty or "source" not in checks:
        return pd.DataFrame(columns=columns)
    failed = checks[(checks["source"] == "security") & (checks["passed"] == False)]  # noqa: E712
    last = chains.groupby(group_keys, dropna=False)["iteration"].transform("max")
    shown = chains[(chains["iteration"] == 1) | (chains["iteration"] == last)]
    denominator = (
        shown[shown["compliant"].notna()]
        .groupby([*group_keys, "iteration"], dropna=False)
        .size()
        .rename("checked")
    )
    right = failed[["attempt_id", "check_id", "description"]].rename(
        columns={"attempt_id": "source_attempt_id"}
    )
    chain_ids = [c for c in ("sweep_id", "job_id", "problem_id", "sample") if c not in group_keys]
    merged = shown[[*group_keys, *chain_ids, "iteration", "source_attempt_id"]].merge(
        right, on="source_attempt_id"
    )
    if merged.empty:
        return pd.DataFrame(columns=columns)
    keys = [*group_keys, "iteration", "check_id"]
    out = merged.groupby(keys, dropna=False).agg(
        description=("description", "first"), failures=("source_attempt_id", "size")
    )
    out["chains"] = merged.drop_duplicates([*keys, *chain_ids]).groupby(keys, dropna=False).size()
    out = out.reset_index().join(denominator, on=[*group_keys, "iteration"])
    out["share"] = out["chains"] / out["checked"]
    out = out.sort_values(
        [*group_keys, "iteration", "chains", "failures", "check_id"],
        ascending=[*([True] * (len(group_keys) + 1)), False, False, True],
    )
    out["rank"] = out.groupby([*group_keys, "iteration"], dropna=False).cumcount() + 1
    return out[out["rank"] <= top][columns].reset_index(drop=True)


def failed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One group's `failed_checks` side by side: the union of the top checks at iteration 1
    and at the last iteration, with chains failing (share) and rank at each."""
    first, last = 1, int(frame["iteration"].max())
    cells = {}
    for t in dict.fromkeys((first, last)):
        part = frame[frame["iteration"] == t].set_index("check_id")
        cells[t] = part
    ids = list(dict.fromkeys([*cells[last].index, *cells[first].index]))
    descriptions = frame.drop_duplicates("check_id").set_index("check_id")["description"]
    rows = []
    for check_id in ids:
        row: dict[str, object] = {
            "check": check_id,
            "description": descriptions.get(check_id, ""),
        }
        for t, part in cells.items():
            if check_id in part.index:
                hit = part.loc[check_id]
                row[f"rank @{t}"] = int(hit["rank"])
                row[f"chains failing @{t}"] = f"{int(hit['chains'])} ({hit['share']:.0%})"
            else:
                row[f"rank @{t}"] = "–"
                row[f"chains failing @{t}"] = f"not in top {TOP}"
        rows.append(row)
    return pd.DataFrame(rows)


def compliance_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One group's `compliance_by_iteration` as iteration rows with `value [low, high]` cells."""
    out = frame[["iteration", "chains", "checked"]].copy()
    out["compliant [95 % CI]"] = frame.apply(lambda r: _cell(r, "compliance"), axis=1)
    out["checks passed, mean share [95 % CI]"] = frame.apply(
        lambda r: _cell(r, "pass_share"), axis=1
    )
    return out.rename(columns={"checked": "chains with checks"})


def _cell(row: pd.Series, name: str, digits: int = 3) -> str:
    if pd.isna(row[name]):
        return "–"
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    return f"{row[name]:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
