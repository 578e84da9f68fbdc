"""Power analysis: how likely `make compare` is to detect an effect, and how many samples it needs.

    python -m benchmark.models.simulated power PROFILE --effect k=+25% [--samples 5] ...

A design is a set of problems (a dataset's, with their difficulties and the simulator's sites
on them), samples per problem, an iteration limit and a clean rule; the groups compared are a
baseline, the profile, and a candidate on the same problems (so `make compare`'s bootstrap is
paired, as when two models ran on one dataset): the profile with an effect, or another profile.

An effect is a change in the population's fitted k or C of errors per template (the decay
y = A·e^(−k(t−1)) + C that `make compare` fits), or in the clean fraction at iteration n:
`k=+0.3`, `k=+25%`, `C=-0.05`, `clean@5=+0.10`. It becomes a candidate process by moving one
lever of the profile's chain process (chains.py) until a large simulated population (20,000
chains) shows the effect (scipy's brentq):

* `fix` (k, and clean@n for n > 1): ordinary named fixes as if made theta times as often;
* `persistent` (C): a share of findings made persistent (or of persistent ones ordinary);
* `generation` (clean@1): the odds of a clean generation times e^theta.

Each replicate draws both groups' chains (chains.py, seeded per group and sample, so a design
with more samples holds the smaller designs' data) and runs `analysis.compare.compare` on
them, the code behind `make compare`, at its CI level. Detected means what its verdict says:
for k or C, the 95 % CI of the candidate − baseline difference in the fitted parameter (errors
per template, problem-bootstrap refits) excludes zero on the effect's side; for clean@n, the
per-iteration row at n favours the candidate (or, for a negative effect, the baseline). For a
zero effect any exclusion counts: the false-positive rate. Power at each number of samples
per problem is the detected share, with a Wilson interval; the smallest number of samples
reaching the wanted power is searched on a grid and refined by bisection.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from tqdm import tqdm

from benchmark.models.simulator.chains import (
    BoundProcess,
    ChainProcess,
    ProblemShape,
    problem_shapes,
)
from benchmark.models.simulator.profile import load_profile
from benchmark.problems import load_dataset

POPULATION_CHAINS = 20_000  # chains behind a population value (the effect's calibration)
DEFAULT_SIZES = (1, 2, 3, 5, 8, 13, 20)
LEVERS = ("fix", "fix-all", "persistent", "generation")
_EFFECT = re.compile(
    r"^\s*(?P<target>k|C|clean@(?P<n>\d+))\s*=\s*(?P<value>[+-]?\d+(\.\d*)?|[+-]?\.\d+)"
    r"\s*(?P<pct>%)?\s*$"
)


class PowerError(ValueError):
    """A design or effect that cannot be analysed. The message is one line."""


@dataclass(frozen=True)
class Effect:
    """A change in the population's k or C (errors per template) or clean fraction at n."""

    target: str  # "k" | "C" | "clean"
    change: float  # absolute, or a fraction of the baseline's value when `relative`
    relative: bool = False
    iteration: int | None = None  # clean@n

    @classmethod
    def parse(cls, text: str) -> Effect:
        match = _EFFECT.match(text)
        if match is None:
            raise PowerError(f"--effect {text!r}: expected k=+0.3, k=+25%, C=-0.05 or clean@5=+0.1")
        value = float(match["value"])
        relative = match["pct"] is not None
        if match["n"] is not None:
            if relative:
                raise PowerError(f"--effect {text!r}: a clean fraction changes in points, not %")
            return cls("clean", value, iteration=int(match["n"]))
        return cls(match["target"], value / 100 if relative else value, relative)

    @classmethod
    def target_only(cls, text: str) -> Effect:
        """An effect with no size (the target of a two-profile comparison): `k`, `C`, `clean@n`."""
        return cls.parse(f"{text}=0")

    @property
    def label(self) -> str:
        name = f"clean@{self.iteration}" if self.target == "clean" else self.target
        size = f"{self.change:+.0%}" if self.relative else f"{self.change:+g}"
        return f"{name} {size}"

    def goal(self, baseline: float) -> float:
        return baseline * (1 + self.change) if self.relative else baseline + self.change

    def default_lever(self) -> str:
        if self.target == "C":
            return "persistent"
        if self.target == "clean":
            return "generation" if self.iteration == 1 else "fix-all"
        return "fix"


