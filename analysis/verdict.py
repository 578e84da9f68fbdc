"""The first sentence of a comparison's verdict, worded so it says no more than its CIs."""

from __future__ import annotations

import pandas as pd

# how a difference in the candidate's favour (and against it) reads, per measure
_DIRECTION = {
    "errors per template": ("fewer errors per template", "more errors per template"),
    "warnings per template": ("fewer warnings per template", "more warnings per template"),
    "clean fraction": ("a higher clean fraction", "a lower clean fraction"),
}


def opening_sentence(
    baseline: str, candidate: str, outcome: str, overall: pd.DataFrame, level: float
) -> str:
    """The verdict's first sentence, which says no more than the averaged CIs: "better" or
    "worse" only when at least two measures' intervals exclude zero the same way, and every
    measure named with the side its interval favours (or that it includes zero)."""
    ahead = [_DIRECTION[m][0] for m in overall.loc[overall["favours"] == "candidate", "measure"]]
    behind = [_DIRECTION[m][1] for m in overall.loc[overall["favours"] == "baseline", "measure"]]
    even = overall.loc[~overall["favours"].isin(["candidate", "baseline"]), "measure"].tolist()
    head = f"Against {baseline}, {candidate}"
    if not ahead and not behind:
        return (
            f"{head} is not clearly different: the {level:.1%} CI of every averaged difference "
            "includes zero"
        )
    parts = []
    if ahead:
        parts.append(f"{_and(ahead)} (the {level:.1%} CI excludes zero)")
    if behind:
        parts.append(f"{_and(behind)} (the {level:.1%} CI excludes zero)")
    rest = f"; {_and(even)}: not distinguishable (the CI includes zero)" if even else ""
    if outcome in ("clearly better", "clearly worse"):
        return f"{head} is {outcome}, averaged over iterations: {parts[0]}{rest}"
    if outcome == "mixed":
        return f"{head} is mixed: in its favour {parts[0]}, against it {parts[1]}{rest}"
    side = "in its favour" if ahead else "against it"
    return f"{head} differs on one measure only, {side}: {parts[0]}{rest}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def budget_sentence(
    budget: float,
    best: dict,
    runner: dict | None,
    diff: tuple[float, float, float] | None,
    measure: str,
    level: float,
) -> str:
    """The frontier's answer, which says no more than its CIs: the setting with the highest
    `measure`@k among those whose dollars per problem fit `budget`, "ahead" of the next one
    only when the CI of their paired difference excludes zero, and a warning when its cost's
    CI reaches above the budget. `best` / `runner`: rows of the cost table."""
    pct = f"{level:.0%}"
    head = (
        f"For ${budget:g} per problem, {best['group']} stopped at iteration {best['k']} gives "
        f"the most {measure} templates: {measure}@{best['k']} {_ci(best, measure, '{:.2f}')} "
        f"at ${_ci(best, 'usd', '{:.4f}')} per problem."
    )
    if runner is None or diff is None:
        tail = " It is the only priced setting within the budget."
    else:
        point, low, high = diff
        other = (
            f"the next, {runner['group']} stopped at iteration {runner['k']} "
            f"({measure}@{runner['k']} {runner[measure]:.2f})"
        )
        if low > 0:
            tail = (
                f" It is ahead of {other} by {point:+.2f} ({pct} CI of the paired difference "
                f"{low:+.2f} to {high:+.2f})."
            )
        else:
            tail = (
                f" Its lead over {other} is not distinguishable: the {pct} CI of the paired "
                f"difference, {low:+.2f} to {high:+.2f}, includes zero, so either may give more."
            )
    if best["usd_high"] > budget:
        tail += (
            f" Its cost's {pct} CI reaches ${best['usd_high']:.4f}, above the budget: on other "
            "problems it may not fit."
        )
    return head + tail


def _ci(row: dict, name: str, fmt: str) -> str:
    value, low, high = (fmt.format(row[n]) for n in (name, f"{name}_low", f"{name}_high"))
    return f"{value} [{low}, {high}]"


AGENT_ONLY = (
    "submitted unvalidated",
    "submitted with findings open",
    "validate calls per chain",
    "schema lookups per chain",
)


