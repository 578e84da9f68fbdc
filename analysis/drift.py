"""Lint drift: the same templates linted two ways, and how far the findings move.

    python -m analysis.drift RUN_A RUN_B [--out DIR]     # a run and its rescore
    python -m analysis.drift RUN --recorded [--out DIR]  # an imported (recorded) run

Two runs: RUN_B holds RUN_A's templates judged again, e.g.
`python -m benchmark.replication.rescore RUN_A --cfn-lint VERSION --as-of DATE`; rows are matched
by `attempt_id`, which rescore keeps.
`--recorded`: one imported run, whose attempts carry two lintings of each template: the
authors' recorded findings (A, source `cfn-lint (recorded by the authors)`) and the configured
cfn-lint's (B, source `cfn-lint`, the run's counts).

The chains are RUN_A's (with --recorded, the run's), filled forward as in every report
(`--stopped carry`), so each cell shows one template, judged on both sides; a chain with a
template not judged on one side is left out of both. Per group and iteration: mean errors and
warnings per template and the clean fraction (at iteration n) of each side, with 95 % CIs, and
B − A with a *paired* problem bootstrap (one draw of problems applied to both sides). Rules:
findings and templates per rule over the distinct templates judged on both sides, A against B;
`appears` (only under B), `vanishes` (only under A), `more`, `fewer`, `same`.

Writes `drift.md`, `drift.html`, `figures/`, and `drift_per_iteration.csv`, `drift_rules.csv`,
`drift_sides.csv` to `--out` (default `<RUN_B>/report/drift-vs-<RUN_A name>`, or
`<RUN>/report/drift-recorded`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import figures
from analysis.banner import SIMULATED_BANNER, recorded_banner
from analysis.compare import FEW_PROBLEMS, NAMES
from analysis.drift_linting import JUDGED, Linting, recorded_linting, run_linting
from analysis.load import (
    GROUP_KEYS,
    Run,
    chain_keys,
    fill_chains,
    group_label,
    group_list,
    load_run,
    select,
)
from analysis.measures import ProblemData, percentile_ci, resample_weights
from analysis.provenance import Provenance, origins
from analysis.render import Page, write_csv

MEASURED = ["errors", "warnings", "clean"]
NO_RULE = "(no rule id)"


@dataclass
class Drift:
    a: Linting
    b: Linting
    per_iteration: pd.DataFrame  # group keys, iteration, measure, a, b, diff with CIs
    rules: pd.DataFrame  # rule_id, level, findings_a/b, diff, templates_a/b, change
    groups: list[tuple]
    group_keys: list[str]
    templates: int  # distinct templates judged on both sides
    notes: list[str] = field(default_factory=list)
    simulated: bool = False
    recorded_notice: str | None = None
    origin: str = "run"

    def sides(self) -> pd.DataFrame:
        return pd.DataFrame([self.a.provenance, self.b.provenance])

    def summary(self) -> str:
        """Per group, the last iteration side by side; then the rules that appear or vanish."""
        sentences = []
        for group in self.groups:
            part = select(self.per_iteration, group, self.group_keys)
            last = int(part["iteration"].max())
            at = part[part["iteration"] == last]
            said = "; ".join(
                f"{r.measure} {_fmt(r.a, r.measure)} under A, {_fmt(r.b, r.measure)} under B "
                f"(B − A {r.diff:+.2f}, 95 % CI {r.ci_low:+.2f} to {r.ci_high:+.2f})"
                for r in at.itertuples()
            )
            where = f" ({group_label(group, self.group_keys)})" if len(self.groups) > 1 else ""
            sentences.append(f"At iteration {last}{where}: {said}.")
        for change, verb in (("appears", "found under B only"), ("vanishes", "gone under B")):
            part = self.rules[self.rules["change"] == change]
            if len(part):
                most = ", ".join(
                    f"{r.rule_id} ×{max(r.findings_a, r.findings_b)}"
                    for r in part.head(3).itertuples()
                )
                sentences.append(f"{_rules(len(part))} {verb} (most: {most}).")
        moved = self.rules[self.rules["change"].isin(["more", "fewer"])]
        if len(moved):
            sentences.append(f"{_rules(len(moved))} found on both sides with other counts.")
        if self.rules["change"].eq("same").all():
            sentences.append("Every rule has the same count under both lintings.")
        return " ".join(sentences)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _rules(n: int) -> str:
    return _count(n, "rule")


def _fmt(value: float, measure: str) -> str:
    return f"{value:.0%}" if measure == NAMES["clean"] else f"{value:.2f}"


def _cells(chains: pd.DataFrame, linting: Linting) -> pd.DataFrame:
    """The filled chains with every cell's state taken from `linting`'s judgement."""
    state = linting.judged.set_index("attempt_id")
    out = chains.drop(columns=[*JUDGED, "findings", "clean_by"]).join(state, on="source_attempt_id")
    return out


def drift(
    structure: pd.DataFrame,
    a: Linting,
    b: Linting,
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Drift:
    """Per-iteration means of both lintings and their paired difference, and rule changes.

    `structure`: the attempts whose chains are filled (RUN_A's, or the recorded run's)."""
    notes: list[str] = []
    ids_a, ids_b = set(a.judged["attempt_id"]), set(b.judged["attempt_id"])
    shared = ids_a & ids_b
    if not shared:
        raise ValueError(
            "the two lintings judge no template in common (rows are matched by attempt_id): "
            "drift compares the same templates linted two ways, e.g. a run and its rescore"
        )
    for side, only in (("A", ids_a - ids_b), ("B", ids_b - ids_a)):
        if only:
            notes.append(f"{_count(len(only), 'template')} judged only under {side}: left out.")
    keys = chain_keys(group_keys)
    chains = fill_chains(structure, "carry", group_keys)
    cells_a, cells_b = _cells(chains, a), _cells(chains, b)
    missing = cells_a["errors"].isna() | cells_b["errors"].isna()
    dropped = chains.loc[missing.to_numpy(), keys].drop_duplicates()
    if len(dropped):
        notes.append(
            f"{_count(len(dropped), 'chain')} showing a template not judged on both sides: "
            "left out of both."
        )
        keep = ~chains.set_index(keys).index.isin(dropped.set_index(keys).index)
        cells_a, cells_b = cells_a[keep].copy(), cells_b[keep].copy()
    if cells_a.empty:
        raise ValueError("no chain has every template judged under both lintings")
    for cells in (cells_a, cells_b):
        for column in ("errors", "warnings", "infos"):
            cells[column] = cells[column].astype(int)
        cells["clean"] = cells["clean"].astype(bool)
        cells["findings"] = cells["errors"] + cells["warnings"] + cells["infos"]

    rng = np.random.default_rng(seed)
    rows = []
    groups = group_list(cells_a, group_keys)
    for group in groups:
        data_a = ProblemData.from_chains(select(cells_a, group, group_keys), group)
        data_b = ProblemData.from_chains(select(cells_b, group, group_keys), group)
        order = np.sort(data_a.problems)
        data_a, data_b = data_a.subset(order), data_b.subset(order)
        if len(order) < FEW_PROBLEMS:
            notes.append(
                f"{group_label(group, group_keys)}: only {len(order)} problems: bootstrap CIs "
                "over so few problems are unreliable (too narrow)."
            )
        weights = resample_weights(len(order), n_boot, rng)
        for measure in MEASURED:
            reps_a = data_a.replicates(measure, weights)
            reps_b = data_b.replicates(measure, weights)
            point_a, point_b = data_a.point(measure), data_b.point(measure)
            a_low, a_high = percentile_ci(reps_a, level)
            b_low, b_high = percentile_ci(reps_b, level)
            d_low, d_high = percentile_ci(reps_b - reps_a, level)
            for i, t in enumerate(data_a.iterations):
                rows.append(
                    {
                        **dict(zip(group_keys, group, strict=True)),
                        "iteration": int(t),
                        "measure": NAMES[measure],
                        "a": point_a[i],
                        "a_low": a_low[i],
                        "a_high": a_high[i],
                        "b": point_b[i],
                        "b_low": b_low[i],
                        "b_high": b_high[i],
                        "diff": point_b[i] - point_a[i],
                        "ci_low": d_low[i],
                        "ci_high": d_high[i],
                        "chains": int(data_a.den[measure][:, i].sum()),
                    }
                )
    templates = set(cells_a["source_attempt_id"])
    sources = origins(structure)
    return Drift(
        a=a,
        b=b,
        per_iteration=pd.DataFrame(rows),
        rules=rule_changes(a, b, templates),
        groups=groups,
        group_keys=group_keys,
        templates=len(templates),
        notes=notes,
        simulated=bool(structure["simulated"].fillna(False).astype(bool).any()),
        origin="+".join(sorted(set(sources))),
    )


def rule_changes(a: Linting, b: Linting, templates: set[str]) -> pd.DataFrame:
    """Findings and templates per rule under each linting, over `templates`, largest
    |B − A| first."""

    def count(linting: Linting, suffix: str) -> pd.DataFrame:
        found = linting.findings[linting.findings["attempt_id"].isin(templates)]
        found = found.assign(rule_id=found["rule_id"].fillna(NO_RULE))
        grouped = found.groupby("rule_id")
        return pd.DataFrame(
            {
                f"findings_{suffix}": grouped.size(),
                f"templates_{suffix}": grouped["attempt_id"].nunique(),
                f"level_{suffix}": grouped["level"].first(),
            }
        )

    table = count(a, "a").join(count(b, "b"), how="outer")
    for column in ("findings_a", "findings_b", "templates_a", "templates_b"):
        table[column] = table[column].fillna(0).astype(int)
    table["level"] = table["level_b"].fillna(table["level_a"]).fillna("E")
    table["diff"] = table["findings_b"] - table["findings_a"]
    table["change"] = np.select(
        [
            (table["findings_a"] == 0) & (table["findings_b"] > 0),
            (table["findings_a"] > 0) & (table["findings_b"] == 0),
            table["diff"] > 0,
            table["diff"] < 0,
        ],
        ["appears", "vanishes", "more", "fewer"],
        default="same",
    )
    table = table.reset_index().rename(columns={"index": "rule_id"})
    table["_size"] = table["diff"].abs()
    table = table.sort_values(["_size", "rule_id"], ascending=[False, True])
    columns = [
        "rule_id",
        "level",
        "findings_a",
        "findings_b",
        "diff",
        "templates_a",
        "templates_b",
        "change",
    ]
    return table[columns].reset_index(drop=True)


def wide_table(part: pd.DataFrame) -> pd.DataFrame:
    """One group's per-iteration drift as `value [low, high]` text cells."""

    def cell(value: float, low: float, high: float, signed: bool = False) -> str:
        sign = "+" if signed else ""
        return f"{value:{sign}.2f} [{low:{sign}.2f}, {high:{sign}.2f}]"

    out = pd.DataFrame({"iteration": sorted(part["iteration"].unique())})
    for measure in [NAMES[m] for m in MEASURED]:
        rows = part[part["measure"] == measure].set_index("iteration").loc[out["iteration"]]
        out[f"{measure}: A"] = [cell(r.a, r.a_low, r.a_high) for r in rows.itertuples()]
        out[f"{measure}: B"] = [cell(r.b, r.b_low, r.b_high) for r in rows.itertuples()]
        out[f"{measure}: B − A"] = [
            cell(r.diff, r.ci_low, r.ci_high, signed=True) for r in rows.itertuples()
        ]
    return out


