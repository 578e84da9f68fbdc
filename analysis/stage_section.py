"""The report's "CDK stages" section: per iteration, the share of CDK chains that stop at the
python, cdk and template stage or are clean, the intent pass rate and findings per stage, and
where chains fail (the figures: `analysis.stage_measures`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.banner import SIMULATED_BANNER
from analysis.edit_section import ci_cell
from analysis.figures import HATCHES, legend_below
from analysis.load import GROUP_KEYS, StoppedPolicy, group_label, group_list, select
from analysis.render import Page
from analysis.stage_measures import (
    NAMES,
    PAST,
    STAGES,
    cdk_rows,
    chain_stages,
    construct_share,
    failure_table,
    has_cdk,
    stage_chains,
    stage_table,
)

METHOD = (
    "CDK chains only (attempts whose language is cdk-python). Each attempt stops at the first "
    "stage that failed: python (a syntax error, an exception while the app ran, a broken "
    "contract, a sandbox limit), cdk (the construct library rejected the app at synth), "
    "template (cfn-lint's gating findings on the synthesized template left it not clean), or "
    "it is clean. At iteration n a chain shows the attempt it holds (filled as in the rest of "
    "the report), so the four shares sum to 1. Findings per template by stage: the shown "
    "attempt's findings with source python, cdk or cfn-lint. 95 % CIs: percentile bootstrap "
    "over problems."
)
FAILURE_NOTE = (
    "Where chains fail: the stage of each chain's last scored attempt, and the chains that got "
    "past the python stage (an attempt that synthesized or failed only in CDK) and past the cdk "
    "stage (an attempt with a synthesized template), with the mean iteration at which they "
    "first did."
)
STYLE = {"python": HATCHES[0], "cdk": HATCHES[1], "template": HATCHES[2], "clean": ""}
SHADE = {"python": "#555555", "cdk": "#999999", "template": "#cccccc", "clean": "#ffffff"}


def wide_stage_table(long: pd.DataFrame) -> pd.DataFrame:
    """One group's long table as iteration rows with a `value [low, high]` cell per measure."""
    frame = long.assign(
        cell=[
            ci_cell(r.value, r.ci_low, r.ci_high)
            for r in long[["value", "ci_low", "ci_high"]].itertuples()
        ],
        column=long["measure"].map(NAMES),
    )
    table = frame.pivot(index="iteration", columns="column", values="cell")
    table = table[[c for c in NAMES.values() if c in table.columns]]
    chains = long.drop_duplicates("iteration").set_index("iteration")["chains"]
    table.insert(0, "chains", chains)
    return table.reset_index()


def failure_display(table: pd.DataFrame) -> pd.DataFrame:
    """The failure table as the report shows it, one row per group."""
    out = pd.DataFrame({"chains": table["chains"]})
    for name in STAGES:
        out[f"ended at {name}"] = table[f"ended_{name}"]
    for name in PAST:
        mean = table[f"past_{name}_mean_iteration"]
        out[f"got past {name}"] = table[f"past_{name}"]
        out[f"past {name} at (mean iteration)"] = ["–" if pd.isna(m) else f"{m:.2f}" for m in mean]
    return out


def stage_figure(long: pd.DataFrame, labels: dict[tuple, str], group_keys: list[str]) -> Figure:
    """Stacked bars per iteration (python, cdk, template, clean), one panel per group; stages
    told apart by hatching and grey level."""
    groups = group_list(long, group_keys)
    fig, axes = plt.subplots(
        1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False, layout="constrained"
    )
    for ax, group in zip(axes[0], groups, strict=True):
        part = select(long, group, group_keys)
        bottom = None
        for name in STAGES:
            rows = part[part["measure"] == name].sort_values("iteration")
            x, y = rows["iteration"].to_numpy(), rows["value"].to_numpy(dtype=float)
            bottom = np.zeros_like(y) if bottom is None else bottom
            ax.bar(
                x,
                y,
                bottom=bottom,
                label=name,
                color=SHADE[name],
                hatch=STYLE[name],
                edgecolor="black",
                linewidth=0.6,
            )
            bottom = bottom + y
        intent = part[part["measure"] == "intent"].sort_values("iteration")
        ax.plot(intent["iteration"], intent["value"], "k-o", ms=3, label="intent pass rate")
        ax.set_title(labels[group], fontsize=9)
        ax.set_xlabel("iteration")
        ax.set_ylim(0, 1.02)
        ax.set_xticks(sorted(part["iteration"].unique()))
    axes[0][0].set_ylabel("share of chains")
    legend_below(fig, axes[0][0], ncol=5)
    return fig


def stage_section(
    page: Page,
    attempts: pd.DataFrame,
    findings: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    stopped: StoppedPolicy = "carry",
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The section, when some attempt is cdk-python; returns the per-iteration table and the
    per-group failure table (for the CSVs)."""
    if not has_cdk(attempts):
        return None
    rows = cdk_rows(attempts)
    chains = stage_chains(rows, findings, group_keys, stopped)
    long = stage_table(chains, group_keys, n_boot, seed)
    failures = failure_table(chain_stages(rows, group_keys), group_keys)
    labels = {g: group_label(g, group_keys) for g in group_list(long, group_keys)}
    page.heading("CDK stages")
    if bool(np.asarray(rows["simulated"].fillna(False), dtype=bool).any()):
        page.text(
            f"{SIMULATED_BANNER}: the simulator's CDK mistakes come from its own list (a "
            "misspelt keyword, a wrong enum constant, an invalid name, a bad escape hatch, a "
            "missing grant); these shares show how the section reads, not how any model fails.",
            note=True,
        )
    page.text(METHOD, note=True)
    for group, label in labels.items():
        part = select(long, group, group_keys)
        page.table(
            wide_stage_table(part),
            caption=f"{label}: where CDK chains stop per iteration, value [95 % CI] "
            f"({int(part['problems'].iloc[0])} problems)",
        )
    page.figure(
        stage_figure(long, labels, group_keys),
        "cdk_stages",
        "Share of CDK chains stopping at each stage per iteration (python //, cdk .., "
        "template xx, clean blank) and the intent pass rate (line)",
    )
    page.heading("Where chains fail", level=3)
    page.text(FAILURE_NOTE, note=True)
    shown = failure_display(failures)
    shown.insert(0, "group", [group_label(g, group_keys) for g in group_list(failures, group_keys)])
    page.table(shown, caption="Per group: the stage chains ended at and how far they got")
    mapped, template = construct_share(attempts, findings)
    if template:
        page.text(
            f"{mapped} of {template} cfn-lint findings on synthesized templates were mapped to "
            "the construct that made them (through the template's aws:cdk:path metadata).",
            note=True,
        )
    return long, failures