def agent_sentence(differences: pd.DataFrame, level: float, paired: bool) -> str:
    """The agent section's verdict, which says no more than its CIs: a figure is named higher
    or lower only where the CI of candidate − baseline excludes zero, every other compared
    figure is named not distinguishable, and agent-only figures of a side facing a fixed loop
    are said to be that side's alone. `differences`: `analysis.compare_agent` rows."""
    pct = f"{level:.0%}"
    how = "paired over the shared problems" if paired else "each side on its own problems"
    moved, even = _moves(differences, differences["figure"].tolist(), pct)
    if moved:
        text = f"On the agent measures ({how}), the candidate's " + "; its ".join(moved)
        if even:
            text += f"; {_and(even)}: not distinguishable (the CI includes zero)"
    elif even:
        text = (
            f"On the agent measures ({how}), the two sides are not distinguishable: the {pct} CI "
            f"of every difference ({_and(even)}) includes zero"
        )
    else:
        text = "On the agent measures, no figure could be compared"
    alone = differences[differences["figure"].isin(AGENT_ONLY) & differences["diff"].isna()]
    if not alone.empty:
        who = "baseline" if alone["baseline"].notna().any() else "candidate"
        other = "candidate" if who == "baseline" else "baseline"
        if alone[who].notna().any():
            text += (
                f". {_and(alone['figure'].tolist()).capitalize()} are the {who}'s alone: "
                f"the {other} is a fixed loop"
            )
    return text + "."


def _moves(differences: pd.DataFrame, names: list[str], pct: str) -> tuple[list[str], list[str]]:
    """Per row with a CI (named by `names`, in order): "`name` is higher by d (CI ...)" where
    the CI of the difference excludes zero, else just its name (not distinguishable)."""
    moved, even = [], []
    for name, row in zip(names, differences.itertuples(index=False), strict=True):
        if pd.isna(row.ci_low) or pd.isna(row.ci_high):
            continue
        if row.ci_low > 0 or row.ci_high < 0:
            word = "higher" if row.diff > 0 else "lower"
            moved.append(
                f"{name} is {word} by {abs(row.diff):.3g} ({pct} CI of the difference "
                f"{row.ci_low:+.3g} to {row.ci_high:+.3g})"
            )
        else:
            even.append(name)
    return moved, even


WHEN_WORDS = {"first": "at the first iteration", "last": "at the last iteration"}


def edit_sentence(differences: pd.DataFrame, level: float, paired: bool) -> str:
    """The edit section's verdict, which says no more than its CIs: a measure is named higher
    or lower (at the first or the last iteration) only where the CI of candidate − baseline
    excludes zero; the others are counted as not distinguishable. Higher or lower, never
    better or worse: fewer collateral changes is the candidate's gain, the table says which
    side each CI favours. `differences`: `analysis.compare_edit` rows."""
    pct = f"{level:.0%}"
    how = "paired over the shared problems" if paired else "each side on its own problems"
    names = [f"{r.measure} {WHEN_WORDS[r.at]}" for r in differences.itertuples(index=False)]
    moved, even = _moves(differences, names, pct)
    if not moved and not even:
        return "On the edit measures, no figure could be compared."
    if not moved:
        return (
            f"On the edit measures ({how}), the two sides are not distinguishable: the {pct} CI "
            f"of every difference ({len(even)} figures) includes zero."
        )
    text = f"On the edit measures ({how}), the candidate's " + "; its ".join(moved)
    if even:
        text += f"; the other {len(even)} figures are not distinguishable (the CI includes zero)"
    return text + "."


def language_sentence(label: str, differences: pd.DataFrame, level: float, paired: bool) -> str:
    """The CloudFormation-vs-CDK verdict, which says no more than its CIs: a figure of the CDK
    side is named higher or lower than CloudFormation's only where the CI of CDK −
    CloudFormation excludes zero; the others are not distinguishable. Higher or lower, never
    better or worse (fewer findings is good, a higher clean rate is good: the table shows
    which). `differences`: `analysis.compare_language.compare_pair` rows."""
    pct = f"{level:.0%}"
    how = "paired over the shared problems" if paired else "each language on its own problems"
    moved, even = _moves(differences, differences["figure"].tolist(), pct)
    if not moved and not even:
        return f"{label}: no figure could be compared."
    if not moved:
        return (
            f"{label} ({how}): CDK and CloudFormation are not distinguishable: the {pct} CI of "
            f"every difference ({_and(even)}) includes zero."
        )
    text = f"{label} ({how}): with CDK, the " + "; the ".join(moved)
    if even:
        text += f"; {_and(even)}: not distinguishable (the CI includes zero)"
    return text + "."