def write(result: Drift, out_dir: str | Path, top: int = 20) -> tuple[Path, Path]:
    """drift.md / drift.html, CSVs and figures."""

    out = Path(out_dir)
    sim = result.simulated
    notices = [result.recorded_notice] if result.recorded_notice else []
    page = Page(
        f"Lint drift: {result.a.label} vs {result.b.label}", out, simulated=sim, recorded=notices
    )
    page.table(result.sides(), caption="The two lintings of the same templates")
    page.heading("Summary")
    page.text(result.summary())
    page.text(
        f"{result.templates} templates judged under both lintings, matched by attempt_id; "
        "chains filled forward as in the report (each cell shows one template, judged twice). "
        "Clean fraction: share of chains whose template at iteration n is clean. CIs: 95 % "
        "percentile bootstrap over problems, paired for B − A.",
        note=True,
    )
    for note in result.notes:
        page.text(note, note=True)
    for group in result.groups:
        label = group_label(group, result.group_keys)
        part = select(result.per_iteration, group, result.group_keys)
        page.heading(f"Per iteration: {label}")
        page.table(wide_table(part), caption="Mean [95 % CI] under A and B, and B − A (paired)")
        panels = []
        for measure in [NAMES[m] for m in MEASURED]:
            rows = part[part["measure"] == measure]
            t = rows["iteration"].to_numpy(dtype=float)
            panels.append(
                (
                    measure,
                    [
                        figures.CurveSeries(
                            result.a.label,
                            t,
                            rows["a"].to_numpy(),
                            rows["a_low"].to_numpy(),
                            rows["a_high"].to_numpy(),
                        ),
                        figures.CurveSeries(
                            result.b.label,
                            t,
                            rows["b"].to_numpy(),
                            rows["b_low"].to_numpy(),
                            rows["b_high"].to_numpy(),
                        ),
                    ],
                )
            )
        slug = "".join(c if c.isalnum() else "-" for c in label).strip("-").lower()[:60]
        page.figure(
            figures.curves(panels, ncols=3),
            f"drift_{slug}",
            f"{label}: the same templates under A and B per iteration, 95 % bootstrap CIs",
        )
        page.figure(
            figures.differences(part, "B − A"),
            f"drift_diff_{slug}",
            f"{label}: B − A per iteration with paired 95 % bootstrap CIs (zero: no drift)",
        )
    page.heading("Rules that appear, vanish or change")
    changed = result.rules[result.rules["change"] != "same"]
    page.table(
        changed.head(top * 2),
        caption=f"Findings and templates per rule over the {result.templates} templates "
        "(appears: only under B; vanishes: only under A)",
    )
    if len(changed):
        page.figure(
            figures.rule_drift(changed, result.a.label, result.b.label, top),
            "drift_rules",
            f"Findings per rule under A and B, the {min(top, len(changed))} largest changes",
        )
    origin = result.origin
    write_csv(result.per_iteration, out / "drift_per_iteration.csv", sim, origin)
    write_csv(result.rules, out / "drift_rules.csv", sim, origin)
    write_csv(result.sides(), out / "drift_sides.csv", sim, origin)
    return page.write("drift")


