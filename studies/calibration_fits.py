"""The statistics behind a calibrated profile: Wilson intervals for shares, a paired bootstrap
over problems for means, and the two-class model of a rule's fixes (a persistent share the model
keeps missing), fitted by maximum likelihood to how long its findings lasted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
MIN_EPISODES = 20  # findings a rule needs for its own fix model; fewer: its level's, pooled


# ---- intervals -------------------------------------------------------------------------------


def share(count: int, n: int) -> dict[str, Any]:
    """`count` of `n` with its Wilson interval (scipy), as a profile entry."""
    entry: dict[str, Any] = {"count": int(count), "n": int(n)}
    if n == 0:
        return {**entry, "rate": None, "ci": None}
    ci = stats.binomtest(int(count), int(n)).proportion_ci(LEVEL, method="wilson")
    return {**entry, "rate": rounded(count / n), "ci": [rounded(ci.low), rounded(ci.high)]}


def mean_by_problem(totals: Sequence[float], sizes: Sequence[float], seed: int) -> dict[str, Any]:
    """sum(totals) / sum(sizes) with a percentile bootstrap over problems (scipy)."""
    t, n = np.asarray(totals, dtype=float), np.asarray(sizes, dtype=float)
    entry: dict[str, Any] = {"count": as_number(t.sum()), "n": as_number(n.sum())}
    if n.sum() == 0:
        return {**entry, "mean": None, "ci": None, "problems": len(t)}
    entry["mean"] = rounded(t.sum() / n.sum())
    entry["problems"] = len(t)
    if len(t) < 2 or np.all(t / np.where(n > 0, n, 1) == t[0] / max(n[0], 1)):
        entry["ci"] = None if len(t) < 2 else [entry["mean"], entry["mean"]]
        return entry
    result = stats.bootstrap(
        (t, n),
        lambda a, b, axis=-1: a.sum(axis=axis) / np.maximum(b.sum(axis=axis), 1e-12),
        paired=True,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=LEVEL,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    entry["ci"] = [rounded(low), rounded(high)]
    return entry


def rounded(x: float) -> float:
    return float(round(float(x), 4))


def as_number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else rounded(x)


# ---- fix episodes and the two-class model ----------------------------------------------------


@dataclass
class RuleFixes:
    """Per rule: exposures to a repair and what became of them."""

    first: list[int] = field(default_factory=lambda: [0, 0])  # [fixed, exposed], 1st repair
    later: list[int] = field(default_factory=lambda: [0, 0])
    unmentioned: list[int] = field(default_factory=lambda: [0, 0])
    fixed_after: Counter[int] = field(default_factory=Counter)  # repairs it took -> findings
    open_after: Counter[int] = field(default_factory=Counter)  # repairs survived, then censored

    def episodes(self) -> tuple[np.ndarray, np.ndarray]:
        """(repairs exposed, 1 if fixed at the last else 0) per finding."""
        j = [k for k, n in self.fixed_after.items() for _ in range(n)]
        j += [k for k, n in self.open_after.items() for _ in range(n)]
        d = [1] * sum(self.fixed_after.values()) + [0] * sum(self.open_after.values())
        return np.asarray(j, dtype=float), np.asarray(d, dtype=float)

    def merge(self, other: RuleFixes) -> None:
        for mine, theirs in (
            (self.first, other.first),
            (self.later, other.later),
            (self.unmentioned, other.unmentioned),
        ):
            mine[0] += theirs[0]
            mine[1] += theirs[1]
        self.fixed_after.update(other.fixed_after)
        self.open_after.update(other.open_after)


def _loglik(params: np.ndarray, j: np.ndarray, d: np.ndarray) -> float:
    """Log-likelihood of a two-class geometric mixture for finding lifetimes."""
    pi, q = _sigmoid(params[0]), _sigmoid(params[1])
    qs = q * _sigmoid(params[2])
    fixed_p = pi * qs * (1 - qs) ** (j - 1) + (1 - pi) * q * (1 - q) ** (j - 1)
    open_p = pi * (1 - qs) ** j + (1 - pi) * (1 - q) ** j
    p = np.where(d == 1, fixed_p, open_p)
    return float(np.sum(np.log(np.clip(p, 1e-300, None))))


def _sigmoid(x: float) -> float:
    return float(special.expit(x))


def _logit(p: float) -> float:
    return float(special.logit(min(max(p, 1e-4), 1 - 1e-4)))


def fit_fix_model(fixes: RuleFixes) -> dict[str, Any]:
    """Fit `fix` (and, if the data need it, a persistent share) to the finding lifetimes.

    One class: q = fixed / exposures (the geometric MLE). Two classes: maximum likelihood
    (scipy `minimize`, a few starts), kept only if a likelihood-ratio test at 95 % prefers it.
    """
    j, d = fixes.episodes()
    exposures, fixed = float(j.sum()), float(d.sum())
    unmentioned = fixes.unmentioned
    base = {
        "unmentioned": rounded(unmentioned[0] / unmentioned[1]) if unmentioned[1] else 0.0,
        "episodes": len(j),
    }
    if exposures == 0:
        return {"fix": None, **base}
    q = fixed / exposures
    one = {"fix": rounded(q), "persistent_share": 0.0, "persistent_fix": 0.0, **base}
    if len(j) < MIN_EPISODES or fixed in (0.0, len(j)):
        return one
    one_ll = _loglik(np.array([-30.0, _logit(q), 0.0]), j, d)
    best = None
    for pi0, r0 in ((0.1, 0.1), (0.3, 0.05), (0.5, 0.2)):
        start = np.array([_logit(pi0), _logit(min(0.99, q / (1 - pi0))), _logit(r0)])
        result = optimize.minimize(lambda x: -_loglik(x, j, d), start, method="Nelder-Mead")
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    if 2 * (-best.fun - one_ll) < stats.chi2.ppf(LEVEL, 2):
        return one
    pi, q2 = _sigmoid(best.x[0]), _sigmoid(best.x[1])
    return {
        "fix": rounded(q2),
        "persistent_share": rounded(pi),
        "persistent_fix": rounded(q2 * _sigmoid(best.x[2])),
        **base,
    }


# ---- the prior of a rule the source never named ----------------------------------------------

MIN_RULES_FOR_PRIOR = 3  # rules with their own fix rate needed to fit the prior's spread


def fix_prior(fitted: Sequence[RuleFixes]) -> dict[str, Any]:
    """A Beta prior for "fixed when named" of a rule the source never named: the spread of the
    named fix rates (fixed / exposures) of the rules with their own model, by the method of
    moments; with fewer than MIN_RULES_FOR_PRIOR of them, or no spread, the uniform Beta(1, 1)."""
    rates = []
    for fx in fitted:
        j, d = fx.episodes()
        if j.sum() > 0:
            rates.append(float(d.sum() / j.sum()))
    a = b = 1.0
    basis = "uniform: fewer than 3 rules with their own fix rate"
    if len(rates) >= MIN_RULES_FOR_PRIOR:
        m, v = float(np.mean(rates)), float(np.var(rates, ddof=1))
        if 0 < v < m * (1 - m):
            k = m * (1 - m) / v - 1
            a, b = max(m * k, 0.05), max((1 - m) * k, 0.05)
            basis = (
                f"the named fix rates of the source's {len(rates)} rules with their own model "
                "(method of moments)"
            )
    low, high = stats.beta.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2], a, b)
    return {
        "beta": [rounded(a), rounded(b)],
        "mean": rounded(a / (a + b)),
        "ci": [rounded(low), rounded(high)],
        "rules": len(rates),
        "basis": basis,
    }
