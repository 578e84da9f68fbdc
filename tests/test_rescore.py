"""Re-scoring a finished run: same keys, today's validators, no model call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from benchmark.records.tables import read_table
from benchmark.replication.rescore import main as rescore
from tests.job_process import SMALL, run_job_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_rescore_uses_current_checks_and_keeps_keys(tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = run_job_process(run, *SMALL, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # today's dataset drops one intent check from every problem
    problems = tmp_path / "problems"
    shutil.copytree(ROOT / "datasets" / "smoke", problems)
    for path in problems.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        data["intent_checks"] = data["intent_checks"][1:]
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    out = tmp_path / "rescored"
    assert rescore([str(run), "--out", str(out), "--dataset-dir", str(problems)]) == 0
    before, after = read_table(run, "attempts"), read_table(out, "attempts")
    assert sorted(before["attempt_id"]) == sorted(after["attempt_id"])
    merged = before.merge(after, on="attempt_id", suffixes=("_old", "_new"))
    assert (merged["errors_old"] == merged["errors_new"]).all()  # same cfn-lint, same findings
    assert (merged["intent_total_new"] == merged["intent_total_old"] - 1).all()
    assert (merged["stop_reason_old"].fillna("") == merged["stop_reason_new"].fillna("")).all()
    assert len(read_table(out, "findings")) == len(read_table(run, "findings"))
    assert (out / ".hydra" / "config.yaml").exists()
    # refusing to write over an existing run
    assert rescore([str(run), "--out", str(out)]) == 2

    # the feedback was written by the linter that judged the row; a rescore on another clock
    # moves the findings' linter and keeps the feedback's
    shown = before[before["feedback"].notna()]
    label = "cfn-lint " + shown["cfn_lint_version"] + " @ " + shown["lint_as_of"].astype(str)
    assert len(shown) and (shown["feedback_linter"] == label).all()
    assert before.loc[before["feedback"].isna(), "feedback_linter"].isna().all()
    later = tmp_path / "later"
    assert rescore([str(run), "--out", str(later), "--as-of", "2025-06-01"]) == 0
    moved = shown.merge(read_table(later, "attempts"), on="attempt_id", suffixes=("", "_new"))
    assert (moved["lint_as_of_new"].astype(str) == "2025-06-01").all()
    assert (moved["feedback_linter_new"] == moved["feedback_linter"]).all()
