"""Error churn: across each repair step, which findings were fixed, persisted or were introduced.

A finding is identified by (rule id, path) — line numbers move when a template is edited, so
they are not part of the identity; the same (rule, path) twice is a multiset. For a step from
iteration n−1 to n of one chain: persisting = min(count before, count after) per identity,
fixed = before − persisting, introduced = after − persisting. Only real repair steps count:
both attempts exist and were scored; iterations filled forward after a chain stopped are not
repairs and are left out, nor is an agent's submission of a template it validated (the same
template again). Only the gating linter's findings count (source `cfn-lint`): an
imported run's recorded findings describe the same templates again.
"""

from __future__ import annotations

import pandas as pd

from analysis.load import GROUP_KEYS, chain_keys, gating_findings, scored_mask

CHURN = ["fixed", "persisting", "introduced"]


def transitions(
    attempts: pd.DataFrame, findings: pd.DataFrame, group_keys: list[str] = GROUP_KEYS
) -> pd.DataFrame:
    """One row per repair step (chain, iteration n ≥ 2): before, after, fixed, persisting,
    introduced, and the same split by level (`errors_fixed`, `warnings_introduced`, ...)."""
    keys = chain_keys(group_keys)
    # an agent submitting a template it validated makes no repair: the same template again
    none = pd.Series(None, index=attempts.index, dtype=object)
    again = attempts.get("submission_validated", none).eq(True)
    scored = attempts[scored_mask(attempts) & ~again][[*keys, "iteration", "attempt_id"]]
    previous = scored.assign(iteration=scored["iteration"] + 1).rename(
        columns={"attempt_id": "prev_attempt_id"}
    )
    steps = scored.merge(previous, on=[*keys, "iteration"], how="inner")
    steps = steps.reset_index(drop=True).rename_axis("step").reset_index()

    linted = gating_findings(findings)
    identity = linted.assign(path=linted["path"].fillna(""), level=linted["level"].fillna("E"))
    counts = identity.groupby(["attempt_id", "rule_id", "path", "level"], dropna=False).size()
    counts = counts.rename("n").reset_index()
    before = steps[["step", "prev_attempt_id"]].merge(
        counts, left_on="prev_attempt_id", right_on="attempt_id"
    )
    after = steps[["step", "attempt_id"]].merge(counts, on="attempt_id")
    pairs = before[["step", "rule_id", "path", "level", "n"]].merge(
        after[["step", "rule_id", "path", "level", "n"]],
        on=["step", "rule_id", "path", "level"],
        how="outer",
        suffixes=("_before", "_after"),
    )
    pairs[["n_before", "n_after"]] = pairs[["n_before", "n_after"]].fillna(0).astype(int)
    pairs["persisting"] = pairs[["n_before", "n_after"]].min(axis=1)
    pairs["fixed"] = pairs["n_before"] - pairs["persisting"]
    pairs["introduced"] = pairs["n_after"] - pairs["persisting"]
    pairs["before"], pairs["after"] = pairs["n_before"], pairs["n_after"]

    totals = pairs.groupby("step")[["before", "after", *CHURN]].sum()
    levels = pairs.assign(
        kind=pairs["level"].map({"E": "errors", "W": "warnings", "I": "infos"}).fillna("errors")
    )
    by_level = levels.pivot_table(
        index="step", columns="kind", values=CHURN, aggfunc="sum", fill_value=0
    )
    by_level.columns = [f"{kind}_{what}" for what, kind in by_level.columns]
    out = steps.join(totals, on="step").join(by_level, on="step")
    wanted = [f"{kind}_{what}" for kind in ("errors", "warnings", "infos") for what in CHURN]
    for column in ["before", "after", *CHURN, *wanted]:
        if column not in out:
            out[column] = 0
        out[column] = out[column].fillna(0).astype(int)
    return out.drop(columns=["step"])


def churn_by_iteration(
    attempts: pd.DataFrame, findings: pd.DataFrame, group_keys: list[str] = GROUP_KEYS
) -> pd.DataFrame:
    """Per group × iteration n: repair steps into n, and findings fixed / persisting /
    introduced summed over them, plus the share of iteration n's findings that are new."""
    steps = transitions(attempts, findings, group_keys)
    numeric = [c for c in steps.columns if c in ("before", "after") or c.endswith(tuple(CHURN))]
    out = (
        steps.groupby([*group_keys, "iteration"])[numeric]
        .sum()
        .join(steps.groupby([*group_keys, "iteration"]).size().rename("steps"))
        .reset_index()
    )
    out["introduced_share"] = (out["introduced"] / out["after"]).where(out["after"] > 0)
    out["fixed_share"] = (out["fixed"] / out["before"]).where(out["before"] > 0)
    return out
