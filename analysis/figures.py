"""Matplotlib figures (Agg backend), each readable without colour: markers, line styles and
hatching tell the series apart. `save` writes PNG + SVG and stamps the simulated banner."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.banner import SIMULATED_BANNER
from analysis.fit import decay

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]
HATCHES = ["//", "..", "xx", "\\\\", "oo", "++"]


def legend_below(fig: Figure, ax: plt.Axes | None = None, ncol: int = 3, **kw: object) -> None:
    """One legend for the whole figure, outside and below the panels (constrained layout makes
    room for it), so it never covers a plotted point. Handles come from `ax` (default: the
    first axes); repeated labels are shown once."""
    source = ax if ax is not None else fig.axes[0]
    handles, names = source.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    if not unique:
        return
    kw = {"fontsize": 8, "frameon": False, **kw}
    fig.legend(
        list(unique.values()),
        list(unique),
        loc="outside lower center",
        ncol=max(1, min(ncol, len(unique))),
        **kw,  # type: ignore[arg-type]
    )


@dataclass
class Saved:
    png: Path
    svg: Path
    data_uri: str


def save(
    fig: Figure, out_dir: str | Path, name: str, simulated: bool = False, note: str | None = None
) -> Saved:
    """Write `<out_dir>/<name>.png` and `.svg`; return paths and a base64 PNG data URI.
    `simulated` stamps the simulated banner on top; `note` adds a small grey line below."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if note:
        fig.text(0.01, 0.0, note, ha="left", va="top", fontsize=7, color="#444444")
    if simulated:
        fig.text(
            0.5,
            1.0,
            SIMULATED_BANNER,
            ha="center",
            va="bottom",
            fontsize=11,
            fontweight="bold",
            color="white",
            bbox={"facecolor": "#b00020", "edgecolor": "black", "boxstyle": "square,pad=0.3"},
        )
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    png.write_bytes(buffer.getvalue())
    fig.savefig(svg, format="svg", bbox_inches="tight")
    plt.close(fig)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Saved(png, svg, uri)


@dataclass
class CurveSeries:
    """Points with CI bars, and optionally the fitted decay curve with a bootstrap band."""

    label: str
    t: np.ndarray
    y: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    params: Sequence[float] | None = None  # A, k, C
    band: tuple[np.ndarray, np.ndarray] | None = None  # on `grid`
    grid: np.ndarray | None = None

    @classmethod
    def from_table(cls, label: str, table: pd.DataFrame, column: str) -> CurveSeries:
        """`column` against `iteration`, with CI bars from `<column>_low` and `<column>_high`."""
        return cls(
            label,
            table["iteration"].to_numpy(dtype=float),
            table[column].to_numpy(dtype=float),
            table[f"{column}_low"].to_numpy(dtype=float),
            table[f"{column}_high"].to_numpy(dtype=float),
        )


def curves(
    panels: Sequence[tuple[str, Sequence[CurveSeries]]], title: str = "", ncols: int = 2
) -> Figure:
    """One panel per (y label, series); points + 95 % CI bars, fitted line, shaded fit band."""
    n = len(panels)
    cols = min(ncols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.6 * cols, 3.9 * rows), squeeze=False, layout="constrained"
    )
    for ax, (ylabel, series) in zip(axes.flat, panels, strict=False):
        for i, s in enumerate(series):
            dodge = (i - (len(series) - 1) / 2) * 0.08  # keep CI bars of groups apart
            marker, style = MARKERS[i % len(MARKERS)], LINESTYLES[i % len(LINESTYLES)]
            color = f"C{i}"
            yerr = None
            if s.low is not None and s.high is not None:
                yerr = np.vstack([s.y - s.low, s.high - s.y]).clip(min=0)
            ax.errorbar(
                s.t + dodge,
                s.y,
                yerr=yerr,
                fmt=marker,
                color=color,
                capsize=3,
                ms=5,
                label=s.label,
                mfc="white" if i % 2 else color,
            )
            if s.params is not None and np.all(np.isfinite(s.params)):
                grid = s.grid if s.grid is not None else np.linspace(s.t.min(), s.t.max(), 200)
                ax.plot(
                    grid,
                    decay(grid, *s.params),
                    linestyle=style,
                    color=color,
                    lw=1.6,
                    label=f"{s.label}: fit k={s.params[1]:.2f}",
                )
                if s.band is not None:
                    ax.fill_between(grid, s.band[0], s.band[1], color=color, alpha=0.15, lw=0)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.set_xticks(np.arange(1, int(max(s.t.max() for s in series)) + 1))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    legend_below(fig, ncol=2)
    if title:
        fig.suptitle(title)
    return fig


