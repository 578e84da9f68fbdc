"""model.response_format: on the wire for OpenAI-style providers, refused where it cannot go."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import ConfigError, load_settings
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelAPI
from benchmark.models.cache import cache_key
from benchmark.models.openai import OpenAIModel
from benchmark.models.openai_compatible import OpenAICompatibleModel
from benchmark.records.origin import config_hash
from benchmark.runner.factory import create_model
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
CTX = CallContext("p1", 0, 1, "json")
MESSAGES = [ChatMessage("system", "Answer in JSON."), ChatMessage("user", "A bucket, as JSON.")]


def settings_for(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    raw = OmegaConf.to_container(cfg, resolve=True)
    raw["dataset"]["path"] = str(ROOT / raw["dataset"]["path"])
    return load_settings(raw)


def send(model: ModelAPI, response_format: str | None) -> None:
    config = GenerateConfig(temperature=0.5, max_tokens=64, response_format=response_format)

    async def go() -> None:
        try:
            await model.generate(MESSAGES, config, CTX)
        finally:
            await model.aclose()

    asyncio.run(go())


@pytest.mark.parametrize("cls", [OpenAIModel, OpenAICompatibleModel], ids=["openai", "compat"])
def test_the_request_body_carries_it(
    loopback: Callable[..., LoopbackServer], cls: type[OpenAIModel]
) -> None:
    server = loopback(['{"Resources": {}}'] * 3)
    for fmt in ("json_object", "json_schema", None):
        send(cls("m", api_key="k", base_url=server.openai_base_url), fmt)
    plain_json, schema, text = (r.body for r in server.requests)
    assert plain_json["response_format"] == {"type": "json_object"}
    assert schema["response_format"]["type"] == "json_schema"
    sent = schema["response_format"]["json_schema"]
    assert sent["strict"] is False and sent["name"]
    assert sent["schema"]["type"] == "object" and sent["schema"]["required"] == ["Resources"]
    assert sent["schema"]["properties"]["Resources"]["additionalProperties"]["required"] == ["Type"]
    assert "response_format" not in text


@pytest.mark.parametrize("model_id", ["anthropic/claude-sonnet-4-5", "simulated/default"])
def test_a_provider_without_it_is_refused_at_start(model_id: str) -> None:
    settings = settings_for(f"model.id={model_id}", "model.response_format=json_object")
    with pytest.raises(ConfigError) as caught:
        create_model(settings, {}, "sk-test")
    message = str(caught.value)
    assert "model.response_format" in message and "openai" in message and "\n" not in message


def test_anthropic_takes_the_template_schema_but_not_json_mode() -> None:
    settings = settings_for(
        "model.id=anthropic/claude-sonnet-4-5", "model.response_format=json_schema"
    )
    model = create_model(settings, {}, "sk-test")  # not refused (Anthropic: output_config.format)
    assert model.id == "anthropic/claude-sonnet-4-5"
    settings = settings_for(
        "model.id=anthropic/claude-sonnet-4-5", "model.response_format=json_object"
    )
    with pytest.raises(ConfigError, match="cannot send json_object"):
        create_model(settings, {}, "sk-test")


def test_json_mode_with_a_yaml_prompt_set_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"model\.response_format.*yaml"):
        settings_for("prompts=structured", "model.response_format=json_object")
    with pytest.raises(ConfigError, match=r"model\.response_format"):
        settings_for("model.response_format=xml")


def test_it_keys_the_cache_and_the_fingerprint() -> None:
    model = OpenAIModel("gpt-4o", api_key="k")
    keys = {
        fmt: cache_key(model, None, MESSAGES, GenerateConfig(1.0, 64, None, fmt), CTX)
        for fmt in (None, "json_object", "json_schema")
    }
    assert len(set(keys.values())) == 3
    hashes = {
        config_hash(settings_for("model.id=openai/gpt-4o", *args).result_fingerprint())
        for args in ([], *([f"model.response_format={f}"] for f in ("json_object", "json_schema")))
    }
    assert len(hashes) == 3
