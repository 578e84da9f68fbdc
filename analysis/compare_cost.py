"""The comparison's cost-efficiency and pass@k sections: both sides' clean@n, intent@n,
dollars and tokens per problem, the candidate − baseline differences with paired bootstrap CIs
(one draw of problems for both), the Pareto figure, and pass@k / pass^k of each side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import pass_at_k
from analysis.compare_verdict import favoured_side
from analysis.cost_frontier import FIGURES, NO_PRICE, CostTable, cost_table, display_table
from analysis.cost_section import METHOD, NO_PRICE_NOTE, pareto_figure
from analysis.measures import percentile_ci
from analysis.render import Page

SIDES = ("baseline", "candidate")
COMPARED = {
    "clean": "clean@n",
    "intent": "intent@n",
    "usd": "dollars per problem",
    "tokens": "tokens per problem",
}


def side_costs(sides: dict[str, pd.DataFrame], n_boot: int, seed: int) -> CostTable:
    """The cost table of both sides' rows, split by side."""
    frame = pd.concat([a.assign(side=who) for who, a in sides.items()], ignore_index=True)
    return cost_table(frame, n_boot=n_boot, seed=seed, first_keys=("side",))


def differences(costs: CostTable, level: float = 0.95) -> pd.DataFrame:
    """Candidate − baseline at each side's last iteration, per figure, with a paired CI."""
    finals = {s.group[0]: s for s in costs.settings if s.final}
    base, cand = finals["baseline"], finals["candidate"]
    rows = []
    for name, words in COMPARED.items():
        num, den = FIGURES[name]
        if name == "usd" and not (base.priced and cand.priced):
            rows.append({"figure": words, "diff": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "favours": NO_PRICE})  # fmt: skip
            continue
        b, c = base.ratio(num, den), cand.ratio(num, den)
        reps = cand.ratio(num, den, costs.weights) - base.ratio(num, den, costs.weights)
        low, high = percentile_ci(reps[:, None], level)
        diff = float(c - b)
        rows.append(
            {
                "figure": words,
                "baseline": float(b),
                "candidate": float(c),
                "diff": diff,
                "ci_low": float(low[0]),
                "ci_high": float(high[0]),
                "favours": favoured_side(name, diff, float(low[0]), float(high[0])),
            }
        )
    return pd.DataFrame(rows)


def compare_cost_section(
    page: Page,
    sides: dict[str, pd.DataFrame],
    chains: dict[str, pd.DataFrame],
    n_boot: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Both sections on the comparison page; returns the cost table, the differences and
    pass@k of both sides (for the CSVs)."""
    costs = side_costs(sides, n_boot, seed)
    finals = costs.finals
    page.heading("Cost efficiency (each side at its last iteration n)")
    page.text(METHOD, note=True)
    unpriced = finals.loc[~finals["priced"], "group"].tolist()
    if unpriced:
        page.text(NO_PRICE_NOTE.format(groups="; ".join(unpriced)), note=True)
    page.table(display_table(finals), caption="Per side: 95 % CIs")
    diff = differences(costs)
    page.table(
        diff,
        caption="Candidate − baseline (paired bootstrap over problems, 95 % CI); favours: the "
        "side the CI favours, or none when it includes zero",
        floatfmt="{:.4g}",
    )
    page.figure(
        pareto_figure(costs.table),
        "compare_cost_frontier",
        "Both sides: clean@k and intent@k against dollars and tokens per problem over "
        "iteration limits k (95 % CIs at the last k; hollow: dominated; dashed: Pareto front)",
    )
    page.heading("pass@k and pass^k over samples")
    page.text(pass_at_k.NOTE, note=True)
    tables = []
    for who, frame in chains.items():
        part = pass_at_k.group_pass_k(frame, n_boot, seed)
        if part.empty:
            continue
        page.table(pass_at_k.display(part), caption=f"{who}: per iteration, value [95 % CI]")
        tables.append(part.assign(side=who))
    passk = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return costs.table, diff, passk
