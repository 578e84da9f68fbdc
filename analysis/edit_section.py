"""The report's "Edit tasks" section: change-applied@n, collateral changes per template,
intact@n, lint-clean@n and all three by iteration, and the loop's effect on collateral damage
(the figures: `analysis.edit_measures`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.banner import SIMULATED_BANNER
from analysis.edit_measures import (
    MEASURES,
    edit_rows,
    edit_table,
    has_edits,
    transition_table,
)
from analysis.load import GROUP_KEYS, StoppedPolicy, group_label, group_list, select
from analysis.render import Page

METHOD = (
    "Edit chains only: chains whose attempts carry a collateral-change count (their problem "
    "is an edit of an initial template). At iteration n a chain shows the template it holds "
    "(chains are filled as in the rest of the report). Change-applied@n: its template passes "
    "every intent check (over chains with intent checks); collateral changes: what the "
    "collateral validator found against the initial template (a resource dropped or retyped, "
    "a kept property, output or parameter changed); intact@n: none; lint-clean@n: clean by "
    "the run's rule; all three: lint-clean, applied and intact. 95 % CIs: percentile bootstrap "
    "over problems."
)
LOOP_NOTE = (
    "A repair is two consecutive scored attempts of one chain. It fixed lint when its errors "
    "+ warnings are fewer than before; it added (removed) collateral damage when its "
    "collateral count rose (fell). Shares of the repairs that fixed lint, and of the other "
    "repairs for contrast; value [95 % CI], – where there is no such repair."
)
LOOP_NAMES = {
    "added_when_fixing": "fixing lint: added collateral",
    "removed_when_fixing": "fixing lint: removed collateral",
    "added_otherwise": "other repairs: added collateral",
    "removed_otherwise": "other repairs: removed collateral",
}


def ci_cell(value: float, low: float, high: float, fmt: str = "{:.2f}") -> str:
    """`value [low, high]`, or – for NaN."""
    if pd.isna(value):
        return "–"
    return f"{fmt.format(value)} [{fmt.format(low)}, {fmt.format(high)}]"


def wide_edit_table(long: pd.DataFrame) -> pd.DataFrame:
    """One group's long table as iteration rows with a `value [low, high]` cell per measure."""
    frame = long.assign(
        cell=[
            ci_cell(r.value, r.ci_low, r.ci_high)
            for r in long[["value", "ci_low", "ci_high"]].itertuples()
        ],
        column=long["measure"].map(MEASURES),
    )
    table = frame.pivot(index="iteration", columns="column", values="cell")
    table = table[[c for c in MEASURES.values() if c in table.columns]]
    chains = long[long["measure"] == "clean"].set_index("iteration")["n"]
    table.insert(0, "chains", chains)
    return table.reset_index()


def loop_display(table: pd.DataFrame) -> pd.DataFrame:
    """One group's transition table as the report shows it."""
    out = pd.DataFrame(
        {
            "repair": table["transition"],
            "repairs": table["repairs"],
            "fixed lint": table["fixing_lint"],
        }
    )
    for name, words in LOOP_NAMES.items():
        out[words] = [
            ci_cell(r[name], r[f"{name}_low"], r[f"{name}_high"]) for _, r in table.iterrows()
        ]
    return out


def edit_section(
    page: Page,
    attempts: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    stopped: StoppedPolicy = "carry",
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The section, when some chain is an edit; returns the long table and the transition
    table (for the CSVs)."""
    if not has_edits(attempts):
        return None
    long = edit_table(attempts, group_keys, stopped, n_boot, seed)
    loop = transition_table(attempts, group_keys, n_boot, seed)
    page.heading("Edit tasks")
    if bool(np.asarray(edit_rows(attempts, group_keys)["simulated"].fillna(False)).any()):
        page.text(
            f"{SIMULATED_BANNER}: the simulator's collateral changes come from hand-set rates "
            "(its profile's edit section); these figures show how the section reads, not how "
            "any model edits.",
            note=True,
        )
    page.text(METHOD, note=True)
    for group in group_list(long, group_keys):
        label = group_label(group, group_keys)
        part = select(long, group, group_keys)
        page.table(
            wide_edit_table(part),
            caption=f"{label}: edit measures per iteration, value [95 % CI] "
            f"({int(part['problems'].iloc[0])} problems)",
        )
    page.heading("The loop's effect on collateral damage", level=3)
    page.text(LOOP_NOTE, note=True)
    if loop.empty:
        page.text("No edit chain was repaired: every one ended at its first attempt.", note=True)
    for group in group_list(loop, group_keys) if not loop.empty else []:
        page.table(
            loop_display(select(loop, group, group_keys)),
            caption=f"{group_label(group, group_keys)}: per repair (iteration k→k+1, and all)",
        )
    return long, loop