def from_runs(run_a: str | Path, run_b: str | Path, **kwargs: object) -> Drift:
    """Drift between a run and another judgement of its templates (e.g. its rescore)."""
    a, b = load_run(run_a), load_run(run_b)
    result = drift(
        a.attempts,
        run_linting(a, f"A ({Path(run_a).name})"),
        run_linting(b, f"B ({Path(run_b).name})"),
        **kwargs,  # type: ignore[arg-type]
    )
    return _labelled(result, [a, b])


def from_recorded(run_dir: str | Path, **kwargs: object) -> Drift:
    """Drift between an imported run's recorded findings (A) and its configured lint (B)."""
    run = load_run(run_dir)
    recorded = recorded_linting(run)
    configured = run_linting(run, "B: configured cfn-lint")
    structure = run.attempts[run.attempts["attempt_id"].isin(recorded.judged["attempt_id"])]
    result = drift(structure, recorded, configured, **kwargs)  # type: ignore[arg-type]
    return _labelled(result, [run])


def _labelled(result: Drift, runs: list[Run]) -> Drift:
    sources = []
    for run in runs:
        if run.recorded_rows:
            sources.append(Provenance.of_attempts(run.attempts, run.name).recorded_from)
    notice = recorded_banner(sources[0]) if sources else None
    simulated = result.simulated or any(run.simulated for run in runs)
    return replace(result, recorded_notice=notice, simulated=simulated)


