"""Power analysis: how likely `make compare` is to detect an effect, and how many samples it needs.

    python -m studies power PROFILE --effect k=+25% [--samples 5] ...

A design is a set of problems (a dataset's, with their difficulties and the simulator's sites
on them), samples per problem, an iteration limit, a clean rule and the feedback's levels. The
groups compared are a baseline, the profile, and a candidate on the same problems (so `make
compare`'s bootstrap is paired, as when two models ran on one dataset): the profile with an
effect (effects.py), or another profile.

Each replicate experiment draws both groups' chains with the chain model (chains.py; seeded per
group and sample, so a design with more samples holds the smaller designs' chains) and runs
`analysis.compare.compare` on them, the code behind `make compare`, at its CI level. Detected
means what its report shows: for k or C, the CI of the candidate − baseline difference in the
fitted parameter (errors per template, problem-bootstrap refits) excludes zero on the effect's
side; for clean@n, the per-iteration row at n favours the candidate (or, for a negative effect,
the baseline). For a zero effect any exclusion counts: the false-positive rate. Power at a
number of samples per problem is the detected share over the replicates, with a Wilson 95 %
interval; the smallest number reaching the wanted power is searched on a grid of sizes, then
by bisection between the last size below it and the first at or above it (to within 20 %).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from analysis.compare import compare
from analysis.compare_sides import Side
from analysis.measures import ProblemData
from benchmark.progress import progress_bar
from benchmark.simulator.chains import BoundProcess, ChainProcess
from benchmark.simulator.profile import load_profile
from studies.design import Design, PowerError
from studies.effects import (
    Calibration,
    Effect,
    calibrate_effect,
    population_value,
)

DEFAULT_SIZES = (1, 2, 3, 5, 8, 13, 20, 30, 50)
PRIOR_STREAM = 7  # the seed stream of the per-replicate prior draws (GroupDraws)
ENOUGH = 0.95  # past the design's size, a grid size with this power ends the grid
RESOLUTION = 0.2  # bisection stops when the sizes below and above are this close (relative)


# ---- replicates --------------------------------------------------------------------------------


class GroupDraws:
    """One group's replicate chains, drawn sample by sample (each sample its own seeded
    stream), so the first n samples are the same whatever the largest design is. Only the
    sums at the sizes asked for are kept; a size between two of them adds the missing samples
    to the sums below it."""

    MEASURES = ("errors", "warnings", "clean")

    def __init__(
        self, bound: BoundProcess, design: Design, replicates: int, seed: int, group: int
    ) -> None:
        self.bound, self.design, self.replicates = bound, design, replicates
        self.seed, self.group = seed, group
        # one draw per replicate of the rates the source could not teach (rules it never
        # named, from the profile's prior), the same for both groups: power carries that
        # uncertainty instead of assuming the prior's mean
        self.prior_u = np.random.default_rng([seed, PRIOR_STREAM]).random(replicates)
        self._sums: dict[int, dict[str, np.ndarray]] = {}  # samples -> sums over them

    def sample(self, j: int) -> dict[str, np.ndarray]:
        """Sample j of every problem in every replicate: replicate × problem × iteration."""
        d, p = self.design, len(self.design.problems)
        drawn = self.bound.simulate(
            np.tile(np.arange(p), self.replicates),
            d.iterations,
            np.random.default_rng([self.seed, self.group, j]),
            d.clean_when,
            d.named_levels,
            np.repeat(self.prior_u, p),
        )
        shape = (self.replicates, p, d.iterations)
        return {m: getattr(drawn, m).reshape(shape).astype(np.int32) for m in self.MEASURES}

    def sums(self, samples: int) -> dict[str, np.ndarray]:
        """Per replicate × problem × iteration sums of errors, warnings and clean chains."""
        if samples not in self._sums:
            start = max((n for n in self._sums if n < samples), default=0)
            sums = {m: v.copy() for m, v in self._sums[start].items()} if start else {}
            for j in range(start, samples):
                for m, v in self.sample(j).items():
                    sums[m] = sums[m] + v if m in sums else v
            self._sums[samples] = sums
        return self._sums[samples]


def side(label: str, sums: dict[str, np.ndarray], r: int, samples: int, design: Design) -> Any:
    """Replicate r of one group as a `make compare` side (its problems' sums over samples)."""

    chains = np.full((len(design.problems), design.iterations), float(samples))
    data = ProblemData(
        (label,),
        np.array([s.id for s in design.problems]),
        np.arange(1, design.iterations + 1),
        num={name: values[r].astype(float) for name, values in sums.items()},
        den={name: chains for name in sums},
    )
    return Side(label, data=data, simulated=True)


def detected(comparison: Any, effect: Effect, direction: float) -> bool:
    """Whether `make compare`'s output shows the effect (see the module docstring)."""
    if effect.target == "clean":
        rows = comparison.per_iteration
        row = rows[(rows["measure"] == "clean fraction") & (rows["iteration"] == effect.iteration)]
        favours = str(row["favours"].iloc[0])
        wanted = {1.0: {"candidate"}, -1.0: {"baseline"}, 0.0: {"candidate", "baseline"}}
        return favours in wanted[direction]
    fits = comparison.fits
    row = fits[(fits["measure"] == "errors per template") & (fits["param"] == effect.target)]
    low, high = float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])
    if direction > 0:
        return low > 0
    if direction < 0:
        return high < 0
    return low > 0 or high < 0  # NaN bounds (no fit) compare False: not detected


