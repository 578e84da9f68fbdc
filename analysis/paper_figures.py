"""Rebuild the paper's Fig. 5 and fit the decay curve, from its raw data or its published means.

Usage: python -m analysis.paper_figures [--raw DIR] [--out DIR]

With --raw DIR: the authors' published lint text, read as they published it. DIR is their
repository as downloaded (Mayur-Palavalli/LLM-IaC-generation: the root, holding
`JSON_run_v2/JSONwork_batching{T}/errorCSVs/errorsCSV{I}.csv`), its `JSON_run_v2` folder, one
`JSONwork_batching{T}` folder, or a folder of `trial{T}/errorsCSV{I}.csv` files. Prints the
per-iteration table (means over trials of sums over templates, one decimal, standard error
over trials; clean = templates clean at iteration n, as the paper counts them), draws Fig. 5
with SE bars, fits with a bootstrap over prompts. Without: draws the published table (no SE
bars: the paper's table gives means only) and fits with curve_fit's covariance CIs.

These are the authors' own findings, linted in 2024 by the cfn-lint of the time; for their
templates re-linted by the configured cfn-lint, import the run (`make import-paper`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import figures
from analysis.fit import bootstrap_params, fit_decay, summarize
from analysis.measures import ProblemData, resample_weights
from analysis.paper import (
    CITATION,
    URL,
    PaperRaw,
    baseline_table,
    import_raw,
    raw_chains,
    raw_table,
)
from analysis.render import Page, write_csv
from analysis.rules import rule_matrix

SERIES = ["errors", "warnings", "clean"]
FIT_COLUMNS = [
    "series",
    "A",
    "A_low",
    "A_high",
    "k",
    "k_low",
    "k_high",
    "C",
    "C_low",
    "C_high",
    "half_life",
    "t95",
    "plateau_iteration",
    "r2",
    "aic[decay+plateau]",
    "aic[exponential]",
    "aic[linear]",
    "aicc[decay+plateau]",
    "aicc[exponential]",
    "aicc[linear]",
    "best_by_aic",
    "ci_method",
    "note",
]


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """Means to one decimal, SE to one decimal (– where the table has none)."""
    out = pd.DataFrame({"iteration": table["iteration"]})
    for name in SERIES:
        out[name] = table[name].map(lambda v: f"{v:.1f}")
        se = table.get(f"{name}_se")
        out[f"{name} SE"] = se.map(lambda v: f"{v:.1f}") if se is not None else "–"
    return out


def fit_series(
    table: pd.DataFrame,
    raw: PaperRaw | None = None,
    samples_per_prompt: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Decay fit of each series; bootstrap over prompts when raw data exist, else covariance."""
    t = table["iteration"].to_numpy(dtype=float)
    boots: dict[str, np.ndarray | None] = dict.fromkeys(SERIES)
    if raw is not None:
        data = ProblemData.from_chains(raw_chains(raw, samples_per_prompt), ("paper",))
        weights = resample_weights(len(data.problems), n_boot, np.random.default_rng(seed))
        per_trial = raw.templates.groupby("iteration")["template"].nunique().to_numpy()
        for name in SERIES:
            y = table[name].to_numpy(dtype=float)
            curves = data.replicates(name, weights) * per_trial  # mean per template × templates
            fit = fit_decay(t, y)
            if fit is not None:
                boots[name] = bootstrap_params(
                    t, curves, fit.params, progress=progress, desc=f"bootstrap {name}"
                )
    rows = []
    for name in SERIES:
        row = summarize(t, table[name].to_numpy(dtype=float), boots[name])
        rows.append({"series": name, **row})
    frame = pd.DataFrame(rows)
    return frame[[c for c in FIT_COLUMNS if c in frame.columns]]


