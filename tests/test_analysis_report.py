"""The sweep report: HTML + Markdown, figures, and the simulated banner only when due."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis import report
from analysis.banner import SIMULATED_BANNER
from analysis.synthetic import GroupSpec, write_synthetic_run

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
    assert set(fits["measure"]) >= {"errors per template", "clean fraction (by iteration n)"}


def test_report_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_synthetic_run(tmp_path / "run", GROUPS[:1], problems=6, samples=2, simulated=True)
    out = tmp_path / "elsewhere"
    code = report.main([str(run), "--out", str(out), "--n-boot", "100", "--fit-boot", "20"])
    assert code == 0
    assert SIMULATED_BANNER in capsys.readouterr().out
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert report.main([str(tmp_path / "missing")]) == 2
