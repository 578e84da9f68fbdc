"""What a clean template costs: clean@k and intent@k against dollars and tokens per problem.

A *setting* is one group (model × effort × thinking × protocol × max_iterations, + prompt set
where the run has several) stopped at iteration limit k (1..its max_iterations). A chain
stopped at k would have made exactly its first k attempts, so each group gives one setting per
k from the same rows: clean@k (chains lint-clean by iteration k), intent@k (chains whose
template at k passes all its intent checks), and the dollars and tokens (input + output,
reasoning included) its chains spent on attempts 1..k. "Per problem" is per chain: one try at
one problem with all its attempts. An agent group (loop.protocol=agent) gives its last k only:
stopping an agent after k attempt rows is not the same as giving it k validate calls.

A group's cost is known when every attempt that recorded tokens has a cost; otherwise it has
*no price* and is left off the dollar axis (never counted as 0). Every figure has a 95 %
percentile bootstrap CI over problems; all settings share the same draws, so differences
between settings are paired. The Pareto front (per axis) holds the settings no other setting
beats on both cost (lower) and clean@k (higher); all others are *dominated*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.load import CHAIN_IDS, agent_mask, fill_chains, group_list, select
from analysis.measures import percentile_ci, resample_weights

# the groups of the cost section; null effort/thinking (the provider's default, or a run
# written before the columns) read as DEFAULT
# (`limit` is max_iterations as a key: fill_chains reads max_iterations as a plain column)
COST_KEYS = ["model", "effort", "thinking", "protocol", "limit"]
DEFAULT = "default"
NO_PRICE = "no price"
REASONING_COLUMNS = ("effort", "thinking", "thinking_display", "model_api", "reasoning_tokens")
AXES = {"usd": "dollars per problem", "tokens": "tokens per problem"}


def cost_keys(attempts: pd.DataFrame) -> list[str]:
    """COST_KEYS, with prompt_set where the run has more than one."""
    varies = attempts["prompt_set"].nunique(dropna=False) > 1
    return [*COST_KEYS, "prompt_set"] if varies else list(COST_KEYS)


def with_reasoning_columns(attempts: pd.DataFrame) -> pd.DataFrame:
    """The attempts with every reasoning column present (null where a run predates it) and
    null effort / thinking read as DEFAULT, so they can key groups."""
    frame = attempts.copy()
    for name in (*REASONING_COLUMNS, "truncation", "truncated"):
        if name not in frame:
            frame[name] = None
    for name in ("effort", "thinking"):
        frame[name] = frame[name].astype(object).where(frame[name].notna(), DEFAULT)
    frame["limit"] = frame["max_iterations"]
    return frame


def with_axes(attempts: pd.DataFrame, group_keys: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The attempts (reasoning columns filled as `with_reasoning_columns`) and `group_keys`
    with effort and thinking added where the run varies them, so that two effort levels of one
    model are two series, never one mixed."""
    frame = with_reasoning_columns(attempts)
    extra = [c for c in ("effort", "thinking") if c not in group_keys and frame[c].nunique() > 1]
    return frame, [*group_keys, *extra]


def label(group: tuple, keys: list[str]) -> str:
    """`model · effort=low · thinking=adaptive · protocol · max_iterations=10 [· prompt set]`
    (the keys given, in their order; a comparison's side first, as `baseline:`)."""
    named = {"effort": "effort={}", "thinking": "thinking={}", "limit": "max_iterations={}"}
    parts = [named.get(key, "{}").format(value) for key, value in zip(keys, group, strict=True)]
    text = " · ".join(parts)
    if keys and keys[0] == "side":
        text = text.replace(" · ", ": ", 1)
    return text


@dataclass
class Setting:
    """One group at iteration limit k, as per-problem sums (what bootstrap draws weigh)."""

    group: tuple
    label: str
    k: int
    final: bool  # k is the group's own max_iterations
    priced: bool
    simulated: bool
    reasoning_known: bool  # some attempt recorded reasoning_tokens
    sums: dict[str, np.ndarray] = field(default_factory=dict)  # name -> per-problem sums

    def ratio(self, num: str, den: str, weights: np.ndarray | None = None) -> np.ndarray:
        """Σ num / Σ den over problems: as observed (a 0-d array), or per draw of `weights`."""
        a, b = self.sums[num], self.sums[den]
        a, b = (a.sum(), b.sum()) if weights is None else (weights @ a, weights @ b)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


@dataclass
class CostTable:
    """Every setting's figures with CIs, and the settings themselves (for paired draws)."""

    table: pd.DataFrame
    settings: list[Setting]
    keys: list[str]
    problems: np.ndarray
    weights: np.ndarray

    @property
    def finals(self) -> pd.DataFrame:
        return self.table[self.table["final"]].reset_index(drop=True)


