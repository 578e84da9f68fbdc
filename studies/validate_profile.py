"""Does a profile reproduce its source run? Simulate it on the source's problems and compare.

    python -m studies validate PROFILE --run RUN [--out DIR]

The profile's simulator runs through the real harness (loop, cfn-lint, records) on the source
run's problems, prompt set, protocol, clean rule and iteration limit, with `replicates` times
its samples per problem so the simulated curve carries little noise of its own. Both sides are
then read as the harness records them: the source's chains end at their first clean attempt
(a recorded loop that went on past clean is cut there), and every chain is filled to the last
iteration as the report does (analysis.load). Per iteration, mean errors and warnings per
template and the clean fraction (clean by n) get 95 % problem-bootstrap intervals
(analysis.measures). The profile reproduces its source when the simulated value lies inside
the source's interval for all three at every iteration.

Writes `validation.csv`, `validation.md` and `figures/validation.png|svg` (source against
simulated, with intervals, under the simulated-data banner) into the output folder, and the
simulated run itself under `simulated/` (rerunning resumes it). The default folder is
`<run>-validation/<profile>/`, beside the source run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.banner import SIMULATED_BANNER
from analysis.figures import save
from analysis.load import fill_chains
from analysis.measures import per_iteration
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import read_table
from benchmark.runner.hydra_job import JobInfo, run_job
from benchmark.simulator.profile import load_profile
from studies.recorded_chains import CalibrationError, harness_view, select, source_dataset
from studies.split import Split, take
from studies.synthesize import CONF_DIR, compose_settings

PASS_SHARE = 0.9  # of the points (iterations x measures) inside: 27 of 30 for 10 iterations
COMPARED = [
    ("errors", "errors per template"),
    ("warnings", "warnings per template"),
    ("clean", "clean fraction (by iteration n)"),
]


@dataclass
class Validation:
    table: pd.DataFrame  # iteration x measure: source, simulated, inside
    out_dir: Path
    profile: str
    source: str
    test: str | None = None  # the held-out split the source was cut to (split.py)
    coverage: dict[str, Any] | None = None  # the profile's coverage section

    @property
    def inside(self) -> int:
        return int(self.table["inside"].sum())

    @property
    def passed(self) -> bool:
        """At least PASS_SHARE of the points inside the source's intervals."""
        return self.inside >= PASS_SHARE * len(self.table) - 1e-9

    @property
    def reproduced(self) -> bool:
        return bool(self.table["inside"].all())

    def misses(self) -> pd.DataFrame:
        return self.table[~self.table["inside"]]


