"""Sections of the report drawn only when the run has them: planned against actual, feedback
designs, security compliance, and the comparison with the paper's published baseline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import figures
from analysis.compare import FEW_PROBLEMS, NAMES, compare
from analysis.compare_sides import Side, paper_side
from analysis.designs import design_figure, display_table, method_note
from analysis.load import (
    Run,
    select,
)
from analysis.measures import (
    ProblemData,
)
from analysis.paper import baseline_per_template
from analysis.plan import NOTE as PLAN_NOTE
from analysis.plan import SIMULATED_NOTE as PLAN_SIMULATED_NOTE
from analysis.plan import display_table as plan_display
from analysis.plan import load_plan, planned_vs_actual
from analysis.provenance import Provenance
from analysis.render import Page
from analysis.security import (
    DEFINITION,
    IACGEN_LABEL,
    IACGEN_NOTE,
    IACGEN_RATE,
)

PAPER_ORIGINAL = "paper-original"  # the dataset of the authors' own prompts


def plan_section(page: Page, run_dir: str | Path, run: Run) -> pd.DataFrame | None:
    """Planned against actual (calls, tokens, cost), per job and in total, if the run has a
    plan.json; returns the comparison."""
    plan = load_plan(run_dir)
    if plan is None:
        return None
    frame = planned_vs_actual(plan, run.attempts)
    if frame.empty:
        return None
    page.heading("Planned against actual")
    page.table(plan_display(frame), caption="Per job: actual (planned expected, maximum)")
    page.text(PLAN_NOTE, note=True)
    if any(job.get("simulated") for job in plan.get("jobs", [])):
        page.text(PLAN_SIMULATED_NOTE, note=True)
    return frame


def designs_section(
    page: Page, designs: pd.DataFrame, group_keys: list[str], n_boot: int, fit_boot: int
) -> None:
    """The feedback-design comparison: one table row and one figure row per design."""
    page.heading("Feedback designs")
    page.text(method_note(designs, n_boot, fit_boot), note=True)
    fewest = int(designs["problems"].min())
    if fewest < FEW_PROBLEMS:
        page.text(
            f"Some rows rest on only {fewest} problems: bootstrap CIs over so few problems are "
            "unreliable (too narrow).",
            note=True,
        )
    page.table(
        display_table(designs, group_keys),
        caption="Feedback designs × protocols: error decay (k, C), clean fraction, intent and "
        "security, 95 % CIs",
    )
    page.figure(
        design_figure(designs),
        "designs",
        "Feedback designs: value and 95 % CI per design (rows); protocols differ by marker "
        "(filled / open) and whisker line style (solid / dashed). k on a log axis.",
    )


def security_section(
    page: Page, security: pd.DataFrame, labels: dict[tuple, str], group_keys: list[str]
) -> None:
    """Compliance per iteration for every group, beside IaCGen's reported rate."""
    page.heading("Security compliance")
    page.text(DEFINITION, note=True)
    page.text(IACGEN_NOTE, note=True)
    panels: list[tuple[str, list[figures.CurveSeries]]] = []
    for measure, label in (
        ("compliance", "compliant (all checks passed)"),
        ("pass_share", "checks passed (mean share)"),
    ):
        series = []
        for group, name in labels.items():
            part = select(security, group, group_keys)
            if part[measure].isna().all():
                continue
            series.append(figures.CurveSeries.from_table(name, part, measure))
        if series:
            panels.append((label, series))
    if panels:
        page.figure(
            figures.lines(panels, reference=(IACGEN_RATE, IACGEN_LABEL)),
            "security",
            "Security compliance (left) and mean share of checks passed (right) per iteration, "
            "95 % bootstrap CIs; dotted line: IaCGen's reported compliance rate, 8.4 % "
            "(DPIaC-Eval, arXiv:2506.05623).",
        )
    rows = []
    for group, name in labels.items():
        part = select(security, group, group_keys)
        first, last = part.iloc[0], part.iloc[-1]
        rows.append(
            {
                "group": name,
                "chains with checks @1": int(first["checked"]),
                "compliant @1 [95 % CI]": _cell(first, "compliance"),
                f"compliant @{int(last['iteration'])} [95 % CI]": _cell(last, "compliance"),
                "checks passed @1": _cell(first, "pass_share"),
                f"checks passed @{int(last['iteration'])}": _cell(last, "pass_share"),
            }
        )
    page.table(
        pd.DataFrame(rows),
        caption=f"Security compliance at the first and last iteration (IaCGen: {IACGEN_RATE:.3f})",
    )