FIGURES = {  # column -> (numerator, denominator) of per-problem sums
    "clean": ("clean", "chains"),
    "intent": ("intent", "intent_chains"),
    "usd": ("usd", "chains"),
    "tokens": ("tokens", "chains"),
    "reasoning_tokens": ("reasoning", "chains"),
}


def _chain_costs(attempts: pd.DataFrame, keys: list[str], k: int) -> pd.DataFrame:
    """Per chain: dollars, tokens and reasoning tokens of its attempts 1..k."""
    part = attempts[attempts["iteration"] <= k]
    spent = part.assign(
        _usd=part["cost_usd"].astype(float).fillna(0.0),
        _tokens=part["input_tokens"].astype(float).fillna(0.0)
        + part["output_tokens"].astype(float).fillna(0.0),
        _reasoning=part["reasoning_tokens"].astype(float).fillna(0.0),
    )
    ids = [*keys, *(c for c in CHAIN_IDS if c not in keys)]
    return spent.groupby(ids, dropna=False)[["_usd", "_tokens", "_reasoning"]].sum().reset_index()


def is_priced(attempts: pd.DataFrame) -> bool:
    """Every call has a cost: no attempt with a reply or token counts lacks one (the rule of
    `benchmark.records.job_totals`: one call of unknown price leaves the total unknown)."""
    reply = attempts["reply"] if "reply" in attempts else pd.Series(None, index=attempts.index)
    called = reply.notna() | attempts["input_tokens"].notna() | attempts["output_tokens"].notna()
    costs = attempts.loc[called, "cost_usd"]
    if (
        "simulated" in attempts
        and attempts["simulated"].fillna(False).astype(bool).all()
        and costs.eq(0).all()
    ):
        return False  # the free simulator: $0 is no price (model.simulator.price_as gives one)
    return bool(called.any()) and bool(costs.notna().all())


def cost_table(
    attempts: pd.DataFrame,
    stopped: str = "carry",
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    first_keys: tuple[str, ...] = (),
) -> CostTable:
    """Figures of every setting (group × iteration limit k) with bootstrap CIs over problems;
    `first_keys` (columns of `attempts`, such as a comparison's `side`) split groups further."""
    frame = with_reasoning_columns(attempts)
    keys = [*first_keys, *cost_keys(frame)]
    chains = fill_chains(frame, stopped, keys)  # type: ignore[arg-type]
    chains = chains.assign(
        intent_ok=np.where(chains["intent_rate"].notna(), chains["intent_rate"] >= 1.0, np.nan)
    )
    problems = np.sort(chains["problem_id"].unique())
    index = pd.Index(problems)
    settings: list[Setting] = []
    for group in group_list(chains, keys):
        rows = select(frame, group, keys)
        mine = select(chains, group, keys)
        horizon = int(mine["iteration"].max())
        priced = is_priced(rows)
        simulated = bool(rows["simulated"].fillna(False).astype(bool).any())
        name = label(group, keys)
        # an agent stopped after k rows is not an agent given k validate calls: its last k only
        first = horizon if agent_mask(rows).any() else 1
        for k in range(first, horizon + 1):
            at = mine[mine["iteration"] == k]
            spent = _chain_costs(rows, keys, k)
            at = at.merge(spent, on=[*keys, *CHAIN_IDS], how="left").fillna(
                {"_usd": 0.0, "_tokens": 0.0, "_reasoning": 0.0}
            )
            by = at.groupby("problem_id").agg(
                chains=("clean_by", "size"),
                clean=("clean_by", "sum"),
                intent=("intent_ok", "sum"),
                intent_chains=("intent_ok", "count"),
                usd=("_usd", "sum"),
                tokens=("_tokens", "sum"),
                reasoning=("_reasoning", "sum"),
            )
            by = by.reindex(index, fill_value=0).astype(float)
            settings.append(
                Setting(
                    group,
                    name,
                    k,
                    k == horizon,
                    priced,
                    simulated,
                    bool(rows["reasoning_tokens"].notna().any()),
                    {name: by[name].to_numpy() for name in by.columns},
                )
            )
    rng = np.random.default_rng(seed)
    weights = resample_weights(len(problems), n_boot, rng)
    records = []
    for s in settings:
        row: dict[str, object] = {
            **dict(zip(keys, s.group, strict=True)),
            "group": s.label,
            "k": s.k,
            "final": s.final,
            "priced": s.priced,
            "simulated": s.simulated,
            "problems": int((s.sums["chains"] > 0).sum()),
            "chains": int(s.sums["chains"].sum()),
        }
        for name, (num, den) in FIGURES.items():
            point = float(s.ratio(num, den)) if s.sums[den].sum() > 0 else np.nan
            low, high = percentile_ci(s.ratio(num, den, weights)[:, None], level)
            row.update({name: point, f"{name}_low": float(low[0]), f"{name}_high": float(high[0])})
        if not s.priced:
            row.update(usd=np.nan, usd_low=np.nan, usd_high=np.nan)
        if not s.reasoning_known:
            row.update(reasoning_tokens=np.nan, reasoning_tokens_low=np.nan)
            row.update(reasoning_tokens_high=np.nan)
        records.append(row)
    table = pd.DataFrame(records)
    for axis in AXES:
        table[f"dominated_{axis}"] = dominated(table, axis)
    return CostTable(table, settings, keys, problems, weights)


