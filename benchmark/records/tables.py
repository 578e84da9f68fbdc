"""Records: the tidy Parquet tables a job writes, and how a run folder is read back.

Every attempt is appended to a per-job journal (one JSON line, flushed and fsynced) the moment it
finishes, so a kill loses only attempts in flight. The journal is compacted into Parquet part
files (temp file + rename) every `compact_every` attempts and at job end. Readers take parts plus
any journal a killed job left behind, de-duplicated on `attempt_id`. A journal line counts only
whole: ended by its newline and parsing as an entry; a writer cuts a torn tail off on open, before
it appends, so that a new line is never glued to a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# the tables' columns live in their own module; their names stay importable from here
from benchmark.records.schemas import (  # noqa: F401 - re-exported
    ATTEMPT_KEY,
    KEY_FIELDS,
    SCHEMAS,
    TABLES,
    TIMESTAMP,
)

# the longest reply searched for a template (benchmark/loop/extract.py); a longer one is cut there
# and its attempt marked `truncated` (truncation "reply_chars")
MAX_REPLY_CHARS = 2_000_000
JOURNAL = "journal.jsonl"
_ROW_KEY = {
    "attempts": ["attempt_id"],
    "findings": ["attempt_id", "finding_index"],
    "checks": ["attempt_id", "check_index"],
}


def attempt_id(key: dict[str, Any]) -> str:
    """A stable id for one attempt key (same key, same id, in every process)."""
    text = json.dumps([key[name] for name in ATTEMPT_KEY], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def finding_rows(aid: str, key: dict[str, Any], findings: Iterable[Any]) -> list[dict[str, Any]]:
    """`findings` table rows for one attempt (`Finding` objects in, dicts out)."""
    return [
        {
            "attempt_id": aid,
            **key,
            "finding_index": i,
            "source": f.source,
            "rule_id": f.rule_id,
            "level": f.level,
            "message": f.message,
            "path": "/".join(str(p) for p in f.path),
            "line": f.line,
            "column": f.column,
            "end_line": f.end_line,
            "end_column": f.end_column,
            "construct": f.construct,  # a CDK app's finding: the construct that made it
        }
        for i, f in enumerate(findings)
    ]


def check_rows(aid: str, key: dict[str, Any], checks: Iterable[Any]) -> list[dict[str, Any]]:
    """`checks` table rows for one attempt (`CheckResult` objects in, dicts out)."""
    return [
        {
            "attempt_id": aid,
            **key,
            "check_index": i,
            "source": c.source,
            "check_id": c.check_id,
            "passed": c.passed,
            "description": c.description,
            "resource": c.resource,
        }
        for i, c in enumerate(checks)
    ]


# `attempts` columns a validator sets through `ValidationResult.columns`; null where it did not
VALIDATOR_COLUMNS = (
    "deployable",
    "deploy_mode",
    "deploy_endpoint",
    "deploy_validate_s",
    "deploy_create_s",
    "deploy_delete_s",
    "collateral_changes",
    "expected_distance",
)


# `attempts` columns the agent protocol sets through `Attempt.agent`; null where it did not
AGENT_COLUMNS = (
    "tool",
    "turn",
    "schema_lookups",
    "schema_lookup_types",
    "submitted",
    "submission_validated",
    "open_findings_at_submit",
    "agent_turns",
)


def agent_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every `AGENT_COLUMNS` column, null where `values` (an attempt's) does not set it."""
    unknown = set(values) - set(AGENT_COLUMNS)
    if unknown:
        raise ValueError(f"agent columns not in the attempts schema: {sorted(unknown)}")
    return {name: values.get(name) for name in AGENT_COLUMNS}