def build(
    raw_dir: str | Path | None,
    out_dir: str | Path,
    samples_per_prompt: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """Table, fits, and the written page folder."""
    out = Path(out_dir)
    raw = import_raw(raw_dir) if raw_dir else None
    table = raw_table(raw) if raw is not None else baseline_table()
    fits = fit_series(table, raw, samples_per_prompt, n_boot, seed, progress)
    params = {
        row["series"]: (row["A"], row["k"], row["C"]) if "A" in row and pd.notna(row["A"]) else None
        for row in fits.to_dict("records")
    }
    source = (
        f"the authors' recorded lint text ({Path(raw_dir).name}, {raw.layout} layout)"
        if raw is not None and raw_dir
        else "the published means"
    )
    page = Page("The paper's Fig. 5 and its decay fit", out)
    page.text(f"Source: {source}. Citation: {CITATION} {URL}")
    if raw is not None:
        page.text(
            f"{len(raw.trials)} trials; findings = blank-line-separated cfn-lint blocks, rules "
            "starting with W are warnings, all others errors; clean = templates with no block "
            "at iteration n (the paper's count: its loop went on after a clean template); mean "
            "over trials of the sum over templates, SE = standard deviation over trials / "
            "√trials. Linted by the authors in 2024 with the cfn-lint of the time.",
            note=True,
        )
        for note in raw.notes:
            page.text(note, note=True)
    page.heading("Per-iteration table")
    page.table(format_table(table))
    if raw is not None:
        published = baseline_table().set_index("iteration")
        check = table.set_index("iteration")[SERIES].sub(published[SERIES]).reset_index()
        page.table(check, caption="Raw-data table minus the published table", floatfmt="{:.1f}")
    page.figure(
        figures.fig5(
            table,
            {k: v for k, v in params.items() if k != "clean"},
            title=f"Fig. 5 rebuilt from {source}",
        ),
        "fig5",
        "Errors (red, hatched //) and warnings (blue, dotted) per iteration"
        + (", mean ± SE over trials" if raw is not None else ", published means (no SE given)")
        + ", with fitted A·e^(−k(t−1)) + C curves",
    )
    page.heading("Decay fit y = A·e^(−k(t−1)) + C")
    page.table(fits, floatfmt="{:.3g}")
    if raw is not None and not raw.blocks.empty:
        freq = (
            raw.blocks.groupby(["iteration", "rule_id"], dropna=False)
            .size()
            .rename("findings")
            .reset_index()
            .fillna({"rule_id": "(no rule id)"})
        )
        freq["findings"] = freq["findings"] / len(raw.trials)
        page.figure(
            figures.heatmap(rule_matrix(freq), "Rules by iteration (mean per trial)"),
            "rules",
            "Most frequent rules by iteration, mean count per trial",
        )
    write_csv(table, out / "paper_table.csv", False)
    write_csv(fits, out / "paper_fits.csv", False)
    page.write("paper_figures")
    return table, fits, out


def main(argv: list[str] | None = None, prog: str = "python -m analysis.paper_figures") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        epilog=(
            "examples:\n"
            "  iacbench paper-figures                       # from the paper's published means\n"
            "  iacbench paper-figures --raw <their repository>\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--raw",
        help="the authors' repository root, its JSON_run_v2 folder, one JSONwork_batching{T} "
        "folder, or a folder of trial{T}/errorsCSV{I}.csv files",
    )
    parser.add_argument("--out", default="runs/paper-figures", help="output folder")
    parser.add_argument(
        "--samples-per-prompt",
        type=int,
        default=5,
        help="rows per prompt in the raw files, the bootstrap unit (1: rows)",
    )
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        table, fits, out = build(
            args.raw, args.out, args.samples_per_prompt, args.n_boot, args.seed, progress=True
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Source: {'recorded lint text in ' + args.raw if args.raw else 'published means'}")
    print(CITATION)
    print(format_table(table).to_string(index=False))
    print()
    wanted = [
        "series",
        "A",
        "k",
        "C",
        "half_life",
        "plateau_iteration",
        "r2",
        "aic[decay+plateau]",
        "aic[exponential]",
        "aic[linear]",
        "best_by_aic",
        "note",
    ]
    shown = fits[[c for c in wanted if c in fits]]  # too few iterations: no fit, a note
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"\nwrote {out / 'paper_figures.html'}, {out / 'paper_figures.md'}, {out / 'figures'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
