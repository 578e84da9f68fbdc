"""The verdict of a comparison in words: which side each interval favours, and only where it
excludes zero."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.banner import RECORDED_BANNER, SIMULATED_BANNER
from analysis.compare_sides import Side, paper_lint_note
from analysis.verdict import opening_sentence

LOWER_IS_BETTER = {
    "errors": True,
    "warnings": True,
    "clean": False,
    "intent": False,  # the cost section's figures (analysis.compare_cost)
    "usd": True,
    "tokens": True,
}


def favoured_side(measure: str, diff: float, low: float, high: float) -> str:
    """Which side a difference favours when its CI excludes zero, else '–'."""
    if not (low > 0 or high < 0):
        return "–"
    return "candidate" if (diff < 0) == LOWER_IS_BETTER[measure] else "baseline"


def derived_value(params: np.ndarray | None, fn: Callable[[float], object]) -> float:
    if params is None:
        return float("nan")
    value = fn(float(params[1]))
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _ranges(values: list[int]) -> str:
    """[1, 2, 3, 5] → '1–3, 5'."""
    parts: list[str] = []
    start = prev = None
    for v in sorted(values):
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            parts.append(f"{start}–{prev}" if prev != start else f"{start}")
            start = prev = v
    if start is not None:
        parts.append(f"{start}–{prev}" if prev != start else f"{start}")
    return ", ".join(parts)


def _fmt(value: float, measure: str) -> str:
    return f"{value:.0%}" if measure == "clean fraction" else f"{value:.2f}"


def verdict_sentences(
    baseline: Side,
    candidate: Side,
    per: pd.DataFrame,
    overall: pd.DataFrame,
    fits: pd.DataFrame,
    paired: bool,
) -> tuple[str, str]:
    """Outcome from the three mean-over-iterations differences (Bonferroni CIs), then detail."""
    n = len(per)
    better = int((per["favours"] == "candidate").sum())
    worse = int((per["favours"] == "baseline").sum())
    wins = overall.loc[overall["favours"] == "candidate", "measure"].tolist()
    losses = overall.loc[overall["favours"] == "baseline", "measure"].tolist()
    if wins and not losses:
        outcome = "clearly better" if len(wins) >= 2 else "better"
    elif losses and not wins:
        outcome = "clearly worse" if len(losses) >= 2 else "worse"
    elif wins and losses:
        outcome = "mixed"
    else:
        outcome = "not clearly different"
    level = overall["ci_level"].iloc[0]
    opening = opening_sentence(baseline.label, candidate.label, outcome, overall, level)
    if baseline.simulated or candidate.simulated:  # the banner's words before any judgement
        opening = f"{SIMULATED_BANNER}. {opening}"
    sentences = [opening + (" (bootstrap paired by problem)." if paired else ".")]
    averaged = "; ".join(
        f"{row.measure} {_fmt(row.candidate, row.measure)} vs {_fmt(row.baseline, row.measure)} "
        f"(difference {row.diff:+.2f}, {level:.1%} CI {row.ci_low:+.2f} to {row.ci_high:+.2f})"
        for row in overall.itertuples()
    )
    first, last = per["iteration"].min(), per["iteration"].max()
    sentences.append(f"Averaged over iterations {first}–{last}: {averaged}.")
    detail = []
    for side, count in (("candidate", better), ("baseline", worse)):
        ahead = [
            f"{measure} at {_ranges(its)}"
            for measure, its in (
                per[per["favours"] == side].groupby("measure", sort=False)["iteration"].apply(list)
            ).items()
        ]
        where = f" ({'; '.join(ahead)})" if ahead else ""
        detail.append(f"the {side}'s favour in {count}{where}")
    sentences.append(
        f"Iteration by iteration, the 95 % CI excludes zero in {detail[0]}, and in "
        f"{detail[1]}, of {n} comparisons."
    )
    errors = fits[fits["measure"] == "errors per template"].set_index("param")
    k = errors.loc["k"] if "k" in errors.index else None
    if k is not None and np.isfinite(k["diff"]):
        if k["ci_low"] > 0:
            pace = "faster than"
        elif k["ci_high"] < 0:
            pace = "slower than"
        else:
            pace = "at a rate not distinguishable from"
        sentences.append(
            f"Its errors decay {pace} the baseline's (k = {k['candidate']:.2f} vs "
            f"{k['baseline']:.2f} per iteration, difference 95 % CI {k['ci_low']:+.2f} to "
            f"{k['ci_high']:+.2f})."
        )
    c = errors.loc["C"] if "C" in errors.index else None
    if c is not None and np.isfinite(c["diff"]):
        sentences.append(
            f"Its fitted error plateau C is {c['candidate']:.2f} against {c['baseline']:.2f} "
            f"errors per template (95 % CI of the difference {c['ci_low']:+.2f} to "
            f"{c['ci_high']:+.2f})."
        )
    if baseline.is_paper or candidate.is_paper:
        other = candidate if baseline.is_paper else baseline
        sentences.append(paper_lint_note(other.provenance))
    for who, side in (("baseline", baseline), ("candidate", candidate)):
        if side.recorded:
            sentences.append(f"The {who} is {RECORDED_BANNER}.")
    if baseline.simulated or candidate.simulated:
        sentences.append(f"{SIMULATED_BANNER}: this comparison says nothing about any model.")
    return outcome, " ".join(sentences)
