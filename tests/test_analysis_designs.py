"""Feedback designs compared: ranking, CIs, the table's columns and the report section."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis import report
from analysis.designs import compare_designs, has_designs
from analysis.load import load_run
from tests.synthetic_runs import design_groups, write_synthetic_run

pytestmark = pytest.mark.xdist_group("designs")  # one worker writes the synthetic run


@pytest.fixture(scope="module")
def fast_slow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`excerpt` decays errors fast (k 2.0), `raw` slowly (k 0.3), under both protocols."""
    groups = design_groups((0.3, 2.0), designs=("raw", "excerpt"), conversation_factor=1.0)
    root = tmp_path_factory.mktemp("designs") / "run"
    return write_synthetic_run(root, groups, problems=30, samples=3, seed=3)


def test_faster_design_ranks_first_with_separate_cis(fast_slow: Path) -> None:
    result = compare_designs(fast_slow, n_boot=300, fit_boot=150)
    table = result.table
    assert len(table) == 4  # 2 designs × 2 protocols, one model
    for protocol in ("stateless", "conversation"):
        rows = table[table["protocol"] == protocol].set_index("prompt_set")
        fast, slow = rows.loc["excerpt"], rows.loc["raw"]
        assert fast["rank_k"] == 1 and slow["rank_k"] == 2
        assert fast["k_low"] > slow["k_high"]  # the k CIs do not overlap
        assert fast["plateau"] < slow["plateau"]
        assert fast["clean@5"] > slow["clean@5"]
        for row in (fast, slow):
            for name in ("k", "C", "clean@1", "clean@5", "clean@10", "intent", "compliance"):
                assert row[f"{name}_low"] <= row[name] <= row[f"{name}_high"], name
    # designs in the feedback module's order: raw before excerpt
    assert list(table["prompt_set"][:2]) == ["raw", "excerpt"]
    shown = result.display
    for column in (
        "design (prompt set)",
        "k, errors/template [95 % CI]",
        "C, errors/template [95 % CI]",
        "plateau iteration [CI]",
        "clean at 1 [95 % CI]",
        "clean at 10 [95 % CI]",
        "intent @last [95 % CI]",
        "security compliance @last [95 % CI]",
    ):
        assert column in shown, column
    assert re.fullmatch(r"[\d.]+ \[[\d.]+, [\d.]+\]", shown["k, errors/template [95 % CI]"][0])
    assert "errors per template" in result.note


def test_has_designs(fast_slow: Path) -> None:
    attempts = load_run(fast_slow).attempts
    assert has_designs(attempts)
    assert not has_designs(attempts, ["model"])  # grouping that merges the designs
    one = attempts[(attempts["prompt_set"] == "raw") & (attempts["protocol"] == "stateless")]
    assert not has_designs(one)
    # two models with one configuration each: nothing to compare within a model
    two = pd.concat([one, one.assign(model="synthetic/other")])
    assert not has_designs(two)


def test_report_shows_design_section(fast_slow: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = report.build_report(fast_slow, out, n_boot=100, fit_boot=30)
    md, html = result.markdown.read_text(), result.html.read_text()
    for text in (md, html):
        assert "Feedback designs" in text
        assert "security compliance @last" in text
        assert "Security compliance" in text  # the security section is there as well
        assert "Curves" in text and "Against the paper" in text  # existing sections kept
    assert (out / "figures" / "designs.png").exists() and (out / "figures" / "designs.svg").exists()
    assert 'alt="Feedback designs' in html
    assert result.designs is not None and len(result.designs) == 4
    saved = pd.read_csv(out / "designs.csv")
    assert {"simulated", "k", "k_low", "k_high", "C", "rank_k", "clean@10"} <= set(saved.columns)


def test_designs_are_ordered_as_the_loop_defines_them() -> None:
    from analysis.designs import DESIGN_ORDER
    from benchmark.loop.feedback import FORMATTERS

    assert list(FORMATTERS) == DESIGN_ORDER