def _cell(row: pd.Series, name: str) -> str:
    if pd.isna(row[name]):
        return "–"
    return f"{row[name]:.3f} [{row[name + '_low']:.3f}, {row[name + '_high']:.3f}]"


def paper_original_intent(attempts: pd.DataFrame) -> bool:
    """Whether some row of dataset paper-original has intent checks."""
    rows = attempts[attempts["dataset"] == PAPER_ORIGINAL]
    return bool((rows["intent_total"].fillna(0) > 0).any())


def intent_not_available(
    long: pd.DataFrame, labels: dict[tuple, str], group_keys: list[str]
) -> str | None:
    """A note naming the groups whose problems have no intent checks (imported edit problems,
    say): their intent is not available, shown as –, neither passed nor failed."""
    missing = [
        label
        for group, label in labels.items()
        if select(long, group, group_keys).query("measure == 'intent'")["value"].isna().all()
    ]
    if not missing:
        return None
    what = "this run" if len(missing) == len(labels) else "; ".join(missing)
    return (
        f"Intent: not available for {what}: no intent checks were recorded (its problems have "
        "none, as imported edit problems may not); shown as –, neither passed nor failed."
    )


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()[:60]


def paper_section(
    page: Page,
    data: ProblemData,
    long: pd.DataFrame,
    label: str,
    sim: bool,
    n_boot: int,
    fit_boot: int,
    seed: int,
    provenance: Provenance,
) -> None:
    """Compare one group against the paper's published per-template means."""
    candidate = Side(label, data=data, simulated=sim, provenance=provenance)
    result = compare(paper_side(), candidate, n_boot=n_boot, seed=seed, fit_boot=fit_boot)
    page.heading(f"Against the paper's baseline: {label}", level=3)
    page.text(result.verdict)
    for note in [*result.notes, *result.baseline.notes]:
        page.text(note, note=True)
    wide = result.per_iteration.pivot(index="iteration", columns="measure", values="diff")
    page.table(wide.reset_index(), caption="Candidate − paper per iteration", floatfmt="{:+.3f}")
    paper = baseline_per_template()
    panels = []
    for measure in ("errors", "warnings", "clean"):
        name = NAMES[measure]
        part = long[(long["measure"] == measure) & (long["stat"] == "mean")]
        fit = result.fits[result.fits["measure"] == name].set_index("param")
        series = []
        for side, who in ((label, "candidate"), ("paper (published)", "baseline")):
            params = fit.loc[["A", "k", "C"], who].to_numpy(dtype=float)
            if who == "candidate":
                series.append(
                    figures.CurveSeries(
                        side,
                        part["iteration"].to_numpy(dtype=float),
                        part["value"].to_numpy(),
                        part["ci_low"].to_numpy(),
                        part["ci_high"].to_numpy(),
                        params,
                    )
                )
            else:
                series.append(
                    figures.CurveSeries(
                        side,
                        paper["iteration"].to_numpy(dtype=float),
                        paper[measure].to_numpy(),
                        params=params,
                    )
                )
        panels.append((name, series))
    page.figure(
        figures.curves(panels, ncols=3),
        f"paper_{slug(label)}",
        f"{label} (95 % CIs) against the paper's published means per template, with "
        "fitted decay curves",
    )
