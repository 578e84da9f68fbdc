"""The report's curves as small multiples: one figure per measure, one panel per group.

Each panel holds one group (points with 95 % CI bars, the fitted decay line and its bootstrap
band), all panels on shared axes, so no legend is needed and none can cover a point. Groups
whose numbers are identical (the same counts for every problem and iteration: the simulator,
for one, does not model prompt designs) are said so once and drawn as one panel.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figures import CurveSeries
from analysis.fit import band, decay
from analysis.load import select
from analysis.measures import LABELS, ProblemData
from analysis.render import Page

GRID_GROUPS = 4  # up to this many groups: one figure, a row of panels per measure
MEASURES = [("errors", "mean"), ("warnings", "mean"), ("clean", "mean"), ("intent", "mean")]
CAPTION = (
    "{measure} per iteration, one panel per group (a row shares its y axis): means with 95 % "
    "bootstrap CIs (markers), fitted A·e^(−k(t−1)) + C (line) and the 95 % band of bootstrap "
    "refits (shaded)."
)


def identical_groups(datasets: dict[tuple, ProblemData]) -> list[list[tuple]]:
    """Groups in clusters of identical numbers: the same problems and, per problem and
    iteration, the same sums of every measure (so the same means; only the bootstrap's draws
    would tell them apart), in the order given."""
    clusters: list[list[tuple]] = []
    for group, data in datasets.items():
        for members in clusters:
            if _same(datasets[members[0]], data):
                members.append(group)
                break
        else:
            clusters.append([group])
    return clusters


def _same(a: ProblemData, b: ProblemData) -> bool:
    arrays = [(a.problems, b.problems), (a.iterations, b.iterations)]
    if a.num.keys() != b.num.keys() or a.den.keys() != b.den.keys():
        return False
    arrays += [(a.num[k], b.num[k]) for k in a.num] + [(a.den[k], b.den[k]) for k in a.den]
    return all(x.shape == y.shape and np.array_equal(x, y) for x, y in arrays)


def identical_note(clusters: list[list], labels: dict[tuple, str], simulated: bool) -> str | None:
    """One sentence naming the groups whose numbers coincide, or None."""
    same = [" and ".join(labels[g] for g in members) for members in clusters if len(members) > 1]
    if not same:
        return None
    why = (
        " The simulator does not model every setting (prompt designs, for one): groups that "
        "differ only there coincide."
        if simulated
        else ""
    )
    return (
        f"Identical numbers: {'; '.join(same)} have the same counts for every problem, measure "
        "and iteration (their CIs differ only by the bootstrap's draws). Each such set is drawn "
        f"once, as one panel.{why}"
    )


def group_panels(rows: Sequence[tuple[str, Sequence[CurveSeries]]], ncols: int = 4) -> Figure:
    """Small multiples of (y label, one series per group) rows: one panel per series, a row
    of panels per y label sharing its y axis, wrapped at `ncols` panels; the group and the
    fit's k in each panel's title; no legend."""
    cols = min(ncols, max(len(series) for _, series in rows))
    places = []  # (grid row, grid column, y label, series, first row of its measure)
    line = 0
    if cols == 1:  # a single group: its measures side by side, two to a row
        cols = min(2, len(rows))
        for i, (ylabel, series) in enumerate(rows):
            places.append((i // cols, i % cols, ylabel, series[0], i < cols))
        line = int(np.ceil(len(rows) / cols))
    for ylabel, series in rows if not places else ():
        for i, s in enumerate(series):
            places.append((line + i // cols, i % cols, ylabel, s, i < cols))
        line += int(np.ceil(len(series) / cols))
    fig, axes = plt.subplots(
        line, cols, figsize=(3.6 * cols, 2.9 * line + 0.3), squeeze=False, layout="constrained"
    )
    first: dict[str, plt.Axes] = {}
    for r, c, ylabel, s, top in places:
        ax = axes[r, c]
        if ylabel in first:
            ax.sharey(first[ylabel])
        first.setdefault(ylabel, ax)
        _draw(ax, s, title=textwrap.fill(s.label, 40) if top or len(rows) == 1 else "")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xlabel("iteration", fontsize=8)
    used = {(r, c) for r, c, *_ in places}
    for (r, c), ax in np.ndenumerate(axes):
        if (r, c) not in used:
            ax.set_visible(False)
    return fig


def _draw(ax: plt.Axes, s: CurveSeries, title: str) -> None:
    """One group: points with CI bars, the fitted line and its band; k in the title."""
    yerr = None
    if s.low is not None and s.high is not None:
        yerr = np.vstack([s.y - s.low, s.high - s.y])
        yerr = np.where(np.isfinite(yerr), yerr, 0).clip(min=0)
    ax.errorbar(s.t, s.y, yerr=yerr, fmt="o", color="C0", capsize=3, ms=4)
    if s.params is not None and np.all(np.isfinite(s.params)):
        grid = s.grid if s.grid is not None else np.linspace(s.t.min(), s.t.max(), 200)
        ax.plot(grid, decay(grid, *s.params), color="C0", lw=1.6)
        if s.band is not None:
            ax.fill_between(grid, s.band[0], s.band[1], color="C0", alpha=0.15, lw=0)
        title = (title + "\n" if title else "") + f"fit k = {s.params[1]:.2f}"
    ax.set_title(title, fontsize=8)
    ax.set_xticks(np.arange(1, int(s.t.max()) + 1))
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)


def curves_section(
    page: Page,
    datasets: dict[tuple, ProblemData],
    long: pd.DataFrame,
    fits: pd.DataFrame,
    boots: dict[tuple, np.ndarray],
    labels: dict[tuple, str],
    keys: list[str],
) -> list[list]:
    """The report's "Curves": the identical-groups note, then small multiples (one figure, or
    one per measure beyond GRID_GROUPS groups). Returns the clusters of identical groups."""
    clusters = identical_groups(datasets)
    note = identical_note(clusters, labels, page.simulated)
    if note:
        page.text(note)
    rows = []
    for measure, stat in MEASURES:
        series = []
        for members in clusters:
            group = members[0]
            part = select(long, group, keys)
            part = part[(part["measure"] == measure) & (part["stat"] == stat)]
            if part.empty or part["value"].isna().all():
                continue
            label = " = ".join(labels[g] for g in members)
            series.append(_series(part, fits, boots, group, label, keys, measure, stat))
        if series:
            rows.append((measure, LABELS[(measure, stat)], series))
    if len(clusters) <= GRID_GROUPS:  # one figure: a row per measure, a column per group
        grid = group_panels([(name, series) for _, name, series in rows])
        page.figure(grid, "curves", CAPTION.format(measure="Each measure"))
    else:  # one figure per measure, its panels wrapped four to a row
        for measure, name, series in rows:
            page.figure(
                group_panels([(name, series)]),
                f"curves_{measure}",
                CAPTION.format(measure=name[0].upper() + name[1:]),
            )
    return clusters


def _series(
    part: pd.DataFrame,
    fits: pd.DataFrame,
    boots: dict[tuple, np.ndarray],
    group: tuple,
    label: str,
    keys: list[str],
    measure: str,
    stat: str,
) -> CurveSeries:
    t = part["iteration"].to_numpy(dtype=float)
    row = select(fits, group, keys)
    row = row[row["measure"] == LABELS[(measure, stat)]]
    params = None
    if len(row) and "A" in row and pd.notna(row["A"].iloc[0]):
        params = row[["A", "k", "C"]].iloc[0].to_numpy(dtype=float)
    grid = np.linspace(t.min(), t.max(), 200)
    boot = boots.get((group, measure))
    return CurveSeries(
        label,
        t,
        part["value"].to_numpy(),
        part["ci_low"].to_numpy(),
        part["ci_high"].to_numpy(),
        params,
        band(grid, boot) if boot is not None and params is not None else None,
        grid,
    )
