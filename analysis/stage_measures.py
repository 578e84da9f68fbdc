"""Where CDK chains fail (issue 23): findings by stage and the stage each attempt stopped at.

A `cdk-python` attempt goes through three stages: its Python runs (`python`: a syntax error, an
exception, a broken contract, a sandbox limit), CDK synthesizes it (`cdk`: the construct
library rejected it), and cfn-lint judges the synthesized template (`template`: gating
findings left it not clean). `attempts.synth_stage` names the first stage that failed (null
when the attempt is clean); an attempt that is not clean and names no stage stopped at
`template`. `findings.source` names the stage of each finding: `python`, `cdk`, or the gating
linter (`cfn-lint`, the template stage); other sources (intent, deploy, recorded) are not
stage findings.

Measures, per group × iteration on the filled chains (`analysis.load.fill_chains`: every chain
at every iteration, a chain that stopped shows the attempt it holds):

* `python`, `cdk`, `template`, `clean`: share of chains whose shown attempt stopped there
  (they sum to 1); `intent`: mean intent pass rate (chains with intent checks);
* `findings_python`, `findings_cdk`, `findings_template`: findings per template of each stage.

Per chain (`chain_stages`): the stage of its last scored attempt, and the first iteration at
which it got past the python stage (an attempt that stopped at cdk, template or clean) and past
the cdk stage (template or clean); null where it never did.

CIs: 95 % percentile bootstrap over problems (`analysis.measures.resample_weights`,
`percentile_ci`), as everywhere in the report. Older runs have no `language`, `synth_stage` or
`construct` column: their rows are CloudFormation and have no stages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import (
    GATING_SOURCE,
    GROUP_KEYS,
    STAGE_SOURCES,
    StoppedPolicy,
    chain_keys,
    fill_chains,
    group_list,
    scored_mask,
    select,
)
from analysis.measures import ProblemData, percentile_ci, resample_weights

CDK = "cdk-python"
CLOUDFORMATION = "cloudformation"
STAGES = ("python", "cdk", "template", "clean")
# finding source -> stage; other sources (intent, deploy, the authors' recorded text) have none
SOURCE_STAGE = {**{s: s for s in STAGE_SOURCES}, GATING_SOURCE: "template"}
FINDING_STAGES = ("python", "cdk", "template")
NAMES = {
    "python": "stopped at python",
    "cdk": "stopped at cdk",
    "template": "stopped at template (not lint-clean)",
    "clean": "clean",
    "intent": "intent pass rate",
    "findings_python": "python findings per template",
    "findings_cdk": "cdk findings per template",
    "findings_template": "template findings per template",
}
PAST = {"python": ("cdk", "template", "clean"), "cdk": ("template", "clean")}


def languages(attempts: pd.DataFrame) -> pd.Series:
    """Each row's IaC language; rows of runs older than the column are CloudFormation."""
    column = attempts.get("language", pd.Series(None, index=attempts.index, dtype=object))
    return column.astype(object).where(column.notna(), CLOUDFORMATION)


def has_cdk(attempts: pd.DataFrame) -> bool:
    """Whether some attempt is of a CDK (Python) problem."""
    return bool((languages(attempts) == CDK).any())


def attempt_stages(attempts: pd.DataFrame) -> pd.Series:
    """The stage each attempt stopped at: its `synth_stage`, else clean or template."""
    named = attempts.get("synth_stage", pd.Series(None, index=attempts.index, dtype=object))
    clean = attempts["clean"].astype("boolean").fillna(False).astype(bool)
    fallback = pd.Series(np.where(clean, "clean", "template"), index=attempts.index)
    return named.astype(object).where(named.notna(), fallback)


def cdk_rows(attempts: pd.DataFrame) -> pd.DataFrame:
    """The attempts of CDK problems."""
    return attempts[(languages(attempts) == CDK).to_numpy()]


def finding_stages(findings: pd.DataFrame) -> pd.DataFrame:
    """Stage findings with their `stage` column (other sources left out)."""
    stage = findings["source"].map(SOURCE_STAGE)
    return findings.assign(stage=stage)[stage.notna().to_numpy()]


