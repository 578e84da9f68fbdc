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

TABLES = ("attempts", "findings", "checks")
# the longest reply searched for a template (benchmark/loop/extract.py); a longer one is cut there
# and its attempt marked `truncated` (truncation "reply_chars")
MAX_REPLY_CHARS = 2_000_000
JOURNAL = "journal.jsonl"
_TS = pa.timestamp("us", tz="UTC")

KEY_FIELDS: list[pa.Field] = [
    pa.field("sweep_id", pa.string(), nullable=False),
    pa.field("job_id", pa.int32(), nullable=False),
    pa.field("model", pa.string(), nullable=False),  # "<provider>/<name>"
    pa.field("provider", pa.string(), nullable=False),
    pa.field("prompt_set", pa.string(), nullable=False),
    pa.field("protocol", pa.string(), nullable=False),
    pa.field("max_iterations", pa.int32(), nullable=False),
    pa.field("problem_id", pa.string(), nullable=False),
    pa.field("sample", pa.int32(), nullable=False),
    pa.field("iteration", pa.int32(), nullable=False),  # 1 = generation, 2.. = repairs
]
ATTEMPT_KEY = [f.name for f in KEY_FIELDS]

SCHEMAS: dict[str, pa.Schema] = {
    "attempts": pa.schema(
        [
            pa.field("attempt_id", pa.string(), nullable=False),
            *KEY_FIELDS,
            # outcome
            pa.field("reply", pa.string()),
            pa.field("template", pa.string()),
            pa.field("extraction_rule", pa.string()),
            pa.field("parse_ok", pa.bool_()),
            pa.field("errors", pa.int32()),
            pa.field("warnings", pa.int32()),
            pa.field("infos", pa.int32()),
            pa.field("clean", pa.bool_()),
            pa.field("clean_rule", pa.string()),
            pa.field("stop_reason", pa.string()),  # null while the chain goes on
            pa.field("feedback", pa.string()),  # what the next repair call was told
            pa.field("model_error", pa.string()),
            # secrets (environment values, URL credentials) redacted from this attempt's texts
            # before they were stored (benchmark/secrecy.py); 0 when none, null in older rows
            pa.field("redactions", pa.int32()),
            pa.field("lint_failure", pa.string()),
            pa.field("intent_passed", pa.int32()),
            pa.field("intent_total", pa.int32()),
            pa.field("security_passed", pa.int32()),  # Checkov checks (the security extra)
            pa.field("security_total", pa.int32()),
            # deploy (benchmark/validators/deploy/validator.py): null where not evaluated
            pa.field("deployable", pa.bool_()),
            pa.field("deploy_mode", pa.string()),  # changeset | stack
            pa.field("deploy_endpoint", pa.string()),  # an emulator's URL; null: AWS itself
            pa.field("deploy_validate_s", pa.float64()),  # ValidateTemplate
            pa.field("deploy_create_s", pa.float64()),  # change set / stack: create + wait
            pa.field("deploy_delete_s", pa.float64()),  # delete + wait
            # edit problems (benchmark/validators/collateral.py): null for the others
            pa.field("collateral_changes", pa.int32()),  # changes the request did not ask for
            pa.field("expected_distance", pa.float64()),  # 0..1 to expected_template, if any
            # CDK (issue 23; stand-in, the wiring helper's version wins): null on older rows
            pa.field("language", pa.string()),  # cloudformation | cdk-python
            pa.field("synth_template", pa.string()),
            pa.field("synth_stage", pa.string()),  # python | cdk | template; null: clean
            pa.field("synth_seconds", pa.float64()),
            pa.field("sandbox", pa.string()),
            pa.field("cdk_version", pa.string()),
            # usage
            pa.field("finish_reason", pa.string()),
            pa.field("input_tokens", pa.int64()),
            pa.field("output_tokens", pa.int64()),
            pa.field("cached_tokens", pa.int64()),  # input read from the prompt cache
            pa.field("cache_write_tokens", pa.int64()),  # input written to it (Anthropic)
            pa.field("cache_write_1h_tokens", pa.int64()),  # of them: with the 1-hour TTL
            pa.field("latency_s", pa.float64()),
            pa.field("cost_usd", pa.float64()),  # null where no price is known
            pa.field("price_basis", pa.string()),  # online | batch: the prices cost_usd used
            pa.field("request_id", pa.string()),
            pa.field("batch_id", pa.string()),  # the provider batch that answered (batch mode)
            pa.field("cache_hit", pa.bool_()),  # answered from the response cache
            pa.field("retries", pa.int32()),  # transient failures retried before the reply
            # figures the reply gave that were dropped as unsound: "output_tokens=not an integer"
            pa.field("usage_flags", pa.string()),
            # the reply was cut: truncation says where (null: it was not)
            pa.field("truncated", pa.bool_()),
            # max_tokens: stopped at the token limit; reply_chars: cut at MAX_REPLY_CHARS
            pa.field("truncation", pa.string()),
            # reasoning (benchmark/records/reasoning.py); null where not set or not reported
            pa.field("effort", pa.string()),  # model.effort as sent
            pa.field("thinking", pa.string()),  # off | adaptive | budget:<n>
            pa.field("thinking_display", pa.string()),  # summarized | omitted
            pa.field("model_api", pa.string()),  # messages | chat | responses | converse | ...
            pa.field("reasoning_tokens", pa.int64()),  # of output_tokens: spent reasoning
            pa.field("service_tier", pa.string()),  # as the provider reported it
            pa.field("speed", pa.string()),  # as the provider reported it
            # JSON list of the reply's carry items (thinking blocks, reasoning items), sent
            # back with it on the next turn; read back on resume
            pa.field("reasoning_carry", pa.string()),
            # agent protocol (benchmark/loop/agent.py); null for the fixed loops
            # validate_template | submit_template | reply: the tool that produced the row
            pa.field("tool", pa.string()),
            pa.field("turn", pa.int32()),  # the chain's turn that produced it (1-based)
            pa.field("schema_lookups", pa.int32()),  # get_resource_schema calls since last row
            pa.field("schema_lookup_types", pa.string()),  # JSON list of their resource types
            pa.field("submitted", pa.bool_()),  # true on the submission row
            # on the submission row: that exact template was validated before by the model
            pa.field("submission_validated", pa.bool_()),
            # on the submission row: findings the model's last validate of it reported
            pa.field("open_findings_at_submit", pa.int32()),
            # JSON list of the turns since the previous row (reply, tool calls, results, carry,
            # the harness's note); read back on resume
            pa.field("agent_turns", pa.string()),
            # provenance
            pa.field("simulated", pa.bool_()),
            # run (this harness called the model) | simulated | recorded (someone else's
            # published run, imported: neither simulated nor run here)
            pa.field("origin", pa.string()),
            pa.field("dataset", pa.string()),
            pa.field("problem_sha256", pa.string()),  # Problem.sha256 of the row's problem
            pa.field("output_format", pa.string()),
            pa.field("started_at", _TS),
            pa.field("finished_at", _TS),
            pa.field("seed", pa.int64()),
            pa.field("temperature", pa.float64()),
            pa.field("max_tokens", pa.int32()),
            pa.field("response_format", pa.string()),  # json_object / json_schema; null: text
            pa.field("git_sha", pa.string()),
            pa.field("git_dirty", pa.bool_()),
            pa.field("cfn_lint_version", pa.string()),  # the cfn-lint that judged this row
            pa.field("lint_as_of", pa.date32()),  # the date cfn-lint's clock read while linting
            # the linter that wrote `feedback` (what the model was shown next): "cfn-lint 1.58.0 @
            # 2026-12-01", or "recorded" (someone else's lint text, imported); it differs from
            # cfn_lint_version @ lint_as_of on a rescored row (studies/feedback_linter.py)
            pa.field("feedback_linter", pa.string()),
            # its findings came from a lint cache (the persistent one, or this process's memory),
            # not a fresh lint: the same findings, cheaper; null where nothing was linted
            pa.field("lint_cached", pa.bool_()),
            pa.field("anthropic_version", pa.string()),
            pa.field("openai_version", pa.string()),
            pa.field("checkov_version", pa.string()),
            pa.field("boto3_version", pa.string()),
            pa.field("botocore_version", pa.string()),
            pa.field("benchmark_version", pa.string()),
            pa.field("config_hash", pa.string()),
            pa.field("recorded_from", pa.string()),  # recorded rows: the file they came from
        ]
    ),
    "findings": pa.schema(
        [
            pa.field("attempt_id", pa.string(), nullable=False),
            *KEY_FIELDS,
            pa.field("finding_index", pa.int32(), nullable=False),
            pa.field("source", pa.string()),
            pa.field("rule_id", pa.string()),
            pa.field("level", pa.string()),  # E / W / I
            pa.field("message", pa.string()),
            pa.field("path", pa.string()),  # "Resources/Bucket/Properties/BucketNam"
            pa.field("line", pa.int32()),
            pa.field("column", pa.int32()),
            pa.field("end_line", pa.int32()),
            pa.field("end_column", pa.int32()),
            pa.field("construct", pa.string()),  # CDK construct path (stand-in, issue 23)
        ]
    ),
    "checks": pa.schema(
        [
            pa.field("attempt_id", pa.string(), nullable=False),
            *KEY_FIELDS,
            pa.field("check_index", pa.int32(), nullable=False),
            pa.field("source", pa.string()),
            pa.field("check_id", pa.string()),
            pa.field("passed", pa.bool_()),
            pa.field("description", pa.string()),
            pa.field("resource", pa.string()),
        ]
    ),
}
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
        elif field.type == _TS:
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
