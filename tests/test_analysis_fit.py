"""The decay-then-plateau fit: recovery, derived quantities, AIC, and CI coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.fit import (
    bootstrap_params,
    decay,
    fit_decay,
    fit_model,
    plateau_iteration,
    summarize,
)
from analysis.measures import resample_weights
from analysis.paper import baseline_table

T = np.arange(1, 11, dtype=float)
TRUTH = np.array([2.0, 0.8, 0.3])
DRAWS = 200
BAND = (0.88, 0.99)  # 200 draws: binomial SD at 0.95 is 0.015; allow percentile undercoverage


def test_exact_curve_is_recovered() -> None:
    fit = fit_decay(T, decay(T, 150.0, 1.2, 30.0))
    assert fit is not None
    assert fit.params == pytest.approx([150.0, 1.2, 30.0], rel=1e-6)
    assert fit.r2 == pytest.approx(1.0)


def test_rising_curve_has_negative_a() -> None:
    fit = fit_decay(T, decay(T, -0.6, 0.7, 0.9))
    assert fit is not None and fit.params == pytest.approx([-0.6, 0.7, 0.9], rel=1e-6)


def test_half_life_and_plateau() -> None:
    row = summarize(T, decay(T, 10.0, math.log(2), 1.0) + np.linspace(0, 1e-3, 10))
    assert row["half_life"] == pytest.approx(1.0, rel=1e-2)
    # 95 % done when e^(−k(t−1)) ≤ 0.05: t ≥ 1 + ln20/ln2 = 5.32 → iteration 6
    assert row["plateau_iteration"] == 6
    assert plateau_iteration(math.log(20)) == 2
    assert plateau_iteration(-1.0) is None


def test_aic_prefers_decay_on_decay_data() -> None:
    rng = np.random.default_rng(3)
    y = decay(T, 150.0, 1.2, 30.0) + rng.normal(0, 2, T.size)
    row = summarize(T, y)
    assert row["best_by_aic"] == "decay+plateau"
    assert row["aic[decay+plateau]"] < row["aic[linear]"]
    assert row["aic[decay+plateau]"] < row["aic[exponential]"]
    line = fit_model("linear", T, 3.0 - 0.2 * T + rng.normal(0, 0.01, T.size))
    assert line is not None and line.params[1] == pytest.approx(-0.2, abs=0.01)


def test_flat_series_is_not_fitted() -> None:
    assert fit_decay(T, np.ones(10)) is None
    assert "note" in summarize(T, np.zeros(10))


def test_paper_baseline_fit() -> None:
    table = baseline_table()
    row = summarize(T, table["errors"].to_numpy(dtype=float))
    assert row["A"] == pytest.approx(144.6, abs=0.5)
    assert row["k"] == pytest.approx(1.386, abs=0.01)
    assert row["C"] == pytest.approx(31.7, abs=0.2)
    assert row["plateau_iteration"] == 4
    assert row["r2"] > 0.99
    assert row["best_by_aic"] == "decay+plateau"


def _coverage(lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    return ((lows <= TRUTH) & (highs >= TRUTH)).mean(axis=0)


def test_recovery_covariance_ci_covers_truth() -> None:
    """Validates curve_fit's covariance CI (t quantile, n−3 dof) on Gaussian noise."""
    rng = np.random.default_rng(0)
    ys = decay(T, *TRUTH) + rng.normal(0, 0.08, (DRAWS, T.size))
    lows, highs = [], []
    for y in ys:
        fit = fit_decay(T, y)
        assert fit is not None
        low, high = fit.cov_ci(0.95)
        lows.append(low)
        highs.append(high)
    coverage = _coverage(np.array(lows), np.array(highs))
    assert np.all((coverage >= BAND[0]) & (coverage <= BAND[1])), coverage


def test_recovery_problem_bootstrap_ci_covers_truth() -> None:
    """Validates the problem-bootstrap percentile CI (the one reports use) on count data:
    100 problems with gamma difficulty (mean 1) and Poisson counts of mean difficulty × curve,
    so the expected per-template mean is exactly the true curve; 100 refits per draw."""
    rng = np.random.default_rng(0)
    problems, n_boot = 100, 100
    counts = rng.poisson(rng.gamma(4.0, 0.25, (DRAWS, problems, 1)) * decay(T, *TRUTH))
    lows, highs = [], []
    for draw in counts:
        fit = fit_decay(T, draw.mean(axis=0))
        assert fit is not None
        weights = resample_weights(problems, n_boot, rng)
        boot = bootstrap_params(T, weights @ draw / problems, fit.params)
        good = boot[np.all(np.isfinite(boot), axis=1)]
        low, high = np.percentile(good, [2.5, 97.5], axis=0)
        lows.append(low)
        highs.append(high)
    coverage = _coverage(np.array(lows), np.array(highs))
    assert np.all((coverage >= BAND[0]) & (coverage <= BAND[1])), coverage
