"""Rows name the libraries that produced them: the model SDKs, boto3 and botocore (Bedrock's
SDK, and the signer and parser of every AWS call), cfn-lint and checkov."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.records.origin import provenance
from benchmark.records.tables import SCHEMAS, read_table
from benchmark.runner.hydra_job import JobInfo, run_job
from tests.test_config import settings_for
from tests.test_records import rows

SDKS = {
    "anthropic_version": "anthropic",
    "openai_version": "openai",
    "boto3_version": "boto3",
    "botocore_version": "botocore",
    "cfn_lint_version": "cfn-lint",
}


def test_provenance_names_the_installed_sdks() -> None:
    stamp = provenance()
    for column, package in SDKS.items():
        assert stamp[column] == version(package), column
        assert SCHEMAS["attempts"].field(column).type == pa.string()


def test_a_jobs_rows_carry_the_boto3_and_botocore_versions(tmp_path: Path) -> None:
    settings = settings_for(
        "model.id=simulated/default",
        "dataset=smoke",
        "dataset.limit=1",
        "loop.samples=1",
        "loop.max_iterations=1",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
    )
    summary = asyncio.run(run_job(settings, JobInfo("sweep-p", 0, tmp_path / "0"), None))
    assert summary.status == "complete"
    attempts = read_table(tmp_path, "attempts")
    assert len(attempts) == 1
    assert attempts.loc[0, "boto3_version"] == version("boto3")
    assert attempts.loc[0, "botocore_version"] == version("botocore")


def test_rows_written_before_the_columns_existed_read_them_as_null(tmp_path: Path) -> None:
    older = pa.schema(
        [f for f in SCHEMAS["attempts"] if f.name not in ("boto3_version", "botocore_version")]
    )
    attempt, _, _ = rows("p1", 1)
    part = tmp_path / "0" / "attempts" / "part-00000.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([attempt], schema=older), part)
    attempts = read_table(tmp_path, "attempts")
    assert len(attempts) == 1 and attempts["template"].tolist() == ["Resources: {}\n"]
    assert attempts[["boto3_version", "botocore_version"]].isna().all().all()
