"""Deployability per iteration: CloudFormation's verdict beside lint-clean and intent.

`attempts.deployable` is True / False where the deploy validator judged the template, null
where it did not (off, a timeout, an API error, the sweep's stack cap). On the filled chains
(`analysis.load.fill_chains`: a chain that stopped keeps showing its last scored template), per
group × iteration, over the chains whose shown template was judged:

* `deployable`: share whose shown template deploys;
* `pass_itr`: IaCGen's passItr@n, share of chains with a deployable template at some
  iteration ≤ n (over the chains judged at least once by n);
* `lint_clean`: share whose shown template is clean under the run's clean rule, and
  `gap` = lint_clean − deployable;
* `clean_undeployable`: share whose shown template is clean yet does not deploy;
* `intent`: mean intent pass rate (chains with intent checks).

All on the same chains, with one set of problem-bootstrap resamples per group, so the CI of
`gap` is paired. With `deploy.gating=true` a clean template also deployed, so the gap is 0 by
construction; the report says so.

Reference: IaCGen / DPIaC-Eval (arXiv:2506.05623) report that 20.8–30.2 % of first attempts
deploy, and 54.6–91.6 % within 10 iterations (passItr@10) when deployment errors are fed back.
Their models, prompts, problems and deployment gate differ from a run's: context, not a baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import figures
from analysis.load import GROUP_KEYS, Run, chain_keys, group_list, select
from analysis.measures import ProblemData, percentile_ci, resample_weights
from analysis.render import Page

IACGEN_FIRST = (0.208, 0.302)  # share of first attempts that deploy
IACGEN_PASS10 = (0.546, 0.916)  # passItr@10
IACGEN_NOTE = (
    "Reference: IaCGen / DPIaC-Eval (arXiv:2506.05623, https://arxiv.org/abs/2506.05623) report "
    "that 20.8–30.2 % of first attempts deploy, and 54.6–91.6 % within 10 iterations "
    "(passItr@10) when deployment errors are fed back. Their models, prompts, problems and "
    "deployment gate differ from this run's: context, not a baseline."
)
DEFINITION = (
    "Deployable: CloudFormation accepted the shown template (deploy.mode=changeset: "
    "ValidateTemplate and a CREATE change set; stack: the stack was created). passItr@n: share "
    "of chains with a deployable template at some iteration ≤ n (IaCGen's measure). Lint-clean, "
    "the gap and intent are computed on the same chains (those whose shown template was "
    "judged). 95 % CIs: percentile bootstrap over problems, paired across measures."
)
MEASURES = ["deployable", "pass_itr", "lint_clean", "gap", "clean_undeployable", "intent"]
LABELS = {
    "deployable": "deployable",
    "pass_itr": "passItr@n",
    "lint_clean": "lint-clean",
    "gap": "lint-clean − deployable",
    "clean_undeployable": "lint-clean, not deployable",
    "intent": "intent pass rate",
}


def has_deploy(attempts: pd.DataFrame) -> bool:
    """Whether any attempt was judged by the deploy validator."""
    return "deployable" in attempts and bool(attempts["deployable"].notna().any())


def with_deployable(
    chains: pd.DataFrame, attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS
) -> pd.DataFrame:
    """Filled chains with the shown attempt's `deployable` (1.0 / 0.0 / NaN) and
    `deployed_by` / `judged_by` (at this or an earlier iteration)."""
    verdict = attempts.set_index("attempt_id")["deployable"].map({True: 1.0, False: 0.0})
    keys = chain_keys(group_keys)
    out = chains.sort_values([*keys, "iteration"]).reset_index(drop=True)
    out["deployable"] = out["source_attempt_id"].map(verdict).astype(float)
    out["deployed_by"] = out["deployable"].fillna(0.0)
    out["judged_by"] = out["deployable"].notna().astype(float)
    by_chain = out.groupby(keys, sort=False, dropna=False)
    out["deployed_by"] = by_chain["deployed_by"].cummax()
    out["judged_by"] = by_chain["judged_by"].cummax()
    return out


def problem_sums(frame: pd.DataFrame, group: tuple = ()) -> ProblemData:
    """Per-problem × iteration numerators and denominators of every measure of one group."""
    judged = frame["deployable"].notna().astype(float)
    clean = frame["clean"].astype(float) * judged
    intent = frame["intent_rate"]
    has_intent = (intent.notna() & frame["deployable"].notna()).astype(float)
    parts = {
        "deployable_num": frame["deployable"].fillna(0.0),
        "judged": judged,
        "pass_itr_num": frame["deployed_by"] * frame["judged_by"],
        "judged_by": frame["judged_by"],
        "clean_num": clean,
        "clean_undeployable_num": clean * (frame["deployable"] == 0.0),
        "intent_num": intent.fillna(0.0) * has_intent,
        "intent_den": has_intent,
    }
    table = frame.assign(**parts).pivot_table(
        index="problem_id", columns="iteration", values=list(parts), aggfunc="sum", fill_value=0
    )
    iterations = np.asarray(sorted(frame["iteration"].unique()), dtype=int)

    def matrix(name: str) -> np.ndarray:
        return table[name].reindex(columns=iterations, fill_value=0).to_numpy(dtype=float)

    data = ProblemData(group=group, problems=np.asarray(table.index), iterations=iterations)
    for measure, num, den in (
        ("deployable", "deployable_num", "judged"),
        ("pass_itr", "pass_itr_num", "judged_by"),
        ("lint_clean", "clean_num", "judged"),
        ("clean_undeployable", "clean_undeployable_num", "judged"),
        ("intent", "intent_num", "intent_den"),
    ):
        data.num[measure], data.den[measure] = matrix(num), matrix(den)
    return data


def deploy_by_iteration(
    chains: pd.DataFrame,
    attempts: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per group × iteration: `chains`, `judged` and each of `MEASURES` with `_low` / `_high`."""
    frame = with_deployable(chains, attempts, group_keys)
    rng = np.random.default_rng(seed)
    rows = []
    for group in group_list(frame, group_keys):
        data = problem_sums(select(frame, group, group_keys), group)
        weights = resample_weights(len(data.problems), n_boot, rng)
        values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in ("deployable", "pass_itr", "lint_clean", "clean_undeployable", "intent"):
            values[name] = (data.point(name), data.replicates(name, weights))
        values["gap"] = (
            values["lint_clean"][0] - values["deployable"][0],
            values["lint_clean"][1] - values["deployable"][1],  # the same resamples: paired
        )
        part = select(frame, group, group_keys)
        chains_n = part.groupby("iteration").size().reindex(data.iterations, fill_value=0)
        judged = data.den["deployable"].sum(0)
        for i, t in enumerate(data.iterations):
            row = {**dict(zip(group_keys, group, strict=True)), "iteration": int(t)}
            row.update(chains=int(chains_n.iloc[i]), judged=int(judged[i]))
            for name in MEASURES:
                point, reps = values[name]
                low, high = percentile_ci(reps[:, [i]], level)
                row.update({name: point[i], f"{name}_low": low[0], f"{name}_high": high[0]})
            rows.append(row)
    return pd.DataFrame(rows)