def _measures(attempts: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:

    # the report counts an attempt only with a template; a recorded run may publish none
    attempts = attempts.assign(template=attempts["template"].fillna(""))
    chains = fill_chains(attempts, group_keys=["model"])
    long = per_iteration(chains, group_keys=["model"], n_boot=n_boot, seed=seed)
    wanted = long["stat"].eq("mean") & long["measure"].isin([m for m, _ in COMPARED])
    return long[wanted][["iteration", "measure", "value", "ci_low", "ci_high", "n_chains"]]


def simulate_like(
    profile: str,
    source: pd.DataFrame,
    out_dir: Path,
    *,
    dataset: Path,
    replicates: int,
    seed: int,
    progress: bool,
    lint_workers: int,
) -> pd.DataFrame:
    """Run the profile through the harness on the source's problems and settings."""
    problem_ids = sorted(source["problem_id"].unique())
    known = {p.id: p for p in load_dataset(dataset)}
    missing = [pid for pid in problem_ids if pid not in known]
    if missing:
        raise CalibrationError(
            f"{dataset}: {len(missing)} of the source's problems are not in this dataset "
            f"(e.g. {missing[0]}); pass the source's dataset with --dataset"
        )
    prompt_set = str(source["prompt_set"].iloc[0])
    if not (CONF_DIR / "prompts" / f"{prompt_set}.yaml").is_file():
        prompt_set = "paper"  # a recorded run's own prompts: the paper's design stands in
    samples = int(source["sample"].nunique())  # a held-out split holds some of them
    overrides = [
        f"model.id=simulated/{Path(profile).stem}",
        f"model.simulator.profile={profile}",
        # rules the source never named stay as unfixed as they were there (behaviour.py)
        "+model.simulator.named_as_source=true",
        f"dataset.path={dataset.resolve()}",
        f"dataset.name={dataset.name}",
        f"dataset.only=[{','.join(problem_ids)}]",
        f"prompts={prompt_set}",
        f"loop.protocol={source['protocol'].iloc[0]}",
        f"loop.clean_when={source['clean_rule'].dropna().iloc[0]}",
        f"loop.samples={samples * replicates}",
        f"loop.max_iterations={int(source['max_iterations'].max())}",
        f"seed={seed}",
        f"lint.workers={lint_workers}",
        f"progress={str(progress).lower()}",
    ]
    settings = compose_settings(overrides)
    job_dir = out_dir / "simulated"
    summary = asyncio.run(run_job(settings, JobInfo("validate", 0, job_dir), None))
    if summary.status != "complete":
        raise CalibrationError(f"the simulated run did not complete: {summary.fatal_error}")
    return read_table(job_dir, "attempts")


def validate(
    profile: str,
    run: str | Path,
    out_dir: str | Path | None = None,
    *,
    where: Mapping[str, str] | None = None,
    dataset: str | Path | None = None,
    replicates: int = 4,
    seed: int = 0,
    n_boot: int = 2000,
    progress: bool = True,
    lint_workers: int = 2,
    test: Split | None = None,
) -> Validation:
    """Simulate `profile` like `run` (cut to the `test` split, if any) and compare."""
    run = Path(run)
    loaded = load_profile(profile)
    trained = (loaded.data.get("source") or {}).get("split")
    if test is not None and test.overlaps(trained):
        raise CalibrationError(
            f"--test {test.spec}: shares chains with the split the profile was calibrated on "
            f"({trained.get('spec')}); a held-out test needs chains the profile never saw"
        )
    # beside the source, never inside it: its simulated rows must not join the source's reads
    out = Path(out_dir) if out_dir else run.parent / f"{run.name}-validation" / loaded.name
    if out.resolve().is_relative_to(run.resolve()):
        raise CalibrationError(f"--out {out}: put it beside the source run {run}, not inside it")
    group = take(select(read_table(run, "attempts"), where or {}), test)
    view, _ = harness_view(group)
    dataset_dir = Path(dataset) if dataset else source_dataset(run, str(group["dataset"].iloc[0]))
    simulated = simulate_like(
        str(loaded.path),
        group,
        out,
        dataset=dataset_dir,
        replicates=replicates,
        seed=seed,
        progress=progress,
        lint_workers=lint_workers,
    )
    src = _measures(view, n_boot, seed).add_prefix("source_")
    sim = _measures(simulated, n_boot, seed).add_prefix("simulated_")
    table = src.merge(
        sim,
        left_on=["source_iteration", "source_measure"],
        right_on=["simulated_iteration", "simulated_measure"],
        how="left",
    )
    table = table.rename(columns={"source_iteration": "iteration", "source_measure": "measure"})
    table = table.drop(columns=["simulated_iteration", "simulated_measure"])
    table["inside"] = (table["simulated_value"] >= table["source_ci_low"] - 1e-12) & (
        table["simulated_value"] <= table["source_ci_high"] + 1e-12
    )
    table.insert(0, "simulated", True)
    table = table.sort_values(["measure", "iteration"]).reset_index(drop=True)
    coverage = loaded.data.get("coverage")
    result = Validation(
        table,
        out,
        loaded.name,
        str(run),
        test.spec if test else None,
        coverage if isinstance(coverage, dict) else None,
    )
    _write(result, group)
    return result


def _write(result: Validation, group: pd.DataFrame) -> None:

    out = result.out_dir
    out.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(out / "validation.csv", index=False)
    figure(result)
    source_model = ", ".join(sorted(group["model"].astype(str).unique()))
    lines = [
        f"**{SIMULATED_BANNER}**",
        "",
        f"# Profile `{result.profile}` against its source `{result.source}` ({source_model})",
        "",
        (
            "**Reproduced**: every simulated value lies inside the source's 95 % interval."
            if result.reproduced
            else f"**Not reproduced** at {len(result.misses())} of {len(result.table)} points."
        ),
        "",
        f"{result.inside} of {len(result.table)} points inside: "
        + ("**passes**" if result.passed else "**fails**")
        + f" (the threshold: at least {PASS_SHARE:.0%} of the points).",
        "",
        *_split_and_coverage(result),
        "Source chains end at their first clean attempt (as the harness runs them); both sides "
        "are filled to the last iteration. Intervals: 95 % percentile bootstrap over problems.",
        "",
        "![source against simulated](figures/validation.png)",
        "",
        "| measure | iteration | source [95 % CI] | simulated [95 % CI] | inside |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in result.table.itertuples(index=False):
        lines.append(
            f"| {row.measure} | {row.iteration} | {row.source_value:.3f} "
            f"[{row.source_ci_low:.3f}, {row.source_ci_high:.3f}] | {row.simulated_value:.3f} "
            f"[{row.simulated_ci_low:.3f}, {row.simulated_ci_high:.3f}] | "
            f"{'yes' if row.inside else '**no**'} |"
        )
    lines += ["", f"**{SIMULATED_BANNER}**", ""]
    (out / "validation.md").write_text("\n".join(lines), encoding="utf-8")


def _split_and_coverage(result: Validation) -> list[str]:
    """The held-out split and the profile's rule coverage, as lines of validation.md."""
    lines = []
    if result.test:
        lines += [f"Held out: the source cut to `{result.test}` (chains the profile never saw)."]
        lines += [""]
    c = result.coverage
    if c:
        missing = ", ".join(f"{r['rule']} ({r['share']:.1%})" for r in c.get("uncovered", []))
        lines += [
            f"Coverage: the simulator can raise {c.get('covered_share', 0):.1%} of the source's "
            f"{c.get('findings')} errors and warnings; uncovered: {missing or 'none'}.",
            "",
        ]
    return lines


def figure(result: Validation) -> Path:
    """Source against simulated per iteration, one panel per measure, with 95 % intervals."""
    # deferred: matplotlib.pyplot takes ~0.8 s to import (measured); only figures need it
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(COMPARED), figsize=(4.2 * len(COMPARED), 3.6))
    for ax, (measure, label) in zip(axes, COMPARED, strict=True):
        rows = result.table[result.table["measure"] == measure].sort_values("iteration")
        x = rows["iteration"].to_numpy()
        for side, marker, style, name in (
            ("source", "o", "-", f"source ({result.source.rstrip('/').split('/')[-1]})"),
            ("simulated", "s", "--", f"simulated ({result.profile})"),
        ):
            ax.plot(x, rows[f"{side}_value"], marker=marker, linestyle=style, label=name)
            ax.fill_between(
                x,
                rows[f"{side}_ci_low"],
                rows[f"{side}_ci_high"],
                alpha=0.2,
                hatch="//" if side == "source" else "..",
            )
        for row in rows[~rows["inside"]].itertuples(index=False):
            ax.annotate("outside", (row.iteration, row.simulated_value), fontsize=7, color="red")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_xticks(x)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return save(fig, result.out_dir / "figures", "validation", simulated=True).png
