"""Lint drift: the same templates judged twice, per iteration and rule by rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import drift
from analysis.banner import RECORDED_BANNER
from analysis.load import fill_chains, load_run
from analysis.measures import per_iteration
from benchmark.replication.paper_repo import RECORDED_SOURCE
from tests.synthetic_runs import (
    NEW_RULE,
    GroupSpec,
    attempt_row,
    finding_row,
    write_job,
    write_relinted_run,
    write_synthetic_run,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drift")
    base = write_synthetic_run(root / "base", [GroupSpec()], problems=15, samples=3, seed=5)
    return {
        "base": base,
        "relinted": write_relinted_run(base, root / "relinted", drop_rules=["E3012"], seed=1),
        "same": write_relinted_run(
            base, root / "same", cfn_lint_version="1.58.0", add_rule=None, add_rate=0.0
        ),
        "recorded": write_synthetic_run(
            root / "recorded", [GroupSpec(model="openai/gpt-4o")], problems=12, recorded=True
        ),
        "other": write_synthetic_run(root / "other", [GroupSpec()], sweep_id="other", seed=9),
    }


def _at(result: drift.Drift, measure: str, iteration: int) -> dict:
    per = result.per_iteration
    return per[(per["measure"] == measure) & (per["iteration"] == iteration)].iloc[0].to_dict()


def test_rules_that_appear_and_vanish_are_counted(runs: dict[str, Path]) -> None:
    result = drift.from_runs(runs["base"], runs["relinted"], n_boot=300)
    base, relinted = load_run(runs["base"]), load_run(runs["relinted"])
    rules = result.rules.set_index("rule_id")
    added = relinted.findings[relinted.findings["rule_id"] == NEW_RULE]
    assert rules.loc[NEW_RULE, "change"] == "appears"
    assert rules.loc[NEW_RULE, "findings_a"] == 0
    assert rules.loc[NEW_RULE, "findings_b"] == len(added) > 0
    assert rules.loc[NEW_RULE, "templates_b"] == added["attempt_id"].nunique()
    dropped = base.findings[base.findings["rule_id"] == "E3012"]
    assert rules.loc["E3012", "change"] == "vanishes"
    assert rules.loc["E3012", "findings_a"] == len(dropped) > 0
    assert rules.loc["E3012", "findings_b"] == 0
    assert (rules.loc[["E3003", "W2001"], "change"] == "same").all()
    assert result.rules["diff"].abs().is_monotonic_decreasing  # largest change first
    summary = result.summary()
    assert f"{NEW_RULE} ×{len(added)}" in summary and "E3012" in summary


def test_per_iteration_sides_are_the_runs_own_measures(runs: dict[str, Path]) -> None:
    result = drift.from_runs(runs["base"], runs["relinted"], n_boot=300)
    long = per_iteration(fill_chains(load_run(runs["base"]).attempts), n_boot=10)
    errors = long[(long["measure"] == "errors") & (long["stat"] == "mean")]
    per = result.per_iteration[result.per_iteration["measure"] == "errors per template"]
    np.testing.assert_allclose(per["a"].to_numpy(), errors["value"].to_numpy())
    # the added warnings show under B at every iteration, clean templates become unclean
    last = _at(result, "warnings per template", 10)
    assert last["diff"] > 0 and last["ci_low"] > 0
    clean = _at(result, "clean fraction", 10)
    assert clean["b"] < clean["a"] and clean["ci_high"] < 0
    for row in result.per_iteration.itertuples():
        assert row.ci_low <= row.diff <= row.ci_high
        assert row.a_low <= row.a <= row.a_high and row.b_low <= row.b <= row.b_high


def test_the_same_linting_twice_has_no_drift(runs: dict[str, Path]) -> None:
    result = drift.from_runs(runs["base"], runs["same"], n_boot=200)
    assert (result.per_iteration["diff"] == 0).all()
    assert (result.per_iteration["ci_low"] == 0).all() and (
        result.per_iteration["ci_high"] == 0
    ).all()
    assert (result.rules["change"] == "same").all()
    assert "Every rule has the same count" in result.summary()


def test_recorded_findings_against_the_configured_lint(runs: dict[str, Path]) -> None:
    result = drift.from_recorded(runs["recorded"], n_boot=200)
    run = load_run(runs["recorded"])
    rules = result.rules.set_index("rule_id")
    assert rules.loc[NEW_RULE, "change"] == "appears"
    assert (rules.drop(index=NEW_RULE)["change"] == "same").all()
    # A counts the authors' recorded findings: at iteration 1, mean warnings per template
    first = run.attempts[run.attempts["iteration"] == 1]["attempt_id"]
    recorded = run.findings[
        (run.findings["source"] == RECORDED_SOURCE) & run.findings["attempt_id"].isin(first)
    ]
    expected = (recorded["level"] == "W").sum() / len(first)
    assert _at(result, "warnings per template", 1)["a"] == pytest.approx(expected)
    assert _at(result, "errors per template", 1)["diff"] == 0
    assert result.recorded_notice is not None and RECORDED_BANNER in result.recorded_notice
    assert "as the authors ran it" in result.sides()["cfn-lint and lint date"].iloc[0]


def test_a_template_judged_on_one_side_only_drops_its_chain(tmp_path: Path) -> None:
    chains = {p: [attempt_row(p, 0, 1, errors=1), attempt_row(p, 0, 2)] for p in "ab"}
    write_job(tmp_path / "a" / "0", [*chains["a"], *chains["b"]])
    write_job(
        tmp_path / "b" / "0",
        [*chains["a"], chains["b"][0]],  # b's second template was not judged again
        [finding_row(chains["a"][0], 0, "E3012", "Resources/Bucket")],
    )
    result = drift.from_runs(tmp_path / "a", tmp_path / "b", n_boot=50)
    assert any("1 template judged only under A" in n for n in result.notes)
    assert any("1 chain showing a template not judged" in n for n in result.notes)
    assert result.per_iteration["chains"].eq(1).all()
    assert result.rules.set_index("rule_id").loc["E3012", "change"] == "appears"


def test_cli(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = [str(runs["base"]), str(runs["relinted"]), "--out", str(out), "--n-boot", "100"]
    assert drift.main(args) == 0
    assert "appears" in capsys.readouterr().out
    for name in ("drift.md", "drift.html", "drift_per_iteration.csv", "drift_rules.csv"):
        assert (out / name).exists(), name
    assert (out / "figures" / "drift_rules.png").exists()
    assert (out / "drift_rules.csv").read_text().startswith("simulated,origin,rule_id")
    html = (out / "drift.html").read_text()
    assert "cfn-lint 1.59.0, linted 2025-06-01" in html and "data:image/png;base64," in html

    assert drift.main([str(runs["recorded"]), "--recorded", "--n-boot", "50"]) == 0
    assert (runs["recorded"] / "report" / "drift-recorded" / "drift.md").exists()
    capsys.readouterr()

    assert drift.main([str(runs["base"])]) == 2
    assert "RUN_A RUN_B" in capsys.readouterr().err
    assert drift.main([str(runs["base"]), "--recorded"]) == 2
    assert "no recorded rows" in capsys.readouterr().err
    assert drift.main([str(runs["base"]), str(runs["other"]), "--out", str(tmp_path / "x")]) == 2
    assert "no template in common" in capsys.readouterr().err
