"""The report reads at a glance: no legend covers a plotted point (checked on every figure the
report and the comparison draw), no empty table column, groups with identical numbers said so
once and drawn once, and verdicts that say no more than their CIs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from analysis import compare as cmp
from analysis import multiples, render, report
from analysis.banner import SIMULATED_BANNER
from analysis.measures import ProblemData
from analysis.verdict import opening_sentence
from tests.synthetic_runs import GroupSpec, design_groups, write_synthetic_run
from tests.test_analysis_deploy import _hand_run


def legend_boxes(fig: Figure) -> list[Bbox]:
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    return [leg.get_window_extent(renderer) for leg in legends if leg is not None]


def plotted(fig: Figure) -> Iterator[tuple[str, np.ndarray | Bbox]]:
    """Every plotted point in display coordinates (line vertices and markers, error bars,
    bands' outlines), and every bar and image as its box; only what falls inside its axes."""
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        inside = ax.bbox
        for line in ax.lines:
            xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
            yield "line", xy[[inside.contains(x, y) for x, y in xy]]
        for coll in ax.collections:
            for path in coll.get_paths():
                xy = coll.get_transform().transform(path.vertices)
                yield "collection", xy[[inside.contains(x, y) for x, y in xy]]
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            if len(offsets) and coll.get_offset_transform() is not None:
                xy = coll.get_offset_transform().transform(offsets)
                yield "markers", xy[[inside.contains(x, y) for x, y in xy]]
        for artist in [*ax.patches, *ax.images]:
            box = artist.get_window_extent(renderer)
            if box.width > 0 and box.height > 0:
                yield "box", Bbox.intersection(box, inside) or Bbox.null()


def overlaps(fig: Figure) -> list[str]:
    """What a legend covers: '<kind> at (x, y)' per covered point or box."""
    fig.canvas.draw()
    found = []
    for legend in legend_boxes(fig):
        for kind, where in plotted(fig):
            if isinstance(where, Bbox):
                if where.width > 0 and legend.overlaps(where):
                    found.append(f"{kind} {where.bounds}")
            else:
                hit = [
                    (x, y)
                    for x, y in where
                    if legend.x0 < x < legend.x1 and legend.y0 < y < legend.y1
                ]
                found += [f"{kind} at ({x:.0f}, {y:.0f})" for x, y in hit]
    return found


def test_the_check_finds_a_legend_drawn_over_the_data() -> None:
    fig, ax = plt.subplots()
    ax.plot(np.arange(10), np.arange(10), "o-", label="a series")
    ax.bar([5], [5], label="a bar")
    ax.legend(loc="center", fontsize=20)
    assert overlaps(fig)
    plt.close(fig)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every figure a Page saves, by name, with what its legends cover (checked as drawn)."""
    seen: dict[str, list[str]] = {}
    real = render.save

    def checked(fig: Figure, out_dir: Path, name: str, **kw: object) -> render.Saved:
        seen[name] = overlaps(fig)
        seen[f"{name}:axes"] = [str(sum(ax.get_visible() for ax in fig.axes))]
        return real(fig, out_dir, name, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(render, "save", checked)
    return seen


def test_no_legend_covers_a_point_in_any_figure_of_the_report(
    tmp_path: Path, drawn: dict[str, list[str]]
) -> None:
    twelve = write_synthetic_run(tmp_path / "designs", design_groups(), problems=6, samples=1)
    report.build_report(twelve, n_boot=50, fit_boot=10)
    report.build_report(_hand_run(tmp_path / "deploy"), n_boot=50, fit_boot=0)
    sides = write_synthetic_run(
        tmp_path / "two", [GroupSpec(model="a"), GroupSpec(model="b")], problems=8
    )
    result = cmp.compare(
        cmp.run_side(sides, {"model": "a"}), cmp.run_side(sides, {"model": "b"}), n_boot=100
    )
    cmp.write(result, tmp_path / "cmp")
    names = {n for n in drawn if ":" not in n}
    for expected in ("curves_errors", "designs", "security", "deploy", "compare_differences"):
        assert expected in names, expected
    assert any(n.startswith(("churn_", "rules_", "paper_")) for n in names)
    assert {n: drawn[n] for n in names if drawn[n]} == {}
    # twelve groups: one figure per measure, one panel each, no legend to read at all
    assert drawn["curves_errors:axes"] == ["12"]


def test_identical_groups_are_said_once_and_drawn_once(
    tmp_path: Path, drawn: dict[str, list[str]]
) -> None:
    run = write_synthetic_run(tmp_path / "run", [GroupSpec()], problems=8, samples=2)
    twin = tmp_path / "run" / "1"  # the same rows under another prompt set
    for table in ("attempts", "findings", "checks"):
        for part in (tmp_path / "run" / "0" / table).glob("*.parquet"):
            frame = pd.read_parquet(part)
            if "prompt_set" in frame:
                frame["prompt_set"] = "structured"
            frame["job_id"] = 1
            frame["attempt_id"] = frame["attempt_id"] + "-twin"
            (twin / table).mkdir(parents=True, exist_ok=True)
            frame.to_parquet(twin / table / part.name)
    built = report.build_report(run, n_boot=100, fit_boot=20)
    for text in (built.markdown.read_text(), built.html.read_text()):
        assert text.count("Identical numbers: ") == 1
        assert "synthetic/model · paper · stateless and synthetic/model · structured" in text
    assert drawn["curves:axes"] == ["4"]  # one panel per measure: the twins drawn once
    other = ProblemData.from_chains(
        pd.DataFrame(
            {
                "problem_id": ["p"],
                "iteration": [1],
                "errors": [1],
                "warnings": [0],
                "infos": [0],
                "findings": [1],
                "clean": [False],
            }
        )
    )
    assert multiples.identical_groups({("a",): other, ("b",): other}) == [[("a",), ("b",)]]


def test_no_table_has_an_empty_column(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", [GroupSpec()], problems=6, samples=2)
    built = report.build_report(run, n_boot=50, fit_boot=0)
    html = built.html.read_text()
    assert "<th>column</th>" not in html and "<th></th>" not in html
    for header in re.findall(r"^\| (.*) \|$\n^\|(?:---\|)+$", built.markdown.read_text(), re.M):
        assert all(cell.strip() for cell in header.split(" | ")), header
    pivot = pd.DataFrame({"m": ["a", "b"], "v": [1, 2], "i": [1, 1]}).pivot(
        index="i", columns="m", values="v"
    )
    assert "<th></th>" not in render.html_table(pivot.reset_index())


def _overall(**favours: str) -> pd.DataFrame:
    return pd.DataFrame({"measure": list(favours), "favours": list(favours.values())})


def test_one_measure_in_favour_is_not_called_better() -> None:
    frame = _overall(
        **{"errors per template": "–", "warnings per template": "candidate", "clean fraction": "–"}
    )
    text = opening_sentence("paper", "model", "better", frame, 0.983)
    assert "better" not in text
    assert "differs on one measure only, in its favour: fewer warnings per template" in text
    assert "errors per template and clean fraction: not distinguishable" in text
    both = _overall(
        **{"errors per template": "candidate", "warnings per template": "–", "clean fraction": "-"}
    )
    text = opening_sentence("paper", "model", "clearly better", both, 0.983)
    assert text.startswith("Against paper, model is clearly better, averaged over iterations:")
    nothing = opening_sentence("paper", "model", "not clearly different", _overall(a="–"), 0.9)
    assert "better" not in nothing and "worse" not in nothing


def test_a_simulated_verdict_opens_with_the_banner_s_words(tmp_path: Path) -> None:
    run = write_synthetic_run(
        tmp_path / "run", [GroupSpec(model="a"), GroupSpec(model="b")], problems=8, simulated=True
    )
    result = cmp.compare(
        cmp.run_side(run, {"model": "a"}), cmp.run_side(run, {"model": "b"}), n_boot=100
    )
    assert result.verdict.startswith(f"{SIMULATED_BANNER}. Against ")