def wilson(count: int, n: int, level: float = 0.95) -> tuple[float, float]:
    ci = stats.binomtest(count, n).proportion_ci(level, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Settings:
    """How many replicate experiments, and how hard `make compare` looks at each: n_boot
    bootstrap resamples, fit_boot of them refitted for k and C. Its command line uses 2000
    and 1000; 1000 and 200 detect the same within a replicate's noise at a fifth of the time
    (53 against 56 of 100 replicates, k +20 % on the default at 30 samples per problem)."""

    replicates: int = 100
    n_boot: int = 1000
    fit_boot: int = 200
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.replicates < 2:
            raise PowerError("--replicates must be at least 2")
        if self.n_boot < 10 or self.fit_boot < 1:
            raise PowerError("--n-boot must be at least 10 and --fit-boot at least 1")
        if not 0 < self.level < 1:
            raise PowerError("--level must be within (0, 1)")


class Replicates:
    """The detected count at each number of samples per problem, computed once per size."""

    def __init__(
        self,
        groups: tuple[GroupDraws, GroupDraws],
        design: Design,
        effect: Effect,
        direction: float,
        settings: Settings,
        bar: tqdm,
    ) -> None:
        self.groups, self.design, self.effect = groups, design, effect
        self.direction, self.settings, self.bar = direction, settings, bar
        self.detected: dict[int, int] = {}

    def power(self, n: int) -> float:

        s = self.settings
        if n not in self.detected:
            clean = self.effect.target == "clean"
            baseline, candidate = (g.sums(n) for g in self.groups)
            hits = 0
            for r in range(s.replicates):
                result = compare(
                    side("baseline", baseline, r, n, self.design),
                    side("candidate", candidate, r, n, self.design),
                    n_boot=s.n_boot,
                    seed=int(np.random.SeedSequence([s.seed, n, r]).generate_state(1)[0]),
                    level=s.level,
                    fit_boot=1 if clean else s.fit_boot,
                    measures=("clean",) if clean else ("errors",),
                )
                hits += detected(result, self.effect, self.direction)
                self.bar.update(1)
            self.detected[n] = hits
            if not self.bar.disable:  # a line per size, readable in a log too
                low, high = wilson(hits, s.replicates)
                self.bar.write(
                    f"{n} samples per problem: power {hits / s.replicates:.2f} "
                    f"[{low:.2f}, {high:.2f}]",
                    file=self.bar.fp,
                )
        return self.detected[n] / s.replicates

    def table(self, design_samples: int) -> pd.DataFrame:
        rows = []
        for n, hits in sorted(self.detected.items()):
            low, high = wilson(hits, self.settings.replicates)
            rows.append(
                {
                    "samples": n,
                    "chains_per_group": n * len(self.design.problems),
                    "replicates": self.settings.replicates,
                    "detected": hits,
                    "power": hits / self.settings.replicates,
                    "ci_low": low,
                    "ci_high": high,
                    "design": n == design_samples,
                }
            )
        return pd.DataFrame(rows)


@dataclass
class PowerResult:
    profile: str
    candidate: str
    effect: Effect
    design: Design
    calibration: Calibration
    table: pd.DataFrame  # samples, chains_per_group, replicates, detected, power, ci_*, design
    wanted: float
    smallest: int | None  # smallest samples per problem with power >= wanted (None: not reached)
    settings: Settings = field(default_factory=Settings)

    def power_at(self, samples: int) -> float:
        row = self.table[self.table["samples"] == samples]
        return float(row["power"].iloc[0]) if len(row) else float("nan")


def analyse(
    profile: str,
    design: Design,
    effect: Effect,
    *,
    candidate: str | None = None,
    lever: str | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    wanted: float = 0.8,
    settings: Settings | None = None,
    progress: bool = False,
    as_source: bool = False,
) -> PowerResult:
    """Power of `make compare` for `effect` (or for the difference to profile `candidate`,
    measured in the effect's target) at each evaluated number of samples per problem, and
    the smallest one reaching `wanted`. `as_source`: rules a calibrated profile's source never
    named stay as unfixed as they were there (its source's world, not the prior's)."""
    s = settings or Settings()
    if not 0 < wanted < 1:
        raise PowerError("--power must be within (0, 1)")
    if not sizes or min(sizes) < 1:
        raise PowerError("--sizes must be positive numbers of samples per problem")
    effect.check(design.iterations)
    base_profile = load_profile(profile)
    options = {"named_as_source": True} if as_source else {}
    process = ChainProcess.from_profile(base_profile, options)
    if candidate is not None:
        other = load_profile(candidate)
        cand_process = ChainProcess.from_profile(other, options)
        values = [
            population_value(p.bind(design.problems), design, effect, s.seed)
            for p in (process, cand_process)
        ]
        calibration = Calibration("profile", 0.0, values[0], values[1], values[1])
        candidate_name = f"simulated/{other.name}"
    else:
        lever = lever or effect.default_lever()
        cand_process, calibration = calibrate_effect(process, design, effect, lever, s.seed)
        candidate_name = f"simulated/{base_profile.name} with {effect.label} ({lever} lever)"
    direction = float(np.sign(calibration.goal - calibration.baseline_value))  # 0: no effect
    groups = (
        GroupDraws(process.bind(design.problems), design, s.replicates, s.seed, 0),
        GroupDraws(cand_process.bind(design.problems), design, s.replicates, s.seed, 1),
    )
    grid = sorted({*sizes, design.samples})
    with progress_bar(
        total=s.replicates * len(grid), desc="power", unit="replicate", disable=not progress
    ) as bar:
        reps = Replicates(groups, design, effect, direction, s, bar)

        def resize(sizes: int) -> None:  # a bisection step (+1) or grid sizes skipped (-n)
            bar.total += s.replicates * sizes
            bar.refresh()

        smallest = search(grid, wanted, reps.power, design.samples, resize)
    return PowerResult(
        f"simulated/{base_profile.name}",
        candidate_name,
        effect,
        design,
        calibration,
        reps.table(design.samples),
        wanted,
        smallest,
        s,
    )


def search(
    grid: Sequence[int],
    wanted: float,
    power: Callable[[int], float],
    must: int,
    resize: Callable[[int], None] = lambda sizes: None,
) -> int | None:
    """The smallest n with power(n) >= wanted: the grid in ascending order (ending early at a
    size with power >= ENOUGH once `must`, the design's own size, is done), then bisection
    between the last size below `wanted` and the first at or above it, to within RESOLUTION
    (finer would be false precision: a power estimated from 100 replicates is ± 0.08).
    `resize` hears of sizes added (+1) and grid sizes skipped (-n)."""
    below, above = 0, None
    for i, n in enumerate(grid):
        value = power(n)
        if value >= wanted and above is None:
            above = n
        if above is None:
            below = n
        if value >= ENOUGH and n >= must:
            resize(-(len(grid) - i - 1))
            break
    if above is None:
        return None
    while above - below > max(1, int(RESOLUTION * above)):
        middle = (above + below) // 2
        resize(1)
        if power(middle) >= wanted:
            above = middle
        else:
            below = middle
    return above
