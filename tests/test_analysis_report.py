"""The sweep report: HTML + Markdown, figures, and the simulated banner only when due."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis import report
from analysis.banner import RECORDED_BANNER, SIMULATED_BANNER
from tests.synthetic_runs import GroupSpec, write_synthetic_run

GROUPS = [
    GroupSpec(model="synthetic/a", model_error_rate=0.05),
    GroupSpec(model="synthetic/b", protocol="conversation", errors=(1.5, 1.2, 0.1)),
]


def _build(tmp_path: Path, simulated: bool) -> report.Report:
    run = write_synthetic_run(tmp_path / "run", GROUPS, problems=10, samples=2, simulated=simulated)
    return report.build_report(run, n_boot=200, fit_boot=40)


@pytest.mark.parametrize("simulated", [True, False])
def test_report_renders(tmp_path: Path, simulated: bool) -> None:
    result = _build(tmp_path, simulated)
    html, md = result.html.read_text(), result.markdown.read_text()
    assert result.html.parent == tmp_path / "run" / "report"
    assert (SIMULATED_BANNER in html) is simulated
    assert (SIMULATED_BANNER in md) is simulated
    for text in (html, md):
        for section in (
            "What ran",
            "Curves",
            "Against the paper",
            "synthetic/b · paper · conversation",
            "Churn",
            "intent pass rate",
            "1.58.0",
        ):
            assert section in text, section
    for text in (html, md):
        assert f"origin: {'simulated' if simulated else 'run'}" in text
        assert "lint: cfn-lint 1.58.0, linted 2025-01-01" in text
        assert RECORDED_BANNER not in text and "Not linted alike" not in text
    # self-contained: every image is a data URI
    sources = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    figures = tmp_path / "run" / "report" / "figures"
    assert (figures / "curves.png").exists() and (figures / "curves.svg").exists()
    assert len(list(figures.glob("rules_*.svg"))) == 2
    for name in ("per_iteration.csv", "fits.csv", "churn.csv", "rules.csv"):
        first = (tmp_path / "run" / "report" / name).read_text().splitlines()[1]
        assert first.startswith(str(simulated))
    fits = result.fits
    assert set(fits["measure"]) >= {"errors per template", "clean fraction (at iteration n)"}


def test_report_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_synthetic_run(tmp_path / "run", GROUPS[:1], problems=6, samples=2, simulated=True)
    out = tmp_path / "elsewhere"
    code = report.main([str(run), "--out", str(out), "--n-boot", "100", "--fit-boot", "20"])
    assert code == 0
    assert SIMULATED_BANNER in capsys.readouterr().out
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert report.main([str(tmp_path / "missing")]) == 2


def test_recorded_run_is_labelled_and_its_caveats_stated(tmp_path: Path) -> None:
    """An imported run on the authors' prompts, two groups linted by different releases."""
    groups = [
        GroupSpec(model="openai/gpt-4o", prompt_set="paper-original", dataset="paper-original"),
        GroupSpec(
            model="openai/gpt-4o-relinted",
            prompt_set="paper-original",
            dataset="paper-original",
            cfn_lint_version="1.40.0",
        ),
    ]
    run = write_synthetic_run(tmp_path / "imported", groups, problems=8, samples=2, recorded=True)
    result = report.build_report(run, n_boot=100, fit_boot=20)
    html, md = result.html.read_text(), result.markdown.read_text()
    assert result.recorded is not None and RECORDED_BANNER in result.recorded
    for text in (html, md):
        assert RECORDED_BANNER in text and SIMULATED_BANNER not in text
        assert "origin: recorded (from published/" in text
        assert "own wording of each topic (paper33)" in text
        assert "analysis.drift" in text and "--recorded" in text
        assert "Not linted alike" in text
        assert "chains went on after a clean template" in text
        assert f"iacbench rescore {run} --cfn-lint 1.58.0 --as-of 2025-01-01" in text
        assert "the whole difference is the linter" in text  # against the paper's means
    assert 'class="recorded"' in html and 'class="banner"' not in html
    assert md.count("cfn-lint 1.40.0, linted 2025-01-01") >= 1
    csv = (tmp_path / "imported" / "report" / "per_iteration.csv").read_text().splitlines()
    assert csv[0].startswith("simulated,origin,") and csv[1].startswith("False,recorded,")
