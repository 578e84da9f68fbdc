"""The paper's baseline table, the raw-data importer, and the paper-figures CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from analysis import paper_figures
from analysis.paper import (
    BASELINE,
    CITATION,
    TEMPLATES,
    baseline_per_template,
    counted_level,
    import_raw,
    raw_chains,
    raw_table,
)
from analysis.synthetic import synthetic_paper_data, write_paper_raw
from benchmark.paper_repo import parse_block, split_blocks

MULTILINE = (
    'E3012 Property "Tags", at Resources/Bucket/Properties, should be of type List,\n'
    "see 'docs', \"quoted, with commas\"\n"
    "template.json:10:5"
)
WARNING = "W2001 Parameter Env not used.\ntemplate.json:3:3"
INFO = 'I3011 The default retention, "Delete", applies\ntemplate.json:7:1'
NO_RULE = 'Traceback (most recent call last):\n  something, went "wrong"'


def test_baseline_table_values() -> None:
    assert list(BASELINE["iteration"]) == list(range(1, 11))
    assert list(BASELINE["errors"]) == [176.3, 68.0, 40.7, 34.7, 29.8, 29.8, 29.3, 35.5, 36.3, 29.7]
    assert list(BASELINE["warnings"]) == [
        67.0,
        42.8,
        40.3,
        30.5,
        28.7,
        25.7,
        23.3,
        23.3,
        24.5,
        21.0,
    ]
    assert list(BASELINE["clean"]) == [
        67.8,
        109.3,
        120.5,
        128.3,
        131.3,
        129.2,
        131.8,
        131.2,
        130.0,
        134.5,
    ]
    assert "2411.19043" in CITATION and "Palavalli" in CITATION
    assert baseline_per_template()["errors"].iloc[0] == pytest.approx(176.3 / TEMPLATES)


def test_split_and_parse_blocks() -> None:
    cell = "\r\n\r\n".join([MULTILINE, WARNING]).replace("\n", "\r\n") + "\r\n"
    blocks = split_blocks(cell)
    assert len(blocks) == 2
    first = parse_block(blocks[0])
    assert first.rule_id == "E3012" and first.level == "E"
    assert (first.file, first.line, first.column) == ("template.json", 10, 5)
    assert '"quoted, with commas"' in first.message and "\n" in first.message
    assert parse_block(blocks[1]).level == "W" and counted_level(blocks[1]) == "W"
    assert parse_block(INFO).level == "I"  # its own level in the findings table ...
    assert counted_level(INFO) == "E"  # ... but the paper counted anything not W… an error
    assert parse_block(NO_RULE).rule_id is None and parse_block(NO_RULE).line is None
    assert split_blocks("") == [] and split_blocks("  \n\n ") == []


def _write_small_fixture(root: Path) -> Path:
    """2 trials × 2 iterations × 4 templates, varied headers, empty cells in both spellings."""
    cells = {
        (1, 1): [f"{MULTILINE}\n\n{WARNING}", "", f"{INFO}\n\n\n{MULTILINE}", WARNING],
        (1, 2): ["", "", MULTILINE, ""],
        (2, 1): [MULTILINE, f"{WARNING}\n\n{WARNING}", NO_RULE, ""],
        (2, 2): ["", WARNING, "", ""],
    }
    write_paper_raw(root, cells, headers=("Errors", "0", "0", "Errors"))
    # trial 2 iteration 2 rewritten by hand: CRLF, a blank line (not "") for each empty cell
    path = root / "trial2" / "errorsCSV2.csv"
    lines = ["0", "", '"' + WARNING.replace('"', '""') + '"', "", ""]
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    return root


def test_importer_counts(tmp_path: Path) -> None:
    raw = import_raw(_write_small_fixture(tmp_path / "raw"), templates=4)
    counts = raw.templates.set_index(["trial", "iteration", "template"])
    assert tuple(counts.loc[(1, 1, 0), ["errors", "warnings"]]) == (1, 1)
    assert counts.loc[(1, 1, 1), "clean"]
    assert tuple(counts.loc[(1, 1, 2), ["errors", "warnings"]]) == (2, 0)  # I… counts as error
    assert tuple(counts.loc[(2, 1, 1), ["errors", "warnings"]]) == (0, 2)
    assert tuple(counts.loc[(2, 1, 2), ["errors", "warnings"]]) == (1, 0)  # no rule id: error
    assert counts.loc[(2, 2)]["clean"].tolist() == [True, False, True, True]
    assert any("no rule id" in note for note in raw.notes)
    table = raw_table(raw).set_index("iteration")
    # iteration 1 sums: trial 1 errors 1+0+2+0=3, trial 2 errors 1+0+1+0=2
    assert table.loc[1, "errors"] == 2.5
    assert table.loc[1, "errors_se"] == pytest.approx(np.std([3, 2], ddof=1) / np.sqrt(2))
    assert table.loc[1, "warnings"] == 2.0  # trial 1: 2, trial 2: 2
    assert table.loc[2, "clean"] == 3.0  # trial 1: 3, trial 2: 3
    assert table.loc[2, "clean_se"] == 0.0
    with pytest.raises(ValueError, match="expected 5"):
        import_raw(tmp_path / "raw", templates=5)


def test_importer_on_full_size_synthetic_fixture(tmp_path: Path) -> None:
    cells, truth = synthetic_paper_data(seed=7)
    raw = import_raw(write_paper_raw(tmp_path / "raw", cells), templates=TEMPLATES)
    sums = raw.templates.groupby(["trial", "iteration"])[["errors", "warnings", "clean"]].sum()
    for key, expected in truth.items():
        assert tuple(sums.loc[key]) == expected
    with open(tmp_path / "raw" / "trial1" / "errorsCSV2.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["0"]
    chains = raw_chains(raw, samples_per_prompt=5)
    assert chains["problem_id"].nunique() == 33
    assert len(chains) == 6 * 10 * TEMPLATES


def test_paper_figures_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert paper_figures.main(["--out", str(tmp_path / "pub")]) == 0
    printed = capsys.readouterr().out
    assert "176.3" in printed and "decay+plateau" in printed
    for name in (
        "paper_figures.html",
        "paper_figures.md",
        "figures/fig5.png",
        "figures/fig5.svg",
        "paper_fits.csv",
    ):
        assert (tmp_path / "pub" / name).exists(), name

    cells, _ = synthetic_paper_data(trials=3, iterations=6, templates=20, seed=1)
    raw_dir = write_paper_raw(tmp_path / "raw", cells)
    out = tmp_path / "fromraw"
    args = ["--raw", str(raw_dir), "--out", str(out), "--n-boot", "60"]
    assert paper_figures.main(args) == 0
    printed = capsys.readouterr().out
    assert "errors SE" in printed
    html = (out / "paper_figures.html").read_text()
    assert "data:image/png;base64," in html and "SIMULATED" not in html