def stage_chains(
    attempts: pd.DataFrame,
    findings: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    stopped: StoppedPolicy = "carry",
) -> pd.DataFrame:
    """The filled chains of `attempts` with `stage` (of the shown attempt), one 0/1 column per
    stage and `findings_<stage>` (the shown attempt's findings of that stage)."""
    chains = fill_chains(attempts, stopped, group_keys)
    stage = chains["source_attempt_id"].map(attempt_stages(attempts.set_index("attempt_id")))
    chains = chains.assign(stage=stage)
    for name in STAGES:
        chains[name] = (stage == name).astype(float)
    staged = finding_stages(findings)
    counts = staged.groupby(["attempt_id", "stage"]).size().unstack("stage", fill_value=0)
    for name in FINDING_STAGES:
        per = counts[name] if name in counts else pd.Series(dtype=float)
        chains[f"findings_{name}"] = chains["source_attempt_id"].map(per).fillna(0.0)
    return chains


def problem_stage_data(chains: pd.DataFrame, group: tuple = ()) -> ProblemData:
    """`ProblemData` of one group (clean, intent, findings, ...) with the stage shares and the
    findings per stage added, so every figure comes from the same problem sums."""
    data = ProblemData.from_chains(chains, group)
    columns = [*STAGES, *(f"findings_{n}" for n in FINDING_STAGES)]
    table = chains.pivot_table(
        index="problem_id", columns="iteration", values=columns, aggfunc="sum", fill_value=0
    )
    for name in columns:
        wide = table[name].reindex(index=data.problems, columns=data.iterations, fill_value=0)
        data.num[name] = wide.to_numpy(dtype=float)
        data.den[name] = data.den["errors"]  # every chain
    return data


def stage_table(
    chains: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Long table: group keys, iteration, measure (NAMES), value, ci_low, ci_high, chains,
    problems."""
    rng = np.random.default_rng(seed)
    rows = []
    for group in group_list(chains, group_keys):
        data = problem_stage_data(select(chains, group, group_keys), group)
        weights = resample_weights(len(data.problems), n_boot, rng)
        n_chains = data.den["errors"].sum(0)
        for name in NAMES:
            value = data.point(name)
            low, high = percentile_ci(data.replicates(name, weights), level)
            for i, t in enumerate(data.iterations):
                rows.append(
                    {
                        **dict(zip(group_keys, group, strict=True)),
                        "iteration": int(t),
                        "measure": name,
                        "value": float(value[i]),
                        "ci_low": float(low[i]),
                        "ci_high": float(high[i]),
                        "chains": int(n_chains[i]),
                        "problems": len(data.problems),
                    }
                )
    return pd.DataFrame(rows)


def chain_stages(attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """One row per chain with a scored attempt: `final_stage` (its last scored attempt's),
    `past_python_at` and `past_cdk_at` (first iteration beyond that stage; NaN: never)."""
    keys = chain_keys(group_keys)
    scored = attempts[scored_mask(attempts)]
    frame = scored[[*keys, "iteration"]].assign(stage=attempt_stages(scored))
    frame = frame.sort_values([*keys, "iteration"])
    grouped = frame.groupby(keys, sort=False, dropna=False)
    out = grouped.tail(1).set_index(keys)[["stage"]].rename(columns={"stage": "final_stage"})
    out["attempts"] = grouped.size()
    for name, beyond in PAST.items():
        past = frame[frame["stage"].isin(beyond)].groupby(keys, dropna=False)["iteration"].min()
        out[f"past_{name}_at"] = past.reindex(out.index)
    return out.reset_index()


def failure_table(chain_frame: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """Per group: chains, how many ended at each stage, and how many got past the python and
    the cdk stage with the mean iteration at which they did."""
    rows = []
    for group in group_list(chain_frame, group_keys):
        mine = select(chain_frame, group, group_keys)
        row: dict[str, object] = {
            **dict(zip(group_keys, group, strict=True)),
            "chains": len(mine),
        }
        for name in STAGES:
            row[f"ended_{name}"] = int((mine["final_stage"] == name).sum())
        for name in PAST:
            at = mine[f"past_{name}_at"]
            row[f"past_{name}"] = int(at.notna().sum())
            row[f"past_{name}_mean_iteration"] = float(at.mean()) if at.notna().any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def construct_share(attempts: pd.DataFrame, findings: pd.DataFrame) -> tuple[int, int]:
    """Template-stage findings of CDK attempts: (mapped to a construct, all)."""
    ids = set(cdk_rows(attempts)["attempt_id"])
    template = finding_stages(findings)
    template = template[(template["stage"] == "template") & template["attempt_id"].isin(ids)]
    construct = template.get("construct", pd.Series(None, index=template.index, dtype=object))
    return int(construct.notna().sum()), len(template)
