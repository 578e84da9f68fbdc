"""Compare a candidate run against a baseline (another run, or the paper's published table).

Per iteration: candidate − baseline of mean errors and warnings per template and of the clean
fraction, with 95 % percentile bootstrap CIs. When both sides are runs over the same problems
the bootstrap is *paired*: one draw of problems is applied to both. Otherwise each side is
resampled on its own problems. The paper's table has no problem-level data: its values are
held fixed per iteration, and for the fitted parameters it contributes draws from the normal
approximation given by curve_fit's covariance.

Also: the difference of the fitted A, k, C (per template scale; the paper's sums are divided by
165) with CIs, and a one-paragraph verdict.

Like with like: each side states its origin (run, simulated, recorded), cfn-lint release and
lint date, dataset, prompt set and output format. Two runs linted by different cfn-lint
releases, or on dates more than a day apart (see `analysis.provenance`), are refused with the
`iacbench rescore` command that puts one side on the other's linter;
--allow-lint-mismatch compares them anyway and the verdict opens with the mismatch. The paper's
published means were linted in 2024 by an older cfn-lint; their verdict says so and points to
`make import-paper`.

Usage: python -m analysis.compare --baseline RUN|paper --candidate RUN [--out DIR]
       [--allow-lint-mismatch]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import figures, pass_at_k
from analysis.banner import SIMULATED_BANNER, recorded_banner
from analysis.compare_agent import compare_agent_section
from analysis.compare_cost import compare_cost_section
from analysis.compare_sides import (
    LintMismatchError,
    Side,
    paper_side,
    run_side,
)
from analysis.compare_verdict import derived_value, favoured_side, verdict_sentences
from analysis.fit import bootstrap_params, fit_decay, half_life, plateau_iteration
from analysis.measures import percentile_ci, resample_weights
from analysis.provenance import (
    LintMismatch,
    context_notes,
    lint_mismatch,
)
from analysis.render import Page, write_csv
from benchmark.progress import progress_bar

COMPARED = ["errors", "warnings", "clean"]
FEW_PROBLEMS = 10
NAMES = {
    "errors": "errors per template",
    "warnings": "warnings per template",
    "clean": "clean fraction",
}


@dataclass
class Comparison:
    baseline: Side
    candidate: Side
    per_iteration: pd.DataFrame
    overall: pd.DataFrame  # per measure: mean over iterations, Bonferroni CI; drives the verdict
    fits: pd.DataFrame
    paired: bool
    verdict: str
    outcome: str
    notes: list[str] = field(default_factory=list)
    mismatch: LintMismatch | None = None  # set when compared despite different lintings
    agent_verdict: str | None = None  # set by `write` when either side ran the agent protocol

    @property
    def simulated(self) -> bool:
        return self.baseline.simulated or self.candidate.simulated

    @property
    def origin(self) -> str:
        """Origins of both sides' rows, for the CSVs' `origin` column."""
        names: set[str] = set()
        for side in (self.baseline, self.candidate):
            if side.provenance is not None:
                names.update(side.provenance.origins)
        return "+".join(sorted(names)) or "run"

    @property
    def recorded_notices(self) -> list[str]:
        return [
            recorded_banner(side.provenance.recorded_from, who)  # type: ignore[union-attr]
            for who, side in (("baseline", self.baseline), ("candidate", self.candidate))
            if side.recorded
        ]

    def sides(self) -> pd.DataFrame:
        """One row per side: origin, dataset, prompt set, output format, cfn-lint and date."""
        rows = []
        for who, side in (("baseline", self.baseline), ("candidate", self.candidate)):
            row = {"side": who, "label": side.label}
            if side.provenance is not None:
                row.update({k: v for k, v in side.provenance.row().items() if k != "side"})
            rows.append(row)
        return pd.DataFrame(rows)


def _side_replicates(
    side: Side, measure: str, iterations: np.ndarray, weights: np.ndarray | None, n_boot: int
) -> np.ndarray:
    if side.data is None or weights is None:
        return np.tile(side.point(measure, iterations), (n_boot, 1))
    index = np.searchsorted(side.data.iterations, iterations)
    return side.data.replicates(measure, weights)[:, index]


def _param_draws(
    side: Side,
    t: np.ndarray,
    point: np.ndarray,
    reps: np.ndarray,
    rng: np.random.Generator,
    progress: bool,
) -> tuple[np.ndarray | None, np.ndarray]:
    fit = fit_decay(t, point)
    if fit is None:
        return None, np.full((len(reps), 3), np.nan)
    if side.data is not None:
        return fit.params, bootstrap_params(t, reps, fit.params, progress=progress)
    if fit.cov is None:
        return fit.params, np.tile(fit.params, (len(reps), 1))
    return fit.params, rng.multivariate_normal(fit.params, fit.cov, size=len(reps))


def compare(
    baseline: Side,
    candidate: Side,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    progress: bool = False,
    fit_boot: int | None = None,
    allow_lint_mismatch: bool = False,
    measures: Sequence[str] = COMPARED,
) -> Comparison:
    """Per-iteration and fitted-parameter differences (candidate − baseline) with CIs.

    `fit_boot` (default `n_boot`) is how many of the resamples are refitted for A, k, C.
    Two runs linted differently raise LintMismatchError unless `allow_lint_mismatch`.
    `measures` (a subset of COMPARED) limits the work to those measures, as the power analysis
    does; their intervals are the same as in a full comparison (the overall CIs keep the
    Bonferroni level over all three)."""
    unknown = sorted(set(measures) - set(COMPARED))
    if unknown or not measures:
        raise ValueError(f"measures must be a non-empty subset of {COMPARED}, not {unknown}")
    if baseline.provenance is not None:
        baseline = replace(baseline, provenance=replace(baseline.provenance, label="baseline"))
    if candidate.provenance is not None:
        candidate = replace(candidate, provenance=replace(candidate.provenance, label="candidate"))
    notes: list[str] = []
    mismatch = None
    if baseline.provenance is not None and candidate.provenance is not None:
        mismatch = lint_mismatch(baseline.provenance, candidate.provenance)
        if mismatch is not None and not allow_lint_mismatch:
            raise LintMismatchError(mismatch)
        notes.extend(context_notes(baseline.provenance, candidate.provenance))
    n_fit = n_boot if fit_boot is None else max(1, min(fit_boot, n_boot))
    rng = np.random.default_rng(seed)
    iterations = np.intersect1d(baseline.iterations, candidate.iterations)
    if len(iterations) == 0:
        raise ValueError("the two sides share no iteration")
    paired = False
    w_base = w_cand = None
    if baseline.data is not None and candidate.data is not None:
        same = set(baseline.data.problems) == set(candidate.data.problems)
        if same:
            order = np.sort(candidate.data.problems)
            baseline = replace(baseline, data=baseline.data.subset(order))
            candidate = replace(candidate, data=candidate.data.subset(order))
            w_base = w_cand = resample_weights(len(order), n_boot, rng)
            paired = True
        else:
            shared = len(set(baseline.data.problems) & set(candidate.data.problems))
            notes.append(
                f"Problem sets differ ({shared} shared): each side resampled on its own problems."
            )
    if not paired:
        if baseline.data is not None:
            w_base = resample_weights(len(baseline.data.problems), n_boot, rng)
        if candidate.data is not None:
            w_cand = resample_weights(len(candidate.data.problems), n_boot, rng)
    if baseline.data is None:
        notes.append("The baseline has no problem-level data: CIs reflect the candidate only.")
    for side in (baseline, candidate):
        if side.data is not None and len(side.data.problems) < FEW_PROBLEMS:
            notes.append(
                f"{side.label} has only {len(side.data.problems)} problems: bootstrap CIs over "
                "so few problems are unreliable (too narrow)."
            )

    rows, fit_rows, overall_rows = [], [], []
    t = iterations.astype(float)
    overall_level = 1.0 - (1.0 - level) / len(COMPARED)  # Bonferroni over the three measures
    chosen = [m for m in COMPARED if m in measures]
    for measure in progress_bar(chosen, desc="compare", disable=not progress, leave=False):
        b_point = baseline.point(measure, iterations)
        c_point = candidate.point(measure, iterations)
        b_reps = _side_replicates(baseline, measure, iterations, w_base, n_boot)
        c_reps = _side_replicates(candidate, measure, iterations, w_cand, n_boot)
        low, high = percentile_ci(c_reps - b_reps, level)
        for i, it in enumerate(iterations):
            rows.append(
                {
                    "iteration": int(it),
                    "measure": NAMES[measure],
                    "baseline": b_point[i],
                    "candidate": c_point[i],
                    "diff": c_point[i] - b_point[i],
                    "ci_low": low[i],
                    "ci_high": high[i],
                    "favours": favoured_side(measure, c_point[i] - b_point[i], low[i], high[i]),
                }
            )
        mean_diff = (c_reps - b_reps).mean(axis=1, keepdims=True)
        o_low, o_high = percentile_ci(mean_diff, overall_level)
        diff = float(c_point.mean() - b_point.mean())
        overall_rows.append(
            {
                "measure": NAMES[measure],
                "baseline": float(b_point.mean()),
                "candidate": float(c_point.mean()),
                "diff": diff,
                "ci_low": float(o_low[0]),
                "ci_high": float(o_high[0]),
                "ci_level": overall_level,
                "favours": favoured_side(measure, diff, o_low[0], o_high[0]),
            }
        )
        b_params, b_draws = _param_draws(baseline, t, b_point, b_reps[:n_fit], rng, progress)
        c_params, c_draws = _param_draws(candidate, t, c_point, c_reps[:n_fit], rng, progress)
        diffs = c_draws - b_draws
        p_low, p_high = percentile_ci(diffs, level)
        for j, name in enumerate(("A", "k", "C")):
            b = b_params[j] if b_params is not None else np.nan
            c = c_params[j] if c_params is not None else np.nan
            fit_rows.append(
                {
                    "measure": NAMES[measure],
                    "param": name,
                    "baseline": b,
                    "candidate": c,
                    "diff": c - b,
                    "ci_low": p_low[j],
                    "ci_high": p_high[j],
                }
            )
        for name, fn in (("half-life", half_life), ("plateau iteration", plateau_iteration)):
            b, c = derived_value(b_params, fn), derived_value(c_params, fn)
            fit_rows.append(
                {
                    "measure": NAMES[measure],
                    "param": name,
                    "baseline": b,
                    "candidate": c,
                    "diff": c - b,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                }
            )
    per_iteration = pd.DataFrame(rows)
    fits = pd.DataFrame(fit_rows)
    overall = pd.DataFrame(overall_rows)
    outcome, verdict = verdict_sentences(baseline, candidate, per_iteration, overall, fits, paired)
    if mismatch is not None:
        verdict = f"{mismatch.opening} {verdict}"
    return Comparison(
        baseline,
        candidate,
        per_iteration,
        overall,
        fits,
        paired,
        verdict,
        outcome,
        notes,
        mismatch,
    )


def write(
    comparison: Comparison, out_dir: str | Path, n_boot: int = 2000, seed: int = 0
) -> tuple[Path, Path]:
    """compare.md / compare.html, CSVs of both tables and the difference figure; for two runs
    also cost efficiency and pass@k (`n_boot` resamples)."""

    out = Path(out_dir)
    sim = comparison.simulated
    page = Page(
        "Comparison: candidate vs baseline",
        out,
        simulated=sim,
        recorded=comparison.recorded_notices,
    )
    page.bullets(
        [f"baseline: {comparison.baseline.label}", f"candidate: {comparison.candidate.label}"]
    )
    page.table(
        comparison.sides(),
        caption="The two sides: origin, dataset, prompt set, output format, cfn-lint and lint date",
    )
    page.heading("Verdict")
    page.text(comparison.verdict)
    for note in [*comparison.notes, *comparison.baseline.notes, *comparison.candidate.notes]:
        page.text(note, note=True)
    page.heading("Averaged over iterations (candidate − baseline, Bonferroni CI over 3 measures)")
    page.table(comparison.overall, floatfmt="{:.3f}")
    page.heading("Per iteration (candidate − baseline, 95 % CI)")
    page.table(comparison.per_iteration, floatfmt="{:.3f}")
    page.figure(
        figures.differences(comparison.per_iteration, "candidate − baseline"),
        "compare_differences",
        "Candidate minus baseline per iteration with 95 % bootstrap CIs (zero line: no difference)",
    )
    page.heading("Fitted decay y = A·e^(−k(t−1)) + C (candidate − baseline)")
    page.table(comparison.fits, floatfmt="{:.3f}")
    origin = comparison.origin
    sides = {"baseline": comparison.baseline, "candidate": comparison.candidate}
    if all(side.attempts is not None for side in sides.values()):
        costs, diff, passk = compare_cost_section(
            page,
            {who: side.attempts for who, side in sides.items()},  # type: ignore[misc]
            {who: side.chains for who, side in sides.items() if side.chains is not None},
            n_boot,
            seed,
        )
        write_csv(costs, out / "compare_cost.csv", sim, origin)
        write_csv(diff, out / "compare_cost_diff.csv", sim, origin)
        write_csv(passk, out / "compare_pass_at_k.csv", sim, origin)
        attempts = {who: side.attempts for who, side in sides.items()}
        agent = compare_agent_section(page, attempts, n_boot, seed)  # type: ignore[arg-type]
        if agent is not None:
            comparison.agent_verdict = agent.verdict
            write_csv(agent.sides, out / "compare_agent.csv", sim, origin)
            write_csv(agent.differences, out / "compare_agent_diff.csv", sim, origin)
    elif comparison.candidate.chains is not None:  # the paper: no samples or costs per problem
        page.heading("pass@k and pass^k over samples (candidate)")
        page.text(pass_at_k.NOTE, note=True)
        part = pass_at_k.group_pass_k(comparison.candidate.chains, n_boot, seed)
        if not part.empty:
            page.table(pass_at_k.display(part), caption="candidate: per iteration, value [95 % CI]")
    write_csv(comparison.per_iteration, out / "compare_per_iteration.csv", sim, origin)
    write_csv(comparison.fits, out / "compare_fits.csv", sim, origin)
    write_csv(comparison.overall, out / "compare_overall.csv", sim, origin)
    write_csv(comparison.sides(), out / "compare_sides.csv", sim, origin)
    return page.write("compare")


def parse_where(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--where expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv: list[str] | None = None, prog: str = "python -m analysis.compare") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        epilog=(
            "examples:\n"
            "  iacbench compare --baseline paper --candidate runs/<sweep> \\\n"
            "      --candidate-where prompt_set=paper\n"
            "  iacbench compare --baseline runs/<a> --candidate runs/<b> \\\n"
            "      --baseline-where protocol=stateless --candidate-where protocol=conversation\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--baseline", required=True, help="a run folder, or 'paper'")
    parser.add_argument("--candidate", required=True, help="a run folder")
    parser.add_argument("--out", help="output folder (default <candidate>/report/compare)")
    parser.add_argument(
        "--baseline-where",
        action="append",
        metavar="KEY=VALUE",
        help="pick the baseline group, e.g. model=openai/gpt-4o (repeatable)",
    )
    parser.add_argument("--candidate-where", action="append", metavar="KEY=VALUE")
    parser.add_argument("--paper-raw", help="with --baseline paper: the authors' raw-data folder")
    parser.add_argument("--samples-per-prompt", type=int, default=5)
    parser.add_argument("--stopped", choices=["carry", "exclude"], default="carry")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--fit-boot", type=int, default=1000, help="resamples refitted")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--allow-lint-mismatch",
        action="store_true",
        help="compare runs linted by different cfn-lint releases or dates (the verdict says so)",
    )
    args = parser.parse_args(argv)
    try:
        if args.baseline == "paper":
            baseline = paper_side(args.paper_raw, args.samples_per_prompt)
        else:
            baseline = run_side(args.baseline, parse_where(args.baseline_where), args.stopped)
        candidate = run_side(args.candidate, parse_where(args.candidate_where), args.stopped)
        result = compare(
            baseline,
            candidate,
            n_boot=args.n_boot,
            seed=args.seed,
            progress=True,
            fit_boot=args.fit_boot,
            allow_lint_mismatch=args.allow_lint_mismatch,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.candidate) / "report" / "compare"
    md, html_path = write(result, out, args.n_boot, args.seed)
    if result.simulated:
        print(f"\n*** {SIMULATED_BANNER} ***\n")
    for notice in result.recorded_notices:
        print(notice)
    for side in (result.baseline, result.candidate):
        if side.provenance is not None:
            print(side.provenance.sentence())
    print()
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(result.per_iteration.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print()
        print(result.overall.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print()
        print(result.fits.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\n" + result.verdict)
    if result.agent_verdict:
        print(result.agent_verdict)
    if result.simulated:
        print(f"\n*** {SIMULATED_BANNER} ***")
    print(f"\nwrote {md} and {html_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
