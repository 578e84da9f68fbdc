"""Security compliance: hand-counted rates, failed checks, and the report with and without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import report
from analysis.load import fill_chains, load_run
from analysis.measures import problem_data
from analysis.security import (
    IACGEN_RATE,
    NO_SECURITY,
    compliance_by_iteration,
    failed_checks,
    failed_table,
    has_security,
)
from tests.synthetic_runs import GroupSpec, attempt_row, check_row, write_job, write_synthetic_run

TIMEOUT = "security: checkov timed out after 60s"


def _row(
    pid: str, sample: int, iteration: int, passed: int | None, total: int | None, **kw: Any
) -> dict[str, Any]:
    return attempt_row(
        pid, sample, iteration, max_iterations=3, security_passed=passed, security_total=total, **kw
    )


def _checks(attempt: dict[str, Any], failed: list[str], passed: int) -> list[dict[str, Any]]:
    """Check rows: the `failed` ids first, then `passed` passing ones."""
    ids = [*failed, *(f"CKV_AWS_{90 + i}" for i in range(passed))]
    return [
        check_row(attempt, i, check_id, i >= len(failed), resource=f"AWS::S3::Bucket.B{i}")
        for i, check_id in enumerate(ids)
    ]


def _hand_run(tmp_path: Path) -> Path:
    """Four chains, three iterations (hand counts in the tests below)."""
    a = {
        # p1/s0: 3 of 4 at 1, all 4 and clean at 2 (stops; filled at 3)
        "p1s0-1": _row("p1", 0, 1, 3, 4, errors=2),
        "p1s0-2": _row("p1", 0, 2, 4, 4),
        # p1/s1: all at 1; checkov timed out at 2 (lint counts stand); 2 of 5 at 3
        "p1s1-1": _row("p1", 1, 1, 4, 4, errors=1),
        "p1s1-2": _row("p1", 1, 2, None, None, errors=1, lint_failure=TIMEOUT),
        "p1s1-3": _row("p1", 1, 3, 2, 5, errors=1, stop_reason="max_iterations"),
        # p2/s0: no security checks at all
        "p2s0-1": _row("p2", 0, 1, None, None, errors=1),
        "p2s0-2": _row("p2", 0, 2, None, None),
        # p2/s1: 0 of 2 at 1, then a model error: iterations 2 and 3 carry iteration 1
        "p2s1-1": _row("p2", 1, 1, 0, 2, errors=3),
        "p2s1-2": _row("p2", 1, 2, None, None, model_error="timeout: x"),
    }
    checks = [
        *_checks(a["p1s0-1"], ["CKV_AWS_18"], 3),
        *_checks(a["p1s0-2"], [], 4),
        *_checks(a["p1s1-1"], [], 4),
        *_checks(a["p1s1-3"], ["CKV_AWS_21", "CKV_AWS_21", "CKV_AWS_18"], 2),
        *_checks(a["p2s1-1"], ["CKV_AWS_18", "CKV_AWS_21"], 0),
    ]
    write_job(tmp_path / "run" / "0", list(a.values()), checks=checks)
    return tmp_path / "run"


def test_compliance_equals_hand_count(tmp_path: Path) -> None:
    run = load_run(_hand_run(tmp_path))
    assert has_security(run.attempts)
    chains = fill_chains(run.attempts)
    by = chains.set_index(["problem_id", "sample", "iteration"])
    # a failed reporting validator leaves the attempt scored, and its security unknown
    assert by.loc[("p1", 1, 2), "source_iteration"] == 2
    assert np.isnan(by.loc[("p1", 1, 2), "compliant"])  # not borrowed from iteration 1
    table = compliance_by_iteration(problem_data(chains), n_boot=300).set_index("iteration")
    assert list(table["chains"]) == [4, 4, 4]
    assert list(table["checked"]) == [3, 2, 3]
    assert table["compliance"].to_numpy() == pytest.approx([1 / 3, 1 / 2, 1 / 3])
    shares = [(3 / 4 + 1 + 0) / 3, (1 + 0) / 2, (1 + 2 / 5 + 0) / 3]
    assert table["pass_share"].to_numpy() == pytest.approx(shares)
    assert (table["compliance_low"] <= table["compliance"]).all()
    assert (table["compliance"] <= table["compliance_high"]).all()


def test_failed_checks_at_first_and_last(tmp_path: Path) -> None:
    run = load_run(_hand_run(tmp_path))
    failed = failed_checks(fill_chains(run.attempts), run.checks)
    first = failed[failed["iteration"] == 1].set_index("check_id")
    assert first.loc["CKV_AWS_18", ["chains", "failures", "rank"]].tolist() == [2, 2, 1]
    assert first.loc["CKV_AWS_21", ["chains", "failures", "rank"]].tolist() == [1, 1, 2]
    assert first.loc["CKV_AWS_18", "share"] == pytest.approx(2 / 3)
    last = failed[failed["iteration"] == 3].set_index("check_id")
    # equal chains (2 each): more failed results (3 against 2) rank first
    assert last.loc["CKV_AWS_21", ["chains", "failures", "rank"]].tolist() == [2, 3, 1]
    assert last.loc["CKV_AWS_18", ["chains", "failures", "rank"]].tolist() == [2, 2, 2]
    shown = failed_table(failed)
    assert list(shown["check"]) == ["CKV_AWS_21", "CKV_AWS_18"]
    assert shown.loc[0, "chains failing @3"] == "2 (67%)"


def test_report_with_security(tmp_path: Path) -> None:
    run = write_synthetic_run(
        tmp_path / "run", [GroupSpec(security=(0.5, 0.95))], problems=8, samples=2
    )
    result = report.build_report(run, n_boot=200, fit_boot=30)
    md, html = result.markdown.read_text(), result.html.read_text()
    for text in (md, html):
        assert "Security compliance" in text
        assert "arXiv:2506.05623" in text and "8.4 %" in text
        assert "Most often failed security checks" in text and "CKV_AWS_18" in text
        assert NO_SECURITY not in text
        assert "Feedback designs" not in text  # one prompt set, one protocol
    assert (tmp_path / "run" / "report" / "figures" / "security.svg").exists()
    security = pd.read_csv(tmp_path / "run" / "report" / "security.csv")
    assert security["compliance"].iloc[0] < security["compliance"].iloc[-1]
    assert result.security is not None and IACGEN_RATE == 0.084


def test_report_without_security_has_one_line_note(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", [GroupSpec()], problems=5, samples=2)
    assert not has_security(load_run(run).attempts)
    result = report.build_report(run, n_boot=100, fit_boot=20)
    md = result.markdown.read_text()
    assert NO_SECURITY in md and NO_SECURITY in result.html.read_text()
    assert "## Security compliance" not in md and "### Security" not in md
    assert result.security is None
    assert not (tmp_path / "run" / "report" / "security.csv").exists()
