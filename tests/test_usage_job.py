"""Whole jobs against the real SDKs on loopback, fed unsound usage and an oversized reply:
the job completes, the folder stays readable, the attempts carry their flags, job.json counts
them, one warning line is printed, the budget still stops the sweep and the report says so."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analysis.mended import mended_notes
from analysis.report import build_report
from benchmark.records.tables import MAX_REPLY_CHARS, read_table
from benchmark.runner.hydra_job import SUMMARY_FILE, JobInfo, JobSummary, run_job
from tests.loopback import LoopbackServer
from tests.loopback_usage import RawUsage
from tests.test_job import CLEAN, DIRTY, deterministic_reply, settings_for

pytestmark = pytest.mark.slow

PROVIDERS = {
    "openai": ("openai/gpt-4o", "openai"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "anthropic"),
}


def _job(tmp_path: Path, server: LoopbackServer, api: str, *overrides: str) -> JobSummary:
    model_id, key = PROVIDERS[api]
    base = server.openai_base_url if api == "openai" else server.anthropic_base_url
    settings = settings_for(
        f"model.id={model_id}",
        f"model.providers.{key}.base_url={base}",
        "dataset.limit=1",
        "loop.samples=2",
        "loop.max_iterations=2",
        "loop.concurrency=1",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
        *overrides,
    )
    job = JobInfo("sweep-u", 0, tmp_path / "0", sweep_dir=tmp_path / "0")
    return asyncio.run(run_job(settings, job, "sk-test-key"))


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize(
    ("api", "fields", "flag"),
    [
        ("openai", {"completion_tokens": "lots"}, "output_tokens=not an integer"),
        ("openai", {"prompt_tokens": 10**30}, "input_tokens=absurd"),
        ("anthropic", {"output_tokens": "lots"}, "output_tokens=not an integer"),
        ("anthropic", {"input_tokens": 10**30}, "input_tokens=absurd"),
    ],
)
def test_unsound_usage_is_recorded_as_null_and_the_folder_stays_readable(
    loopback: Callable[..., LoopbackServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    api: str,
    fields: dict[str, Any],
    flag: str,
) -> None:
    server = loopback(deterministic_reply, usage=RawUsage(fields=fields))
    summary = _job(tmp_path, server, api)
    assert summary.status == "complete" and summary.model_errors == 0
    attempts = read_table(tmp_path, "attempts")  # the Parquet parts were written and read
    assert len(attempts) == summary.attempts == len(server.requests) > 0
    assert (attempts["usage_flags"] == flag).all()
    name = flag.partition("=")[0]
    assert attempts[name].isna().all() and attempts["cost_usd"].isna().all()
    other = "input_tokens" if name == "output_tokens" else "output_tokens"
    assert attempts[other].notna().all()  # the sound figures stay
    saved = json.loads((tmp_path / "0" / SUMMARY_FILE).read_text())
    assert saved["status"] == "complete"
    assert saved["reply_flags"]["usage_flagged"] == summary.attempts
    assert saved["reply_flags"]["usage_flags"] == {flag: summary.attempts}
    assert saved["cost_usd"] is None
    (line,) = _warnings(capsys.readouterr().err)  # one line per job, not one per attempt
    assert f"{summary.attempts} of {summary.attempts} replies" in line and flag in line
    (note,) = mended_notes(attempts)  # the report's line; none on truncation: nothing was cut
    assert note.startswith(f"{summary.attempts} attempts had usage figures") and flag in note


def test_a_negative_count_never_lowers_the_budget(
    loopback: Callable[..., LoopbackServer], tmp_path: Path
) -> None:
    # every reply claims -1,000,000 output tokens and 21 input tokens: the ledger counts the
    # 21 and ignores the rest, so budget.max_tokens=30 stops the job after two calls
    server = loopback(
        lambda body, path: DIRTY, usage=RawUsage(fields={"completion_tokens": -1_000_000})
    )
    summary = _job(tmp_path, server, "openai", "budget.max_tokens=30")
    assert summary.status == "budget_exhausted"
    assert summary.budget_stop == "budget.max_tokens reached: 42 of 30"
    assert len(server.requests) == 2 and summary.unfinished_chains == 1


def test_a_reply_cut_at_the_limit_is_marked_and_the_report_counts_it(
    loopback: Callable[..., LoopbackServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = DIRTY + "\n" + "x" * MAX_REPLY_CHARS  # over 2 MB: cut before extraction
    # the generation call gets the huge reply, whose template needs a repair; the repair call
    # (it quotes the dirty template's "Nope") a clean one
    server = loopback(lambda body, path: CLEAN if "Nope" in str(body) else huge)
    summary = _job(tmp_path, server, "openai", "loop.samples=1")
    assert summary.status == "complete"
    attempts = read_table(tmp_path, "attempts")
    cut = attempts[attempts["truncated"].astype(bool)]
    assert len(cut) == 1 and cut["iteration"].tolist() == [1]
    assert len(cut["reply"].iloc[0]) > MAX_REPLY_CHARS  # the reply itself is kept whole
    assert not attempts.loc[~attempts["truncated"].astype(bool), "truncated"].isna().any()
    assert summary.reply_flags.truncated == 1
    saved = json.loads((tmp_path / "0" / SUMMARY_FILE).read_text())
    assert saved["reply_flags"]["truncated"] == 1 and saved["reply_flags"]["usage_flagged"] == 0
    (line,) = _warnings(capsys.readouterr().err)
    assert "1 of 2 replies were cut at 2,000,000 characters" in line

    report = build_report(tmp_path, tmp_path / "report", n_boot=20, fit_boot=5)
    for text in (report.markdown.read_text(), report.html.read_text()):
        assert "1 attempts had replies cut at 2,000,000 characters" in text
        assert "usage figures" not in text  # none were flagged: no line about them