def stage_failures(
    chains: pd.DataFrame, deploy_findings: pd.DataFrame, group_keys: list[str] = GROUP_KEYS
) -> pd.DataFrame:
    """Per group × iteration (first and last) × rule id: chains whose shown template failed
    at that stage (a chain counts once per rule)."""
    columns = [*group_keys, "iteration", "rule_id", "chains"]
    if deploy_findings.empty:
        return pd.DataFrame(columns=columns)
    last = chains.groupby(group_keys, dropna=False)["iteration"].transform("max")
    shown = chains[(chains["iteration"] == 1) | (chains["iteration"] == last)]
    right = deploy_findings[["attempt_id", "rule_id"]].rename(
        columns={"attempt_id": "source_attempt_id"}
    )
    merged = shown.merge(right.drop_duplicates(), on="source_attempt_id")
    if merged.empty:
        return pd.DataFrame(columns=columns)
    out = merged.groupby([*group_keys, "iteration", "rule_id"], dropna=False).size()
    return out.rename("chains").reset_index()[columns]


def _cell(row: pd.Series, name: str, digits: int = 3) -> str:
    if pd.isna(row[name]):
        return "–"
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    return f"{row[name]:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def deploy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One group's `deploy_by_iteration` as iteration rows with `value [low, high]` cells."""
    out = frame[["iteration", "chains", "judged"]].rename(columns={"judged": "chains judged"})
    for name in MEASURES:
        out[f"{LABELS[name]} [95 % CI]"] = frame.apply(lambda r, n=name: _cell(r, n), axis=1)
    return out


