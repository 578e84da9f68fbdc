"""Read a run folder and turn its attempts into filled problem × sample × iteration chains.

A chain stops at its first clean iteration, so later iterations have no attempt row. To give
every iteration the same denominator (the paper counts all 165 templates at every iteration),
each chain is extended to its group's horizon (the largest `max_iterations` in the group):

* stopped clean: later iterations repeat the clean attempt (its template is the final answer),
  so they count as clean, with that attempt's finding counts: zero findings under the paper's
  clean rule (`no_errors_or_warnings` leaves only infos; `no_errors` may leave warnings, which
  stay, because the template that carries them does not change);
* stopped for another reason (model_error, lint_failure, a killed job): policy `carry` (default)
  repeats the last *scored* attempt (one the linter judged), policy `exclude` drops the chain;
* attempts that were not scored (model_error, lint_failure) never update a chain's state;
  a chain with no scored attempt at all is dropped under both policies.

A filled row shows one attempt's state as a whole (counts, intent and security together): a
column the source attempt left empty stays empty rather than borrowing an earlier attempt's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from benchmark.records.tables import read_table

GROUP_KEYS: list[str] = ["model", "prompt_set", "protocol"]
# the linter whose findings decide `clean` and are fed back; findings of other sources (the
# authors' recorded text of an imported run, a later deployment) describe the same templates
# again and are never counted with them
GATING_SOURCE = "cfn-lint"
# the stages before cfn-lint of a CDK app (its Python ran, CDK synthesized it): their findings
# gate and are counted like the linter's (an app that never synthesized has no template to lint)
STAGE_SOURCES = ("python", "cdk")
CHAIN_IDS: list[str] = ["sweep_id", "job_id", "problem_id", "sample"]
STATE = [
    "errors",
    "warnings",
    "infos",
    "clean",
    "intent_passed",
    "intent_total",
    "security_passed",
    "security_total",
]
StoppedPolicy = Literal["carry", "exclude"]
AGENT_PROTOCOL = "agent"
# how an agent chain ends (loop.protocol=agent): each is a finished chain, never a cut-short one
AGENT_ENDS = ("submitted", "no_submission", "max_turns")


DEPLOY_SOURCE = "deploy"


@dataclass
class Run:
    """The three tables of one run folder (a sweep, a job, or any folder above them).

    `findings` are the linter's (every source but deploy): what counts, churns and ranks as a
    finding. CloudFormation's deployment errors are kept apart in `deploy_findings`.
    """

    path: Path
    attempts: pd.DataFrame
    findings: pd.DataFrame
    checks: pd.DataFrame
    deploy_findings: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def simulated_rows(self) -> int:
        return int(self.attempts["simulated"].fillna(False).astype(bool).sum())

    @property
    def simulated(self) -> bool:
        return self.simulated_rows > 0

    @property
    def recorded_rows(self) -> int:
        if "origin" not in self.attempts:
            return 0
        return int((self.attempts["origin"] == "recorded").sum())


def load_run(run_dir: str | Path) -> Run:
    """Read attempts, findings and checks of every part under `run_dir`."""
    path = Path(run_dir)
    findings = read_table(path, "findings")
    deploy = findings["source"] == DEPLOY_SOURCE
    run = Run(
        path=path,
        attempts=read_table(path, "attempts"),
        findings=findings[~deploy].reset_index(drop=True),
        checks=read_table(path, "checks"),
        deploy_findings=findings[deploy].reset_index(drop=True),
    )
    if run.attempts.empty:
        raise ValueError(f"{path}: no attempt rows (is this a run folder?)")
    return run


def agent_mask(attempts: pd.DataFrame) -> pd.Series:
    """Rows of agent chains (loop.protocol=agent): a tool is named, or the protocol is agent.
    Their iteration is the row's order in the chain; the last row is the submission."""
    none = pd.Series(None, index=attempts.index, dtype=object)
    return attempts.get("tool", none).notna() | attempts.get("protocol", none).eq(AGENT_PROTOCOL)


def chain_keys(group_keys: list[str]) -> list[str]:
    return [*group_keys, *(c for c in CHAIN_IDS if c not in group_keys)]


