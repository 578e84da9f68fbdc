"""Loader: rows written as a job writes them, read back, chains filled forward."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.load import chain_status, fill_chains, load_run
from tests.synthetic_runs import attempt_row, write_job


def _write(tmp_path: Path) -> Path:
    run = tmp_path / "sweep"
    rows = [
        # p1/s0: 3 errors, then 1, then clean at iteration 3
        attempt_row("p1", 0, 1, errors=3, warnings=1, max_iterations=4),
        attempt_row("p1", 0, 2, errors=1, max_iterations=4),
        attempt_row("p1", 0, 3, max_iterations=4),
        # p1/s1: model error at iteration 2 after a scored iteration 1
        attempt_row("p1", 1, 1, errors=2, warnings=2, infos=1, max_iterations=4),
        attempt_row("p1", 1, 2, model_error="timeout: x", max_iterations=4),
        # p2/s0: never clean, runs to max_iterations
        *[
            attempt_row(
                "p2",
                0,
                i,
                errors=5 - i,
                max_iterations=4,
                stop_reason="max_iterations" if i == 4 else None,
            )
            for i in range(1, 5)
        ],
        # p2/s1: model error on the very first call: nothing scored
        attempt_row("p2", 1, 1, model_error="rate_limit: x", max_iterations=4),
    ]
    write_job(run / "0", rows)
    return run


def test_parts_are_read_back(tmp_path: Path) -> None:
    run = load_run(_write(tmp_path))
    assert len(run.attempts) == 10
    assert list((tmp_path / "sweep" / "0" / "attempts").glob("part-*.parquet"))
    assert not run.simulated


def test_chain_status(tmp_path: Path) -> None:
    status = chain_status(load_run(_write(tmp_path)).attempts).set_index(["problem_id", "sample"])
    assert status.loc[("p1", 0), "status"] == "clean"
    assert status.loc[("p1", 1), "status"] == "stopped"
    assert status.loc[("p2", 0), "status"] == "complete"
    assert status.loc[("p2", 1), "status"] == "unscored"


def test_fill_forward_carry(tmp_path: Path) -> None:
    chains = fill_chains(load_run(_write(tmp_path)).attempts, stopped="carry")
    by = chains.set_index(["problem_id", "sample", "iteration"])
    assert len(chains) == 3 * 4  # unscored chain dropped, every other chain at 1..4
    # stopped clean: iteration 4 repeats the clean attempt of iteration 3
    row = by.loc[("p1", 0, 4)]
    assert row["clean"] and row["errors"] == 0 and row["warnings"] == 0
    assert row["fill"] == "after_clean" and row["source_iteration"] == 3
    # model error at 2: iterations 2..4 carry the scored iteration 1
    for it in (2, 3, 4):
        row = by.loc[("p1", 1, it)]
        assert (row["errors"], row["warnings"], row["infos"], row["findings"]) == (2, 2, 1, 5)
        assert row["fill"] == "carried" and not row["clean"]
    assert by.loc[("p2", 0, 4), "errors"] == 1
    assert by.loc[("p1", 0, 2), "clean_by"] == False  # noqa: E712
    assert by.loc[("p1", 0, 3), "clean_by"] == True  # noqa: E712


def test_fill_forward_exclude(tmp_path: Path) -> None:
    chains = fill_chains(load_run(_write(tmp_path)).attempts, stopped="exclude")
    kept = set(map(tuple, chains[["problem_id", "sample"]].drop_duplicates().to_numpy()))
    assert kept == {("p1", 0), ("p2", 0)}


def test_simulated_flag_and_missing_run(tmp_path: Path) -> None:
    write_job(tmp_path / "sim" / "0", [attempt_row("p", 0, 1, simulated=True)])
    assert load_run(tmp_path / "sim").simulated
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "nowhere")
