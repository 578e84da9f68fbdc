"""Multi-IaC-Eval's CSV imported as edit problems, on a fixture the tests write in its layout."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.report import build_report
from analysis.report_sections import intent_not_available
from benchmark.cli import main as cli_main
from benchmark.problems.__main__ import main
from benchmark.problems.dataset import load_dataset
from benchmark.problems.importers.multi_iac_eval import import_multi_iac_eval
from benchmark.problems.importers.output import DatasetImportError
from benchmark.records.tables import read_table
from benchmark.runner.hydra_job import JobInfo, run_job
from tests.multi_iac_eval_fixture import (
    BUCKET,
    BUCKET_VERSIONED,
    KEPT,
    QUEUE,
    QUEUE_LONGER,
    ROWS,
    SKIPPED,
    TERRAFORM,
    write_csv,
)
from tests.test_job import settings_for


def test_cloudformation_rows_become_edit_problems(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "download" / "multi_iac_eval.csv")
    report = import_multi_iac_eval(csv_path, tmp_path / "out")
    assert (report.rows_read, report.written) == (len(ROWS), len(KEPT))
    assert report.rows_skipped == {
        "not CloudFormation": 2,
        "empty expected": 1,
        "unparseable": 1,
        "duplicate": 1,
    }
    # one line per skipped row, naming the row and why
    notes = [line.strip() for line in report.lines() if line.startswith("  row ")]
    assert len(notes) == len(SKIPPED)
    for (number, why), note in zip(sorted(SKIPPED.items()), notes, strict=True):
        assert note.startswith(f"row {number}: skipped: {why}"), note

    problems = {p.source.split(":")[0]: p for p in load_dataset(tmp_path / "out")}  # type: ignore[union-attr]
    bucket = problems["multi-iac-eval multi_iac_eval.csv row 1"]
    assert bucket.is_edit and bucket.intent_checks == []
    assert bucket.initial_template == BUCKET and bucket.expected_template == BUCKET_VERSIONED
    assert bucket.reference_template == BUCKET_VERSIONED  # what the simulator starts from
    assert bucket.prompt == (
        "Turn on versioning for the artefacts bucket so old builds can be restored."
    )
    assert bucket.source == (
        "multi-iac-eval multi_iac_eval.csv row 1: templates/artefacts-bucket.yaml_0 "
        "from https://github.com/example-org/build-infra"
    )
    assert bucket.services == ["S3"] and bucket.difficulty is not None
    queue = problems["multi-iac-eval multi_iac_eval.csv row 3"]
    assert queue.initial_template == QUEUE and queue.expected_template == QUEUE_LONGER  # LF
    # the change the expected template makes may change (not collateral); the rest must stay
    assert bucket.may_change == ["Resources/Artefacts/Properties"]  # it had none
    assert queue.may_change == ["Resources/Jobs/Properties/VisibilityTimeout"]
    for problem in problems.values():  # ids: file-name-safe, named after the source repository
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", problem.id)
        assert (tmp_path / "out" / f"{problem.id}.yaml").is_file()
    assert bucket.id.startswith("artefacts-bucket-yaml-0-")
    assert queue.id.startswith("jobs-json-0-")  # a Windows path's file name
    # the expected template is written once, not again as reference_template
    text = (tmp_path / "out" / f"{bucket.id}.yaml").read_text()
    assert "expected_template:" in text and "reference_template:" not in text


def test_ids_are_stable_across_reordering_and_line_endings(tmp_path: Path) -> None:
    first = import_multi_iac_eval(write_csv(tmp_path / "a.csv"), tmp_path / "a")
    reordered = list(reversed(ROWS))
    second = import_multi_iac_eval(write_csv(tmp_path / "b.csv", reordered, False), tmp_path / "b")
    assert first.written == second.written == len(KEPT)
    ids = {p.name for p in (tmp_path / "a").iterdir()}
    assert ids == {p.name for p in (tmp_path / "b").iterdir()}


def test_strict_makes_a_skipped_cloudformation_row_an_error(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "m.csv")
    with pytest.raises(DatasetImportError, match=r"row 4: empty expected \(--strict\)"):
        import_multi_iac_eval(csv_path, tmp_path / "out", strict=True)
    assert not (tmp_path / "out").exists()
    # rows of another format are never taken: they do not fail --strict
    clean = write_csv(tmp_path / "clean.csv", [ROWS[i] for i in (0, 1, 2, 4)])
    report = import_multi_iac_eval(clean, tmp_path / "out", strict=True)
    assert report.written == 2 and report.rows_skipped == {"not CloudFormation": 2}


@pytest.mark.parametrize(
    ("source", "initial", "kept"),
    [
        ("terraform", BUCKET, False),  # a format's name
        ("network/VPC.TF_3", BUCKET, False),  # a file of another format
        ("app/stack.py_0", BUCKET, False),
        ("bucket.yaml_0", BUCKET, True),
        ("", BUCKET, True),
        ("github", TERRAFORM, False),  # no Resources key: another format whatever the source
    ],
)
def test_which_rows_are_cloudformation(
    tmp_path: Path, source: str, initial: str, kept: bool
) -> None:
    row = (source, initial, BUCKET_VERSIONED, "Turn versioning on.", "example-org/x")
    csv_path = write_csv(tmp_path / "m.csv", [row])
    report = import_multi_iac_eval(csv_path, tmp_path / "out", strict=True)
    assert report.written == int(kept)
    assert report.rows_skipped == ({} if kept else {"not CloudFormation": 1})


def test_a_template_that_means_to_be_cloudformation_but_fails_is_unparseable(
    tmp_path: Path,
) -> None:
    row = ("x.yaml_0", "Resources: [a list]\n", BUCKET, "Fix it.", "example-org/y")
    report = import_multi_iac_eval(write_csv(tmp_path / "m.csv", [row]), tmp_path / "out")
    assert report.row_notes == [
        "row 1: skipped: initial does not parse as CloudFormation: no 'Resources' mapping of "
        "typed resources (top-level keys: Resources)"
    ]
    with pytest.raises(DatasetImportError, match="row 1: initial does not parse"):
        import_multi_iac_eval(tmp_path / "m.csv", tmp_path / "strict", strict=True)


def test_cli_strict_exits_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = write_csv(tmp_path / "m.csv")
    out = ["--out", str(tmp_path / "out")]
    assert cli_main(["import", "multi-iac-eval", str(csv_path), *out, "--strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "row 4: empty expected (--strict)" in err
    assert main(["import", "multi-iac-eval", str(csv_path), *out]) == 0
    printed = capsys.readouterr().out
    assert "problems written: 2" in printed and "rows skipped: 5" in printed
    assert "row 2: skipped: not CloudFormation (source 'modules/logs/main.tf_1')" in printed
    assert "no intent checks in the data: intent is 'not available'" in printed


def test_missing_column_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("source,initial,utterance\ncloudformation,x,y\n")
    with pytest.raises(DatasetImportError, match="missing columns 'expected', 'source_repo'"):
        import_multi_iac_eval(path, tmp_path / "out")


@pytest.mark.slow
def test_imported_problems_run_offline_with_intent_not_available(tmp_path: Path) -> None:
    import_multi_iac_eval(write_csv(tmp_path / "m.csv"), tmp_path / "mie")
    settings = settings_for(
        "model.id=simulated/default",
        f"dataset.path={tmp_path / 'mie'}",
        "dataset.name=multi-iac-eval",
        "loop.samples=1",
        "loop.max_iterations=2",
        "loop.concurrency=1",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
    )
    job = JobInfo("sweep-mie", 0, tmp_path / "run" / "0", sweep_dir=tmp_path / "run")
    summary = asyncio.run(run_job(settings, job, None))
    assert summary.status == "complete"
    attempts = read_table(tmp_path / "run", "attempts")
    assert set(attempts["problem_id"]) == {p.id for p in load_dataset(tmp_path / "mie")}
    # no intent checks: intent is null (not available), never counted as passed
    assert attempts["intent_total"].isna().all() and attempts["intent_passed"].isna().all()
    build_report(tmp_path / "run", n_boot=50, fit_boot=5)
    text = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "Intent: not available for this run: no intent checks were recorded" in text


def test_report_names_the_groups_whose_intent_is_not_available() -> None:
    long = pd.DataFrame(
        {
            "dataset": ["paper33", "paper33", "multi-iac-eval", "multi-iac-eval"],
            "measure": ["intent", "clean", "intent", "clean"],
            "value": [0.5, 1.0, np.nan, 1.0],
        }
    )
    labels = {("paper33",): "on paper33", ("multi-iac-eval",): "on multi-iac-eval"}
    note = intent_not_available(long, labels, ["dataset"])
    assert note is not None and note.startswith("Intent: not available for on multi-iac-eval:")
    assert "paper33" not in note
    paper33 = long[long["dataset"] == "paper33"]
    assert intent_not_available(paper33, {("paper33",): "on paper33"}, ["dataset"]) is None