def scored_mask(attempts: pd.DataFrame) -> pd.Series:
    """Attempts the linter judged: a template was produced and the gating linter answered.

    A reporting validator that failed (checkov timing out) also fills `lint_failure`, but the
    lint counts stand; only its own checks are missing (null `security_total`).
    """
    return (
        attempts["model_error"].isna()
        & (attempts["stop_reason"].fillna("") != "lint_failure")
        & attempts["errors"].notna()
        & attempts["template"].notna()
    )


def linted_mask(attempts: pd.DataFrame) -> pd.Series:
    """Scored attempts that cfn-lint itself judged: all of them but a CDK app that never
    synthesized (judged on its Python or CDK findings; no template, so no lint date)."""
    scored = scored_mask(attempts)
    if "synth_template" not in attempts or "language" not in attempts:
        return scored
    unsynthesized = attempts["language"].eq("cdk-python") & attempts["synth_template"].isna()
    return scored & ~unsynthesized


def chain_status(attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """One row per chain: how it ended (`clean`, `complete`, `stopped`, `unscored`) and why."""
    keys = chain_keys(group_keys)
    frame = attempts.assign(_scored=scored_mask(attempts)).sort_values([*keys, "iteration"])
    grouped = frame.groupby(keys, sort=False, dropna=False)
    last = grouped.tail(1).set_index(keys)
    scored = frame[frame["_scored"]].groupby(keys, sort=False, dropna=False)
    last_scored = scored.tail(1).set_index(keys)
    out = pd.DataFrame(index=last.index)
    out["last_iteration"] = last["iteration"].astype(int)
    out["stop_reason"] = last["stop_reason"]
    out["max_iterations"] = last["max_iterations"].astype(int)
    out["last_scored_iteration"] = last_scored["iteration"].reindex(out.index)
    out["ended_clean"] = last_scored["clean"].reindex(out.index).fillna(False).astype(bool)
    status = np.where(
        out["last_scored_iteration"].isna(),
        "unscored",
        np.where(
            out["ended_clean"],
            "clean",
            np.where(
                (out["last_iteration"] >= out["max_iterations"])
                | out["stop_reason"].isin(AGENT_ENDS),
                "complete",
                "stopped",
            ),
        ),
    )
    out["status"] = status
    return out.reset_index()


def went_on_after_clean(attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> int:
    """Chains with a scored attempt after a clean one: a recorded run of a loop that did not
    stop at a clean template (the paper's). This harness's chains stop there; an agent
    validates a clean template and then submits it, which is not going on (left out)."""
    keys = chain_keys(group_keys)
    scored = attempts[scored_mask(attempts) & ~agent_mask(attempts)]
    first_clean = scored[scored["clean"].fillna(False).astype(bool)].groupby(keys)["iteration"]
    last = scored.groupby(keys)["iteration"].max()
    first = first_clean.min()
    return int((last.reindex(first.index) > first).sum())


def fill_chains(
    attempts: pd.DataFrame,
    stopped: StoppedPolicy = "carry",
    group_keys: list[str] = GROUP_KEYS,
) -> pd.DataFrame:
    """Every chain at every iteration 1..horizon of its group, stopped chains filled forward.

    Columns: the chain keys, `iteration`, `errors`, `warnings`, `infos`, `findings`, `clean`
    (state at that iteration), `clean_by` (clean at this or an earlier iteration),
    `intent_rate`, `security_rate` (share of security checks passed), `compliant` (1.0 when
    every security check passed, 0.0 when one failed; NaN for both where the shown attempt has
    no security checks), `source_iteration` / `source_attempt_id` (the attempt whose state is
    shown),
    `fill` (`observed`, `after_clean`, `carried`), `status` (see `chain_status`).
    Iterations before a chain's first scored attempt are left out.
    """
    if stopped not in ("carry", "exclude"):
        raise ValueError(f"stopped must be 'carry' or 'exclude', not {stopped!r}")
    keys = chain_keys(group_keys)
    status = chain_status(attempts, group_keys)
    kept = ["clean", "complete"] if stopped == "exclude" else ["clean", "complete", "stopped"]
    status = status[status["status"].isin(kept)]
    if status.empty:
        raise ValueError("no chain has a scored attempt: nothing to analyse")

    horizon = (
        attempts.groupby(group_keys, dropna=False)[["max_iterations", "iteration"]]
        .max()
        .max(axis=1)
        .rename("horizon")
        .reset_index()
    )
    status = status.merge(horizon, on=group_keys, how="left")
    reps = status["horizon"].to_numpy(dtype=int)
    grid = status.loc[status.index.repeat(reps), [*keys, "status", "last_iteration"]]
    grid["iteration"] = np.concatenate([np.arange(1, n + 1) for n in reps])
    grid = grid.reset_index(drop=True)

    scored = attempts[scored_mask(attempts)][[*keys, "iteration", "attempt_id", *STATE]].copy()
    scored["source_iteration"] = scored["iteration"]
    scored = scored.rename(columns={"attempt_id": "source_attempt_id"})
    frame = grid.merge(scored, on=[*keys, "iteration"], how="left", validate="one_to_one")
    frame["observed"] = frame["source_attempt_id"].notna()
    # carry whole rows: every state column comes from the same (last observed) attempt
    frame["_row"] = np.where(frame["observed"], np.arange(len(frame)), np.nan)
    source = frame.groupby(keys, sort=False, dropna=False)["_row"].ffill()
    keep = source.notna().to_numpy()
    rows = source[keep].to_numpy(dtype=int)
    carried = [*STATE, "source_iteration", "source_attempt_id"]
    state = frame[carried].iloc[rows].reset_index(drop=True)
    frame = frame[keep].drop(columns=[*carried, "_row"]).reset_index(drop=True)
    frame = pd.concat([frame, state], axis=1)

    frame["clean"] = frame["clean"].astype(bool)
    for column in ("errors", "warnings", "infos", "source_iteration"):
        frame[column] = frame[column].astype(int)
    frame["findings"] = frame["errors"] + frame["warnings"] + frame["infos"]
    frame["clean_by"] = frame.groupby(keys, sort=False, dropna=False)["clean"].cummax()
    # an agent can leave a clean template for another: its answer is the template it holds
    agents = attempts.loc[agent_mask(attempts), keys].drop_duplicates()
    if not agents.empty:
        held = frame[keys].merge(agents.assign(_agent=True), on=keys, how="left")["_agent"]
        agent = held.fillna(False).astype(bool).to_numpy()
        frame.loc[agent, "clean_by"] = frame.loc[agent, "clean"]
    total = frame["intent_total"].astype(float)
    frame["intent_rate"] = np.where(total > 0, frame["intent_passed"].astype(float) / total, np.nan)
    total = frame["security_total"].astype(float)
    passed = frame["security_passed"].astype(float)
    frame["security_rate"] = np.where(total > 0, passed / total, np.nan)
    frame["compliant"] = np.where(total > 0, (passed == total).astype(float), np.nan)
    frame["fill"] = np.where(
        frame["observed"],
        "observed",
        np.where(
            (frame["iteration"] > frame["last_iteration"]) & frame["clean"],
            "after_clean",
            "carried",
        ),
    )
    columns = [
        *keys,
        "iteration",
        "errors",
        "warnings",
        "infos",
        "findings",
        "clean",
        "clean_by",
        "intent_rate",
        "security_rate",
        "compliant",
        "source_iteration",
        "source_attempt_id",
        "fill",
        "status",
    ]
    return frame[columns].reset_index(drop=True)


def gating_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """The gating linter's findings (source GATING_SOURCE) and a CDK app's synth-stage
    findings (STAGE_SOURCES): the ones behind the counts."""
    return findings[findings["source"].isin([GATING_SOURCE, *STAGE_SOURCES])]


def filled_findings(chains: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """The gating linter's findings each chain shows at each iteration (its source attempt's)."""
    wanted = ["attempt_id", "rule_id", "level", "path", "source"]
    right = gating_findings(findings)[wanted].rename(columns={"attempt_id": "source_attempt_id"})
    left = chains.drop(columns=["errors", "warnings", "infos", "findings"])
    return left.merge(right, on="source_attempt_id", how="inner")


def group_list(frame: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> list[tuple]:
    """The distinct groups of a frame, sorted."""
    return sorted(frame[group_keys].drop_duplicates().itertuples(index=False, name=None))


def group_label(group: tuple, group_keys: list[str] = GROUP_KEYS) -> str:
    """A short human label: `model · prompt_set · protocol`."""
    return " · ".join(str(v) for v in group) if group_keys else "all"


def select(frame: pd.DataFrame, group: tuple, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for key, value in zip(group_keys, group, strict=True):
        mask &= (frame[key] == value).to_numpy()
    return frame[mask]