def outcome_columns(
    counts: dict[str, int],
    scored: bool,
    parse_ok: bool | None,
    clean: bool,
    failures: Iterable[str],
    checks: Iterable[Any],
    columns: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`attempts` columns that judge a template: counts (null where nothing was scored: no
    reply, or a gating validator failed; never 0), clean, failures, check pass/total, and the
    validators' own columns (`VALIDATOR_COLUMNS`, null where none set them)."""
    columns = columns or {}
    unknown = set(columns) - set(VALIDATOR_COLUMNS)
    if unknown:
        raise ValueError(f"validator columns not in the attempts schema: {sorted(unknown)}")
    return {
        **{name: columns.get(name) for name in VALIDATOR_COLUMNS},
        "parse_ok": parse_ok,
        "errors": counts["E"] if scored else None,
        "warnings": counts["W"] if scored else None,
        "infos": counts["I"] if scored else None,
        "clean": clean,
        "lint_failure": "; ".join(failures) or None,
        **check_summary(checks),
    }


def check_summary(checks: Iterable[Any]) -> dict[str, int | None]:
    """`attempts` columns counting passed/total checks per source (null where none ran)."""
    out: dict[str, int | None] = {}
    for source in ("intent", "security"):
        ran = [c for c in checks if c.source == source]
        out[f"{source}_passed"] = sum(c.passed for c in ran) if ran else None
        out[f"{source}_total"] = len(ran) if ran else None
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _valid_text(value: Any) -> Any:
    """Text Parquet can hold: a model's reply may carry lone surrogates from undecodable bytes."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = SCHEMAS[name]
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    for field in schema:
        if field.type == pa.string():
            columns[field.name] = [_valid_text(v) for v in columns[field.name]]
        elif field.type == TIMESTAMP:
            columns[field.name] = [
                datetime.fromisoformat(v) if isinstance(v, str) else v for v in columns[field.name]
            ]
        elif field.type == pa.date32():
            columns[field.name] = [
                date.fromisoformat(v) if isinstance(v, str) else v for v in columns[field.name]
            ]
    return pa.Table.from_pydict(columns, schema=schema)


def _atomic_write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class RecordWriter:
    """Durable, append-only writer for one job's tables. One writer per job directory.

    `sync_each`: every row is on disk (fsync) before `append` returns, so a crash loses none.
    False for a folder made again from scratch after a crash (rescore, import-paper): rows
    reach the disk at each compaction, saving an fsync per row, most of a warm rescore."""

    def __init__(
        self, job_dir: str | Path, compact_every: int = 500, sync_each: bool = True
    ) -> None:
        self.job_dir = Path(job_dir)
        self.job_dir.mkdir(parents=True, exist_ok=True)
        self.compact_every = compact_every
        self.sync_each = sync_each
        self._journal_path = self.job_dir / JOURNAL
        self.torn_lines = cut_torn_tail(self._journal_path)  # before anything is appended
        self._journal = open(self._journal_path, "a", encoding="utf-8")  # noqa: SIM115
        self._pending = 0
        self._next_part = self._count_parts()

    def _count_parts(self) -> int:
        return len(list((self.job_dir / "attempts").glob("part-*.parquet")))

    def append(
        self,
        attempt: dict[str, Any],
        findings: Iterable[dict[str, Any]] = (),
        checks: Iterable[dict[str, Any]] = (),
    ) -> None:
        """Record one finished attempt with its findings and checks, durably."""
        entry = {"attempts": [attempt], "findings": list(findings), "checks": list(checks)}
        self._journal.write(json.dumps(entry, default=_json_default) + "\n")
        self._journal.flush()
        if self.sync_each:
            os.fsync(self._journal.fileno())
        self._pending += 1
        if self._pending >= self.compact_every:
            self.compact()

    def compact(self) -> None:
        """Move the journal's rows into new Parquet part files, then empty the journal."""
        rows = _read_journal(self._journal_path)
        if not any(rows.values()):
            return
        part = f"part-{os.getpid()}-{self._next_part:05d}.parquet"
        for name in TABLES:
            _atomic_write(_table(name, rows[name]), self.job_dir / name / part)
        self._next_part += 1
        self._journal.truncate(0)
        self._journal.seek(0)
        os.fsync(self._journal.fileno())
        self._pending = 0

    def close(self) -> None:
        self.compact()
        self._journal.close()
        if self._journal_path.exists() and self._journal_path.stat().st_size == 0:
            self._journal_path.unlink()


def _entry(line: bytes) -> dict[str, Any] | None:
    """One journal line's entry; None for a line that is torn (no newline: the writer ends
    every entry with one, in the same write) or does not parse as an entry."""
    if not line.endswith(b"\n"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:  # JSONDecodeError, or bytes cut inside a UTF-8 character
        return None
    return entry if isinstance(entry, dict) else None


def cut_torn_tail(path: Path) -> int:
    """Truncate `path` to the end of its last whole line; return how many lines were cut.

    A kill or a full disk during a write leaves the journal's last line torn: appending to it
    would glue the next entry onto it and lose both. The attempt a cut line held was never
    recorded (readers ignore it too), so a resume runs it again."""
    if not path.exists():
        return 0
    with open(path, "r+b") as handle:
        data = handle.read()
        end, cut = len(data), 0
        while end > 0:
            start = data.rfind(b"\n", 0, end - 1) + 1  # where the last line begins
            if _entry(data[start:end]) is not None:
                break
            end, cut = start, cut + 1
        if cut:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
            print(
                f"note: {path}: cut {cut} torn line(s) off the end (an attempt cut short by a "
                "kill or a full disk; it was not recorded)",
                file=sys.stderr,
                flush=True,
            )
    return cut


def _read_journal(path: Path) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    if not path.exists():
        return rows
    with open(path, "rb") as handle:
        for line in handle:
            entry = _entry(line)
            if entry is None:
                continue  # torn by a kill (that attempt was in flight), or not an entry
            for name in TABLES:
                rows[name].extend(entry.get(name, []))
    return rows


def read_table(run_dir: str | Path, name: str) -> pd.DataFrame:
    """One table of a run folder (a sweep, a job, or any folder above them), every part read."""
    if name not in SCHEMAS:
        raise ValueError(f"unknown table {name!r}; expected one of {TABLES}")
    root = Path(run_dir)
    if not root.exists():
        raise FileNotFoundError(f"{root}: run folder not found")
    tables = [
        pq.read_table(path, schema=SCHEMAS[name])
        for path in sorted(root.rglob(f"{name}/part-*.parquet"))
    ]
    for journal in sorted(root.rglob(JOURNAL)):
        leftover = _read_journal(journal)[name]
        if leftover:
            tables.append(_table(name, leftover))
    if not tables:
        return SCHEMAS[name].empty_table().to_pandas()
    frame = pa.concat_tables(tables).to_pandas()
    return frame.drop_duplicates(subset=_ROW_KEY[name], keep="first").reset_index(drop=True)