@dataclass(frozen=True)
class Design:
    """What an experiment would run: problems, samples per problem, iterations, clean rule."""

    problems: tuple[ProblemShape, ...]
    samples: int = 5
    iterations: int = 10
    clean_when: str = "no_errors_or_warnings"
    named_levels: str = "EW"  # the levels whose rules the feedback names ("E": errors-only)

    def __post_init__(self) -> None:
        if self.samples < 1 or self.iterations < 2:
            raise PowerError("a design needs at least 1 sample and 2 iterations")
        if len(self.problems) < 2:
            raise PowerError("a design needs at least 2 problems (the bootstrap resamples them)")


def design_problems(
    dataset: str | Path, count: int | None = None, only: Sequence[str] | None = None
) -> tuple[ProblemShape, ...]:
    """The problems of a dataset that the simulator can attempt; `count` takes the first n,
    cycling through them (as new problems of the same shapes) when n exceeds the dataset."""
    shapes = problem_shapes(load_dataset(dataset, list(only) if only else None))
    if not shapes:
        raise PowerError(f"{dataset}: no problem with a reference template")
    if count is None:
        return tuple(shapes)
    if count < 1:
        raise PowerError("--problems must be at least 1")
    out = []
    for i in range(count):
        shape = shapes[i % len(shapes)]
        lap = i // len(shapes)
        out.append(
            shape
            if lap == 0
            else ProblemShape(f"{shape.id}#{lap + 1}", shape.difficulty, shape.sites)
        )
    return tuple(out)


# ---- population values and the effect's lever ------------------------------------------------


def population_value(
    bound: BoundProcess, design: Design, effect: Effect, seed: int, chains: int = POPULATION_CHAINS
) -> float:
    """The target's value on a large simulated population (the limit of what a design sees)."""
    from analysis.fit import fit_decay

    per_problem = max(1, math.ceil(chains / len(design.problems)))
    index = np.repeat(np.arange(len(design.problems)), per_problem)
    drawn = bound.simulate(
        index,
        design.iterations,
        np.random.default_rng([seed, 99]),
        design.clean_when,
        design.named_levels,
    )
    if effect.target == "clean":
        assert effect.iteration is not None
        return float(drawn.clean[:, effect.iteration - 1].mean())
    t = np.arange(1, design.iterations + 1, dtype=float)
    fit = fit_decay(t, drawn.errors.mean(axis=0))
    if fit is None:
        return float("nan")
    return float(fit.params[1 if effect.target == "k" else 2])


def moved(process: ChainProcess, lever: str, x: float) -> ChainProcess:
    """The process with `lever` at position x (fix, fix-all: log theta; others: theta)."""
    if lever == "fix":
        return process.faster_fixes(math.exp(x))
    if lever == "fix-all":
        return process.faster_all_fixes(math.exp(x))
    if lever == "persistent":
        return process.more_persistent(x)
    if lever == "generation":
        return process.cleaner_generation(x)
    raise PowerError(f"--lever {lever!r}: one of {', '.join(LEVERS)}")


# each lever's range of x, and its neutral position is 0 for all of them
_LEVER_RANGE = {
    "fix": (math.log(1 / 50), math.log(50)),
    "fix-all": (math.log(1 / 50), math.log(50)),
    "persistent": (-1.0, 1.0),
    "generation": (-10.0, 10.0),
}


@dataclass(frozen=True)
class Calibration:
    """How the effect became a candidate process."""

    lever: str
    position: float  # the lever's x (fix: log theta)
    baseline_value: float
    goal: float
    candidate_value: float  # the population value at the solution

    @property
    def theta(self) -> float:
        return math.exp(self.position) if self.lever in ("fix", "fix-all") else self.position


