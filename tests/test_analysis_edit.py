"""Edit-task measures in the report and `make compare` (issue 22): change-applied@n, collateral
changes per template, intact@n, lint-clean@n, and the loop's effect on collateral damage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.compare import compare, write
from analysis.compare_edit import compare_edits
from analysis.compare_sides import run_side
from analysis.edit_measures import edit_table, has_edits, repairs, transition_table
from analysis.load import load_run
from analysis.report import build_report
from analysis.verdict import edit_sentence
from benchmark.records.tables import read_table
from tests.synthetic_edit_runs import EditSpec, Step, edit_chain, write_edit_run
from tests.synthetic_runs import write_job, write_synthetic_run


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    """Four chains, horizon 3:
    p0: 1 error, change not applied, intact → clean, applied, one collateral change;
    p1: clean, applied and intact at once;
    p2: 2 errors and one change → 1 error, restored (fixing lint removed it) → 1 error, one
        change again (a repair that fixed nothing added it);
    p9: not an edit problem (no collateral count): left out."""
    rows = [
        *edit_chain("p0", [Step(1, 0, (1, 2)), Step(0, 1, (2, 2))], max_iterations=3),
        *edit_chain("p1", [Step(0, 0, (2, 2))], max_iterations=3),
        *edit_chain("p2", [Step(2, 1), Step(1, 0), Step(1, 1)], max_iterations=3),
        *edit_chain("p9", [Step(1, None), Step(0, None)], max_iterations=3),
    ]
    return write_job(tmp_path / "hand", rows)


def _at(long: pd.DataFrame, iteration: int) -> dict[str, float]:
    part = long[long["iteration"] == iteration]
    return dict(zip(part["measure"], part["value"], strict=True))


def test_edit_measures_count_what_each_chain_shows(hand: Path) -> None:
    long = edit_table(read_table(hand, "attempts"), n_boot=50)
    assert set(long["problems"]) == {3}  # p9 is not an edit
    first = _at(long, 1)
    assert first["applied"] == pytest.approx(2 / 3)  # p1, p2
    assert first["collateral"] == pytest.approx(1 / 3)  # p2's one change
    assert first["intact"] == pytest.approx(2 / 3)
    assert first["clean"] == pytest.approx(1 / 3)  # p1
    assert first["done"] == pytest.approx(1 / 3)  # p1
    second = _at(long, 2)  # p0 clean and applied but damaged; p1 carried; p2 restored, 1 error
    assert second["collateral"] == pytest.approx(1 / 3)
    assert second["clean"] == pytest.approx(2 / 3)
    assert second["done"] == pytest.approx(1 / 3)
    third = _at(long, 3)
    assert third["collateral"] == pytest.approx(2 / 3)
    assert (long["ci_low"] <= long["value"] + 1e-12).all()
    assert (long["value"] <= long["ci_high"] + 1e-12).all()


def test_the_loop_table_says_what_lint_fixing_repairs_did_to_collateral_damage(
    hand: Path,
) -> None:
    attempts = read_table(hand, "attempts")
    moves = repairs(attempts)
    assert len(moves) == 3  # p0 1→2, p2 1→2 and 2→3; p9 is not an edit
    table = transition_table(attempts, n_boot=50).set_index("transition")
    assert list(table.index) == ["1→2", "2→3", "all"]
    every = table.loc["all"]
    assert (every["repairs"], every["fixing_lint"]) == (3, 2)
    assert every["added_when_fixing"] == pytest.approx(0.5)  # p0
    assert every["removed_when_fixing"] == pytest.approx(0.5)  # p2
    assert every["added_otherwise"] == pytest.approx(1.0)  # p2 2→3
    assert table.loc["2→3", "fixing_lint"] == 0
    assert pd.isna(table.loc["2→3", "added_when_fixing"])


def test_a_run_without_edit_problems_has_no_edit_section(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", max_iterations=3)
    assert not has_edits(load_run(run).attempts)
    report = build_report(run, n_boot=50, fit_boot=5)
    assert "## Edit tasks" not in report.markdown.read_text()
    assert not (run / "report" / "edit.csv").exists()


def test_the_report_shows_the_edit_measures_and_the_loops_effect(tmp_path: Path) -> None:
    run = write_edit_run(tmp_path / "run", [EditSpec()], plain_problems=2, simulated=True)
    report = build_report(run, n_boot=50, fit_boot=5)
    text = report.markdown.read_text()
    section = text.split("## Edit tasks")[1].split("\n## ")[0]
    assert "SIMULATED" in section and "hand-set rates" in section
    assert "| iteration | chains | change-applied@n | collateral changes per template |" in section
    assert "### The loop's effect on collateral damage" in section
    assert "| all | " in section
    saved = pd.read_csv(run / "report" / "edit.csv")
    assert set(saved["measure"]) == {"applied", "collateral", "intact", "clean", "done"}
    assert set(saved["problems"]) == {12}  # the two plain problems are left out
    assert (run / "report" / "edit_loop.csv").exists()


def test_collateral_damage_added_by_lint_fixes_shows_at_about_its_rate(tmp_path: Path) -> None:
    specs = [EditSpec(damage_when_fixing=0.1), EditSpec("synthetic/other", damage_when_fixing=0.6)]
    run = write_edit_run(tmp_path / "run", specs, problems=40, samples=3, seed=3)
    table = transition_table(read_table(run, "attempts"), n_boot=200)
    every = table[table["transition"] == "all"].set_index("model")
    low, high = every.loc["synthetic/model"], every.loc["synthetic/other"]
    assert 0.02 <= low["added_when_fixing"] <= 0.2
    assert 0.45 <= high["added_when_fixing"] <= 0.75
    assert low["added_when_fixing_high"] < high["added_when_fixing_low"]


def test_compare_sets_the_edit_measures_of_both_sides_with_paired_cis(tmp_path: Path) -> None:
    specs = [EditSpec(damage_when_fixing=0.0), EditSpec("synthetic/other", damage_when_fixing=0.9)]
    run = write_edit_run(tmp_path / "run", specs, problems=30, samples=2)
    baseline = run_side(run, {"model": "synthetic/model"})
    candidate = run_side(run, {"model": "synthetic/other"})
    result = compare(baseline, candidate, n_boot=200, fit_boot=10)
    md, _ = write(result, tmp_path / "out", n_boot=200)
    assert "## Edit tasks" in md.read_text()
    verdict = result.edit_verdict
    assert verdict and "paired over the shared problems" in verdict
    assert "collateral changes per template at the last iteration is higher" in verdict
    diff = pd.read_csv(tmp_path / "out" / "compare_edit.csv")
    row = diff[(diff["measure"] == "collateral changes per template") & (diff["at"] == "last")]
    assert row["favours"].item() == "baseline"
    assert (diff["ci_low"] <= diff["diff"] + 1e-12).all()


def test_paired_edit_differences_of_a_side_with_itself_are_zero(hand: Path) -> None:
    attempts = read_table(hand, "attempts")
    result = compare_edits({"baseline": attempts, "candidate": attempts}, n_boot=100)
    assert result.paired
    known = result.differences.dropna(subset=["diff"])
    assert (known["diff"].abs() < 1e-12).all()
    assert "not distinguishable" in result.verdict


def test_compare_with_edits_on_one_side_only_says_so(tmp_path: Path) -> None:
    plain = write_synthetic_run(tmp_path / "plain", max_iterations=3, problems=4)
    edits = write_edit_run(tmp_path / "edits", problems=4, max_iterations=3)
    result = compare(run_side(plain, {}), run_side(edits, {}), n_boot=50, fit_boot=5)
    md, _ = write(result, tmp_path / "out", n_boot=50)
    assert "Only the candidate ran edit problems" in md.read_text()
    assert result.edit_verdict is None


@pytest.mark.parametrize(
    ("low", "high", "says", "never"),
    [
        (
            -0.4,
            -0.1,
            "collateral changes per template at the last iteration is lower by 0.25",
            "not",
        ),
        (-0.4, 0.1, "the two sides are not distinguishable", "lower"),
    ],
)
def test_the_edit_verdict_says_no_more_than_its_ci(
    low: float, high: float, says: str, never: str
) -> None:
    rows = pd.DataFrame(
        [
            {
                "measure": "collateral changes per template",
                "at": "last",
                "baseline": 0.5,
                "candidate": 0.25,
                "diff": -0.25,
                "ci_low": low,
                "ci_high": high,
            }
        ]
    )
    sentence = edit_sentence(rows, 0.95, paired=True)
    assert says in sentence and never not in sentence
    assert "better" not in sentence and "worse" not in sentence
