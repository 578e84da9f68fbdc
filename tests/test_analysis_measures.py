"""Per-iteration measures and the bootstrap over problems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.load import fill_chains, load_run, went_on_after_clean
from analysis.measures import per_iteration, wide_table
from tests.synthetic_runs import attempt_row, write_job


def _value(long, measure: str, stat: str, iteration: int) -> tuple[float, float, float]:
    row = long[
        (long["measure"] == measure) & (long["stat"] == stat) & (long["iteration"] == iteration)
    ].iloc[0]
    return row["value"], row["ci_low"], row["ci_high"]


def test_sums_means_and_clean_fraction(tmp_path: Path) -> None:
    rows = [
        attempt_row("a", 0, 1, errors=4, warnings=2, intent_passed=1, intent_total=2),
        attempt_row("a", 0, 2, intent_passed=2, intent_total=2),
        attempt_row("b", 0, 1, errors=2, intent_passed=0, intent_total=2),
        attempt_row(
            "b", 0, 2, errors=1, stop_reason="max_iterations", intent_passed=2, intent_total=2
        ),
    ]
    write_job(tmp_path / "0", [{**r, "max_iterations": 2} for r in rows])
    long = per_iteration(fill_chains(load_run(tmp_path).attempts), n_boot=200)
    assert _value(long, "errors", "sum", 1)[0] == 6
    assert _value(long, "errors", "mean", 1)[0] == 3
    assert _value(long, "warnings", "mean", 1)[0] == 1
    assert _value(long, "findings", "sum", 1)[0] == 8
    assert _value(long, "errors", "sum", 2)[0] == 1
    assert _value(long, "clean", "mean", 1)[0] == 0
    assert _value(long, "clean", "mean", 2)[0] == 0.5
    assert _value(long, "clean", "sum", 2)[0] == 1
    assert _value(long, "intent", "mean", 1)[0] == pytest.approx(0.25)
    assert _value(long, "intent", "mean", 2)[0] == pytest.approx(1.0)
    value, low, high = _value(long, "errors", "mean", 1)
    assert low <= value <= high
    table = wide_table(long)
    assert list(table["iteration"]) == [1, 2]
    assert table.loc[0, "errors mean"].startswith("3.00 [")


def test_bootstrap_resamples_problems_not_attempts(tmp_path: Path) -> None:
    """Every problem has samples with 0 and 10 errors: all problem means are 5, so a bootstrap
    over problems has no spread, while one over attempts would."""
    rows = []
    for p in range(8):
        rows.append(
            attempt_row(
                f"p{p}", 0, 1, errors=0, warnings=1, stop_reason="max_iterations", max_iterations=1
            )
        )
        rows.append(
            attempt_row(f"p{p}", 1, 1, errors=10, stop_reason="max_iterations", max_iterations=1)
        )
    write_job(tmp_path / "0", rows)
    long = per_iteration(fill_chains(load_run(tmp_path).attempts), n_boot=500)
    value, low, high = _value(long, "errors", "mean", 1)
    assert (value, low, high) == (5.0, 5.0, 5.0)


def test_ci_shrinks_with_more_problems(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    widths = []
    for n in (10, 160):
        rows = [
            attempt_row(
                f"p{p}",
                0,
                1,
                errors=int(rng.poisson(3)) + 1,
                stop_reason="max_iterations",
                max_iterations=1,
                sweep_id=f"s{n}",
            )
            for p in range(n)
        ]
        write_job(tmp_path / str(n) / "0", rows)
        long = per_iteration(fill_chains(load_run(tmp_path / str(n)).attempts), n_boot=400)
        _, low, high = _value(long, "errors", "mean", 1)
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_clean_fraction_is_the_state_at_iteration_n(tmp_path: Path) -> None:
    """A recorded chain that went on after a clean template (the paper's loop) counts as clean
    only where its template is; a chain that stops clean stays clean (clean at n = by n)."""
    went_on = [
        attempt_row("a", 0, 1, errors=2, origin="recorded"),
        attempt_row("a", 0, 2, stop_reason=None, origin="recorded"),  # clean, chain goes on
        attempt_row("a", 0, 3, errors=1, stop_reason="max_iterations", origin="recorded"),
    ]
    stopped = [attempt_row("b", 0, 1, errors=1), attempt_row("b", 0, 2)]  # clean: stops
    write_job(tmp_path / "0", [{**r, "max_iterations": 3} for r in [*went_on, *stopped]])
    attempts = load_run(tmp_path).attempts
    assert went_on_after_clean(attempts) == 1  # chain a, not b
    chains = fill_chains(attempts)
    long = per_iteration(chains, n_boot=50)
    assert [_value(long, "clean", "sum", t)[0] for t in (1, 2, 3)] == [0, 2, 1]
    assert _value(long, "clean", "mean", 3)[0] == 0.5
    by = chains.set_index(["problem_id", "iteration"])
    assert by.loc[("a", 3), "clean_by"] and not by.loc[("a", 3), "clean"]
    assert by.loc[("b", 3), "clean"] and by.loc[("b", 3), "fill"] == "after_clean"
