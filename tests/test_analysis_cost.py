"""Cost efficiency, the Pareto front, `make frontier` and pass@k / pass^k (issue 19)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.compare import compare, write
from analysis.compare_sides import run_side
from analysis.cost_frontier import cost_table, display_table, truncations
from analysis.load import load_run
from analysis.mended import mended_notes
from analysis.pass_at_k import group_pass_k, pass_at_k, pass_hat_k
from analysis.report import build_report
from analysis.verdict import budget_sentence
from benchmark import cli
from tests.synthetic_runs import GroupSpec, attempt_row, write_job, write_synthetic_run

PROBLEMS = [f"p{i}" for i in range(6)]


def _row(pid: str, iteration: int, job: int, clean: bool, cost: float | None, **extra):
    return attempt_row(
        pid,
        0,
        iteration,
        errors=0 if clean else 1,
        job_id=job,
        max_iterations=2,
        input_tokens=100,
        output_tokens=50,
        intent_passed=1,
        intent_total=1,
        cost_usd=cost,
        **extra,
    )


def _priced_run(root: Path) -> Path:
    """low effort: unclean then clean at $0.01 an attempt; high effort: clean at once at $0.03;
    an unpriced model: clean at once, tokens recorded, cost null."""
    low = [_row(p, i, 0, i == 2, 0.01, effort="low", reasoning_tokens=10) for p in PROBLEMS
           for i in (1, 2)]  # fmt: skip
    high = [_row(p, 1, 1, True, 0.03, effort="high", reasoning_tokens=40) for p in PROBLEMS]
    free = [_row(p, 1, 2, True, None, model="other/unpriced") for p in PROBLEMS]
    write_job(root / "0", low)
    write_job(root / "1", high)
    write_job(root / "2", free)
    return root


def _setting(table: pd.DataFrame, effort: str, k: int, model: str = "synthetic/model"):
    rows = table[(table["effort"] == effort) & (table["k"] == k) & (table["model"] == model)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_pass_at_k_and_pass_hat_k_equal_the_share_of_k_subsets_that_pass() -> None:
    for n in range(1, 7):
        for c in range(n + 1):
            outcomes = [1] * c + [0] * (n - c)
            for k in range(1, n + 1):
                subsets = list(combinations(outcomes, k))
                assert pass_at_k(n, c, k) == pytest.approx(np.mean([any(s) for s in subsets]))
                assert pass_hat_k(n, c, k) == pytest.approx(np.mean([all(s) for s in subsets]))
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_pass_k_is_computed_per_problem_then_averaged_at_every_iteration() -> None:
    clean_by = {("a", 1): [1, 0, 0], ("a", 2): [1, 1, 0], ("b", 1): [0, 0, 0], ("b", 2): [1, 1, 1]}
    chains = pd.DataFrame(
        [
            {"problem_id": p, "iteration": t, "sample": s, "clean_by": v, "intent_rate": np.nan}
            for (p, t), values in clean_by.items()
            for s, v in enumerate(values)
        ]
    )
    table = group_pass_k(chains, n_boot=200).set_index(["measure", "metric", "k", "iteration"])
    assert set(table.index.get_level_values("measure")) == {"clean"}  # no intent checks
    value = table["value"]
    assert value[("clean", "pass@k", 1, 1)] == pytest.approx((1 / 3 + 0) / 2)
    assert value[("clean", "pass@k", 2, 1)] == pytest.approx((2 / 3 + 0) / 2)
    assert value[("clean", "pass@k", 3, 1)] == pytest.approx(0.5)
    assert value[("clean", "pass^k", 2, 2)] == pytest.approx((1 / 3 + 1) / 2)
    assert ("clean", "pass^k", 1, 1) not in table.index  # pass^1 is pass@1
    row = table.loc[("clean", "pass@k", 2, 1)]
    assert row["ci_low"] <= row["value"] <= row["ci_high"] and row["n_problems"] == 2


def test_cost_per_setting_counts_the_attempts_up_to_k_and_never_prices_the_unpriced_at_zero(
    tmp_path: Path,
) -> None:
    run = load_run(_priced_run(tmp_path / "run"))
    table = cost_table(run.attempts, n_boot=200).table
    low1, low2 = _setting(table, "low", 1), _setting(table, "low", 2)
    high1, high2 = _setting(table, "high", 1), _setting(table, "high", 2)
    assert (low1["clean"], low1["usd"], low1["tokens"]) == pytest.approx((0.0, 0.01, 150))
    assert (low2["clean"], low2["usd"], low2["tokens"]) == pytest.approx((1.0, 0.02, 300))
    assert low2["reasoning_tokens"] == pytest.approx(20) and low2["intent"] == 1.0
    # a chain that stopped clean at 1 costs nothing more at limit 2
    assert high1["usd"] == pytest.approx(0.03) and high2["usd"] == pytest.approx(0.03)
    # on dollars: low at 2 is as clean as high and cheaper, so high is dominated
    assert [low1["dominated_usd"], low2["dominated_usd"]] == [False, False]
    assert high1["dominated_usd"] and high2["dominated_usd"]
    free = _setting(table, "default", 1, model="other/unpriced")
    assert not free["priced"] and np.isnan(free["usd"]) and pd.isna(free["dominated_usd"])
    # its tokens are known: on the token axis it is as clean as any and as cheap as any
    assert free["dominated_tokens"] == False  # noqa: E712 (a pandas object, not a bool)
    assert np.isnan(free["reasoning_tokens"])  # not recorded, not zero
    shown = display_table(table[table["final"]])
    assert shown.loc[shown["group"].str.startswith("other/"), "$ per problem"].item() == "no price"


def test_a_run_written_before_the_reasoning_columns_reads_as_the_default_effort(
    tmp_path: Path,
) -> None:
    run = load_run(_priced_run(tmp_path / "run"))
    old = run.attempts.drop(columns=["effort", "thinking", "reasoning_tokens", "truncation"])
    table = cost_table(old, n_boot=50).table
    assert set(table["effort"]) == {"default"} and set(table["thinking"]) == {"default"}


def test_truncations_are_counted_per_group_by_kind() -> None:
    attempts = pd.DataFrame(
        [
            attempt_row("p", 0, 1, errors=1, truncation="max_tokens", truncated=True),
            attempt_row("p", 0, 2, errors=1, truncated=True),  # before `truncation`: reply_chars
            attempt_row("p", 0, 3),
            attempt_row("p", 0, 1, job_id=1, model="other/m"),
        ]
    )
    cuts = truncations(attempts, ["model"]).set_index("group")
    mine = cuts.loc[cuts.index.str.startswith("synthetic/")].iloc[0]
    assert (mine["attempts"], mine["truncated"]) == (3, 2)
    assert mine["kinds"] == "max_tokens 1, reply_chars 1"
    assert cuts.loc[cuts.index.str.startswith("other/"), "truncated"].item() == 0
    notes = " ".join(mended_notes(attempts))
    assert "1 attempts had replies cut at" in notes and "1 attempts stopped at the model's" in notes


def test_the_report_has_a_cost_section_and_splits_series_by_effort(tmp_path: Path) -> None:
    root = write_synthetic_run(
        tmp_path / "run",
        [
            GroupSpec(effort="low", reasoning_tokens=50, model_api="simulated"),
            GroupSpec(effort="high", errors=(1.0, 1.0, 0.1), cost_usd=0.006, truncation_rate=0.1),
            GroupSpec(model="synthetic/unpriced", cost_usd=None),
        ],
        problems=6,
        samples=2,
        max_iterations=4,
        simulated=True,
    )
    report = build_report(root, n_boot=100, fit_boot=5)
    text = report.markdown.read_text()
    assert "## Cost efficiency: what a clean template costs" in text
    assert "synthetic/unpriced · effort=default" in text and "no price" in text
    assert "## pass@k and pass^k over samples" in text
    # two effort levels of one model are two series, not one mixed
    assert "## synthetic/model · paper · stateless · high" in text
    assert "## synthetic/model · paper · stateless · low" in text
    assert "| effort | thinking | model api |" in text.replace("output format | ", "")
    assert "Truncations per group" in text and "max_tokens" in text
    assert "- reasoning: effort default, high, low; thinking default" in text
    assert "model api simulated" in text
    assert (root / "report" / "cost_frontier.csv").exists()
    assert (root / "report" / "figures" / "cost_frontier.png").exists()
    passk = pd.read_csv(root / "report" / "pass_at_k.csv")
    assert {"pass@k", "pass^k"} <= set(passk["metric"]) and set(passk["k"]) == {1, 2}


def _frontier(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["frontier", *args, "--n-boot", "200"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_frontier_answers_a_budget_saying_no_more_than_its_ci(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(_priced_run(tmp_path / "run"))
    code, out = _frontier([run, "--budget", "0.025"], capsys)
    assert code == 0
    assert "For $0.025 per problem, synthetic/model · effort=low" in out
    assert "stopped at iteration 2 gives the most clean templates" in out
    assert "It is ahead of the next" in out  # clean 1 against 0 on every draw
    assert "no price (left off the dollar figures, never counted as $0): other/unpriced" in out
    # with room for high effort, it is as clean as low effort at 2: no lead is claimed
    code, out = _frontier([run, "--budget", "0.05"], capsys)
    assert "is not distinguishable" in out and "includes zero" in out
    code, out = _frontier([run, "--budget", "0.001"], capsys)
    assert code == 0 and "No priced setting costs at most $0.001" in out


def test_frontier_without_a_budget_prints_the_front_and_refuses_a_bad_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(_priced_run(tmp_path / "run"))
    code, out = _frontier([run], capsys)
    front = out.split("Pareto front on tokens")[0]
    assert code == 0 and "Pareto front on dollars per problem (2 settings" in front
    assert "effort=high" not in front and "other/unpriced" not in front
    code, out = _frontier([run, "--budget", "-1"], capsys)
    assert code == 2 and out.strip().splitlines() == [
        "error: --budget must be a positive number of dollars, not -1.0"
    ]


def test_compare_shows_effort_as_an_axis_with_cost_and_pass_k(tmp_path: Path) -> None:
    run = _priced_run(tmp_path / "run")
    base = run_side(run, {"effort": "low"})
    cand = run_side(run, {"effort": "high"})
    result = compare(base, cand, n_boot=100, fit_boot=5)
    assert any("efforts differ" in n and "legitimate axis" in n for n in result.notes)
    sides = result.sides().set_index("side")
    assert sides.loc["baseline", "effort"] == "low" and sides.loc["candidate", "effort"] == "high"
    md, _ = write(result, tmp_path / "cmp", n_boot=100)
    text = md.read_text()
    assert "## Cost efficiency (each side at its last iteration n)" in text
    assert "## pass@k and pass^k over samples" in text
    diff = pd.read_csv(tmp_path / "cmp" / "compare_cost_diff.csv").set_index("figure")
    assert diff.loc["dollars per problem", "diff"] == pytest.approx(0.01)
    assert diff.loc["dollars per problem", "favours"] == "baseline"


def test_the_budget_sentence_warns_when_the_cost_ci_passes_the_budget() -> None:
    best = {"group": "m · effort=high", "k": 3, "clean": 0.9, "clean_low": 0.8,
            "clean_high": 1.0, "usd": 0.04, "usd_low": 0.03, "usd_high": 0.06}  # fmt: skip
    text = budget_sentence(0.05, best, None, None, "clean", 0.95)
    assert "It is the only priced setting within the budget." in text
    assert "Its cost's 95% CI reaches $0.0600, above the budget" in text
    runner = {**best, "group": "m · effort=low", "k": 5, "clean": 0.7, "usd_high": 0.045}
    text = budget_sentence(0.07, best, runner, (0.2, 0.05, 0.35), "clean", 0.95)
    assert "It is ahead of the next, m · effort=low stopped at iteration 5" in text
    assert "above the budget" not in text


def test_the_free_simulator_is_left_off_the_dollar_axis_unless_billed(tmp_path: Path) -> None:
    run = load_run(_priced_run(tmp_path / "run"))
    free = run.attempts.assign(simulated=True, cost_usd=0.0)
    table = cost_table(free, n_boot=50).table
    assert not table["priced"].any() and table["usd"].isna().all()
    billed = run.attempts.assign(simulated=True)  # model.simulator.price_as: real prices
    assert cost_table(billed, n_boot=50).table.query("model != 'other/unpriced'")["priced"].all()
