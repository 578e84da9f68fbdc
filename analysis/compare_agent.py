"""The comparison's agent section: the agent measures (`analysis.agent_measures`) of both
sides, candidate − baseline with a paired bootstrap CI where the sides share their problems
(one draw of problems for both; each side on its own problems otherwise), and a verdict
sentence that says no more than those CIs (`analysis.verdict.agent_sentence`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.agent_measures import (
    FIGURES,
    NAMES,
    agent_table,
    chain_table,
    has_agent,
    problem_sums,
    ratio,
)
from analysis.agent_section import METHOD, display_table
from analysis.measures import percentile_ci, resample_weights
from analysis.render import Page
from analysis.verdict import agent_sentence

# which way a difference is in the candidate's favour; None: neither way is better
HIGHER_IS_BETTER: dict[str, bool | None] = {
    "unvalidated": False,
    "open": False,
    "validate_calls": None,
    "lookups": None,
    "clean": True,
    "intent": True,
    "tokens_per_clean": False,
    "usd_per_clean": False,
}


@dataclass
class AgentComparison:
    sides: pd.DataFrame  # agent_table rows, one per side (column `side`)
    differences: pd.DataFrame  # per figure: baseline, candidate, diff, CI, favours
    paired: bool
    verdict: str


def favours(name: str, diff: float, low: float, high: float) -> str:
    """The side a difference's CI favours, `–` when it includes zero, `neither` for a figure
    with no better direction (more validate calls are not better or worse in themselves)."""
    if np.isnan(low) or not (low > 0 or high < 0):
        return "–"
    better = HIGHER_IS_BETTER[name]
    if better is None:
        return "neither"
    return "candidate" if (diff > 0) == better else "baseline"


def compare_agents(
    sides: dict[str, pd.DataFrame], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> AgentComparison:
    """Both sides' figures and candidate − baseline per figure (agent-only figures NaN where a
    side is a fixed loop; dollars NaN where a side has no price)."""
    frame = pd.concat([a.assign(side=who) for who, a in sides.items()], ignore_index=True)
    table = agent_table(frame, ["side"], n_boot, seed, level).table
    table = table.set_index("side").loc[["baseline", "candidate"]].reset_index()
    protocols = {w: "+".join(sorted(a["protocol"].astype(str).unique())) for w, a in sides.items()}
    table["group"] = [f"{who}: {protocols[who]}" for who in table["side"]]
    chains = {who: chain_table(a.assign(side=who), ["side"]) for who, a in sides.items()}
    problems = {who: np.sort(c["problem_id"].unique()) for who, c in chains.items()}
    rng = np.random.default_rng(seed)
    paired = set(problems["baseline"]) == set(problems["candidate"])
    if paired:
        shared = problems["candidate"]
        weights = dict.fromkeys(sides, resample_weights(len(shared), n_boot, rng))
        problems = dict.fromkeys(sides, shared)
    else:
        weights = {
            w: resample_weights(len(problems[w]), n_boot, rng) for w in ("baseline", "candidate")
        }
    sums = {who: problem_sums(chains[who], problems[who]) for who in sides}
    rows = []
    base, cand = table.iloc[0], table.iloc[1]
    for name, (_, _, agent_only) in FIGURES.items():
        row = {"figure": NAMES[name], "baseline": base[name], "candidate": cand[name]}
        if pd.isna(base[name]) or pd.isna(cand[name]):
            reason = "agent only" if agent_only else "no price"
            rows.append(
                {**row, "diff": np.nan, "ci_low": np.nan, "ci_high": np.nan, "favours": reason}
            )
            continue
        reps = ratio(sums["candidate"], name, weights["candidate"])
        reps = reps - ratio(sums["baseline"], name, weights["baseline"])
        low, high = percentile_ci(reps[:, None], level)
        diff = float(cand[name] - base[name])
        row.update(diff=diff, ci_low=float(low[0]), ci_high=float(high[0]))
        row["favours"] = favours(name, diff, float(low[0]), float(high[0]))
        rows.append(row)
    differences = pd.DataFrame(rows)
    verdict = agent_sentence(differences, level, paired)
    return AgentComparison(table, differences, paired, verdict)


def compare_agent_section(
    page: Page, sides: dict[str, pd.DataFrame], n_boot: int, seed: int
) -> AgentComparison | None:
    """The section, when either side ran the agent protocol."""
    if not any(has_agent(a) for a in sides.values()):
        return None
    result = compare_agents(sides, n_boot, seed)
    page.heading("Agent protocol")
    page.text(result.verdict)
    page.text(METHOD, note=True)
    if not result.paired:
        page.text("Problem sets differ: each side resampled on its own problems.", note=True)
    shown = display_table(result.sides).rename(columns={"group": "side: protocol"})
    page.table(shown, caption="Per side: value [95 % CI]; – where a figure is an agent's only")
    page.table(
        result.differences,
        caption="Candidate − baseline ("
        + ("paired bootstrap over shared problems" if result.paired else "independent bootstrap")
        + ", 95 % CI); favours: the side the CI favours, – when it includes zero, neither for "
        "a count with no better direction",
        floatfmt="{:.4g}",
    )
    return result
