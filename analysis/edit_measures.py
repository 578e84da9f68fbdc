"""Measures of edit tasks: did the change land, what else did it break, and does the loop help.

An edit chain is one whose attempts carry `collateral_changes` (not null: its problem is an edit,
issue 22); every other chain is left out here. Chains are filled as everywhere
(`analysis.load.fill_chains`): at iteration n a chain shows the template it holds there. Per
group and iteration:

* `applied` (change-applied@n): share of chains whose shown template passes every intent check
  (over chains with intent checks: an imported edit problem without them has no figure);
* `collateral`: collateral changes per template (the shown template's count);
* `intact`: share of templates with no collateral change;
* `clean` (lint-clean@n): share of templates that are lint-clean;
* `done`: share that are all three: lint-clean, change applied and intact.

The loop's effect on collateral damage (`transitions`): every repair, i.e. two consecutive
scored attempts of one chain (iteration k, then k + 1), both with a collateral count. A repair
*fixed lint* when its errors + warnings are fewer than before; it *added* (*removed*)
collateral damage when its collateral count rose (fell). Per transition k→k+1 and over all of
them: how many repairs fixed lint, and of those (and of the others) the share that added and
that removed collateral changes.

CIs: 95 % percentile bootstrap over problems (a draw brings all a problem's chains), figures
as ratios of per-problem sums (`analysis.measures`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import (
    GROUP_KEYS,
    StoppedPolicy,
    chain_keys,
    fill_chains,
    group_list,
    scored_mask,
    select,
)
from analysis.measures import percentile_ci, resample_weights

COLUMN = "collateral_changes"
MEASURES = {
    "applied": "change-applied@n",
    "collateral": "collateral changes per template",
    "intact": "intact@n (no collateral change)",
    "clean": "lint-clean@n",
    "done": "all three@n",
}
HIGHER_IS_BETTER = {"applied": True, "collateral": False, "intact": True, "clean": True}
HIGHER_IS_BETTER["done"] = True
# transition figures: name -> (numerator, denominator) of per-problem sums
TRANSITIONS = {
    "fixing_share": ("fixing", "repairs"),
    "added_when_fixing": ("added_fixing", "fixing"),
    "removed_when_fixing": ("removed_fixing", "fixing"),
    "added_otherwise": ("added_other", "other"),
    "removed_otherwise": ("removed_other", "other"),
}
ALL = "all"


def has_edits(attempts: pd.DataFrame) -> bool:
    """Whether some attempt is of an edit problem (a collateral count, even 0)."""
    return COLUMN in attempts and bool(attempts[COLUMN].notna().any())


def edit_rows(attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """The attempts of chains with a collateral count on some row (an unscored row of such a
    chain stays, as it decides how the chain ended)."""
    if not has_edits(attempts):
        return attempts.iloc[:0]
    keys = chain_keys(group_keys)
    edit = attempts[COLUMN].notna().groupby([attempts[k] for k in keys], dropna=False)
    mask = edit.transform("any")
    return attempts[mask.to_numpy(dtype=bool)]


def edit_chains(
    attempts: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    stopped: StoppedPolicy = "carry",
) -> pd.DataFrame:
    """The filled edit chains with one 0/1 (or count) column per measure; NaN where a figure
    does not apply (no intent checks; no collateral count on the shown attempt)."""
    rows = edit_rows(attempts, group_keys)
    chains = fill_chains(rows, stopped, group_keys)
    counts = rows.set_index("attempt_id")[COLUMN].astype(float)
    collateral = chains["source_attempt_id"].map(counts)
    applied = np.where(chains["intent_rate"].notna(), chains["intent_rate"] >= 1.0, np.nan)
    intact = np.where(collateral.notna(), collateral == 0, np.nan)
    clean = chains["clean"].astype(float)
    done = np.where(np.isnan(applied) | np.isnan(intact), np.nan, clean * applied * intact)
    return chains.assign(
        applied=applied, collateral=collateral, intact=intact, clean=clean, done=done
    )


def _sums(
    frame: pd.DataFrame, step: str, names: list[str], problems: np.ndarray, steps: list
) -> dict[str, np.ndarray]:
    """P × T sums per name (and `n_<name>`: how many values were not NaN)."""
    parts = {}
    for name in names:
        parts[name] = frame[name].fillna(0.0)
        parts[f"n_{name}"] = frame[name].notna().astype(float)
    table = pd.DataFrame(parts).assign(problem_id=frame["problem_id"], _step=frame[step])
    summed = table.groupby(["problem_id", "_step"]).sum()
    out = {}
    for column in parts:
        wide = summed[column].unstack("_step")
        wide = wide.reindex(index=pd.Index(problems), columns=steps, fill_value=0.0).fillna(0.0)
        out[column] = wide.to_numpy(dtype=float)
    return out


def _ratio(num: np.ndarray, den: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Σ num / Σ den over problems: as observed (T) or per draw of `weights` (B × T)."""
    a, b = (num.sum(0), den.sum(0)) if weights is None else (weights @ num, weights @ den)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def edit_table(
    attempts: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    stopped: StoppedPolicy = "carry",
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Long table: group keys, iteration, measure, value, ci_low, ci_high, n (chains with the
    figure) and problems."""
    chains = edit_chains(attempts, group_keys, stopped)
    rng = np.random.default_rng(seed)
    rows = []
    for group in group_list(chains, group_keys):
        mine = select(chains, group, group_keys)
        problems = np.sort(mine["problem_id"].unique())
        steps = sorted(int(t) for t in mine["iteration"].unique())
        sums = _sums(mine, "iteration", list(MEASURES), problems, steps)
        weights = resample_weights(len(problems), n_boot, rng)
        for name in MEASURES:
            num, den = sums[name], sums[f"n_{name}"]
            value = _ratio(num, den)
            low, high = percentile_ci(_ratio(num, den, weights), level)
            for i, t in enumerate(steps):
                rows.append(
                    {
                        **dict(zip(group_keys, group, strict=True)),
                        "iteration": t,
                        "measure": name,
                        "value": float(value[i]),
                        "ci_low": float(low[i]),
                        "ci_high": float(high[i]),
                        "n": int(den[:, i].sum()),
                        "problems": len(problems),
                    }
                )
    return pd.DataFrame(rows)


def repairs(attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """Every repair of an edit chain (see the module docstring): chain keys, `transition`
    ("k→k+1"), `fixing`, `added`, `removed` (booleans)."""
    keys = chain_keys(group_keys)
    rows = edit_rows(attempts, group_keys)
    rows = rows[scored_mask(rows) & rows[COLUMN].notna()].sort_values([*keys, "iteration"])
    lint = rows["errors"].astype(float) + rows["warnings"].astype(float)
    frame = rows[[*keys, "iteration"]].assign(_lint=lint, _coll=rows[COLUMN].astype(float))
    before = frame.groupby(keys, sort=False, dropna=False).shift(1)
    follows = before["iteration"] == frame["iteration"] - 1
    out = frame[follows.to_numpy(dtype=bool)][keys].copy()
    prev, now = before[follows], frame[follows]
    out["transition"] = [f"{int(t) - 1}→{int(t)}" for t in now["iteration"]]
    out["fixing"] = (now["_lint"] < prev["_lint"]).to_numpy()
    out["added"] = (now["_coll"] > prev["_coll"]).to_numpy()
    out["removed"] = (now["_coll"] < prev["_coll"]).to_numpy()
    return out.reset_index(drop=True)


def transition_table(
    attempts: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per group and transition (and `all`): repairs, repairs that fixed lint, and the
    TRANSITIONS shares with CIs."""
    moves = repairs(attempts, group_keys)
    if moves.empty:
        return pd.DataFrame()
    other = ~moves["fixing"]
    moves = moves.assign(
        repairs=1.0,
        fixing=moves["fixing"].astype(float),
        other=other.astype(float),
        added_fixing=(moves["added"] & moves["fixing"]).astype(float),
        removed_fixing=(moves["removed"] & moves["fixing"]).astype(float),
        added_other=(moves["added"] & other).astype(float),
        removed_other=(moves["removed"] & other).astype(float),
    )
    counts = ["repairs", "fixing", "other", "added_fixing", "removed_fixing"]
    counts += ["added_other", "removed_other"]
    rng = np.random.default_rng(seed)
    rows = []
    for group in group_list(moves, group_keys):
        mine = select(moves, group, group_keys)
        problems = np.sort(mine["problem_id"].unique())
        steps = sorted(mine["transition"].unique(), key=lambda s: int(s.split("→")[0]))
        sums = _sums(mine, "transition", counts, problems, steps)
        sums = {k: np.column_stack([v, v.sum(1)]) for k, v in sums.items()}  # + "all"
        weights = resample_weights(len(problems), n_boot, rng)
        for i, step in enumerate([*steps, ALL]):
            row: dict[str, object] = {
                **dict(zip(group_keys, group, strict=True)),
                "transition": step,
                "repairs": int(sums["repairs"][:, i].sum()),
                "fixing_lint": int(sums["fixing"][:, i].sum()),
            }
            for name, (num, den) in TRANSITIONS.items():
                a, b = sums[num][:, [i]], sums[den][:, [i]]
                low, high = percentile_ci(_ratio(a, b, weights), level)
                row.update(
                    {
                        name: float(_ratio(a, b)[0]),
                        f"{name}_low": float(low[0]),
                        f"{name}_high": float(high[0]),
                    }
                )
            rows.append(row)
    return pd.DataFrame(rows)
