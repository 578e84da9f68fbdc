"""The comparison's edit section: the edit measures (`analysis.edit_measures`) of both sides at
the first iteration and at each side's last, candidate − baseline with a paired bootstrap CI
where the sides share their problems (one draw of problems for both; each side on its own
problems otherwise), and a verdict sentence that says no more than those CIs
(`analysis.verdict.edit_sentence`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.edit_measures import HIGHER_IS_BETTER, MEASURES, edit_chains, has_edits
from analysis.edit_section import METHOD, ci_cell
from analysis.measures import percentile_ci, resample_weights
from analysis.render import Page
from analysis.verdict import edit_sentence

SIDES = ("baseline", "candidate")
WHEN = ("first", "last")


@dataclass
class EditComparison:
    differences: pd.DataFrame  # per measure and when: baseline, candidate, diff, CI, favours
    paired: bool
    verdict: str


def _at(chains: pd.DataFrame, when: str) -> pd.DataFrame:
    """The chains at iteration 1 (`first`) or at the side's last iteration (`last`)."""
    iteration = 1 if when == "first" else int(chains["iteration"].max())
    return chains[chains["iteration"] == iteration]


def _sums(frame: pd.DataFrame, name: str, problems: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem sum and count of a measure, in the order of `problems`."""
    by = frame.groupby("problem_id")[name].agg(["sum", "count"])
    by = by.reindex(pd.Index(problems)).fillna(0.0)
    return by["sum"].to_numpy(dtype=float), by["count"].to_numpy(dtype=float)


def _ratio(num: np.ndarray, den: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    a, b = (num.sum(), den.sum()) if weights is None else (weights @ num, weights @ den)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def favours(name: str, diff: float, low: float, high: float) -> str:
    """The side a difference's CI favours, `–` when it includes zero."""
    if np.isnan(low) or not (low > 0 or high < 0):
        return "–"
    return "candidate" if (diff > 0) == HIGHER_IS_BETTER[name] else "baseline"


def compare_edits(
    sides: dict[str, pd.DataFrame],
    stopped: str = "carry",
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> EditComparison:
    """Both sides' edit measures at the first and last iteration and candidate − baseline."""
    chains = {
        who: edit_chains(a.assign(side=who), ["side"], stopped)  # type: ignore[arg-type]
        for who, a in sides.items()
    }
    problems = {who: np.sort(c["problem_id"].unique()) for who, c in chains.items()}
    rng = np.random.default_rng(seed)
    paired = set(problems["baseline"]) == set(problems["candidate"])
    if paired:
        shared = resample_weights(len(problems["candidate"]), n_boot, rng)
        problems = dict.fromkeys(SIDES, problems["candidate"])
        weights = dict.fromkeys(SIDES, shared)
    else:
        weights = {w: resample_weights(len(problems[w]), n_boot, rng) for w in SIDES}
    rows = []
    for when in WHEN:
        at = {who: _at(chains[who], when) for who in SIDES}
        for name, words in MEASURES.items():
            sums = {who: _sums(at[who], name, problems[who]) for who in SIDES}
            point = {who: float(_ratio(*sums[who])) for who in SIDES}
            row = {"measure": words, "at": when, **point}
            reps = _ratio(*sums["candidate"], weights["candidate"])
            reps = reps - _ratio(*sums["baseline"], weights["baseline"])
            low, high = percentile_ci(reps[:, None], level)
            diff = point["candidate"] - point["baseline"]
            row.update(diff=diff, ci_low=float(low[0]), ci_high=float(high[0]))
            row["favours"] = favours(name, diff, float(low[0]), float(high[0]))
            rows.append(row)
    differences = pd.DataFrame(rows)
    return EditComparison(differences, paired, edit_sentence(differences, level, paired))


def _display(differences: pd.DataFrame) -> pd.DataFrame:
    out = differences[["measure", "at", "baseline", "candidate"]].copy()
    out["candidate − baseline [95 % CI]"] = [
        ci_cell(r.diff, r.ci_low, r.ci_high, "{:+.3f}") for r in differences.itertuples()
    ]
    out["favours"] = differences["favours"]
    return out


def compare_edit_section(
    page: Page, sides: dict[str, pd.DataFrame], n_boot: int, seed: int, stopped: str = "carry"
) -> EditComparison | None:
    """The section, when either side has edit chains (a note when only one side has them)."""
    edits = [who for who, a in sides.items() if has_edits(a)]
    if not edits:
        return None
    page.heading("Edit tasks")
    if len(edits) == 1:
        other = "candidate" if edits[0] == "baseline" else "baseline"
        page.text(
            f"Only the {edits[0]} ran edit problems (the {other} has no collateral counts): "
            "its edit measures are in its own report; there is nothing to compare.",
            note=True,
        )
        return None
    result = compare_edits(sides, stopped, n_boot, seed)
    page.text(result.verdict)
    page.text(METHOD, note=True)
    if not result.paired:
        page.text("Problem sets differ: each side resampled on its own problems.", note=True)
    page.table(
        _display(result.differences),
        caption="Edit measures at the first iteration and at each side's last; candidate − "
        + ("baseline, paired bootstrap over shared problems" if result.paired else "baseline")
        + "; favours: the side the CI favours, – when it includes zero",
        floatfmt="{:.3f}",
    )
    return result
