"""The decay-then-plateau curve y(t) = A·e^(−k(t−1)) + C, fitted with scipy's `curve_fit`.

A is the part of iteration 1's value that the loop can remove, k the decay rate per
iteration, C the plateau. Derived: half-life ln2/k (iterations for half the removable part to
go) and the plateau iteration, the first whole iteration t with 1 − e^(−k(t−1)) ≥ 0.95, i.e.
t ≥ 1 + ln20/k. Rivals for AIC: a line a + b(t−1) and a plain exponential A·e^(−k(t−1)).
AIC = n·ln(RSS/n) + 2p (least squares, Gaussian errors); AICc adds 2p(p+1)/(n−p−1), which
matters with ten points.

CIs: a problem bootstrap (refit every resampled curve, percentile interval) where
problem-level data exist; otherwise curve_fit's covariance with a t quantile on n−3 degrees
of freedom (the only option for the paper's published means).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import OptimizeWarning, curve_fit

from benchmark.progress import progress_bar

LN20 = math.log(20.0)


def decay(t: np.ndarray, a: float, k: float, c: float) -> np.ndarray:
    return a * np.exp(-k * (t - 1.0)) + c


def _decay_jac(t: np.ndarray, a: float, k: float, c: float) -> np.ndarray:
    e = np.exp(-k * (t - 1.0))
    return np.column_stack([e, -a * (t - 1.0) * e, np.ones_like(t)])


def linear(t: np.ndarray, a: float, b: float) -> np.ndarray:
    return a + b * (t - 1.0)


def exponential(t: np.ndarray, a: float, k: float) -> np.ndarray:
    return a * np.exp(-k * (t - 1.0))


MODELS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...]]] = {
    "decay+plateau": (decay, ("A", "k", "C")),
    "linear": (linear, ("a", "b")),
    "exponential": (exponential, ("A", "k")),
}


@dataclass
class Fit:
    """One least-squares fit of one model to one series."""

    model: str
    params: np.ndarray
    cov: np.ndarray | None
    rss: float
    tss: float
    n: int

    @property
    def p(self) -> int:
        return len(self.params)

    @property
    def r2(self) -> float:
        return 1.0 - self.rss / self.tss if self.tss > 0 else float("nan")

    @property
    def aic(self) -> float:
        return self.n * math.log(max(self.rss, 1e-300) / self.n) + 2 * self.p

    @property
    def aicc(self) -> float:
        dof = self.n - self.p - 1
        return self.aic + (2 * self.p * (self.p + 1) / dof if dof > 0 else float("inf"))

    def predict(self, t: np.ndarray) -> np.ndarray:
        return MODELS[self.model][0](np.asarray(t, dtype=float), *self.params)

    def cov_ci(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """p ± t_(n−p) · SE from curve_fit's covariance (residual-variance scaled)."""
        if self.cov is None or self.n <= self.p:
            nan = np.full(self.p, np.nan)
            return nan, nan
        se = np.sqrt(np.clip(np.diag(self.cov), 0, None))
        q = stats.t.ppf(0.5 + level / 2.0, self.n - self.p)
        return self.params - q * se, self.params + q * se