def calibrate_effect(
    process: ChainProcess, design: Design, effect: Effect, lever: str, seed: int
) -> tuple[ChainProcess, Calibration]:
    """The candidate process: `process` with `lever` moved until the population shows `effect`."""
    if effect.target == "clean" and not 1 <= (effect.iteration or 0) <= design.iterations:
        raise PowerError(f"clean@{effect.iteration}: outside the design's 1..{design.iterations}")

    def value(x: float) -> float:
        return population_value(
            moved(process, lever, x).bind(design.problems), design, effect, seed
        )

    base = value(0.0)
    if not math.isfinite(base):
        raise PowerError(f"the profile's population {effect.target} cannot be fitted")
    goal = effect.goal(base)
    if goal == base:
        return process, Calibration(lever, 0.0, base, goal, base)
    low, high = _LEVER_RANGE[lever]
    ends = value(low), value(high)
    if not (min(ends) <= goal <= max(ends)):
        raise PowerError(
            f"effect {effect.label} not reachable with lever {lever!r}: the population's "
            f"{effect.target} ranges from {min(ends):.3g} to {max(ends):.3g} (baseline {base:.3g})"
        )
    x = optimize.brentq(lambda x: value(x) - goal, low, high, xtol=1e-3)
    return moved(process, lever, x), Calibration(lever, x, base, goal, value(x))


# ---- replicates --------------------------------------------------------------------------------


class GroupDraws:
    """One group's replicate chains, drawn sample by sample (each sample its own seeded
    stream), so the first n samples are the same whatever the largest design is."""

    def __init__(
        self, bound: BoundProcess, design: Design, replicates: int, seed: int, group: int
    ) -> None:
        self.bound, self.design, self.replicates = bound, design, replicates
        self.seed, self.group = seed, group
        self._sums: list[dict[str, np.ndarray]] = []  # running sums over samples 0..j

    def sums(self, samples: int) -> dict[str, np.ndarray]:
        """Per replicate x problem x iteration sums of errors, warnings and clean chains."""
        p, d = len(self.design.problems), self.design
        while len(self._sums) < samples:
            j = len(self._sums)
            drawn = self.bound.simulate(
                np.tile(np.arange(p), self.replicates),
                d.iterations,
                np.random.default_rng([self.seed, self.group, j]),
                d.clean_when,
                d.named_levels,
            )
            shape = (self.replicates, p, d.iterations)
            now = {
                "errors": drawn.errors.reshape(shape).astype(float),
                "warnings": drawn.warnings.reshape(shape).astype(float),
                "clean": drawn.clean.reshape(shape).astype(float),
            }
            if self._sums:
                now = {k: v + self._sums[-1][k] for k, v in now.items()}
            self._sums.append(now)
        return self._sums[samples - 1]


def side(label: str, sums: dict[str, np.ndarray], r: int, samples: int, design: Design) -> Any:
    """Replicate r of one group as a `make compare` side (ProblemData of summed chains)."""
    from analysis.compare import Side
    from analysis.measures import ProblemData

    ids = np.array([s.id for s in design.problems])
    iterations = np.arange(1, design.iterations + 1)
    den = np.full((len(ids), design.iterations), float(samples))
    data = ProblemData(
        (label,),
        ids,
        iterations,
        num={name: values[r] for name, values in sums.items()},
        den={name: den for name in sums},
    )
    return Side(label, data=data, simulated=True)


def detected(comparison: Any, effect: Effect, direction: float) -> bool:
    """Whether `make compare`'s output shows the effect (see the module docstring)."""
    if effect.target == "clean":
        rows = comparison.per_iteration
        row = rows[(rows["measure"] == "clean fraction") & (rows["iteration"] == effect.iteration)]
        favours = str(row["favours"].iloc[0])
        if direction > 0:
            return favours == "candidate"
        if direction < 0:
            return favours == "baseline"
        return favours != "–"
    fits = comparison.fits
    row = fits[(fits["measure"] == "errors per template") & (fits["param"] == effect.target)]
    low, high = float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    if direction > 0:
        return low > 0
    if direction < 0:
        return high < 0
    return low > 0 or high < 0


@dataclass
class PowerResult:
    profile: str
    candidate: str
    effect: Effect
    design: Design
    calibration: Calibration
    table: pd.DataFrame  # samples, replicates, detected, power, ci_low, ci_high
    wanted: float
    level: float
    smallest: int | None  # smallest samples per problem with power >= wanted (None: not reached)
    settings: dict[str, Any] = field(default_factory=dict)

    def power_at(self, samples: int) -> float:
        row = self.table[self.table["samples"] == samples]
        return float(row["power"].iloc[0]) if len(row) else float("nan")


