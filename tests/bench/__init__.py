"""`python -m tests.bench`: the benchmark suite (a report, not timed tests).

One module per benchmark (`lint`, `sweep`, `resume`, `memory`, `cost`, `ratelimits`,
`batch_resume`, `lint_cache`, `cdk`), each with `run(ctx) -> Section`.
Every figure with a target is a ratio of two things measured side by side in the same run,
because the machines this runs on are noisy.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Row:
    """One line of the table. `passed` is None for a figure without a target."""

    name: str
    value: float
    measured: str
    target: str = "—"
    passed: bool | None = None


@dataclass
class Section:
    """What one benchmark reports: its table rows and every raw number behind them."""

    name: str
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """Shared by the benchmarks of one run. `work` is a scratch folder, removed at the end;
    `cleanup` is closed at the end too (servers kept alive from one benchmark to the next)."""

    quick: bool
    work: Path
    verbose: bool = True  # let the jobs' progress bars and warnings through (stderr)
    shared: dict[str, Any] = field(default_factory=dict)
    cleanup: ExitStack = field(default_factory=ExitStack)

    @property
    def job_overrides(self) -> list[str]:
        """Added to every `benchmark.run` job: at the --quick size (the smoke test, where nothing
        is judged) one lint worker per job to start instead of the default two."""
        return ["lint.workers=1"] if self.quick else []


def _text(value: float, unit: str, digits: int) -> str:
    return f"{value:.{digits}f}{'' if unit in ('×', '%') else ' '}{unit}".rstrip()


def at_least(name: str, value: float, target: float, unit: str = "×", digits: int = 2) -> Row:
    goal = f"≥ {_text(target, unit, 0) if target == int(target) else _text(target, unit, 2)}"
    return Row(name, value, _text(value, unit, digits), goal, value >= target)


def at_most(name: str, value: float, target: float, unit: str = "×", digits: int = 2) -> Row:
    goal = f"≤ {_text(target, unit, 0) if target == int(target) else _text(target, unit, 2)}"
    return Row(name, value, _text(value, unit, digits), goal, value <= target)


def info(name: str, value: float, unit: str, digits: int = 2) -> Row:
    return Row(name, value, _text(value, unit, digits))
