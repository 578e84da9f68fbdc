"""Resuming a killed job from its journal: a line torn anywhere is cut and its attempt run
again (none lost), and job.json counts the whole job with the rerun's share beside it."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from benchmark.records import tables as records
from benchmark.records.tables import JOURNAL, RecordWriter, read_table
from benchmark.runner.hydra_job import SUMMARY_FILE, JobInfo, run_job
from studies.synthesize import compose_settings

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # runs simulated jobs (lint workers)
SETTINGS = (
    f"dataset.path={ROOT / 'datasets' / 'smoke'}",
    "model.id=simulated/default",
    "loop.samples=1",
    "loop.max_iterations=3",
    "lint.workers=1",
    "progress=false",
)


@pytest.fixture(scope="module")
def killed_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished simulated job whose rows are all still in its journal, as a kill leaves them."""
    folder = tmp_path_factory.mktemp("killed") / "0"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordWriter, "compact", lambda self: None)  # never moved into Parquet
        summary = asyncio.run(
            run_job(compose_settings(list(SETTINGS)), JobInfo("s", 0, folder), None)
        )
    assert summary.status == "complete" and (folder / JOURNAL).exists()
    (folder / SUMMARY_FILE).unlink()  # killed: no marker
    return folder


def journal_lines(folder: Path) -> list[bytes]:
    lines = (folder / JOURNAL).read_bytes().splitlines(keepends=True)
    assert lines and all(line.endswith(b"\n") for line in lines)
    return lines


def attempt_ids(lines: list[bytes]) -> list[str]:
    return [a["attempt_id"] for line in lines for a in json.loads(line)["attempts"]]


def test_a_tear_at_every_byte_of_the_last_line_loses_no_attempt(
    killed_job: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At every offset: what a resume counts as recorded leaves the torn attempt out, the
    writer cuts exactly the torn bytes, and after the rerun's append the journal is again the
    untorn one, byte for byte (no line glued onto another, no attempt lost or doubled)."""
    lines = sorted(journal_lines(killed_job), key=len, reverse=True)  # any order reads the same
    *earlier, last = lines  # the shortest last: the loop below runs once per byte of it
    head, whole = b"".join(earlier), b"".join(lines)
    entry = json.loads(last)
    every = attempt_ids(lines)
    # Parquet compaction and fsync are not under test here, and would cost ~40 ms an offset
    monkeypatch.setattr(RecordWriter, "compact", lambda self: None)
    monkeypatch.setattr(records.os, "fsync", lambda fd: None)
    journal = tmp_path / JOURNAL
    for keep in range(len(last) + 1):  # 0: the last line never began; len: it is whole
        journal.unlink(missing_ok=True)  # a new file: ext4 flushes one truncated and rewritten
        journal.write_bytes(head + last[:keep])
        recorded = [a["attempt_id"] for a in records._read_journal(journal)["attempts"]]
        assert recorded == (every if keep == len(last) else every[:-1]), keep
        writer = RecordWriter(tmp_path, compact_every=10**6)
        assert writer.torn_lines == (0 < keep < len(last)), keep
        assert journal.read_bytes() == (whole if keep == len(last) else head), keep
        if keep < len(last):  # the resume runs the missing attempt again
            writer.append(entry["attempts"][0], entry["findings"], entry["checks"])
        writer.close()
        assert journal.read_bytes() == whole, keep


@pytest.mark.parametrize("keep", ["half", "all but the newline"])
def test_a_resumed_job_reruns_the_torn_attempt_and_counts_the_cut(
    killed_job: Path, tmp_path: Path, keep: str
) -> None:
    folder = tmp_path / "0"
    shutil.copytree(killed_job, folder)
    lines = journal_lines(folder)
    *earlier, last = lines
    cut = len(last) // 2 if keep == "half" else len(last) - 1
    (folder / JOURNAL).write_bytes(b"".join(earlier) + last[:cut])

    summary = asyncio.run(run_job(compose_settings(list(SETTINGS)), JobInfo("s", 0, folder), None))
    assert summary.status == "complete"
    assert summary.torn_journal_lines == 1
    assert summary.resumed_attempts == len(lines) - 1
    rows = read_table(folder, "attempts")
    assert sorted(rows["attempt_id"]) == sorted(attempt_ids(lines))  # none lost, none doubled
    rerun = rows.set_index("attempt_id").loc[json.loads(last)["attempts"][0]["attempt_id"]]
    assert rerun["template"] == json.loads(last)["attempts"][0]["template"]  # seeded: the same
    assert json.loads((folder / SUMMARY_FILE).read_text())["torn_journal_lines"] == 1


def test_a_resumed_jobs_summary_counts_the_whole_job(killed_job: Path, tmp_path: Path) -> None:
    folder = tmp_path / "0"
    shutil.copytree(killed_job, folder)
    lines = journal_lines(folder)
    kept = 4  # killed after four attempts
    (folder / JOURNAL).write_bytes(b"".join(lines[:kept]))

    asyncio.run(run_job(compose_settings(list(SETTINGS)), JobInfo("s", 0, folder), None))
    summary = json.loads((folder / SUMMARY_FILE).read_text())
    rows = read_table(folder, "attempts")
    problems = len(list((ROOT / "datasets" / "smoke").glob("*.yaml")))
    assert summary["status"] == "complete" and summary["resumed_attempts"] == kept
    assert summary["attempts"] == len(rows) == len(lines)
    assert summary["chains"] == sum(summary["stop_reasons"].values()) == problems  # 1 sample
    assert summary["clean_chains"] == int(rows.loc[rows["stop_reason"].notna(), "clean"].sum())
    assert summary["input_tokens"] == int(rows["input_tokens"].sum()) > 0
    this_run = summary["this_run"]
    assert this_run["attempts"] == len(lines) - kept
    earlier = rows[rows["attempt_id"].isin(attempt_ids(lines[:kept])) & rows["stop_reason"].notna()]
    assert this_run["chains"] == problems - len(earlier)
    assert this_run["input_tokens"] == int(
        rows.loc[~rows["attempt_id"].isin(attempt_ids(lines[:kept])), "input_tokens"].sum()
    )
