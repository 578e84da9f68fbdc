"""A whole job against real SDK clients on loopback: rows carry usage, cost and request ids."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import load_settings, resolve_api_key
from benchmark.records.tables import read_table
from benchmark.runner.hydra_job import JobInfo, run_job

ROOT = Path(__file__).resolve().parent.parent
CLEAN = '```json\n{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}\n```'
DIRTY = '```json\n{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}}\n```'


def settings_for(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    raw = OmegaConf.to_container(cfg, resolve=True)
    raw["dataset"]["path"] = str(ROOT / raw["dataset"]["path"])
    return load_settings(raw)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The model .* is deprecated")
@pytest.mark.parametrize(
    ("model_id", "provider_key", "priced"),
    [
        ("openai/gpt-4o", "openai", True),
        ("anthropic/claude-sonnet-4-5", "anthropic", True),
        ("openai-compatible/llama3.1:8b", "openai_compatible", False),
    ],
)
def test_job_records_usage_cost_and_request_ids(
    loopback,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_id: str,
    provider_key: str,
    priced: bool,
) -> None:
    server = loopback(lambda body, path: DIRTY if len(str(body)) < 1500 else CLEAN)
    base = server.anthropic_base_url if provider_key == "anthropic" else server.openai_base_url
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    settings = settings_for(
        f"model.id={model_id}",
        f"model.providers.{provider_key}.base_url={base}",
        "dataset.limit=2",
        "loop.samples=2",
        "loop.max_iterations=3",
        "progress=false",
        "lint.workers=1",
        f"cache.path={tmp_path / 'cache.sqlite'}",
    )
    job = JobInfo("sweep-x", 0, tmp_path / "0")
    summary = asyncio.run(run_job(settings, job, resolve_api_key(settings)))
    assert summary.status == "complete" and summary.chains == 4

    attempts = read_table(tmp_path, "attempts")
    assert len(attempts) == summary.attempts == len(server.requests)
    assert set(attempts["provider"]) == {model_id.split("/")[0]}
    assert not attempts["simulated"].any()
    assert attempts["request_id"].notna().all() and attempts["input_tokens"].gt(0).all()
    assert attempts["cost_usd"].notna().all() == priced
    if priced:
        assert attempts["cost_usd"].gt(0).all()
    first = attempts[attempts["iteration"] == 1]
    assert (first["errors"] > 0).all()  # short generation prompts get the dirty template
    assert set(attempts["extraction_rule"]) == {"fenced-json"}


def deterministic_reply(body: dict, path: str) -> str:
    """Dirty on the first call of a chain, clean after one repair: a function of the request."""
    return DIRTY if len(str(body)) < 1500 else CLEAN


def run_openai_job(tmp_path: Path, out: str, *overrides: str, url: str):
    settings = settings_for(
        "model.id=openai/gpt-4o",
        f"model.providers.openai.base_url={url}",
        "dataset.limit=2",
        "loop.samples=2",
        "loop.max_iterations=3",
        "progress=false",
        "lint.workers=1",
        f"cache.path={tmp_path / 'cache.sqlite'}",
        *overrides,
    )
    job = JobInfo("sweep-x", 0, tmp_path / out, sweep_dir=tmp_path / out)
    return asyncio.run(run_job(settings, job, "sk-test-openai"))


@pytest.mark.slow
def test_rerun_from_the_response_cache_calls_nothing(loopback, tmp_path: Path) -> None:
    server = loopback(deterministic_reply)
    first = run_openai_job(tmp_path, "first", url=server.openai_base_url)
    calls = len(server.requests)
    again = run_openai_job(tmp_path, "again", url=server.openai_base_url)
    assert len(server.requests) == calls  # every reply came from the cache
    assert again.response_cache_hits == again.attempts == first.attempts
    one, two = (
        read_table(tmp_path / "first", "attempts"),
        read_table(tmp_path / "again", "attempts"),
    )
    assert not one["cache_hit"].any() and two["cache_hit"].all()
    assert (two["cost_usd"] == 0).all()  # a hit spends nothing...
    assert sorted(two["input_tokens"]) == sorted(one["input_tokens"])  # ...and keeps its usage
    assert sorted(two["errors"]) == sorted(one["errors"])


@pytest.mark.slow
def test_budget_stops_new_attempts_and_a_resume_finishes_the_job(loopback, tmp_path: Path) -> None:
    server = loopback(deterministic_reply)
    full = run_openai_job(tmp_path, "full", "cache.enabled=false", url=server.openai_base_url)
    calls_full = len(server.requests)

    limited = run_openai_job(
        tmp_path,
        "part",
        "cache.enabled=false",
        "budget.max_tokens=150",
        "loop.concurrency=1",
        url=server.openai_base_url,
    )
    assert limited.status == "budget_exhausted" and "max_tokens" in limited.budget_stop
    assert limited.unfinished_chains > 0 and limited.attempts < full.attempts
    calls_after_limit = len(server.requests)

    resumed = run_openai_job(tmp_path, "part", "cache.enabled=false", url=server.openai_base_url)
    assert resumed.status == "complete"
    assert resumed.resumed_attempts == limited.attempts
    # the resumed job redid nothing: together the two runs called exactly as often as one
    assert len(server.requests) - calls_after_limit + (calls_after_limit - calls_full) == calls_full
    done, reference = (
        read_table(tmp_path / "part", "attempts"),
        read_table(tmp_path / "full", "attempts"),
    )
    keys = ["problem_id", "sample", "iteration", "errors", "stop_reason"]
    assert done[keys].sort_values(keys[:3]).values.tolist() == (
        reference[keys].sort_values(keys[:3]).values.tolist()
    )
    summary = json.loads((tmp_path / "part" / "job.json").read_text())
    assert summary["status"] == "complete"
