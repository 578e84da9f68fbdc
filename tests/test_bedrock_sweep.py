"""Whole Bedrock runs through the loopback Converse server: a job writes the same tables as the
other providers, and a Hydra multirun on `smoke` leaves no AWS credential in any file."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmark.records.tables import TABLES, read_table
from benchmark.runner.hydra_job import JobInfo, run_job
from tests.loopback import Fault, Usage
from tests.loopback_tls import TlsFiles
from tests.test_bedrock import AWS_CREDENTIALS, MODEL, REGION, isolate_aws
from tests.test_bedrock_api_key import KNOWS_API_KEYS
from tests.test_config import settings_for

ROOT = Path(__file__).resolve().parent.parent
CLEAN = '```json\n{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}\n```'
DIRTY = '```json\n{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}}\n```'
# Bedrock API keys (bearer tokens) are read by newer botocore releases; they must not leak either.
BEARER = {"AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key-FAKE0123456789abcdef"}


def reply(body: dict, path: str) -> str:
    """Dirty until the request carries cfn-lint's finding about it, then clean: a function of
    the request alone, for both protocols and any arrival order."""
    return CLEAN if "E3002" in json.dumps(body) else DIRTY


class FirstTryThrottled:
    """Throttle the first try of every distinct generation request, whatever the order."""

    def __call__(self, body: dict, path: str, seen: int) -> Fault | None:
        return Fault(429) if seen == 0 and "E3002" not in json.dumps(body) else None


def job_settings(model_id: str, endpoint: str, *extra: str):
    """A small job: 2 problems x 2 samples x up to 3 iterations; `endpoint` is the override
    that points the provider at the loopback server."""
    return settings_for(
        f"model.id={model_id}",
        endpoint,
        "dataset.limit=2",
        "loop.samples=2",
        "loop.max_iterations=3",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
        *extra,
    )


def null_columns(frame) -> set[str]:
    return {c for c in frame.columns if frame[c].isna().all()}


@pytest.mark.slow
def test_a_bedrock_job_writes_the_same_tables_as_openai(
    loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_aws(monkeypatch, tmp_path, **AWS_CREDENTIALS)
    server = loopback(reply, faults=FirstTryThrottled(), usage=Usage(50, 12, 20))
    bedrock = job_settings(
        f"bedrock/{MODEL}",
        f"model.providers.bedrock.endpoint_url={server.url}",
        f"model.providers.bedrock.region={REGION}",
        "model.providers.bedrock.backoff_base_s=0.01",
        "model.providers.bedrock.backoff_max_s=0.05",
    )
    summary = asyncio.run(run_job(bedrock, JobInfo("sweep-b", 0, tmp_path / "bedrock"), None))
    assert summary.status == "complete" and summary.chains == 4 and summary.fatal_error is None

    openai_server = loopback(reply, usage=Usage(50, 12, 20))
    openai = job_settings(
        "openai/gpt-4o", f"model.providers.openai.base_url={openai_server.openai_base_url}"
    )
    done = asyncio.run(run_job(openai, JobInfo("sweep-o", 0, tmp_path / "openai"), "sk-test"))
    assert done.status == "complete" and done.chains == summary.chains

    for table in TABLES:  # one schema for every provider
        schemas = {pq.read_schema(p) for p in (tmp_path / "bedrock" / table).glob("part-*.parquet")}
        schemas |= {pq.read_schema(p) for p in (tmp_path / "openai" / table).glob("part-*.parquet")}
        assert len(schemas) == 1, table

    rows = read_table(tmp_path / "bedrock", "attempts")
    reference = read_table(tmp_path / "openai", "attempts")
    assert len(rows) == len(reference) == summary.attempts
    # filled in where the others fill in, and cache writes, which OpenAI does not report
    # Converse reports no reasoning share (reasoning_tokens stays null); OpenAI reports 0
    assert null_columns(rows) - {"reasoning_tokens"} == null_columns(reference) - {
        "cache_write_tokens"
    }
    assert (rows["cache_write_tokens"] == 0).all()
    assert set(rows["model"]) == {f"bedrock/{MODEL}"} and set(rows["provider"]) == {"bedrock"}
    assert not rows["simulated"].any() and set(rows["origin"]) == {"run"}
    assert rows["request_id"].str.fullmatch(r"req_loop_\d{4}").all()
    assert (rows["input_tokens"] == 50).all() and (rows["output_tokens"] == 12).all()
    assert (rows["cached_tokens"] == 20).all() and set(rows["finish_reason"]) == {"end_turn"}
    # priced: 30 fresh + 20 cached input at $1.10 / $0.11, 12 output at $5.50 per million
    expected = (30 * 1.10 + 20 * 0.11 + 12 * 5.50) / 1e6
    assert rows["cost_usd"].tolist() == pytest.approx([expected] * len(rows))
    # each problem's generation request was throttled once (its two samples send the same
    # body: Converse takes no seed) and retried by the harness; no repair was throttled
    first = rows["iteration"] == 1
    assert (rows[first].groupby("problem_id")["retries"].sum() == 1).all()
    assert (rows.loc[~first, "retries"] == 0).all()
    assert server.injected["429"] == 2 == summary.retries
    assert (rows.loc[first, "errors"] > 0).all() and rows.groupby(["problem_id", "sample"])[
        "clean"
    ].any().all()
    findings = read_table(tmp_path / "bedrock", "findings")
    assert set(findings["rule_id"]) >= {"E3002"}


@pytest.mark.slow
def test_bedrock_multirun_on_smoke_leaves_no_credential_anywhere(
    loopback, loopback_tls: TlsFiles, tmp_path: Path
) -> None:
    # HTTPS: a botocore that knows Bedrock API keys signs with BEARER's, and only over TLS
    server = loopback(reply, tls=loopback_tls)
    sweep = tmp_path / "sweep"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CREDENTIALS,
        **BEARER,
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CA_BUNDLE=str(loopback_tls.cert),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.run",
            "-m",
            f"model.id=bedrock/{MODEL}",
            f"model.providers.bedrock.endpoint_url={server.url}",
            f"model.providers.bedrock.region={REGION}",
            "loop.protocol=stateless,conversation",
            "dataset=smoke",
            "loop.samples=2",
            "loop.max_iterations=3",
            "lint.workers=1",
            "progress=false",
            f"cache.path={tmp_path / 'cache.sqlite'}",
            f"hydra.sweep.dir={sweep}",
            # at DEBUG botocore would log the signed headers, session token included
            "hydra.job_logging.root.level=DEBUG",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not an LLM" not in done.stderr
    for job in ("0", "1"):
        summary = json.loads((sweep / job / "job.json").read_text())
        assert summary["status"] == "complete" and summary["simulated"] is False
    attempts = read_table(sweep, "attempts")
    assert set(attempts["protocol"]) == {"stateless", "conversation"}
    assert set(attempts["provider"]) == {"bedrock"} and attempts["request_id"].notna().all()
    assert attempts.groupby(["job_id", "problem_id", "sample"]).ngroups == 2 * 3 * 2
    # the conversation job's generations are the stateless job's, served from the cache
    assert len(attempts) - attempts["cache_hit"].sum() == len(server.requests)
    assert any(p.name == "run.log" for p in sweep.rglob("*"))
    signed = {r.headers["authorization"].split()[0] for r in server.requests}
    assert signed == ({"Bearer"} if KNOWS_API_KEYS else {"AWS4-HMAC-SHA256"})

    secrets = [*AWS_CREDENTIALS.values(), *BEARER.values()]
    for path in [*sweep.rglob("*"), tmp_path / "cache.sqlite"]:
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"AWS credential leaked into {path}"
    for secret in secrets:
        assert secret not in done.stdout + done.stderr