def wilson(count: int, n: int, level: float = 0.95) -> tuple[float, float]:
    ci = stats.binomtest(count, n).proportion_ci(level, method="wilson")
    return float(ci.low), float(ci.high)


def analyse(
    profile: str,
    design: Design,
    effect: Effect,
    *,
    candidate: str | None = None,
    lever: str | None = None,
    replicates: int = 100,
    sizes: Sequence[int] = DEFAULT_SIZES,
    wanted: float = 0.8,
    level: float = 0.95,
    n_boot: int = 1000,
    fit_boot: int = 200,
    seed: int = 0,
    progress: bool = False,
) -> PowerResult:
    """Power of `make compare` for `effect` (or the difference to profile `candidate`) at
    each evaluated number of samples per problem, and the smallest one reaching `wanted`."""
    from analysis.compare import compare

    if replicates < 2:
        raise PowerError("--replicates must be at least 2")
    if not 0 < wanted < 1:
        raise PowerError("--power must be within (0, 1)")
    base_profile = load_profile(profile)
    process = ChainProcess.from_profile(base_profile)
    if candidate is not None:
        other = load_profile(candidate)
        cand_process = ChainProcess.from_profile(other)
        base_value = population_value(process.bind(design.problems), design, effect, seed)
        cand_value = population_value(cand_process.bind(design.problems), design, effect, seed)
        calibration = Calibration("profile", 0.0, base_value, cand_value, cand_value)
        candidate_name = other.name
    else:
        lever = lever or effect.default_lever()
        if lever not in LEVERS:
            raise PowerError(f"--lever {lever!r}: one of {', '.join(LEVERS)}")
        cand_process, calibration = calibrate_effect(process, design, effect, lever, seed)
        candidate_name = f"{base_profile.name} with {effect.label} ({lever} lever)"
    direction = float(np.sign(calibration.candidate_value - calibration.baseline_value))
    if candidate is None and calibration.goal == calibration.baseline_value:
        direction = 0.0  # the zero effect: any detection is a false positive
    groups = (
        GroupDraws(process.bind(design.problems), design, replicates, seed, 0),
        GroupDraws(cand_process.bind(design.problems), design, replicates, seed, 1),
    )
    measures = ("clean",) if effect.target == "clean" else ("errors",)
    boots = 1 if effect.target == "clean" else fit_boot

    results: dict[int, int] = {}

    def evaluate(n: int, bar: tqdm) -> float:
        if n not in results:
            sums = [g.sums(n) for g in groups]
            hits = 0
            for r in range(replicates):
                result = compare(
                    side("baseline", sums[0], r, n, design),
                    side("candidate", sums[1], r, n, design),
                    n_boot=n_boot,
                    seed=int(np.random.SeedSequence([seed, n, r]).generate_state(1)[0]),
                    level=level,
                    fit_boot=boots,
                    measures=measures,
                )
                hits += detected(result, effect, direction)
                bar.update(1)
            results[n] = hits
        return results[n] / replicates

    grid = sorted({*sizes, design.samples})
    if min(grid) < 1:
        raise PowerError("--sizes must be positive")
    with tqdm(total=replicates * len(grid), desc="power", unit="rep", disable=not progress) as bar:

        def power(n: int) -> float:
            if n not in results and n not in grid:  # a bisection step: one more size
                bar.total += replicates
                bar.refresh()
            return evaluate(n, bar)

        def skipped(sizes: int) -> None:
            bar.total -= replicates * sizes
            bar.refresh()

        smallest = _search(grid, wanted, power, design.samples, skipped)
    rows = []
    for n in sorted(results):
        low, high = wilson(results[n], replicates, 0.95)
        rows.append(
            {
                "samples": n,
                "chains_per_group": n * len(design.problems),
                "replicates": replicates,
                "detected": results[n],
                "power": results[n] / replicates,
                "ci_low": low,
                "ci_high": high,
                "design": n == design.samples,
            }
        )
    return PowerResult(
        base_profile.name,
        candidate_name,
        effect,
        design,
        calibration,
        pd.DataFrame(rows),
        wanted,
        level,
        smallest,
        {"replicates": replicates, "n_boot": n_boot, "fit_boot": boots, "seed": seed},
    )


