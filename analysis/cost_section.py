"""The report's and the comparison's cost-efficiency and pass@k sections, and the Pareto figure
(the figures themselves: `analysis.cost_frontier`, `analysis.pass_at_k`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import pass_at_k
from analysis.banner import SIMULATED_BANNER
from analysis.cost_frontier import (
    AXES,
    NO_PRICE,
    CostTable,
    cost_table,
    display_table,
    dominated,
    truncations,
)
from analysis.figures import MARKERS, legend_below
from analysis.render import Page

METHOD = (
    "Settings: each group (model × effort × thinking × protocol × max_iterations, + prompt set "
    "where the run has several) stopped at every iteration limit k; a chain stopped at k makes "
    "exactly its first k attempts, so clean@k and the cost up to k come from the same rows. Per "
    "problem = per chain (one try at a problem, all its attempts). clean@k: chains lint-clean "
    "by iteration k; intent@k: chains whose template at k passes all its intent checks. Tokens: "
    "input + output, reasoning included (output tokens already count reasoning; reasoning "
    "tokens shown apart). effort/thinking `default`: not set (the provider's default) or a run "
    "written before they were recorded. 95 % CIs: percentile bootstrap over problems. A setting "
    "is dominated when another costs no more and is at least as clean, and better on one."
)
FREE_SIMULATOR_NOTE = (
    "{groups}: the simulator costs nothing, so left off the dollar axis; to see a dollar front, "
    "bill its tokens at a real model's prices: ARGS='model.simulator.price_as=<provider/model>'."
)
NO_PRICE_NOTE = (
    "{groups}: no price (some calls have no recorded cost), so left off the dollar axis "
    "and out of the dollar front, never counted as $0; add prices with model.prices=PATH."
)


def pareto_figure(table: pd.DataFrame) -> Figure:
    """clean@k (top) and intent@k (bottom) against dollars (left) and tokens (right) per
    problem: each group's path over k, its last k with 95 % CIs (hollow when dominated), and
    the front (dashed) through the settings no other beats."""
    measures = [m for m in ("clean", "intent") if table[m].notna().any()]
    fig, axes = plt.subplots(
        len(measures), 2, figsize=(11, 4.2 * len(measures)), squeeze=False, layout="constrained"
    )
    groups = list(dict.fromkeys(table["group"]))
    for row, measure in enumerate(measures):
        for col, (axis, name) in enumerate(AXES.items()):
            ax = axes[row, col]
            shown = table[table[axis].notna()]
            beaten = dominated(shown, axis, measure)
            for i, group in enumerate(groups):
                part = shown[shown["group"] == group].sort_values("k")
                if part.empty:
                    continue
                color, marker = f"C{i % 10}", MARKERS[i % len(MARKERS)]
                ax.plot(part[axis], part[measure], "-", color=color, lw=0.8, alpha=0.6)
                ax.plot(part[axis], part[measure], marker, color=color, ms=3, alpha=0.6)
                last = part.iloc[-1]
                hollow = bool(beaten.loc[last.name]) if pd.notna(beaten.loc[last.name]) else False
                # a percentile CI need not hold the point (ratios of sums): clip the bars
                xerr = np.clip([[last[axis] - last[f"{axis}_low"]],
                                [last[f"{axis}_high"] - last[axis]]], 0, None)  # fmt: skip
                yerr = np.clip([[last[measure] - last[f"{measure}_low"]],
                                [last[f"{measure}_high"] - last[measure]]], 0, None)  # fmt: skip
                ax.errorbar(
                    [last[axis]],
                    [last[measure]],
                    xerr=np.nan_to_num(xerr),
                    yerr=np.nan_to_num(yerr),
                    fmt=marker,
                    color=color,
                    mfc="white" if hollow else color,
                    ms=8,
                    capsize=3,
                    label=f"{group} (k = 1..{int(last['k'])})",
                )
            on = shown[beaten.eq(False)].sort_values(axis)
            if not on.empty:
                ax.step(on[axis], on[measure], where="post", color="black", ls="--", lw=1.2,
                        label="Pareto front")  # fmt: skip
            ax.set_xlabel(name + (" (USD)" if axis == "usd" else ""))
            ax.set_ylabel(f"{measure}@k")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
            if shown.empty:
                ax.text(0.5, 0.5, NO_PRICE, ha="center", transform=ax.transAxes)
    legend_below(fig, axes[0, 1] if table["usd"].isna().any() else axes[0, 0], ncol=1)
    return fig


def cost_section(
    page: Page, attempts: pd.DataFrame, n_boot: int, seed: int, stopped: str = "carry"
) -> CostTable:
    """The report's "Cost efficiency" section; returns the table of every setting."""
    costs = cost_table(attempts, stopped, n_boot, seed)
    finals = costs.finals
    page.heading("Cost efficiency: what a clean template costs")
    if finals["simulated"].any():
        page.text(
            f"{SIMULATED_BANNER}: simulated groups' tokens and dollars show how the section "
            "reads; they are not what any model costs.",
            note=True,
        )
    page.text(METHOD, note=True)
    free = ~finals["priced"] & finals["simulated"].astype(bool)
    unpriced = finals.loc[~finals["priced"] & ~free, "group"].tolist()
    if unpriced:
        page.text(NO_PRICE_NOTE.format(groups="; ".join(unpriced)), note=True)
    if free.any():
        page.text(
            FREE_SIMULATOR_NOTE.format(groups="; ".join(finals.loc[free, "group"])), note=True
        )
    cuts = truncations(attempts, costs.keys)
    page.table(
        display_table(finals, cuts),
        caption="Per group at its last iteration n: clean@n, intent@n, dollars and tokens per "
        "problem (95 % CIs), whether it is on the Pareto front over all settings, truncated "
        "replies",
    )
    page.figure(
        pareto_figure(costs.table),
        "cost_frontier",
        "clean@k and intent@k against dollars (left) and tokens (right) per problem: each "
        "group's path over iteration limits k = 1..n (small points), its last k with 95 % CIs "
        "(hollow: dominated), and the Pareto front (dashed). Groups without a price are left "
        "off the dollar panels.",
    )
    if cuts["truncated"].sum() > 0:
        page.table(
            cuts,
            caption="Truncations per group: attempts whose reply was cut (max_tokens: at the "
            "token limit; reply_chars: at MAX_REPLY_CHARS)",
            floatfmt="{:.3f}",
        )
    else:
        page.text("No reply was truncated (no attempt hit the token limit).", note=True)
    return costs


def pass_k_section(
    page: Page,
    chains: pd.DataFrame,
    labels: dict[tuple, str],
    group_keys: list[str],
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """pass@k and pass^k per group and iteration (one table per group); returns the table."""
    table = pass_at_k.pass_k_table(chains, group_keys, n_boot, seed)
    page.heading("pass@k and pass^k over samples")
    page.text(pass_at_k.NOTE, note=True)
    if table.empty:
        page.text("No chain could be scored for pass@k.", note=True)
        return table
    for group, name in labels.items():
        mask = np.ones(len(table), dtype=bool)
        for key, value in zip(group_keys, group, strict=True):
            mask &= (table[key] == value).to_numpy()
        part = table[mask]
        if not part.empty:
            page.table(pass_at_k.display(part), caption=f"{name}: per iteration, value [95 % CI]")
    return table
