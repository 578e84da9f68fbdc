"""Effects for power analysis: a change in a population's k, C or clean fraction at iteration n,
and the candidate chain process that shows it.

An effect is written `k=+0.3`, `k=+25%`, `C=-0.05` or `clean@5=+0.10` (candidate − baseline; a
% is of the baseline's value). k and C are those of the decay y = A·e^(−k(t−1)) + C fitted to
errors per template, the fit `make compare` makes; clean@n is the clean fraction at iteration
n. The candidate is the baseline's chain process (chains.py) with one lever moved until a large
simulated population (POPULATION_CHAINS on the design's problems) shows the effect:

* `fix` (default for k): ordinary named fixes as if made theta times as often;
* `fix-all` (default for clean@n, n > 1): every named fix, persistent findings' too;
* `persistent` (default for C): a share of findings made persistent (or of persistent ones
  ordinary);
* `generation` (default for clean@1): the odds of a clean generation times e^theta.

The lever steps outward from the baseline, doubling its step, to the first position past the
goal (the nearest solution: a fitted k need not be monotone far out), on the side whose first
step comes nearer the goal, else on the other; scipy's brentq solves between the last two
positions. Every position draws the population
from the same seed, so the value is a deterministic function of the lever.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from analysis.fit import fit_decay
from benchmark.simulator.chains import BoundProcess, ChainProcess
from studies.design import Design, PowerError

POPULATION_CHAINS = 20_000  # chains behind a population value
POPULATION_STREAM = 99  # the population's random stream, apart from the replicates'
_EFFECT = re.compile(
    r"^\s*(?P<target>k|C|clean@(?P<n>\d+))\s*=\s*(?P<value>[+-]?(\d+(\.\d*)?|\.\d+))"
    r"\s*(?P<pct>%)?\s*$"
)

# lever -> (the process at position x, the farthest |x|); fix levers' x is log theta
LEVERS: dict[str, tuple[Callable[[ChainProcess, float], ChainProcess], float]] = {
    "fix": (lambda p, x: p.faster_fixes(math.exp(x)), math.log(50.0)),
    "fix-all": (lambda p, x: p.faster_all_fixes(math.exp(x)), math.log(50.0)),
    "persistent": (ChainProcess.more_persistent, 1.0),
    "generation": (ChainProcess.cleaner_generation, 10.0),
}
STEPS = 7  # positions per side: reach/64, reach/32, ..., reach
XTOL = 0.01  # the lever's position is solved to this (fix levers: theta to 1 %)


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
            raise PowerError(f"effect {text!r}: expected k=+0.3, k=+25%, C=-0.05 or clean@5=+0.1")
        value = float(match["value"])
        if match["n"] is not None:
            if match["pct"] is not None:
                raise PowerError(f"effect {text!r}: a clean fraction changes in points, not %")
            return cls("clean", value, iteration=int(match["n"]))
        relative = match["pct"] is not None
        return cls(match["target"], value / 100 if relative else value, relative)

    @classmethod
    def target_only(cls, text: str) -> Effect:
        """The target of a two-profile comparison, with no size: `k`, `C` or `clean@n`."""
        if "=" in text:
            raise PowerError(f"target {text!r}: expected k, C or clean@n, without a size")
        return cls.parse(f"{text}=0")

    @property
    def name(self) -> str:
        return f"clean@{self.iteration}" if self.target == "clean" else self.target

    @property
    def label(self) -> str:
        size = f"{self.change:+.0%}" if self.relative else f"{self.change:+g}"
        return f"{self.name} {size}"

    @property
    def measured(self) -> str:
        """What `make compare` reports the effect in."""
        if self.target == "clean":
            return f"the clean fraction at iteration {self.iteration}"
        return f"the fitted {self.target} of errors per template"

    def goal(self, baseline: float) -> float:
        return baseline * (1 + self.change) if self.relative else baseline + self.change

    def default_lever(self) -> str:
        if self.target == "C":
            return "persistent"
        if self.target == "clean":
            return "generation" if self.iteration == 1 else "fix-all"
        return "fix"

    def check(self, iterations: int) -> None:
        """A one-line PowerError unless a design of `iterations` can show this effect."""
        if self.target == "clean" and not 1 <= (self.iteration or 0) <= iterations:
            raise PowerError(f"{self.name}: iteration outside the design's 1..{iterations}")
        if self.target != "clean" and iterations < 4:
            raise PowerError(f"{self.name}: fitting A, k and C needs at least 4 iterations")


@dataclass(frozen=True)
class Calibration:
    """How the candidate came to be: the lever's position and the population values."""

    lever: str  # a LEVERS key, or "profile" for a candidate profile
    position: float  # the lever's x (fix levers: log theta)
    baseline_value: float
    goal: float
    candidate_value: float  # the population value of the candidate

    @property
    def theta(self) -> float:
        return math.exp(self.position) if self.lever in ("fix", "fix-all") else self.position


def population_value(bound: BoundProcess, design: Design, effect: Effect, seed: int) -> float:
    """The target's value on a large simulated population (what a design estimates)."""

    per_problem = math.ceil(POPULATION_CHAINS / len(design.problems))
    drawn = bound.simulate(
        np.repeat(np.arange(len(design.problems)), per_problem),
        design.iterations,
        np.random.default_rng([seed, POPULATION_STREAM]),
        design.clean_when,
        design.named_levels,
    )
    if effect.target == "clean":
        assert effect.iteration is not None
        return float(drawn.clean[:, effect.iteration - 1].mean())
    fit = fit_decay(np.arange(1.0, design.iterations + 1), drawn.errors.mean(axis=0))
    if fit is None:
        return float("nan")
    return float(fit.params[1 if effect.target == "k" else 2])


def calibrate_effect(
    process: ChainProcess, design: Design, effect: Effect, lever: str, seed: int
) -> tuple[ChainProcess, Calibration]:
    """The candidate: `process` with `lever` moved until its population shows `effect`."""
    if lever not in LEVERS:
        raise PowerError(f"lever {lever!r}: one of {', '.join(LEVERS)}")
    effect.check(design.iterations)
    move, reach = LEVERS[lever]

    def value(x: float) -> float:
        return population_value(move(process, x).bind(design.problems), design, effect, seed)

    base = value(0.0)
    if not math.isfinite(base):
        raise PowerError(f"the profile's population {effect.name} cannot be fitted")
    goal = effect.goal(base)
    if goal == base:
        return process, Calibration(lever, 0.0, base, goal, base)
    steps = reach * 2.0 ** np.arange(1 - STEPS, 1)
    first = {sign: value(sign * steps[0]) for sign in (1.0, -1.0)}

    def gap(sign: float) -> float:
        return abs(first[sign] - goal) if math.isfinite(first[sign]) else math.inf

    seen = [base]
    for sign in sorted(first, key=gap):  # the side whose first step comes nearer, first
        x0, v0 = 0.0, base
        for i, step in enumerate(steps):
            x = sign * step
            v = first[sign] if i == 0 else value(x)
            if not math.isfinite(v):
                continue
            seen.append(v)
            if (v0 - goal) * (v - goal) <= 0:
                low, high = sorted((x0, x))
                root = optimize.brentq(lambda x: value(x) - goal, low, high, xtol=XTOL)
                return move(process, root), Calibration(lever, root, base, goal, value(root))
            x0, v0 = x, v
    raise PowerError(
        f"effect {effect.label} is beyond lever {lever!r} on this profile: its population "
        f"{effect.name} goes from {min(seen):.3g} to {max(seen):.3g} (baseline {base:.3g}); "
        "try a smaller effect or another --lever"
    )
