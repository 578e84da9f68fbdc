"""What a power analysis would run: a design (problems, samples, iterations, clean rule) and
the one-line error of a design or effect that cannot be analysed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.config import PROJECT_ROOT
from benchmark.problems.dataset import load_dataset
from benchmark.simulator.chains import ProblemShape
from benchmark.simulator.chains import problem_shapes as shapes_of


class PowerError(ValueError):
    """A design or effect that cannot be analysed. The message is one line."""


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
            raise PowerError("a design needs at least 1 sample per problem and 2 iterations")
        if len(self.problems) < 2:
            raise PowerError("a design needs at least 2 problems (the bootstrap resamples them)")


def design_problems(dataset: str | Path, count: int | None = None) -> tuple[ProblemShape, ...]:
    """The problems of a dataset (a folder, or a name under datasets/) that the simulator can
    attempt; `count` takes the first n, cycling (as new problems of the same shapes) past the
    dataset's end."""
    folder = Path(dataset)
    if not folder.is_dir() and (PROJECT_ROOT / "datasets" / folder).is_dir():
        folder = PROJECT_ROOT / "datasets" / folder
    shapes = shapes_of(load_dataset(folder))
    if not shapes:
        raise PowerError(f"{dataset}: no problem with a reference template")
    if count is None:
        return tuple(shapes)
    if count < 1:
        raise PowerError("--problems must be at least 1")
    out = []
    for i in range(count):
        shape, lap = shapes[i % len(shapes)], i // len(shapes)
        if lap:
            shape = ProblemShape(f"{shape.id}#{lap + 1}", shape.difficulty, shape.sites)
        out.append(shape)
    return tuple(out)
