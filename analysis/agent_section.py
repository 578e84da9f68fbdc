"""The report's "Agent protocol" section: the agent measures beside the fixed loops of the same
model in one table, how the agent chains ended, and which resource schemas they looked up
(the figures: `analysis.agent_measures`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.agent_measures import (
    ENDS,
    NAMES,
    AgentTable,
    agent_table,
    has_agent,
    lookup_table,
)
from analysis.banner import SIMULATED_BANNER
from analysis.render import Page

METHOD = (
    "A chain's submission is its final answer: for the agent protocol the template it gave "
    "submit_template (or a template in a reply without a tool call); for a fixed loop "
    "(stateless, conversation) its last scored attempt. Agent chains that ended without a "
    "submission (no_submission: no template after one reminder; max_turns: a limit reached "
    "and no template when asked once) count as not clean and not passing intent. Submitted "
    "unvalidated: the submitted template was never shown to validate_template; with findings "
    "open: the last validate reported findings for it. Both are shares of all the group's "
    "chains. Tokens and dollars per clean submission: everything the group's chains spent over "
    "its clean submissions. Columns only an agent has read – for fixed loops. 95 % CIs: "
    "percentile bootstrap over problems."
)
CURVES_NOTE = (
    "In the per-iteration measures, curves and fits, an agent chain's iteration n is its n-th "
    "attempt row (each template it validated, then its submission): its last row is its "
    "submission, and clean at n there is the state of the template it holds at n (not clean "
    "by n: an agent can leave a clean template). The cost section shows an agent group at its "
    "last iteration only: stopping an agent after k rows is not the same as giving it k "
    "validate calls."
)


def cell(row: pd.Series, name: str, fmt: str = "{:.2f}") -> str:
    """`value [low, high]`, or – where the figure does not apply."""
    if pd.isna(row[name]):
        return "–"
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    return f"{fmt.format(row[name])} [{fmt.format(low)}, {fmt.format(high)}]"


ENDED = "ended: " + " · ".join(ENDS)


def ended(row: pd.Series) -> str:
    """`20 · 1 · 3` (chains that ended submitted · no_submission · max_turns), or – for a
    fixed loop."""
    if not row["agent"]:
        return "–"
    return " · ".join(str(int(row[f"ended_{end}"])) for end in ENDS)


FORMATS = {
    "validate_calls": "{:.2f}",
    "lookups": "{:.2f}",
    "tokens_per_clean": "{:,.0f}",
    "usd_per_clean": "{:.4f}",
}


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per group, as the report and the comparison show it."""
    out = pd.DataFrame(
        {
            "group": table["group"],
            "problems": table["problems"],
            "chains": table["chains"],
            ENDED: [ended(r) for _, r in table.iterrows()],
        }
    )
    for name, words in NAMES.items():
        fmt = FORMATS.get(name, "{:.2f}")
        out[words] = [cell(r, name, fmt) for _, r in table.iterrows()]
    if "priced" in table:
        out.loc[~table["priced"].astype(bool), NAMES["usd_per_clean"]] = "no price"
    return out


def agent_section(
    page: Page,
    attempts: pd.DataFrame,
    group_keys: list[str],
    n_boot: int,
    seed: int,
) -> tuple[AgentTable, pd.DataFrame] | None:
    """The section, when some chain ran the agent protocol; returns the table and the lookups
    by resource type (for the CSVs)."""
    if not has_agent(attempts):
        return None
    figures = agent_table(attempts, group_keys, n_boot, seed)
    lookups = lookup_table(attempts, group_keys)
    page.heading("Agent protocol")
    if figures.table["agent"].astype(bool).any() and _simulated(attempts):
        page.text(
            f"{SIMULATED_BANNER}: the simulator plays an agent by a fixed policy; these figures "
            "show how the section reads, not how any model behaves.",
            note=True,
        )
    page.text(METHOD, note=True)
    page.table(
        display_table(figures.table),
        caption="Per group (fixed loops and the agent side by side): how agent chains ended, "
        "what they submitted, validate calls and schema lookups per chain, clean@submission "
        "and intent@submission, tokens and dollars per clean submission; value [95 % CI]",
    )
    short = figures.table[figures.table["agent"].astype(bool)]
    unended = short[[f"ended_{end}" for end in ENDS[1:]]].sum().sum()
    if unended:
        how = ", ".join(f"{end}: {int(short['ended_' + end].sum())}" for end in ENDS[1:])
        page.text(
            f"{int(unended)} agent chains ended without a submission ({how}); they count in "
            "every share's denominator.",
            note=True,
        )
    if lookups.empty:
        page.text("No agent chain looked up a resource schema.", note=True)
    else:
        page.table(
            lookups,
            caption="Resource types looked up most (get_resource_schema), per agent group: "
            "lookups, chains that looked the type up, share of the group's lookups",
            floatfmt="{:.2f}",
        )
    page.text(CURVES_NOTE, note=True)
    return figures, lookups


def _simulated(attempts: pd.DataFrame) -> bool:
    return bool(np.asarray(attempts["simulated"].fillna(False), dtype=bool).any())