def fig5(
    table: pd.DataFrame,
    fits: dict[str, Sequence[float] | None],
    title: str = "Errors and warnings per iteration",
) -> Figure:
    """The paper's Fig. 5: error (red) and warning (blue) bars per iteration, SE bars where the
    table has `errors_se` / `warnings_se`, and the fitted decay curves."""
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    t = table["iteration"].to_numpy(dtype=float)
    width = 0.38
    specs = [
        ("errors", "#c62828", "//", -width / 2, "-"),
        ("warnings", "#1565c0", "..", width / 2, "--"),
    ]
    for name, color, hatch, shift, style in specs:
        se = table[f"{name}_se"].to_numpy() if f"{name}_se" in table else None
        ax.bar(
            t + shift,
            table[name],
            width,
            color=color,
            alpha=0.75,
            hatch=hatch,
            edgecolor="black",
            label=f"{name} (mean over trials)",
            yerr=se,
            capsize=3 if se is not None else 0,
        )
        params = fits.get(name)
        if params is not None and np.all(np.isfinite(params)):
            grid = np.linspace(t.min(), t.max(), 200)
            ax.plot(
                grid + shift,
                decay(grid, *params),
                color="black",
                linestyle=style,
                lw=1.5,
                label=f"{name} fit: A={params[0]:.1f}, k={params[1]:.2f}, C={params[2]:.1f}",
            )
    ax.set_xticks(t)
    ax.set_xlabel("iteration")
    ax.set_ylabel("count over all templates")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    legend_below(fig, ax, ncol=2)
    return fig


def churn(frame: pd.DataFrame, title: str = "") -> Figure:
    """Stacked bars per iteration: findings persisting, fixed (below zero) and introduced."""
    fig, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    t = frame["iteration"].to_numpy()
    ax.bar(
        t, frame["persisting"], color="#9e9e9e", hatch="..", edgecolor="black", label="persisting"
    )
    ax.bar(
        t,
        frame["introduced"],
        bottom=frame["persisting"],
        color="#ef6c00",
        hatch="xx",
        edgecolor="black",
        label="introduced",
    )
    ax.bar(
        t,
        -frame["fixed"],
        color="#2e7d32",
        hatch="//",
        edgecolor="black",
        label="fixed (drawn below zero)",
    )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(t)
    ax.set_xlabel("repair step into iteration")
    ax.set_ylabel("findings")
    ax.set_title(title or "Churn: findings fixed, persisting, introduced")
    ax.grid(axis="y", alpha=0.3)
    legend_below(fig, ax)
    return fig


def heatmap(matrix: pd.DataFrame, title: str = "", value_label: str = "findings") -> Figure:
    """Rule × iteration counts, each cell annotated with its number."""
    rows = max(len(matrix), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * max(matrix.shape[1], 1), 1.2 + 0.38 * rows))
    data = matrix.to_numpy(dtype=float) if len(matrix) else np.zeros((1, 1))
    image = ax.imshow(data, aspect="auto", cmap="cividis")
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns])
    ax.set_yticks(range(len(matrix)), list(matrix.index))
    top = np.nanmax(data) if data.size else 0
    for (i, j), value in np.ndenumerate(data):
        shade = "black" if value > 0.6 * top else "white"
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7, color=shade)
    ax.set_xlabel("iteration")
    ax.set_title(title or f"Rule frequency ({value_label})")
    fig.colorbar(image, ax=ax, label=value_label)
    fig.tight_layout()
    return fig


