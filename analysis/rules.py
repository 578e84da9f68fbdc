"""Rule frequency by iteration: which cfn-lint rules the loop removes and which survive it.

Counted on the filled chains (a chain that stopped keeps showing its last scored attempt's
findings), so every iteration has the same chains, as in the per-iteration measures. Only the
gating linter's findings count (source `cfn-lint`; see `analysis.load.GATING_SOURCE`), and for a
CDK app the synth stages' (sources `python`, `cdk`), which are counted as its findings.
"""

from __future__ import annotations

import pandas as pd

from analysis.load import GROUP_KEYS, filled_findings


def rule_frequency(
    chains: pd.DataFrame, findings: pd.DataFrame, group_keys: list[str] = GROUP_KEYS
) -> pd.DataFrame:
    """Per group × iteration × rule: `findings` (occurrences), `chains` (chains showing it),
    `share` (chains showing it / chains at that iteration) and `survival` (occurrences at n /
    occurrences at iteration 1)."""
    shown = filled_findings(chains, findings)
    keys = [*group_keys, "iteration", "rule_id", "level"]
    chain_cols = [c for c in ("sweep_id", "job_id", "problem_id", "sample") if c not in group_keys]
    if shown.empty:
        return pd.DataFrame(columns=[*keys, "findings", "chains", "share", "survival"])
    out = (
        shown.groupby(keys, dropna=False)
        .agg(findings=("source_attempt_id", "size"))
        .join(
            shown.drop_duplicates([*keys, *chain_cols])
            .groupby(keys, dropna=False)
            .size()
            .rename("chains")
        )
        .reset_index()
    )
    totals = chains.groupby([*group_keys, "iteration"]).size().rename("n_chains").reset_index()
    out = out.merge(totals, on=[*group_keys, "iteration"], how="left")
    out["share"] = out["chains"] / out["n_chains"]
    first = out[out["iteration"] == 1].set_index([*group_keys, "rule_id"])["findings"]
    base = out.set_index([*group_keys, "rule_id"]).index.map(first.to_dict())
    out["survival"] = out["findings"] / pd.Series(base, index=out.index, dtype=float)
    return out.drop(columns=["n_chains"])


def rule_matrix(freq: pd.DataFrame, top: int = 15, value: str = "findings") -> pd.DataFrame:
    """One group's frequency as a rule × iteration matrix of the `top` most frequent rules."""
    totals = freq.groupby("rule_id")["findings"].sum().sort_values(ascending=False)
    rules = totals.index[:top]
    matrix = freq[freq["rule_id"].isin(rules)].pivot_table(
        index="rule_id", columns="iteration", values=value, aggfunc="sum", fill_value=0
    )
    return matrix.reindex(rules)