def main(argv: list[str] | None = None, prog: str = "python -m analysis.drift") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        epilog=(
            "examples:\n"
            "  iacbench drift runs/<sweep> runs/<sweep>-rescored\n"
            "  iacbench drift runs/paper-gpt-4o --recorded\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", help="RUN_A RUN_B, or one RUN with --recorded")
    parser.add_argument(
        "--recorded",
        action="store_true",
        help="one imported run: the authors' recorded findings vs the configured cfn-lint's",
    )
    parser.add_argument("--out", help="output folder")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--top", type=int, default=20, help="rules drawn in the figure")
    parser.add_argument(
        "--group-by", default=",".join(GROUP_KEYS), help="attempt columns that define a series"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    wanted = 1 if args.recorded else 2
    if len(args.runs) != wanted:
        usage = "one RUN with --recorded" if args.recorded else "RUN_A RUN_B (or RUN --recorded)"
        print(f"error: expected {usage}, got {len(args.runs)} folders", file=sys.stderr)
        return 2
    group_keys = [k.strip() for k in args.group_by.split(",") if k.strip()]
    options = {"group_keys": group_keys, "n_boot": args.n_boot, "seed": args.seed}
    try:
        if args.recorded:
            result = from_recorded(args.runs[0], **options)
            out = Path(args.out or Path(args.runs[0]) / "report" / "drift-recorded")
        else:
            run_a, run_b = args.runs
            result = from_runs(run_a, run_b, **options)
            out = Path(args.out or Path(run_b) / "report" / f"drift-vs-{Path(run_a).name}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    md, html_path = write(result, out, args.top)
    if result.simulated:
        print(f"*** {SIMULATED_BANNER} ***")
    if result.recorded_notice:
        print(result.recorded_notice)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(result.sides().to_string(index=False))
        print()
        for group in result.groups:
            part = select(result.per_iteration, group, result.group_keys)
            print(group_label(group, result.group_keys))
            print(wide_table(part).to_string(index=False))
            print()
        changed = result.rules[result.rules["change"] != "same"]
        print(changed.head(args.top).to_string(index=False))
    print("\n" + result.summary())
    print(f"\nwrote {md} and {html_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