def _decay_guess(t: np.ndarray, y: np.ndarray) -> list[float]:
    c = float(np.mean(y[-max(1, len(y) // 4) :]))
    a = float(y[0] - c)
    if a == 0:
        return [float(np.ptp(y)) or 1.0, 1.0, c]
    half = np.nonzero(np.abs(y - c) <= abs(a) / 2.0)[0]
    step = float(t[half[0]] - t[0]) if len(half) and half[0] > 0 else 1.0
    return [a, math.log(2.0) / max(step, 0.25), c]


def fit_model(
    model: str, t: np.ndarray, y: np.ndarray, p0: list[float] | np.ndarray | None = None
) -> Fit | None:
    """Least squares of one of MODELS on (t, y); None when the series cannot be fitted."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    func, names = MODELS[model]
    if len(y) < len(names) + 1 or np.ptp(y) == 0:
        return None
    if p0 is None:
        guess = _decay_guess(t, y)
        p0 = {"decay+plateau": guess, "linear": [y[0], (y[-1] - y[0]) / max(np.ptp(t), 1)]}.get(
            model, [y[0] or 1.0, guess[1]]
        )
    params = cov = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            jac = _decay_jac if model == "decay+plateau" else None
            params, cov = curve_fit(func, t, y, p0=p0, jac=jac, maxfev=4000)
        except (RuntimeError, ValueError):
            params = None
        if model == "decay+plateau" and (
            params is None or not np.all(np.isfinite(params)) or params[1] <= 0
        ):
            # a decay rate must be positive: retry inside bounds (k in (0, 50])
            try:
                start = [p0[0], min(max(p0[1], 1e-3), 49.0), p0[2]]
                params, cov = curve_fit(
                    func,
                    t,
                    y,
                    p0=start,
                    jac=_decay_jac,
                    bounds=([-np.inf, 1e-9, -np.inf], [np.inf, 50.0, np.inf]),
                    maxfev=4000,
                )
            except (RuntimeError, ValueError):
                return None
    if params is None or not np.all(np.isfinite(params)):
        return None
    resid = y - func(t, *params)
    cov = cov if cov is not None and np.all(np.isfinite(cov)) else None
    return Fit(model, params, cov, float(resid @ resid), float(((y - y.mean()) ** 2).sum()), len(y))


def fit_decay(t: np.ndarray, y: np.ndarray, p0: np.ndarray | None = None) -> Fit | None:
    return fit_model("decay+plateau", t, y, p0)


def half_life(k: float | np.ndarray) -> float | np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(2.0) / np.asarray(k, dtype=float)


def t95(k: float | np.ndarray) -> float | np.ndarray:
    """The (continuous) iteration by which 95 % of the fitted decay is done."""
    with np.errstate(divide="ignore"):
        return 1.0 + LN20 / np.asarray(k, dtype=float)


def plateau_iteration(k: float) -> int | None:
    """First whole iteration t with 95 % of the fitted decay done."""
    if not np.isfinite(k) or k <= 0:
        return None
    return max(1, math.ceil(float(t95(k)) - 1e-9))


def bootstrap_params(
    t: np.ndarray,
    curves: np.ndarray,
    p0: np.ndarray | None = None,
    progress: bool = False,
    desc: str = "bootstrap fits",
) -> np.ndarray:
    """Fit every row of B × T `curves`; B × 3 (A, k, C), NaN where a fit failed."""
    out = np.full((len(curves), 3), np.nan)
    for b in progress_bar(range(len(curves)), desc=desc, disable=not progress, leave=False):
        fit = fit_decay(t, curves[b], p0)
        if fit is not None:
            out[b] = fit.params
    return out


def compare_models(t: np.ndarray, y: np.ndarray) -> dict[str, Fit | None]:
    return {name: fit_model(name, t, y) for name in MODELS}


def summarize(
    t: np.ndarray,
    y: np.ndarray,
    boot: np.ndarray | None = None,
    level: float = 0.95,
) -> dict[str, object]:
    """Fit summary of one series: A, k, C with CIs, half-life, plateau, R², AIC of the rivals.

    `boot` is a B × 3 array of bootstrap parameters (from `bootstrap_params`); without it the
    CIs come from curve_fit's covariance.
    """
    t = np.asarray(t, dtype=float)
    fits = compare_models(t, y)
    main = fits["decay+plateau"]
    row: dict[str, object] = {"n_points": int(np.isfinite(y).sum())}
    if main is None:
        row["note"] = "not fitted (flat or too short series)"
        return row
    a, k, c = (float(v) for v in main.params)
    row.update(A=a, k=k, C=c, half_life=float(half_life(k)), t95=float(t95(k)))
    row["plateau_iteration"] = plateau_iteration(k)
    row["r2"] = main.r2
    if boot is not None:
        good = boot[np.all(np.isfinite(boot), axis=1)]
        tail = (1.0 - level) / 2.0 * 100.0
        if len(good) >= 10:
            low, high = np.percentile(good, [tail, 100.0 - tail], axis=0)
            hl_low, hl_high = np.percentile(half_life(good[:, 1]), [tail, 100.0 - tail])
        else:
            low = high = np.full(3, np.nan)
            hl_low = hl_high = float("nan")
        row["ci_method"] = f"problem bootstrap, {len(good)}/{len(boot)} refits"
    else:
        low, high = main.cov_ci(level)
        k_low, k_high = low[1], high[1]
        hl_low = float(half_life(k_high)) if k_high > 0 else float("nan")
        hl_high = float(half_life(k_low)) if k_low > 0 else float("inf")
        row["ci_method"] = f"curve_fit covariance, t with {main.n - main.p} dof"
    for i, name in enumerate(("A", "k", "C")):
        row[f"{name}_low"], row[f"{name}_high"] = float(low[i]), float(high[i])
    row["half_life_low"], row["half_life_high"] = float(hl_low), float(hl_high)
    for name, fit in fits.items():
        row[f"aic[{name}]"] = fit.aic if fit else float("nan")
        row[f"aicc[{name}]"] = fit.aicc if fit else float("nan")
        row[f"r2[{name}]"] = fit.r2 if fit else float("nan")
    aics = {name: fit.aic for name, fit in fits.items() if fit is not None}
    aiccs = {name: fit.aicc for name, fit in fits.items() if fit is not None}
    row["best_by_aic"] = min(aics, key=aics.__getitem__)
    row["best_by_aicc"] = min(aiccs, key=aiccs.__getitem__)
    return row


def band(
    t_grid: np.ndarray, boot: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray] | None:
    """Pointwise percentile band of the bootstrap-fitted curves on `t_grid`."""
    good = boot[np.all(np.isfinite(boot), axis=1)]
    if len(good) < 10:
        return None
    curves = decay(t_grid[None, :], good[:, :1], good[:, 1:2], good[:, 2:3])
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(curves, [tail, 100.0 - tail], axis=0)
    return low, high