def _figure(table: pd.DataFrame, labels: dict[tuple, str], group_keys: list[str]):
    panels = []
    for name in ("deployable", "pass_itr", "gap"):
        series = []
        for group, label in labels.items():
            part = select(table, group, group_keys)
            if part.empty or part[name].isna().all():
                continue
            series.append(figures.CurveSeries.from_table(label, part, name))
        if series:
            panels.append((LABELS[name], series))
    fig = figures.lines(panels)
    horizon = int(table["iteration"].max())
    marks = [(0, 1, IACGEN_FIRST, "IaCGen, first attempt")]
    if horizon >= 10:
        marks.append((1, 10, IACGEN_PASS10, "IaCGen, passItr@10"))
    for index, t, (low, high), label in marks:
        if index < len(fig.axes):
            ax = fig.axes[index]
            ax.vlines(t, low, high, colors="black", linewidth=5, alpha=0.25)
            ax.annotate(label, (t, high), xytext=(3, 2), textcoords="offset points", fontsize=7)
    return fig


def deploy_section(
    page: Page,
    run: Run,
    chains: pd.DataFrame,
    labels: dict[tuple, str],
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """The report's deployability section; returns `deploy_by_iteration` (for deploy.csv)."""
    a = run.attempts
    table = deploy_by_iteration(chains, a, group_keys, n_boot, seed)
    page.heading("Deployability")
    page.text(DEFINITION, note=True)
    modes = sorted(a["deploy_mode"].dropna().unique()) if "deploy_mode" in a else []
    endpoints = sorted(a["deploy_endpoint"].dropna().unique()) if "deploy_endpoint" in a else []
    page.text(f"deploy mode: {', '.join(modes) or '–'}", note=True)
    if endpoints:
        page.text(
            f"Judged by a local emulator ({', '.join(endpoints)}), not by AWS: an emulator such "
            "as moto accepts templates CloudFormation rejects, so these rates show the "
            "mechanics, not deployability.",
            note=True,
        )
    judged = a[a["deployable"].notna()]
    if len(judged) and judged["clean"].fillna(False).astype(bool).eq(judged["deployable"]).all():
        page.text(
            "Every judged attempt is lint-clean exactly when it deploys (deploy.gating makes it "
            "so, and so does an emulator that runs cfn-lint, as moto does): the gap carries no "
            "information here.",
            note=True,
        )
    page.text(IACGEN_NOTE, note=True)
    page.figure(
        _figure(table, labels, group_keys),
        "deploy",
        "Deployable share of shown templates (left), passItr@n (middle) and the gap lint-clean "
        "− deployable (right) per iteration, 95 % bootstrap CIs; grey bars: IaCGen's reported "
        "ranges (first attempt, passItr@10; DPIaC-Eval, arXiv:2506.05623).",
    )
    rows = []
    for group, label in labels.items():
        part = select(table, group, group_keys)
        if part.empty:
            continue
        first, last = part.iloc[0], part.iloc[-1]
        n = int(last["iteration"])
        rows.append(
            {
                "group": label,
                "judged @1": int(first["judged"]),
                "lint-clean @1": _cell(first, "lint_clean"),
                "deployable @1": _cell(first, "deployable"),
                f"lint-clean @{n}": _cell(last, "lint_clean"),
                f"deployable @{n}": _cell(last, "deployable"),
                f"gap @{n}": _cell(last, "gap"),
                f"passItr@{n}": _cell(last, "pass_itr"),
            }
        )
    page.table(
        pd.DataFrame(rows),
        caption="Lint-clean against deployable at the first and last iteration, and passItr@n "
        "(gap: lint-clean − deployable; paired 95 % CIs)",
    )
    stages = stage_failures(chains, run.deploy_findings, group_keys)
    for group, label in labels.items():
        part = select(table, group, group_keys)
        if part.empty:
            continue
        page.table(deploy_table(part), caption=f"Deployability per iteration: {label}")
        failed = select(stages, group, group_keys)
        if not failed.empty:
            wide = failed.pivot_table(
                index="rule_id", columns="iteration", values="chains", fill_value=0
            )
            wide.columns = [f"chains @{int(c)}" for c in wide.columns]
            page.table(
                wide.reset_index().rename(columns={"rule_id": "stage"}),
                caption=f"Where undeployable templates failed (D1001 validation, D2001 change "
                f"set, D3001–D3003 stack): {label}",
            )
    return table