def differences(frame: pd.DataFrame, title: str = "") -> Figure:
    """Candidate − baseline per iteration with CI bars, one panel per measure."""
    measures = list(dict.fromkeys(frame["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(4.6 * len(measures), 3.6), squeeze=False)
    for i, (ax, measure) in enumerate(zip(axes.flat, measures, strict=True)):
        part = frame[frame["measure"] == measure]
        yerr = np.vstack([part["diff"] - part["ci_low"], part["ci_high"] - part["diff"]]).clip(0)
        ax.errorbar(
            part["iteration"],
            part["diff"],
            yerr=yerr,
            fmt=MARKERS[i],
            capsize=3,
            color=f"C{i}",
            linestyle=LINESTYLES[i],
        )
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(measure)
        ax.set_xlabel("iteration")
        ax.set_ylabel("candidate − baseline")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def dot_whisker(
    frame: pd.DataFrame,
    panels: Sequence[tuple[str, str]],
    row: str,
    series: str,
    log: Sequence[str] = (),
    ncols: int = 4,
    title: str = "",
) -> Figure:
    """One panel per (column, axis label): each row label (y axis) shows `column` with a
    [`column_low`, `column_high`] whisker per `series` value, dodged vertically and told apart
    by marker, fill and line style (readable without colour). Columns in `log` use a log axis."""
    labels = list(dict.fromkeys(frame[row]))
    kinds = list(dict.fromkeys(frame[series]))
    n = len(panels)
    cols = min(ncols, n)
    rows = int(np.ceil(n / cols))
    height = 1.0 + 0.32 * len(labels) * max(1.0, len(kinds) / 2)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(3.3 * cols + 1.2, height * rows + 0.5),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    y0 = np.arange(len(labels))[::-1].astype(float)  # first label on top
    for ax, (column, xlabel) in zip(axes.flat, panels, strict=False):
        for i, kind in enumerate(kinds):
            part = frame[frame[series] == kind]
            ys = y0[[labels.index(v) for v in part[row]]] + (i - (len(kinds) - 1) / 2) * 0.22
            x = part[column].to_numpy(dtype=float)
            low = part[f"{column}_low"].to_numpy(dtype=float)
            high = part[f"{column}_high"].to_numpy(dtype=float)
            xerr = np.vstack([x - low, high - x])
            xerr = np.where(np.isfinite(xerr), xerr, 0).clip(min=0)
            bars = ax.errorbar(
                x,
                ys,
                xerr=xerr,
                fmt=MARKERS[i % len(MARKERS)],
                color="black" if i == 0 else f"C{i}",
                mfc="black" if i == 0 else "white",
                ms=6,
                capsize=3,
                lw=1.3,
                label=str(kind),
            )
            for line in bars[2]:
                line.set_linestyle(LINESTYLES[i % len(LINESTYLES)])
        if column in log and (frame[column] > 0).any():
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_yticks(y0, labels, fontsize=8)
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    legend_below(fig, ncol=len(kinds), fontsize=9, title=series, frameon=True)
    if title:
        fig.suptitle(title)
    return fig


def lines(
    panels: Sequence[tuple[str, Sequence[CurveSeries]]],
    reference: tuple[float, str] | None = None,
    title: str = "",
) -> Figure:
    """One panel per (y label, series): each series a line through its points with 95 % CI
    bars, told apart by marker, fill and line style; the legend sits below the panels.
    `reference` (value, label) adds a dotted horizontal line to the first panel."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(5.6 * n, 3.9), squeeze=False, layout="constrained")
    for ax, (ylabel, series) in zip(axes.flat, panels, strict=True):
        for i, s in enumerate(series):
            dodge = (i - (len(series) - 1) / 2) * min(0.08, 0.6 / max(len(series), 1))
            yerr = None
            if s.low is not None and s.high is not None:
                yerr = np.vstack([s.y - s.low, s.high - s.y])
                yerr = np.where(np.isfinite(yerr), yerr, 0).clip(min=0)
            bars = ax.errorbar(
                s.t + dodge,
                s.y,
                yerr=yerr,
                fmt=MARKERS[i % len(MARKERS)],
                linestyle=LINESTYLES[i % len(LINESTYLES)],
                color=f"C{i % 10}",
                mfc="white" if i % 2 else f"C{i % 10}",
                capsize=2,
                ms=5,
                lw=1.3,
                elinewidth=0.8,
                label=s.label,
            )
            bars[0].set_linestyle(LINESTYLES[i % len(LINESTYLES)])
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.set_xticks(np.arange(1, int(max(s.t.max() for s in series)) + 1))
        ax.grid(alpha=0.3)
    if reference is not None:
        value, label = reference
        ax0 = axes.flat[0]
        ax0.axhline(value, color="black", linestyle=":", lw=1.8, label=label)
        ax0.annotate(
            label,
            (0.99, value),
            xycoords=("axes fraction", "data"),
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=7,
            va="bottom",
            ha="right",
        )
    legend_below(fig, ncol=3, fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def rule_drift(frame: pd.DataFrame, label_a: str, label_b: str, top: int = 20) -> Figure:
    """Findings per rule under two lintings of the same templates: paired horizontal bars
    (A hatched //, B dotted), the `top` rules by |B − A|, each labelled with its change."""
    shown = frame.head(top).iloc[::-1]  # largest change on top
    n = max(len(shown), 1)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.34 * n), layout="constrained")
    y = np.arange(len(shown), dtype=float)
    height = 0.38
    ax.barh(
        y + height / 2,
        shown["findings_a"],
        height,
        color="#9e9e9e",
        hatch="//",
        edgecolor="black",
        label=label_a,
    )
    ax.barh(
        y - height / 2,
        shown["findings_b"],
        height,
        color="#1565c0",
        hatch="..",
        edgecolor="black",
        label=label_b,
    )
    top_count = float(np.nanmax([shown["findings_a"].max(), shown["findings_b"].max(), 1]))
    for yi, (_, row) in zip(y, shown.iterrows(), strict=True):
        ax.text(
            max(row["findings_a"], row["findings_b"]) + 0.01 * top_count,
            yi,
            f"{row['change']} ({row['diff']:+d})",
            va="center",
            fontsize=7,
        )
    ax.set_yticks(y, list(shown["rule_id"]), fontsize=8)
    ax.set_xlim(0, top_count * 1.25)
    ax.set_xlabel("findings over the templates judged by both")
    ax.grid(axis="x", alpha=0.3)
    legend_below(fig, ax, ncol=2)
    ax.set_title("Rules by linting: largest changes")
    return fig