def _search(
    grid: Sequence[int],
    wanted: float,
    power: Callable[[int], float],
    must: int,
    skipped: Callable[[int], None],
) -> int | None:
    """The smallest n with power(n) >= wanted: the grid in ascending order (stopping at a size
    that reaches 0.95 once `must`, the design's own size, is done), then bisection between the
    last size below `wanted` and the first at or above it."""
    below, above = 0, None
    for i, n in enumerate(grid):
        value = power(n)
        if value >= wanted and above is None:
            above = n
        if above is None:
            below = n
        if value >= 0.95 and n >= must:
            skipped(len(grid) - i - 1)
            break
    if above is None:
        return None
    while above - below > 1:
        middle = (above + below) // 2
        if power(middle) >= wanted:
            above = middle
        else:
            below = middle
    return above


# ---- output ------------------------------------------------------------------------------------


def _measured(effect: Effect) -> str:
    if effect.target == "clean":
        return f"the clean fraction at iteration {effect.iteration}"
    return f"the fitted {effect.target} of errors per template"


def summary_lines(result: PowerResult) -> list[str]:
    """The design, the effect as calibrated, what detection means, and the answer."""
    e, d, c, s = result.effect, result.design, result.calibration, result.settings
    target = f"clean@{e.iteration}" if e.target == "clean" else e.target
    lever = f"; lever {c.lever}, theta = {c.theta:.4g}" if c.lever != "profile" else ""
    smallest = str(result.smallest) if result.smallest else "not reached on the sizes tried"
    return [
        f"baseline: simulated/{result.profile}; candidate: {result.candidate}",
        f"design: {len(d.problems)} problems, {d.samples} samples per problem, {d.iterations} "
        f"iterations, clean rule {d.clean_when}; both groups on the same problems (make "
        "compare's bootstrap paired by problem)",
        f"population {target}: baseline {c.baseline_value:.4g}, candidate "
        f"{c.candidate_value:.4g} (wanted {c.goal:.4g}){lever}",
        f"detected: make compare's {result.level:.0%} CI of {_measured(e)} (candidate − "
        f"baseline) excludes zero on the effect's side; {s['replicates']} replicates per size, "
        f"{s['n_boot']} bootstrap resamples, {s['fit_boot']} refits",
        f"smallest samples per problem reaching {result.wanted:.0%} power: {smallest}",
    ]


def figure(result: PowerResult) -> Any:
    """Power against samples per problem, Wilson intervals, the wanted power and the answer."""
    import matplotlib.pyplot as plt

    t = result.table
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    ax.errorbar(
        t["samples"],
        t["power"],
        yerr=np.vstack([t["power"] - t["ci_low"], t["ci_high"] - t["power"]]).clip(min=0),
        fmt="o-",
        capsize=3,
        label=result.effect.label,
    )
    ax.axhline(result.wanted, linestyle="--", color="grey", lw=1, label=f"{result.wanted:.0%}")
    if result.smallest:
        ax.axvline(
            result.smallest,
            linestyle=":",
            color="black",
            lw=1,
            label=f"smallest: {result.smallest}",
        )
    ax.set_xscale("log")
    ax.set_xticks(t["samples"].tolist(), [str(n) for n in t["samples"]])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("samples per problem")
    ax.set_ylabel(f"power (make compare, {result.level:.0%} CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write(result: PowerResult, out_dir: str | Path) -> tuple[Path, Path]:
    """power.md / power.html, power.csv and figures/power.png|svg (all labelled simulated)."""
    from analysis.render import Page, write_csv

    out = Path(out_dir)
    page = Page(f"Power: {result.effect.label} on {result.profile}", out, simulated=True)
    page.bullets(summary_lines(result))
    page.table(result.table, caption="Power by samples per problem (Wilson 95 % CI)")
    page.figure(
        figure(result),
        "power",
        f"Power by samples per problem on {len(result.design.problems)} problems (Wilson 95 % "
        "CIs over replicates; dashed: the power wanted)",
    )
    page.text(
        "Chains are drawn from the profile's rates by a chain-level model of the simulator "
        "(benchmark/models/simulator/chains.py: counts of findings per rule, no template, no "
        "cfn-lint). Its problems differ only by difficulty and by the rules the simulator can "
        "raise on them; real models' problems differ more, so real power may be lower.",
        note=True,
    )
    write_csv(result.table, out / "power.csv", True, "simulated")
    return page.write("power")
