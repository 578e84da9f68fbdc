"""Comparing a candidate against a baseline run or the paper's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import compare as cmp
from analysis.banner import SIMULATED_BANNER
from tests.synthetic_runs import GroupSpec, write_synthetic_run

PLAIN = GroupSpec(model="synthetic/plain", errors=(3.0, 0.8, 0.4), warnings=(1.2, 0.6, 0.3))
STRONG = GroupSpec(model="synthetic/strong", errors=(1.0, 1.6, 0.02), warnings=(0.3, 1.2, 0.01))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "plain": write_synthetic_run(root / "plain", [PLAIN], problems=25, samples=3, seed=1),
        "strong": write_synthetic_run(root / "strong", [STRONG], problems=25, samples=3, seed=2),
        "both": write_synthetic_run(
            root / "both", [PLAIN, STRONG], problems=25, samples=3, seed=3, simulated=True
        ),
    }


def test_clearly_better_and_clearly_worse(runs: dict[str, Path]) -> None:
    plain, strong = cmp.run_side(runs["plain"]), cmp.run_side(runs["strong"])
    better = cmp.compare(plain, strong, n_boot=400)
    assert better.paired
    assert better.outcome == "clearly better"
    assert "clearly better" in better.verdict and "paired by problem" in better.verdict
    errors_1 = better.per_iteration.query("iteration == 1 and measure == 'errors per template'")
    assert errors_1["favours"].iloc[0] == "candidate" and errors_1["ci_high"].iloc[0] < 0
    worse = cmp.compare(strong, plain, n_boot=400)
    assert worse.outcome == "clearly worse"
    assert (worse.overall["favours"] == "baseline").all()
    assert SIMULATED_BANNER not in better.verdict


def test_same_model_is_not_clearly_different(runs: dict[str, Path]) -> None:
    side = cmp.run_side(runs["plain"])
    result = cmp.compare(side, side, n_boot=200)
    assert result.outcome == "not clearly different"
    assert (result.per_iteration["diff"] == 0).all()


def test_against_paper_table(runs: dict[str, Path]) -> None:
    result = cmp.compare(cmp.paper_side(), cmp.run_side(runs["plain"]), n_boot=300)
    assert not result.paired
    assert result.outcome in {"clearly worse", "worse"}  # 3 errors per template vs 1.07
    assert "paper" in result.verdict
    k = result.fits.query("measure == 'errors per template' and param == 'k'").iloc[0]
    assert k["baseline"] == pytest.approx(1.386, abs=0.01)


def test_cli_groups_and_banner(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmp.main(["--baseline", "paper", "--candidate", str(runs["both"])]) == 2
    assert "2 groups" in capsys.readouterr().err
    out = tmp_path / "cmp"
    args = [
        "--baseline",
        str(runs["both"]),
        "--baseline-where",
        "model=synthetic/plain",
        "--candidate",
        str(runs["both"]),
        "--candidate-where",
        "model=synthetic/strong",
        "--out",
        str(out),
        "--n-boot",
        "200",
    ]
    assert cmp.main(args) == 0
    printed = capsys.readouterr().out
    assert SIMULATED_BANNER in printed and "clearly better" in printed
    assert SIMULATED_BANNER in (out / "compare.md").read_text()
    assert SIMULATED_BANNER in (out / "compare.html").read_text()
    assert (out / "compare_per_iteration.csv").read_text().startswith("simulated,")


def test_a_subset_of_measures_gives_the_same_intervals_and_only_those(
    runs: dict[str, Path],
) -> None:
    plain, strong = cmp.run_side(runs["plain"]), cmp.run_side(runs["strong"])
    full = cmp.compare(plain, strong, n_boot=300, fit_boot=40, seed=4)
    for measures in (["clean"], ["errors"], ["warnings", "errors"]):
        part = cmp.compare(plain, strong, n_boot=300, fit_boot=40, seed=4, measures=measures)
        names = {cmp.NAMES[m] for m in measures}
        assert set(part.per_iteration["measure"]) == names == set(part.fits["measure"])
        same = full.per_iteration[full.per_iteration["measure"].isin(names)]
        assert same.reset_index(drop=True).equals(part.per_iteration.reset_index(drop=True))
        fits = full.fits[full.fits["measure"].isin(names)].reset_index(drop=True)
        assert fits.equals(part.fits.reset_index(drop=True))
        assert part.verdict.startswith("Against")
    errors_only = cmp.compare(plain, strong, n_boot=300, fit_boot=40, seed=4, measures=["errors"])
    assert "Its errors decay" in errors_only.verdict
    clean_only = cmp.compare(plain, strong, n_boot=300, fit_boot=40, seed=4, measures=["clean"])
    assert "Its errors decay" not in clean_only.verdict  # no fit of errors to speak of
    for bad in ([], ["errors", "speed"]):
        with pytest.raises(ValueError, match="subset"):
            cmp.compare(plain, strong, n_boot=50, measures=bad)
