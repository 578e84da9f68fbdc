"""For a budget of $X per problem, which setting gives the most clean templates?

Usage: python -m analysis.frontier RUN [--budget USD] [--measure clean|intent]

Reads the same figures as the report's cost-efficiency section (`analysis.cost_frontier`):
every group (model × effort × thinking × protocol × max_iterations, + prompt set where it
varies) at every iteration limit k, since a chain stopped at k costs only its first k
attempts. With --budget: the settings whose dollars per problem fit it, best first, and a
verdict that says no more than its CIs (the lead over the next setting is claimed only when
the paired bootstrap CI of the difference excludes zero). Without: the whole Pareto front
(dollars, then tokens) as a table. Groups without a price are listed, never treated as free.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from analysis.banner import SIMULATED_BANNER
from analysis.cost_frontier import FIGURES, NO_PRICE, CostTable, cell, cost_table, front
from analysis.load import load_run
from analysis.measures import percentile_ci
from analysis.verdict import budget_sentence

LEVEL = 0.95


def shown(table: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Settings as printed: group, k, measure@k, the other measure, dollars, tokens."""
    other = "intent" if measure == "clean" else "clean"
    return pd.DataFrame(
        {
            "group": table["group"],
            "k": table["k"],
            f"{measure}@k [95 % CI]": [cell(r, measure) for _, r in table.iterrows()],
            f"{other}@k": [cell(r, other) for _, r in table.iterrows()],
            "$ per problem": [cell(r, "usd", "{:.4f}") for _, r in table.iterrows()],
            "tokens per problem": [cell(r, "tokens", "{:,.0f}") for _, r in table.iterrows()],
        }
    )


def within_budget(costs: CostTable, budget: float, measure: str = "clean") -> pd.DataFrame:
    """Priced settings whose dollars per problem (point estimate) fit the budget, best first
    (ties: the cheaper first)."""
    table = costs.table
    fits = table[table["usd"].notna() & (table["usd"] <= budget) & table[measure].notna()]
    return fits.sort_values([measure, "usd"], ascending=[False, True])


def paired_difference(
    costs: CostTable, a: pd.Series, b: pd.Series, measure: str, level: float = LEVEL
) -> tuple[float, float, float]:
    """measure@k of setting a − setting b, with the percentile CI of the same problem draws."""
    index = {(s.label, s.k): s for s in costs.settings}
    first, second = index[(a["group"], a["k"])], index[(b["group"], b["k"])]
    num, den = FIGURES[measure]
    reps = first.ratio(num, den, costs.weights) - second.ratio(num, den, costs.weights)
    low, high = percentile_ci(reps[:, None], level)
    return float(a[measure] - b[measure]), float(low[0]), float(high[0])


def answer(costs: CostTable, budget: float, measure: str = "clean") -> str:
    """The verdict for one budget."""
    fits = within_budget(costs, budget, measure)
    if fits.empty:
        priced = costs.table[costs.table["usd"].notna()]
        if priced.empty:
            return f"No setting has a price, so none can be said to fit ${budget:g} per problem."
        cheapest = priced.sort_values("usd").iloc[0]
        return (
            f"No priced setting costs at most ${budget:g} per problem; the cheapest is "
            f"{cheapest['group']} stopped at iteration {cheapest['k']}, at "
            f"${cell(cheapest, 'usd', '{:.4f}')} per problem."
        )
    best = fits.iloc[0]
    rest = fits.iloc[1:]
    runner = rest[rest["group"] != best["group"]]
    runner = runner if not runner.empty else rest
    if runner.empty:
        return budget_sentence(budget, best.to_dict(), None, None, measure, LEVEL)
    second = runner.iloc[0]
    diff = paired_difference(costs, best, second, measure)
    return budget_sentence(budget, best.to_dict(), second.to_dict(), diff, measure, LEVEL)


def main(argv: list[str] | None = None, prog: str = "python -m analysis.frontier") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        epilog=(
            "examples:\n"
            "  iacbench frontier runs/<sweep>\n"
            "  iacbench frontier runs/<sweep> --budget 0.05\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", help="a run folder (runs/<sweep> or one job folder)")
    parser.add_argument("--budget", type=float, help="dollars per problem (one chain)")
    parser.add_argument("--measure", choices=["clean", "intent"], default="clean")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--stopped", choices=["carry", "exclude"], default="carry")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.budget is not None and not (np.isfinite(args.budget) and args.budget > 0):
        print(f"error: --budget must be a positive number of dollars, not {args.budget}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        run = load_run(args.run)
        costs = cost_table(run.attempts, args.stopped, args.n_boot, args.seed)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    simulated = bool(costs.table["simulated"].any())
    if simulated:
        print(f"*** {SIMULATED_BANNER} ***\n")
    unpriced = sorted(costs.table.loc[~costs.table["priced"], "group"].unique())
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        if args.budget is None:
            for axis, words in (("usd", "dollars"), ("tokens", "tokens")):
                on = front(costs.table, axis)
                print(f"Pareto front on {words} per problem ({len(on)} settings, cheapest first):")
                print(shown(on, args.measure).to_string(index=False) if len(on) else "  none")
                print()
        else:
            fits = within_budget(costs, args.budget, args.measure)
            print(f"Settings within ${args.budget:g} per problem ({len(fits)}, best first):")
            print(
                shown(fits.head(15), args.measure).to_string(index=False) if len(fits) else "  none"
            )
            print()
            print(answer(costs, args.budget, args.measure))
    if unpriced:
        print(f"\n{NO_PRICE} (left off the dollar figures, never counted as $0): "
              + "; ".join(unpriced))  # fmt: skip
        if simulated:
            print("(the simulator costs nothing: ARGS='model.simulator.price_as=<provider/model>' "
                  "bills its tokens at that model's prices, for a demonstration)")  # fmt: skip
    if simulated:
        print(f"\n*** {SIMULATED_BANNER} ***")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
