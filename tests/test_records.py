"""Parquet records: schema round trip, durability of each attempt, reading every part."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmark.records import tables
from benchmark.records.tables import (
    ATTEMPT_KEY,
    JOURNAL,
    SCHEMAS,
    RecordWriter,
    attempt_id,
    read_table,
)


def key(problem: str, iteration: int, job: int = 0) -> dict:
    return {
        "sweep_id": "s",
        "job_id": job,
        "model": "simulated/default",
        "provider": "simulated",
        "prompt_set": "paper",
        "protocol": "stateless",
        "max_iterations": 3,
        "problem_id": problem,
        "sample": 0,
        "iteration": iteration,
    }


def rows(problem: str, iteration: int, job: int = 0) -> tuple[dict, list[dict], list[dict]]:
    k = key(problem, iteration, job)
    aid = attempt_id(k)
    attempt = {
        "attempt_id": aid,
        **k,
        "template": "Resources: {}\n",
        "errors": 1,
        "warnings": 0,
        "infos": 0,
        "clean": False,
        "cost_usd": None,
        "simulated": True,
        "started_at": datetime(2026, 1, 1, tzinfo=UTC),
        "finished_at": datetime.now(UTC),
    }
    finding = {
        "attempt_id": aid,
        **k,
        "finding_index": 0,
        "rule_id": "E1001",
        "level": "E",
        "message": "'Resources' is a required property, \"quoted\"",
        "path": "",
        "line": 1,
        "column": 1,
        "end_line": 1,
        "end_column": 2,
        "source": "cfn-lint",
    }
    check = {
        "attempt_id": aid,
        **k,
        "check_index": 0,
        "check_id": "bucket-exists",
        "passed": False,
        "source": "intent",
        "description": "a bucket exists",
    }
    return attempt, [finding], [check]


def test_round_trip_keeps_schema_and_values(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "0")
    for iteration in (1, 2):
        writer.append(*rows("p1", iteration))
    writer.close()
    for name in SCHEMAS:
        parts = list((tmp_path / "0" / name).glob("part-*.parquet"))
        assert len(parts) == 1
        assert pq.read_schema(parts[0]).equals(SCHEMAS[name], check_metadata=False)
    attempts = read_table(tmp_path, "attempts")
    assert list(attempts.columns) == SCHEMAS["attempts"].names
    assert sorted(attempts["iteration"]) == [1, 2]
    assert attempts["cost_usd"].isna().all()  # unknown cost stays null, never 0
    assert str(attempts["started_at"].dt.tz) == "UTC"
    findings = read_table(tmp_path, "findings")
    assert findings["message"].iloc[0] == "'Resources' is a required property, \"quoted\""
    assert read_table(tmp_path, "checks")["passed"].tolist() == [False, False]
    assert not (tmp_path / "0" / JOURNAL).exists()


def test_attempt_survives_a_kill_before_compaction(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "0", compact_every=1000)
    writer.append(*rows("p1", 1))
    writer.append(*rows("p1", 2))
    # the process dies here: no close(), no compaction; a half-written line follows
    with open(tmp_path / "0" / JOURNAL, "a") as journal:
        journal.write('{"attempts": [{"attempt_id": "cut sho')
    attempts = read_table(tmp_path, "attempts")
    assert sorted(attempts["iteration"]) == [1, 2]
    assert len(read_table(tmp_path, "findings")) == 2


def test_a_folder_made_again_after_a_crash_syncs_at_compaction_not_per_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(tables.os, "fsync", synced.append)
    durable = RecordWriter(tmp_path / "run" / "0", compact_every=1000)
    for i in range(5):
        durable.append(*rows("p1", i + 1))
    assert len(synced) == 5  # a job's rows: each on disk before the next call
    synced.clear()
    derived = RecordWriter(tmp_path / "rescored" / "0", compact_every=1000, sync_each=False)
    for i in range(5):
        derived.append(*rows("p1", i + 1))
    assert synced == []  # rescore, import-paper: refused over a partial folder, made again
    derived.close()
    assert synced and len(read_table(tmp_path / "rescored", "attempts")) == 5


def test_rows_in_both_part_and_journal_are_read_once(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "0", compact_every=1)
    writer.append(*rows("p1", 1))  # compacted into a part
    with open(tmp_path / "0" / JOURNAL, "a") as journal:  # a crash mid-compaction left a copy
        import json

        attempt, findings, checks = rows("p1", 1)
        journal.write(
            json.dumps({"attempts": [attempt], "findings": findings, "checks": checks}, default=str)
            + "\n"
        )
    assert len(read_table(tmp_path, "attempts")) == 1
    assert len(read_table(tmp_path, "findings")) == 1


def test_every_job_part_is_read(tmp_path: Path) -> None:
    for job in (0, 1):
        writer = RecordWriter(tmp_path / str(job))
        writer.append(*rows("p1", 1, job))
        writer.append(*rows("p2", 1, job))
        writer.close()
    attempts = read_table(tmp_path, "attempts")
    assert len(attempts) == 4
    assert not attempts.duplicated(subset=ATTEMPT_KEY).any()
    assert sorted(attempts["job_id"].unique()) == [0, 1]


def test_attempt_id_is_stable_and_distinct() -> None:
    assert attempt_id(key("p1", 1)) == attempt_id(key("p1", 1))
    assert attempt_id(key("p1", 1)) != attempt_id(key("p1", 2))
    assert attempt_id(key("p1", 1)) != attempt_id(key("p1", 1, job=1))


def test_a_torn_last_line_is_cut_before_the_next_append(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "0", compact_every=1000)
    writer.append(*rows("p1", 1))
    writer.append(*rows("p1", 2))
    journal = tmp_path / "0" / JOURNAL
    whole = journal.read_bytes()
    # a kill during the write of iteration 3: its line lacks the end (and its newline)
    line = json.dumps({"attempts": [rows("p1", 3)[0]]}, default=str).encode() + b"\n"
    journal.write_bytes(whole + line[: len(line) // 2])

    again = RecordWriter(tmp_path / "0", compact_every=1000)
    assert again.torn_lines == 1
    assert journal.read_bytes() == whole  # cut back to the end of the last whole line
    again.append(*rows("p1", 3))  # the resume's rerun of iteration 3
    again.close()
    attempts = read_table(tmp_path, "attempts")
    assert sorted(attempts["iteration"]) == [1, 2, 3]


def test_a_last_line_missing_only_its_newline_is_not_recorded(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "0", compact_every=1000)
    writer.append(*rows("p1", 1))
    journal = tmp_path / "0" / JOURNAL
    whole = journal.read_bytes()
    entry = json.dumps({"attempts": [rows("p1", 2)[0]]}, default=str).encode()
    journal.write_bytes(whole + entry)  # every byte but the newline reached the disk
    # readers (and so a resume) do not count it: the writer is about to cut it
    assert sorted(read_table(tmp_path, "attempts")["iteration"]) == [1]
    assert RecordWriter(tmp_path / "0").torn_lines == 1
    assert journal.read_bytes() == whole


def test_unreadable_lines_at_the_end_are_all_cut(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "0", compact_every=1000)
    writer.append(*rows("p1", 1))
    journal = tmp_path / "0" / JOURNAL
    whole = journal.read_bytes()
    journal.write_bytes(
        whole + b'{"attempts": [{"cut{"attempts": []}\n' + b"[1, 2]\n" + b"\xff\xfe"
    )
    assert RecordWriter(tmp_path / "0").torn_lines == 3
    assert journal.read_bytes() == whole


def test_a_whole_journal_is_left_as_it_is(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "0", compact_every=1000)
    writer.append(*rows("p1", 1))
    whole = (tmp_path / "0" / JOURNAL).read_bytes()
    assert RecordWriter(tmp_path / "0").torn_lines == 0
    assert (tmp_path / "0" / JOURNAL).read_bytes() == whole
