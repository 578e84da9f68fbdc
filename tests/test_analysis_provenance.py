"""Like with like: origins, lint versions and dates per side, the refusal and its override."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from analysis import compare as cmp
from analysis.banner import RECORDED_BANNER, SIMULATED_BANNER
from analysis.load import load_run
from analysis.provenance import Provenance, lint_mismatch, origins
from tests.synthetic_runs import GroupSpec, attempt_row, write_job, write_synthetic_run

DAY = date(2025, 3, 1)


def _side(
    tmp_path: Path,
    name: str,
    dates: list[date | None],
    version: str | None = "1.58.0",
) -> Provenance:
    """A run folder whose linted rows carry `dates` (one chain each) and one model error."""
    rows = [
        attempt_row(f"p{i}", 0, 1, errors=1, cfn_lint_version=version, lint_as_of=d)
        for i, d in enumerate(dates)
    ]
    rows.append(attempt_row("p-err", 0, 1, model_error="timeout: x"))  # never linted
    write_job(tmp_path / name / "0", rows)
    return Provenance.of_attempts(load_run(tmp_path / name).attempts, name, f"runs/{name}")


def test_origin_is_inferred_for_older_rows() -> None:
    frame = pd.DataFrame(
        {"simulated": [True, False, None, False], "origin": [None, None, None, "recorded"]}
    )
    assert origins(frame).tolist() == ["simulated", "run", "run", "recorded"]
    assert origins(frame.drop(columns="origin")).tolist() == ["simulated", "run", "run", "run"]


def test_lint_axis_counts_only_linted_rows(tmp_path: Path) -> None:
    side = _side(tmp_path, "one", [DAY, DAY])
    assert side.versions == {"1.58.0": 2} and side.dates == {DAY: 2} and side.undated == 0
    assert side.uniform and side.lint_text == "cfn-lint 1.58.0, linted 2025-03-01"
    assert side.origins == {"run": 3}


def test_provenance_says_which_rows_the_lint_cache_answered(tmp_path: Path) -> None:
    rows = [
        attempt_row(f"p{i}", 0, 1, cfn_lint_version="1.58.0", lint_as_of=DAY, lint_cached=cached)
        for i, cached in enumerate([True, True, False])
    ]
    write_job(tmp_path / "run" / "0", rows)
    side = Provenance.of_attempts(load_run(tmp_path / "run").attempts, "run")
    assert side.lint_cached == 2 and side.uniform
    assert side.lint_text == "cfn-lint 1.58.0, linted 2025-03-01 (2 rows from the lint cache)"


def test_a_run_across_midnight_is_one_lint_date(tmp_path: Path) -> None:
    night = _side(tmp_path, "night", [DAY, date(2025, 3, 2)])
    assert night.uniform and "2025-03-01 to 2025-03-02" in night.lint_text
    assert lint_mismatch(night, _side(tmp_path, "next", [date(2025, 3, 2)])) is None
    later = _side(tmp_path, "later", [date(2025, 3, 3)])
    mismatch = lint_mismatch(night, later)  # 2025-03-01 .. 2025-03-03 spans two days
    assert mismatch is not None
    (rescore,) = mismatch.rescores
    assert rescore.path == "runs/later" and rescore.cfn_lint == "1.58.0"
    assert rescore.as_of == date(2025, 3, 2)  # the baseline's dates, latest on a tie


def test_a_different_release_is_refused_with_the_command_that_mends_it(tmp_path: Path) -> None:
    base = _side(tmp_path, "base", [DAY])
    newer = _side(tmp_path, "newer", [DAY], version="1.59.0")
    mismatch = lint_mismatch(base, newer)
    assert mismatch is not None
    assert "\n" not in mismatch.message
    assert (
        "iacbench rescore runs/newer --cfn-lint 1.58.0 --as-of 2025-03-01 "
        "--out runs/newer-cfn-lint-1.58.0-2025-03-01" in mismatch.message
    )
    assert (
        "--allow-lint-mismatch" in mismatch.message and "ALLOW_LINT_MISMATCH=1" in mismatch.message
    )
    assert mismatch.opening.startswith("Not like with like")


def test_the_side_that_cannot_be_trusted_is_the_one_rescored(tmp_path: Path) -> None:
    good = _side(tmp_path, "good", [DAY])
    old = _side(tmp_path, "old", [None, None])  # written before lint_as_of existed
    assert not old.uniform and "not recorded" in old.lint_text
    mismatch = lint_mismatch(old, good)
    assert mismatch is not None
    assert [r.path for r in mismatch.rescores] == ["runs/old"]
    assert (mismatch.rescores[0].cfn_lint, mismatch.rescores[0].as_of) == ("1.58.0", DAY)
    week = _side(tmp_path, "week", [DAY, date(2025, 3, 8)])
    both = lint_mismatch(old, week)  # neither side is one linter on one day: both rescored
    assert both is not None and [r.path for r in both.rescores] == ["runs/old", "runs/week"]
    same = lint_mismatch(week, week)  # one folder holds both sides: rescore it once
    assert same is not None and [r.path for r in same.rescores] == ["runs/week"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lint")
    kwargs = {"problems": 12, "samples": 2}
    return {
        "base": write_synthetic_run(root / "base", [GroupSpec()], seed=1, **kwargs),
        "newer": write_synthetic_run(
            root / "newer", [GroupSpec(cfn_lint_version="1.59.0")], seed=2, **kwargs
        ),
        "recorded": write_synthetic_run(
            root / "recorded",
            [GroupSpec(model="openai/gpt-4o", dataset="paper-original")],
            recorded=True,
            seed=3,
            **kwargs,
        ),
    }


def test_compare_across_lint_versions_exits_non_zero(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--baseline", str(runs["base"]), "--candidate", str(runs["newer"])]
    out = ["--out", str(tmp_path / "cmp"), "--n-boot", "100", "--fit-boot", "20"]
    assert cmp.main([*args, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"iacbench rescore {runs['newer']} --cfn-lint 1.58.0 --as-of 2025-01-01" in err
    assert not (tmp_path / "cmp").exists()

    assert cmp.main([*args, *out, "--allow-lint-mismatch"]) == 0
    printed = capsys.readouterr().out
    md = (tmp_path / "cmp" / "compare.md").read_text()
    verdict = md.split("## Verdict\n\n")[1]
    assert verdict.startswith("Not like with like")
    assert "cfn-lint 1.58.0, linted 2025-01-01" in md and "cfn-lint 1.59.0" in md
    assert "candidate: origin run; cfn-lint 1.59.0" in printed
    sides = pd.read_csv(tmp_path / "cmp" / "compare_sides.csv")
    assert sides.columns[0] == "simulated" and sides["origin"].tolist() == ["run", "run"]
    assert sides["cfn-lint and lint date"].str.contains("1.59.0").tolist() == [False, True]


def test_library_compare_refuses_by_default(runs: dict[str, Path]) -> None:
    base, newer = cmp.run_side(runs["base"]), cmp.run_side(runs["newer"])
    with pytest.raises(cmp.LintMismatchError, match="not linted alike"):
        cmp.compare(base, newer, n_boot=50)
    result = cmp.compare(base, newer, n_boot=50, fit_boot=10, allow_lint_mismatch=True)
    assert result.mismatch is not None and result.verdict.startswith("Not like with like")


def test_paper_verdict_names_the_2024_linter_and_the_importer(runs: dict[str, Path]) -> None:
    result = cmp.compare(cmp.paper_side(), cmp.run_side(runs["base"]), n_boot=50, fit_boot=10)
    assert result.mismatch is None  # a published table is described, not refused
    assert "linted in 2024 by an older cfn-lint release" in result.verdict
    assert "make import-paper PAPER=<their repository>" in result.verdict
    assert "(cfn-lint 1.58.0, linted 2025-01-01)" in result.verdict
    sides = result.sides().set_index("side")
    assert "2024" in sides.loc["baseline", "cfn-lint and lint date"]


def test_a_recorded_side_is_labelled_plainly(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec"
    args = ["--baseline", str(runs["recorded"]), "--candidate", str(runs["base"])]
    assert cmp.main([*args, "--out", str(out), "--n-boot", "100", "--fit-boot", "20"]) == 0
    printed = capsys.readouterr().out
    assert f"baseline: {RECORDED_BANNER}" in printed and SIMULATED_BANNER not in printed
    md, html = (out / "compare.md").read_text(), (out / "compare.html").read_text()
    for text in (md, html):
        assert RECORDED_BANNER in text and SIMULATED_BANNER not in text
        assert "The baseline is recorded" in text
    assert 'class="recorded"' in html and 'class="banner"' not in html
    assert "The datasets differ" in md  # paper-original vs synthetic: stated, not refused
    assert "chains went on after a clean template" in md
    csv = (out / "compare_per_iteration.csv").read_text().splitlines()
    assert csv[0].startswith("simulated,origin,") and csv[1].startswith("False,recorded+run,")


def test_report_notes_a_run_not_linted_alike(tmp_path: Path) -> None:
    from analysis.report import lint_note

    one = _side(tmp_path, "one", [DAY])
    assert lint_note({("a",): one}, "runs/x") is None
    night = _side(tmp_path, "night", [DAY, date(2025, 3, 2)])
    assert lint_note({("a",): one, ("b",): night}, "runs/x") is None
    newer = _side(tmp_path, "newer", [DAY], version="1.59.0")
    note = lint_note({("a",): one, ("b",): newer}, "runs/x")
    assert note is not None and note.startswith("Not linted alike")
    assert "iacbench rescore runs/x --cfn-lint" in note and "--as-of 2025-03-01" in note
    old = lint_note({("a",): _side(tmp_path, "old", [None])}, "runs/old")
    assert old is not None and old.startswith("Lint date not recorded for 1 row (written")
    assert "iacbench rescore runs/old --cfn-lint 1.58.0 --as-of DATE" in old


def test_the_authors_raw_lint_text_is_a_recorded_side(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    from tests.synthetic_runs import synthetic_paper_cells, write_paper_raw

    cells = synthetic_paper_cells(trials=2, iterations=10, templates=20, seed=2)
    raw = write_paper_raw(tmp_path / "repo", cells, layout="repository")
    result = cmp.compare(cmp.paper_side(raw), cmp.run_side(runs["base"]), n_boot=50, fit_boot=10)
    assert result.recorded_notices == [f"baseline: {RECORDED_BANNER} (from {raw})"]
    assert result.origin == "recorded+run"
    assert "The baseline is recorded" in result.verdict and "2024" in result.verdict
    assert any("repository" in note for note in result.baseline.notes)
