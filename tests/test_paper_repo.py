"""The authors' published layout is found wherever the user points: root, run folder, trial."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.replication.paper_repo import (
    PAPER33,
    discover,
    paper33_by_topic,
    parse_cell,
    prompt_and_query,
    read_cells,
)
from tests.synthetic_runs import write_paper_raw

CELL = (
    "E3002 Additional properties are not allowed ('Tags' was unexpected)\n"
    "/Users/someone/JSON_run_v2/JSONwork_batching1/json_set_2/JSONtemplate1.json:1:660\n\n"
    "W2001 Parameter VpcId not used.\n"
    "/Users/someone/JSON_run_v2/JSONwork_batching1/json_set_2/JSONtemplate1.json:1:439"
)


def _repository(root: Path) -> Path:
    cells = {(t, i): [CELL, "", ""] for t in (1, 2) for i in (1, 2, 3)}
    write_paper_raw(root, cells, layout="repository")
    for t in (1, 2):
        for i in (1, 2, 3):
            folder = root / "JSON_run_v2" / f"JSONwork_batching{t}" / f"json_set_{i}"
            folder.mkdir(parents=True)
            (folder / "JSONtemplate1.json").write_text("null")
    (root / "JSON_run_v2" / ".DS_Store").write_bytes(b"\0\1")
    (root / "cfFilesBatching2.py").write_text("prompts_list = []\n")
    (root / "testCSV.csv").write_text("Errors\n")
    return root


def test_every_published_layout_is_found(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    repo = discover(root)
    assert repo.layout == "repository" and repo.script == root / "cfFilesBatching2.py"
    assert [t.trial for t in repo.trials] == [1, 2]
    assert repo.trials[0].iterations == [1, 2, 3] and repo.has_templates
    assert repo.trials[1].template_file(3, 1) is not None
    assert repo.trials[1].template_file(3, 2) is None  # not published: no file

    run = discover(root / "JSON_run_v2")
    assert run.layout == "JSON_run_v2" and run.script is None and len(run.trials) == 2
    one = discover(root / "JSON_run_v2" / "JSONwork_batching2")
    assert one.layout == "one trial" and [t.trial for t in one.trials] == [2]

    legacy = write_paper_raw(tmp_path / "legacy", {(1, 1): [CELL], (1, 2): [""]})
    found = discover(legacy)
    assert found.layout == "trial folders" and not found.has_templates
    assert read_cells(found.trials[0].csvs[1]) == [CELL]


def test_an_unknown_folder_names_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="JSON_run_v2"):
        discover(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "missing")


def test_recorded_text_is_parsed_with_locations() -> None:
    first, second = parse_cell(CELL)
    assert (first.rule_id, first.level, first.line, first.column) == ("E3002", "E", 1, 660)
    assert first.file is not None and first.file.endswith("JSONtemplate1.json")
    assert second.rule_id == "W2001" and second.level == "W" and second.column == 439
    assert parse_cell("") == []


def test_template_numbers_map_to_prompt_and_query() -> None:
    assert prompt_and_query(1) == (0, 0)
    assert prompt_and_query(5) == (0, 4)
    assert prompt_and_query(6) == (1, 0)
    assert prompt_and_query(165) == (32, 4)
    with pytest.raises(ValueError):
        prompt_and_query(0)


def test_paper33_in_the_papers_topic_order(tmp_path: Path) -> None:
    problems = paper33_by_topic()
    assert len(problems) == 33 and len({p.id for p in problems}) == 33
    for topic, problem in enumerate(problems, start=1):
        assert f"paper topic {topic}" in (problem.source or "")
    copy = tmp_path / "paper33"
    shutil.copytree(PAPER33, copy)
    moved = copy / f"{problems[1].id}.yaml"
    moved.write_text(moved.read_text().replace("paper topic 2", "paper topic 1", 1))
    with pytest.raises(ValueError, match="paper topic 1 twice"):
        paper33_by_topic(copy)
