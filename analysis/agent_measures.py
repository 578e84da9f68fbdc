"""Measures only an agent has (loop.protocol=agent), beside the fixed loops of the same run.

A chain's *submission* is its final answer. For an agent chain it is the row the loop marked
`submitted` (the template given to submit_template, or a template in a reply without a tool
call); a chain that ended `no_submission` or `max_turns` without one has no submission and
counts as neither clean nor intent-passing. For a fixed loop (stateless, conversation) it is
the chain's last scored attempt, so clean@submission there is clean@n under `--stopped carry`.

Per group (one row each, fixed loops included so they read side by side):

* `unvalidated`: share of chains that submitted a template they never showed to
  validate_template (`submission_validated` false);
* `open`: share of chains that submitted a template the last validate reported findings for
  (`open_findings_at_submit` > 0);
* `validate_calls`, `lookups`: validate_template and get_resource_schema calls per chain;
* `clean`, `intent`: share of chains whose submission is lint-clean / passes all its intent
  checks (intent: over chains with intent checks, plus agent chains without a submission);
* `tokens_per_clean`, `usd_per_clean`: every token (input + output) and dollar the group's
  chains spent, over its clean submissions (dollars only where every call has a price).

The first four are agent-only (NaN for fixed loops). CIs: 95 % percentile bootstrap over
problems (a draw of problems brings all their chains), one draw shared by every group, so
figures are ratios of per-problem sums, as in `analysis.cost_frontier`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.cost_frontier import is_priced
from analysis.load import (
    AGENT_ENDS,
    AGENT_PROTOCOL,
    GROUP_KEYS,
    agent_mask,
    chain_keys,
    group_label,
    group_list,
    scored_mask,
    select,
)
from analysis.measures import percentile_ci, resample_weights

PROTOCOL_ORDER = {"stateless": 0, "conversation": 1, AGENT_PROTOCOL: 2}
ENDS = AGENT_ENDS
# figure -> (numerator, denominator) of per-problem sums, and whether only an agent has it
FIGURES: dict[str, tuple[str, str, bool]] = {
    "unvalidated": ("unvalidated", "chains", True),
    "open": ("open", "chains", True),
    "validate_calls": ("validate_calls", "chains", True),
    "lookups": ("lookups", "chains", True),
    "clean": ("clean", "chains", False),
    "intent": ("intent_ok", "intent_chains", False),
    "tokens_per_clean": ("tokens", "clean", False),
    "usd_per_clean": ("usd", "clean", False),
}
NAMES = {
    "unvalidated": "submitted unvalidated",
    "open": "submitted with findings open",
    "validate_calls": "validate calls per chain",
    "lookups": "schema lookups per chain",
    "clean": "clean@submission",
    "intent": "intent@submission",
    "tokens_per_clean": "tokens per clean submission",
    "usd_per_clean": "$ per clean submission",
}
AGENT_COLUMNS = ("tool", "submitted", "submission_validated", "open_findings_at_submit")
AGENT_COLUMNS += ("schema_lookups", "schema_lookup_types")


def with_agent_columns(attempts: pd.DataFrame) -> pd.DataFrame:
    """The attempts with every agent column present (null in runs written before them)."""
    frame = attempts.copy()
    for name in AGENT_COLUMNS:
        if name not in frame:
            frame[name] = None
    return frame


def has_agent(attempts: pd.DataFrame) -> bool:
    """Whether some chain ran the agent protocol."""
    return bool(agent_mask(attempts).any())


def lookup_types(cell: object) -> list[str]:
    """The resource types a `schema_lookup_types` cell lists (none for null or bad JSON)."""
    if not isinstance(cell, str) or not cell:
        return []
    try:
        value = json.loads(cell)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def chain_table(attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """One row per chain: `agent`, `end` (the last row's stop_reason), `submitted`, the counts
    behind FIGURES (NaN where a figure does not apply) and its tokens and dollars."""
    frame = with_agent_columns(attempts)
    keys = chain_keys(group_keys)
    frame = frame.assign(
        _agent=agent_mask(frame),
        _scored=scored_mask(frame),
        _tokens=frame["input_tokens"].astype(float).fillna(0.0)
        + frame["output_tokens"].astype(float).fillna(0.0),
        _usd=frame["cost_usd"].astype(float).fillna(0.0),
        _validate=(frame["tool"] == "validate_template").astype(float),
        _lookups=frame["schema_lookups"].astype(float).fillna(0.0),
        _submitted=frame["submitted"].fillna(False).astype(bool),
    ).sort_values([*keys, "iteration"])
    grouped = frame.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(
        agent=("_agent", "any"),
        rows=("iteration", "size"),
        tokens=("_tokens", "sum"),
        usd=("_usd", "sum"),
        validate_calls=("_validate", "sum"),
        lookups=("_lookups", "sum"),
    )
    out["end"] = grouped["stop_reason"].last()
    # the submission: the agent's submitted row; a fixed loop's last scored attempt
    final = pd.concat(
        [
            frame[frame["_agent"] & frame["_submitted"]],
            frame[~frame["_agent"] & frame["_scored"]],
        ]
    )
    final = final.groupby(keys, sort=False, dropna=False).tail(1).set_index(keys)
    final = final.reindex(out.index)
    out["submitted"] = final["iteration"].notna()
    out["clean"] = (final["clean"].fillna(False).astype(bool) & final["_scored"].eq(True)).astype(
        float
    )
    total = final["intent_total"].astype(float)
    passed = final["intent_passed"].astype(float)
    intent = pd.Series(np.where(total > 0, (passed >= total).astype(float), np.nan), out.index)
    # an agent chain without a submission passes no intent check, where its group checks intent
    checked = frame.assign(_checked=frame["intent_total"].astype(float) > 0)
    checked = checked.groupby(group_keys, dropna=False)["_checked"].any()
    group_checks = checked.reindex(pd.MultiIndex.from_frame(out.reset_index()[group_keys]))
    missing = (out["agent"] & ~out["submitted"]).to_numpy() & group_checks.to_numpy(dtype=bool)
    out["intent_ok"] = intent.where(~missing, 0.0)
    validated = final["submission_validated"].astype("boolean")
    out["unvalidated"] = (out["submitted"] & validated.eq(False).fillna(False)).astype(float)
    opened = final["open_findings_at_submit"].astype(float).fillna(0.0) > 0
    out["open"] = (out["submitted"] & opened).astype(float)
    for name in ("unvalidated", "open", "validate_calls", "lookups"):
        out[name] = out[name].where(out["agent"])
    return out.reset_index()


@dataclass
class AgentTable:
    """Per group: the figures with CIs (`table`), and per-problem sums for paired draws."""

    table: pd.DataFrame
    sums: dict[tuple, dict[str, np.ndarray]]
    problems: np.ndarray
    weights: np.ndarray


def problem_sums(chains: pd.DataFrame, problems: np.ndarray) -> dict[str, np.ndarray]:
    """Per-problem sums of one group's chain table, in the order of `problems`."""
    part = chains.assign(chains=1.0, intent_chains=chains["intent_ok"].notna().astype(float))
    columns = ["chains", "intent_chains", *{num for num, _, _ in FIGURES.values()}]
    by = part.groupby("problem_id")[columns].sum(min_count=1)
    by = by.reindex(pd.Index(problems), fill_value=np.nan)
    return {name: by[name].to_numpy(dtype=float) for name in columns}


def ratio(sums: dict[str, np.ndarray], name: str, weights: np.ndarray | None = None) -> np.ndarray:
    """FIGURES[name] as Σ num / Σ den: as observed (0-d) or per draw of `weights` (B × P)."""
    num, den, _ = FIGURES[name]
    a, b = np.nan_to_num(sums[num]), np.nan_to_num(sums[den])
    a, b = (a.sum(), b.sum()) if weights is None else (weights @ a, weights @ b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def agent_table(
    attempts: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> AgentTable:
    """Every group's figures with bootstrap CIs; agent-only figures NaN for fixed loops."""
    chains = chain_table(attempts, group_keys)
    problems = np.sort(chains["problem_id"].unique())
    weights = resample_weights(len(problems), n_boot, np.random.default_rng(seed))
    rows, sums = [], {}
    for group in group_list(chains, group_keys):
        mine = select(chains, group, group_keys)
        agent = bool(mine["agent"].any())
        sums[group] = problem_sums(mine, problems)
        rows_of = select(attempts, group, group_keys)
        ends = mine["end"].value_counts()
        row: dict[str, object] = {
            **dict(zip(group_keys, group, strict=True)),
            "group": group_label(group, group_keys),
            "agent": agent,
            "priced": is_priced(rows_of),
            "problems": int(mine["problem_id"].nunique()),
            "chains": len(mine),
            "submissions": int(mine["submitted"].sum()),
            **{f"ended_{end}": int(ends.get(end, 0)) if agent else np.nan for end in ENDS},
        }
        for name, (_, _, agent_only) in FIGURES.items():
            point = float(ratio(sums[group], name))
            low, high = percentile_ci(ratio(sums[group], name, weights)[:, None], level)
            if (agent_only and not agent) or (name == "usd_per_clean" and not row["priced"]):
                point, low, high = np.nan, np.full(1, np.nan), np.full(1, np.nan)
            row.update({name: point, f"{name}_low": float(low[0]), f"{name}_high": float(high[0])})
        rows.append(row)
    table = pd.DataFrame(rows)
    order = [k for k in ("model", "effort", "thinking", "prompt_set") if k in table]
    if "protocol" in table:  # one model's protocols side by side: stateless, conversation, agent
        table["_rank"] = table["protocol"].map(PROTOCOL_ORDER).fillna(len(PROTOCOL_ORDER))
        order.append("_rank")
    if order:
        table = table.sort_values(order, kind="stable").drop(columns=["_rank"], errors="ignore")
    return AgentTable(table.reset_index(drop=True), sums, problems, weights)


def lookup_table(
    attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS, top: int = 10
) -> pd.DataFrame:
    """Per agent group, the resource types looked up most: lookups, chains that looked the type
    up, and its share of the group's lookups."""
    frame = with_agent_columns(attempts)
    frame = frame[agent_mask(frame)]
    keys = chain_keys(group_keys)
    frame = frame.assign(_type=frame["schema_lookup_types"].map(lookup_types))
    frame = frame.explode("_type").dropna(subset=["_type"])
    if frame.empty:
        return pd.DataFrame(columns=["group", "resource type", "lookups", "chains", "share"])
    parts = []
    for group in group_list(frame, group_keys):
        mine = select(frame, group, group_keys)
        looked = mine[[*keys, "_type"]].drop_duplicates()
        counts = pd.DataFrame(
            {
                "lookups": mine.groupby("_type").size(),
                "chains": looked.groupby("_type").size(),
            }
        )
        counts["share"] = counts["lookups"] / counts["lookups"].sum()
        counts = counts.sort_values(["lookups", "chains"], ascending=False).head(top)
        counts = counts.rename_axis("resource type").reset_index()
        counts.insert(0, "group", group_label(group, group_keys))
        parts.append(counts)
    return pd.concat(parts, ignore_index=True)
