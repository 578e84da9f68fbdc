"""The paper's baseline table, the raw-data importer, and the paper-figures CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import paper_figures
from analysis.measures import ProblemData
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
from benchmark.replication.paper_repo import parse_block, split_blocks
from tests.synthetic_runs import synthetic_paper_data, write_paper_raw

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


# ---- the authors' repository as published -------------------------------------------------

PATH = "/Users/someone/JSON_run_v2/JSONwork_batching{t}/json_set_{i}/JSONtemplate{n}.json"
# (errors, warnings) of templates 1..5, per trial and iteration; (0, 0) is a clean template,
# copied forward unchanged by the authors' loop; -1 errors marks a block without a rule id
COUNTS = {
    (1, 1): [(2, 1), (0, 0), (-1, 0), (0, 1), (1, 0)],
    (1, 2): [(1, 0), (0, 0), (0, 0), (0, 1), (0, 0)],
    (1, 3): [(0, 0), (0, 0), (0, 0), (1, 0), (0, 0)],
    (2, 1): [(3, 2), (1, 0), (0, 0), (0, 0), (0, 2)],
    (2, 2): [(1, 1), (0, 0), (0, 0), (0, 0), (0, 0)],
    (2, 3): [(0, 1), (0, 0), (0, 0), (0, 0), (0, 1)],  # template 5: clean at 2, not at 3
}


def _cell(trial: int, iteration: int, number: int, errors: int, warnings: int) -> str:
    where = PATH.format(t=trial, i=iteration, n=number)
    if errors < 0:
        return "Traceback (most recent call last):\n  File x, line 1"
    blocks = [
        f"E3002 Additional properties are not allowed ('Tag')\n{where}:1:{9 + k}"
        for k in range(errors)
    ]
    blocks += [f'W2001 Parameter "Env" not used.\n{where}:1:{40 + k}' for k in range(warnings)]
    return "\n\n".join(blocks)


def _cells() -> dict[tuple[int, int], list[str]]:
    return {
        key: [_cell(*key, n + 1, e, w) for n, (e, w) in enumerate(counts)]
        for key, counts in COUNTS.items()
    }


def _published_repository(root: Path) -> Path:
    write_paper_raw(root, _cells(), headers=("Errors", "0", "0"), layout="repository")
    for (trial, iteration), counts in COUNTS.items():
        folder = root / "JSON_run_v2" / f"JSONwork_batching{trial}" / f"json_set_{iteration}"
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(1, len(counts) + 1):
            text = "null" if number == 3 else '{"Resources": {}}'
            (folder / f"JSONtemplate{number}.json").write_text(text)
    (root / "JSON_run_v2" / ".DS_Store").write_bytes(b"\0\1")
    (root / "cfFilesBatching2.py").write_text("prompts_list = []\n")
    (root / "testCSV.csv").write_text("Errors\n")
    return root


def _expected(iteration: int) -> tuple[float, float, float]:
    """Means over trials of the sums over templates: errors, warnings, clean."""
    sums = []
    for trial in (1, 2):
        counts = COUNTS[(trial, iteration)]
        sums.append(
            (
                sum(max(e, 0) + (e < 0) for e, _ in counts),
                sum(w for _, w in counts),
                sum(e == 0 and w == 0 for e, w in counts),
            )
        )
    return tuple(float(np.mean(v)) for v in zip(*sums, strict=True))  # type: ignore[return-value]


@pytest.mark.parametrize(
    "where", ["repository root", "JSON_run_v2", "one trial folder", "trial folders"]
)
def test_every_published_layout_gives_the_same_table(tmp_path: Path, where: str) -> None:
    repo = _published_repository(tmp_path / "LLM-IaC-generation")
    if where == "trial folders":
        folder = write_paper_raw(tmp_path / "raw", _cells())
    else:
        folder = {
            "repository root": repo,
            "JSON_run_v2": repo / "JSON_run_v2",
            "one trial folder": repo / "JSON_run_v2" / "JSONwork_batching2",
        }[where]
    raw = import_raw(folder, templates=5)
    table = raw_table(raw).set_index("iteration")
    trials = [2] if where == "one trial folder" else [1, 2]
    assert raw.trials == trials
    for iteration in (1, 2, 3):
        if trials == [2]:
            counts = COUNTS[(2, iteration)]
            expected = (
                sum(max(e, 0) for e, _ in counts),
                sum(w for _, w in counts),
                sum(e == 0 and w == 0 for e, w in counts),
            )
        else:
            expected = _expected(iteration)
        assert tuple(table.loc[iteration, ["errors", "warnings", "clean"]]) == expected
    # the clean count is the state at iteration n: template 5 of trial 2 is clean at 2 only
    chains = raw_chains(raw).set_index(["sample", "iteration"])
    assert chains.loc[(2 * 5 + 4, 2), "clean"] and not chains.loc[(2 * 5 + 4, 3), "clean"]
    assert chains.loc[(2 * 5 + 4, 3), "clean_by"]
    data = ProblemData.from_chains(raw_chains(raw))
    assert data.point("clean")[2] * 5 == pytest.approx(table.loc[3, "clean"])


def test_paper_figures_from_the_repository_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _published_repository(tmp_path / "LLM-IaC-generation")
    out = tmp_path / "fig"
    assert paper_figures.main(["--raw", str(repo), "--out", str(out), "--n-boot", "30"]) == 0
    printed = capsys.readouterr().out
    assert "recorded lint text" in printed
    assert "not fitted" in printed  # three iterations: too short to fit, said, not a crash
    saved = pd.read_csv(out / "paper_table.csv").set_index("iteration")
    assert tuple(saved.loc[1, ["errors", "warnings", "clean"]]) == _expected(1)
    md = (out / "paper_figures.md").read_text()
    assert "repository layout" in md and "1 finding blocks have no rule id" in md
    assert "at iteration n" in md and "2024" in md


def test_paper_figures_on_a_wrong_folder_says_what_it_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "elsewhere" / "notes").mkdir(parents=True)
    assert paper_figures.main(["--raw", str(tmp_path / "elsewhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "JSON_run_v2" in err and "trial*/errorsCSV*.csv" in err
    assert paper_figures.main(["--raw", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
