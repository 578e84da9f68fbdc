"""A whole job against real SDK clients on loopback: rows carry usage, cost and request ids."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import load_settings, resolve_api_key
from benchmark.job import JobInfo, run_job
from benchmark.records import read_table

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
