"""A failure is reported as failure: a job whose calls all failed ends `failed` with one line
naming the cause, a run of connection failures stops it early (resumably), and the sweep's
exit code counts the jobs that did not complete."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmark.config import resolve_api_key
from benchmark.loop.feedback_loop import Attempt
from benchmark.models._http import connection_failure, display_url
from benchmark.problems.dataset import Problem
from benchmark.records.tables import read_table
from benchmark.runner.call_health import CallHealth
from benchmark.runner.hydra_job import JobInfo, run_job
from benchmark.runner.sweep_summary import exit_code
from tests.job_process import ROOT, SMALL, run_job_process
from tests.loopback import Fault, LoopbackServer
from tests.test_job import CLEAN, settings_for

MODEL = "openai-compatible/x"
PROBLEM = Problem(id="p", title="t", prompt="make a queue")
# one try per attempt, no backoff worth waiting for: the tests stay fast
FAST = tuple(
    f"model.providers.openai_compatible.{key}"
    for key in ("max_retries=0", "backoff_base_s=0.01", "backoff_max_s=0.01", "timeout_s=5")
)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (the kernel just handed it out)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def attempt(error: str | None = None, kind: str | None = None) -> Attempt:
    done = Attempt(PROBLEM, 0, 1, started_at=datetime.now(UTC))
    done.model_error = None if error is None else f"{kind}: {MODEL}: {error}"
    done.error_kind = kind
    return done


# -- the accounting ----------------------------------------------------------------------------


def test_no_answered_call_is_a_failure_naming_the_commonest_cause() -> None:
    health = CallHealth(MODEL)
    health.record(attempt("connection refused at http://h/v1 (after 3 tries)", "connection"))
    health.record(attempt("connection refused at http://h/v1 (after 2 tries)", "connection"))
    health.record(attempt("HTTP 500 boom", "server"))
    assert health.failure(0) == (
        "every call failed: connection refused at http://h/v1 (2 of 3 attempts; 1 other causes)"
    )
    health.record(attempt())  # one answer: the job did not fail on this count
    assert health.failure(0) is None


def test_no_call_made_is_no_failure() -> None:
    assert CallHealth(MODEL).failure(0) is None  # e.g. every chain already finished


def test_the_stop_needs_that_many_connection_failures_in_a_row() -> None:
    health = CallHealth(MODEL, stop_after=3)
    refused = ("connection refused at http://h/v1", "connection")
    for _ in range(2):
        health.record(attempt(*refused))
    health.record(attempt("HTTP 500", "server"))  # not a connection failure: the run restarts
    health.record(attempt(*refused))
    health.record(attempt())
    health.record(attempt(*refused))
    health.record(attempt(*refused))
    assert health.stop_reason is None
    health.record(attempt(*refused))
    assert health.stop_reason == (
        "stopped after 3 attempts in a row could not reach the server: "
        "connection refused at http://h/v1 (6 of 7 attempts; 1 other causes)"
    )
    assert health.failure(4).endswith("; 4 chains left for a resume")


@pytest.mark.parametrize("stop_after", [0, None])
def test_zero_or_null_never_stops(stop_after: int | None) -> None:
    health = CallHealth(MODEL, stop_after=stop_after)
    for _ in range(50):
        health.record(attempt("connection refused", "connection"))
    assert health.stop_reason is None


def _chained(*chain: BaseException) -> BaseException:
    for outer, inner in itertools.pairwise(chain):
        outer.__cause__ = inner
    return chain[0]


class ConnectTimeout(Exception):  # named as httpx names its own
    pass


@pytest.mark.parametrize(
    ("root", "words"),
    [
        (ConnectionRefusedError(111, "refused"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "host not found"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS error"),
        (ConnectTimeout("timed out"), "connect timeout"),
        (ConnectionResetError(104, "reset"), None),
    ],
)
def test_what_kept_a_call_from_the_server(root: BaseException, words: str | None) -> None:
    found = connection_failure(_chained(RuntimeError("SDK"), OSError("all attempts"), root))
    assert found is None if words is None else found is not None and found.startswith(words)


def test_endpoint_in_messages_hides_credentials() -> None:
    assert display_url("http://user:pw@127.0.0.1:9/v1/") == "http://***@127.0.0.1:9/v1"
    assert display_url("https://api.example.com") == "https://api.example.com"


def test_sweep_exit_code_counts_the_jobs_that_did_not_complete() -> None:
    def summary(bad: int, submitit: int = 0) -> dict:
        return {
            "not_complete": {str(n): {} for n in range(bad)},
            "submitit_failures": {str(n): "x" for n in range(submitit)},
        }

    assert [exit_code(summary(n)) for n in (0, 1, 2, 7)] == [0, 1, 2, 7]
    assert exit_code(summary(0, submitit=1)) == 1
    assert exit_code(summary(400)) == 125  # 126 and up mean other things to a shell


# -- whole jobs against 127.0.0.1 --------------------------------------------------------------


@pytest.mark.slow
def test_single_run_against_a_closed_port_fails_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = run_job_process(
        tmp_path / "run",
        f"model.id={MODEL}",
        f"model.providers.openai_compatible.base_url={url}",
        *FAST,
        *SMALL,
    )
    assert done.returncode == 3, done.stderr[-3000:]
    cause = f"every call failed: connection refused at {url} (6 attempts)"
    assert done.stderr.strip().splitlines()[-1] == f"error: job 0 stopped: {cause}"
    summary = json.loads((tmp_path / "run" / "job.json").read_text())
    assert summary["status"] == "failed" and summary["fatal_error"] == cause
    assert summary["model_errors"] == summary["attempts"] == 6


@pytest.mark.slow
def test_multirun_against_a_closed_port_fails_each_job_and_counts_them(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.run",
            "-m",
            f"model.id={MODEL}",
            f"model.providers.openai_compatible.base_url={url}",
            "loop.protocol=stateless,conversation",
            *FAST,
            *SMALL,
            "progress=false",
            "lint.workers=1",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "OPENAI_COMPATIBLE_API_KEY"},
    )
    assert done.returncode == 2, done.stderr[-3000:]  # two jobs did not complete
    cause = f"every call failed: connection refused at {url} (6 attempts)"
    for number in ("0", "1"):
        job = json.loads((sweep / number / "job.json").read_text())
        assert job["status"] == "failed" and job["fatal_error"] == cause
        assert f"  job {number}: failed: {cause}" in done.stderr.splitlines()
    assert "0 of 2 jobs complete" in done.stderr
    assert json.loads((sweep / "sweep.json").read_text())["complete"] == 0


def test_a_run_of_connection_failures_stops_the_job_and_a_resume_finishes_it(
    tmp_path: Path,
) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/v1"
    settings = settings_for(
        f"model.id={MODEL}",
        f"model.providers.openai_compatible.base_url={url}",
        "model.providers.openai_compatible.stop_after_connection_failures=2",
        *FAST,
        *SMALL,
        "loop.concurrency=1",  # one chain at a time: the attempts made are exactly the limit
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
    )
    job = JobInfo("sweep-x", 0, tmp_path / "0")
    stopped = asyncio.run(run_job(settings, job, resolve_api_key(settings)))
    assert stopped.status == "failed" and stopped.attempts == 2  # of 6 chains
    assert stopped.unfinished_chains == 4
    assert stopped.fatal_error == (
        f"stopped after 2 attempts in a row could not reach the server: connection refused at "
        f"{url} (2 attempts); 4 chains left for a resume"
    )
    assert len(read_table(tmp_path, "attempts")) == 2

    with LoopbackServer(lambda body, path: CLEAN).start(port) as server:  # the server is back
        resumed = asyncio.run(run_job(settings, job, resolve_api_key(settings)))
    assert resumed.status == "complete" and resumed.fatal_error is None
    assert resumed.this_run["attempts"] == len(server.requests) == 4  # only the chains left
    assert resumed.attempts == 6  # the whole job: the first run's 2 and the resume's 4
    assert resumed.resumed_chains_finished == 2


def test_a_job_with_some_answers_and_some_failures_stays_complete(loopback, tmp_path: Path) -> None:
    def fail_s3(body: dict, path: str, seen: int) -> Fault | None:
        return Fault(500) if "S3 bucket" in json.dumps(body) else None

    server = loopback(lambda body, path: CLEAN, faults=fail_s3)
    settings = settings_for(
        f"model.id={MODEL}",
        f"model.providers.openai_compatible.base_url={server.openai_base_url}",
        *FAST,
        *SMALL,
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
    )
    summary = asyncio.run(
        run_job(settings, JobInfo("sweep-x", 0, tmp_path / "0"), resolve_api_key(settings))
    )
    assert summary.model_errors == 2 and summary.attempts == 6  # s3's two chains failed
    assert summary.status == "complete" and summary.fatal_error is None
