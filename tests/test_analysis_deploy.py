"""Deployability per iteration: hand-counted rates, passItr@n, the gap, and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analysis import report
from analysis.churn import churn_by_iteration
from analysis.deploy import deploy_by_iteration, has_deploy, stage_failures
from analysis.load import fill_chains, load_run
from tests.synthetic_runs import attempt_row, finding_row, write_job

TIMEOUT = "deploy: change set still CREATE_IN_PROGRESS after 900s"


def _row(pid: str, sample: int, iteration: int, deployable: bool | None, **kw: Any) -> dict:
    return attempt_row(
        pid,
        sample,
        iteration,
        max_iterations=3,
        deployable=deployable,
        deploy_mode=None if deployable is None and "lint_failure" not in kw else "changeset",
        **kw,
    )


def _deploy_finding(attempt: dict[str, Any], index: int, rule_id: str) -> dict[str, Any]:
    return {**finding_row(attempt, index, rule_id, ""), "source": "deploy", "level": "E"}


def _hand_run(tmp_path: Path) -> Path:
    """Four chains, three iterations (hand counts in the tests below)."""
    a = {
        # p1/s0: undeployable at 1, clean and deployable at 2 (stops; filled at 3)
        "p1s0-1": _row("p1", 0, 1, False, errors=1),
        "p1s0-2": _row("p1", 0, 2, True),
        # p1/s1: deploys at 1 though not lint-clean, not at 2, not judged at 3 (a timeout)
        "p1s1-1": _row("p1", 1, 1, True, errors=1),
        "p1s1-2": _row("p1", 1, 2, False, errors=1),
        "p1s1-3": _row(
            "p1", 1, 3, None, errors=1, lint_failure=TIMEOUT, stop_reason="max_iterations"
        ),
        # p2/s0: lint-clean at 1 and stops, but does not deploy
        "p2s0-1": _row("p2", 0, 1, False),
        # p2/s1: never judged (deploy off for it), lint errors fall to clean at 3
        "p2s1-1": _row("p2", 1, 1, None, errors=2),
        "p2s1-2": _row("p2", 1, 2, None, errors=1),
        "p2s1-3": _row("p2", 1, 3, None),
    }
    findings = [
        finding_row(a["p1s0-1"], 0, "E3002", "Resources/Bucket/Properties/X"),
        _deploy_finding(a["p1s0-1"], 1, "D1001"),
        _deploy_finding(a["p1s1-2"], 1, "D1001"),
        _deploy_finding(a["p2s0-1"], 0, "D2001"),
    ]
    write_job(tmp_path / "run" / "0", list(a.values()), findings)
    return tmp_path / "run"


def test_rates_equal_hand_counts(tmp_path: Path) -> None:
    run = load_run(_hand_run(tmp_path))
    assert has_deploy(run.attempts)
    chains = fill_chains(run.attempts)
    table = deploy_by_iteration(chains, run.attempts, n_boot=300).set_index("iteration")
    assert list(table["chains"]) == [4, 4, 4]
    assert list(table["judged"]) == [3, 3, 2]  # p2/s1 never; p1/s1 not at 3 (timed out)
    assert table["deployable"].to_numpy() == pytest.approx([1 / 3, 1 / 3, 1 / 2])
    assert table["lint_clean"].to_numpy() == pytest.approx([1 / 3, 2 / 3, 1])
    assert table["gap"].to_numpy() == pytest.approx([0, 1 / 3, 1 / 2])
    assert table["clean_undeployable"].to_numpy() == pytest.approx([1 / 3, 1 / 3, 1 / 2])
    # passItr@n: deployed at some iteration <= n, over chains judged by n (p1/s1 deployed at 1)
    assert table["pass_itr"].to_numpy() == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    for name in ("deployable", "pass_itr", "gap"):
        assert (table[f"{name}_low"] <= table[name] + 1e-12).all()
        assert (table[name] <= table[f"{name}_high"] + 1e-12).all()


def test_stage_failures_count_shown_chains_per_stage(tmp_path: Path) -> None:
    run = load_run(_hand_run(tmp_path))
    stages = stage_failures(fill_chains(run.attempts), run.deploy_findings)
    counts = {(r.iteration, r.rule_id): r.chains for r in stages.itertuples()}
    assert counts == {(1, "D1001"): 1, (1, "D2001"): 1, (3, "D2001"): 1}


def test_deploy_findings_are_kept_apart_from_the_linters(tmp_path: Path) -> None:
    run = load_run(_hand_run(tmp_path))
    assert set(run.findings["source"]) == {"cfn-lint"}
    assert sorted(run.deploy_findings["rule_id"]) == ["D1001", "D1001", "D2001"]
    churn = churn_by_iteration(run.attempts, run.findings)
    assert churn["introduced"].sum() == 0  # D1001 at p1/s1 iteration 2 is no lint finding


def test_report_shows_the_deploy_section_only_when_deploy_ran(tmp_path: Path) -> None:
    built = report.build_report(_hand_run(tmp_path), n_boot=100, fit_boot=0)
    text = built.markdown.read_text()
    assert "## Deployability" in text and "passItr@3" in text and "IaCGen" in text
    assert "Where undeployable templates failed" in text
    assert built.deploy is not None and (built.markdown.parent / "deploy.csv").exists()
    assert (built.markdown.parent / "figures" / "deploy.png").exists()

    plain = tmp_path / "plain"
    write_job(plain / "0", [attempt_row("p1", 0, 1, max_iterations=2)])
    without = report.build_report(plain, n_boot=50, fit_boot=0)
    assert "Deployability" not in without.markdown.read_text() and without.deploy is None


def test_an_emulator_run_is_labelled_as_such(tmp_path: Path) -> None:
    rows = [
        _row("p1", 0, 1, False, errors=1, deploy_endpoint="http://127.0.0.1:5000"),
        _row("p1", 0, 2, True, deploy_endpoint="http://127.0.0.1:5000"),
    ]
    write_job(tmp_path / "run" / "0", rows)
    text = report.build_report(tmp_path / "run", n_boot=50, fit_boot=0).markdown.read_text()
    assert "Judged by a local emulator (http://127.0.0.1:5000), not by AWS" in text