def dominated(table: pd.DataFrame, axis: str, measure: str = "clean") -> pd.Series:
    """Per row: another row costs no more on `axis` and reaches no lower `measure`, and is
    better on one of them. Rows without a cost on the axis are never on the front (NaN)."""
    cost = table[axis].to_numpy(dtype=float)
    value = table[measure].to_numpy(dtype=float)
    out = np.full(len(table), np.nan)
    known = np.isfinite(cost) & np.isfinite(value)
    for i in np.flatnonzero(known):
        others = known & (cost <= cost[i]) & (value >= value[i])
        others &= (cost < cost[i]) | (value > value[i])
        out[i] = float(others.any())
    return pd.Series(out, index=table.index).map({1.0: True, 0.0: False})


def front(table: pd.DataFrame, axis: str = "usd") -> pd.DataFrame:
    """The non-dominated settings on `axis`, cheapest first."""
    on = table[table[f"dominated_{axis}"].eq(False)]
    return on.sort_values([axis, "clean"], ascending=[True, False]).reset_index(drop=True)


def truncations(attempts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group: attempts, truncated attempts (truncation set, or `truncated`) and by kind."""
    frame = with_reasoning_columns(attempts)
    cut = frame["truncation"].notna() | frame["truncated"].fillna(False).astype(bool)
    kind = frame["truncation"].astype(object).where(frame["truncation"].notna(), "reply_chars")
    frame = frame.assign(_cut=cut, _kind=kind.where(cut, None))
    rows = []
    for group in group_list(frame, keys):
        part = select(frame, group, keys)
        kinds = part["_kind"].dropna().value_counts()
        rows.append(
            {
                "group": label(group, keys),
                "attempts": len(part),
                "truncated": int(part["_cut"].sum()),
                "share": float(part["_cut"].mean()),
                "kinds": ", ".join(f"{name} {n}" for name, n in sorted(kinds.items())) or "–",
            }
        )
    return pd.DataFrame(rows)


def cell(row: pd.Series, name: str, fmt: str = "{:.2f}") -> str:
    """`value [low, high]`, or NO_PRICE for a dollar figure without a price."""
    if pd.isna(row[name]):
        return NO_PRICE if name == "usd" and not row["priced"] else "–"
    return f"{fmt.format(row[name])} [{fmt.format(row[name + '_low'])}, " + (
        f"{fmt.format(row[name + '_high'])}]"
    )


def display_table(table: pd.DataFrame, cuts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The final settings (k = max_iterations) as the report shows them."""
    out = pd.DataFrame(
        {
            "group": table["group"],
            "n": table["k"],
            "problems": table["problems"],
            "clean@n [95 % CI]": [cell(r, "clean") for _, r in table.iterrows()],
            "intent@n": [cell(r, "intent") for _, r in table.iterrows()],
            "$ per problem": [cell(r, "usd", "{:.4f}") for _, r in table.iterrows()],
            "tokens per problem": [cell(r, "tokens", "{:,.0f}") for _, r in table.iterrows()],
            "reasoning tokens": [
                cell(r, "reasoning_tokens", "{:,.0f}") for _, r in table.iterrows()
            ],
            "on the $ front": table["dominated_usd"].map({False: "yes", True: "dominated"}),
            "on the token front": table["dominated_tokens"].map({False: "yes", True: "dominated"}),
        }
    )
    out["on the $ front"] = out["on the $ front"].fillna(NO_PRICE)
    if cuts is not None and not cuts.empty:
        shown = cuts.set_index("group")
        out["truncated"] = [
            f"{shown.at[g, 'truncated']} ({shown.at[g, 'share']:.1%})" if g in shown.index else "–"
            for g in out["group"]
        ]
    return out
