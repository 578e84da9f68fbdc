"""Churn on a hand-built two-iteration example, and rule frequency by iteration."""

from __future__ import annotations

from pathlib import Path

from analysis.churn import churn_by_iteration, transitions
from analysis.load import fill_chains, load_run
from analysis.rules import rule_frequency, rule_matrix
from benchmark.replication.paper_repo import RECORDED_SOURCE
from tests.synthetic_runs import attempt_row, finding_row, write_job

BUCKET = "Resources/Bucket/Properties/BucketName"
ROLE = "Resources/Role/Properties/Policies/0"
TABLE = "Resources/Table/Properties/KeySchema"


def _write(tmp_path: Path) -> Path:
    a1 = attempt_row("p", 0, 1, errors=4, warnings=1)
    a2 = attempt_row(
        "p", 0, 2, errors=3, warnings=1, stop_reason="max_iterations", max_iterations=2
    )
    a1["max_iterations"] = 2
    findings = [
        # iteration 1: E3012@bucket twice, E3003@role, E1019@table, W2001@bucket
        finding_row(a1, 0, "E3012", BUCKET, line=4),
        finding_row(a1, 1, "E3012", BUCKET, line=9),
        finding_row(a1, 2, "E3003", ROLE),
        finding_row(a1, 3, "E1019", TABLE),
        finding_row(a1, 4, "W2001", BUCKET),
        # iteration 2: one E3012@bucket stays (line moved), E3003 moves to another path
        # (= fixed at role + introduced at table), W2001 stays, E1019 fixed, E3030 new
        finding_row(a2, 0, "E3012", BUCKET, line=12),
        finding_row(a2, 1, "E3003", TABLE),
        finding_row(a2, 2, "E3030", ROLE),
        finding_row(a2, 3, "W2001", BUCKET),
    ]
    write_job(tmp_path / "0", [a1, a2], findings)
    return tmp_path


def test_fixed_persisting_introduced_exact(tmp_path: Path) -> None:
    run = load_run(_write(tmp_path))
    steps = transitions(run.attempts, run.findings)
    assert len(steps) == 1
    step = steps.iloc[0]
    assert step["iteration"] == 2
    assert (step["before"], step["after"]) == (5, 4)
    # persisting: E3012@bucket ×1, W2001@bucket; fixed: E3012@bucket ×1, E3003@role, E1019
    # introduced: E3003@table, E3030@role
    assert (step["persisting"], step["fixed"], step["introduced"]) == (2, 3, 2)
    assert (step["errors_persisting"], step["errors_fixed"], step["errors_introduced"]) == (1, 3, 2)
    assert (step["warnings_persisting"], step["warnings_fixed"]) == (1, 0)
    per = churn_by_iteration(run.attempts, run.findings).iloc[0]
    assert per["steps"] == 1 and per["introduced_share"] == 0.5 and per["fixed_share"] == 0.6


def test_filled_iterations_are_not_repairs(tmp_path: Path) -> None:
    a1 = attempt_row("q", 0, 1, errors=1)
    a2 = attempt_row("q", 0, 2)  # clean: the chain stops, iterations 3..10 are filled
    write_job(tmp_path / "0", [a1, a2], [finding_row(a1, 0, "E3012", BUCKET)])
    run = load_run(tmp_path)
    steps = transitions(run.attempts, run.findings)
    assert list(steps["iteration"]) == [2]
    assert (steps.iloc[0]["fixed"], steps.iloc[0]["introduced"]) == (1, 0)


def test_rule_frequency(tmp_path: Path) -> None:
    run = load_run(_write(tmp_path))
    freq = rule_frequency(fill_chains(run.attempts), run.findings).set_index(
        ["iteration", "rule_id"]
    )
    assert freq.loc[(1, "E3012"), "findings"] == 2
    assert freq.loc[(1, "E3012"), "chains"] == 1
    assert freq.loc[(2, "E3012"), "survival"] == 0.5
    assert (2, "E1019") not in freq.index
    assert freq.loc[(2, "E3030"), "findings"] == 1
    matrix = rule_matrix(freq.reset_index())
    assert matrix.index[0] == "E3012" and list(matrix.columns) == [1, 2]


def test_only_the_gating_linter_is_counted(tmp_path: Path) -> None:
    """An imported run's recorded findings describe the same templates again: churn and rule
    frequency must not count them a second time."""
    a1 = attempt_row("p", 0, 1, errors=1, max_iterations=2)
    a2 = attempt_row("p", 0, 2, stop_reason="max_iterations", errors=1, max_iterations=2)
    findings = [
        finding_row(a1, 0, "E3012", BUCKET),
        {**finding_row(a1, 1, "E3012", BUCKET), "source": RECORDED_SOURCE},
        {**finding_row(a1, 2, "W3005", ROLE), "source": "deployment"},
        finding_row(a2, 0, "E3003", ROLE),
        {**finding_row(a2, 1, "E3003", ROLE), "source": RECORDED_SOURCE},
    ]
    write_job(tmp_path / "0", [a1, a2], findings)
    run = load_run(tmp_path)
    step = transitions(run.attempts, run.findings).iloc[0]
    assert (step["before"], step["after"], step["fixed"], step["introduced"]) == (1, 1, 1, 1)
    freq = rule_frequency(fill_chains(run.attempts), run.findings).set_index(
        ["iteration", "rule_id"]
    )
    assert freq.loc[(1, "E3012"), "findings"] == 1
    assert (1, "W3005") not in freq.index
    assert freq.loc[(2, "E3003"), "findings"] == 1
