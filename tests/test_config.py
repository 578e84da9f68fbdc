"""Every config file composes and validates; bad config is one clear line before any call."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import ConfigError, load_settings, resolve_api_key
from benchmark.loop.prompts import check_prompt_set

CONF = Path(__file__).resolve().parent.parent / "conf"
ROOT = CONF.parent
GROUPS = ["model", "dataset", "prompts", "loop", "lint", "deploy", "cdk"]


def settings_for(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    raw = OmegaConf.to_container(cfg, resolve=True)
    raw["dataset"]["path"] = str(ROOT / raw["dataset"]["path"])
    return load_settings(raw)


def partner(override: str) -> list[str]:
    """A CDK option composes with its other half: a cdk dataset with prompts=cdk, and back."""
    group, name = override.split("=")
    language = yaml.safe_load((CONF / group / f"{name}.yaml").read_text()).get("language")
    if language != "cdk-python" or group not in ("dataset", "prompts"):
        return []
    return ["prompts=cdk"] if group == "dataset" else ["dataset=paper33-cdk"]


@pytest.mark.parametrize(
    "override",
    [f"{group}={path.stem}" for group in GROUPS for path in sorted((CONF / group).glob("*.yaml"))],
)
def test_every_option_composes_and_validates(override: str) -> None:
    settings = settings_for(override, *partner(override))
    check_prompt_set(settings.prompts)


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic/claude-sonnet-4-5",
        "openai/gpt-4o",
        "openai-compatible/llama3.1:8b",
        "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "simulated/default",
    ],
)
def test_every_provider_has_transport_settings(model_id: str) -> None:
    settings = settings_for(f"model.id={model_id}")
    assert settings.model.provider_config().max_concurrency >= 1


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("loop.max_iterations=0", "loop.max_iterations"),
        ("loop.max_iterations=-3", "loop.max_iterations"),
        ("loop.protocol=telepathy", "loop.protocol"),
        ("model.id=acme/rocket", "model.id"),
        ("model.id=openai", "model.id"),
        ("+loop.iterations=5", "loop.iterations"),
        ("lint.regions=[]", "lint.regions"),
        ("dataset.path=/no/such/folder", "dataset.path"),
        ("planning.draws=0", "planning.draws"),
        ("planning.chars_per_token=0", "planning.chars_per_token"),
        ("budget.allow_partial=maybe", "budget.allow_partial"),
    ],
)
def test_bad_values_are_one_clear_line(override: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(override)
    message = str(caught.value)
    assert where in message and "\n" not in message


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = settings_for("model.id=anthropic/claude-sonnet-4-5")
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        resolve_api_key(settings)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert resolve_api_key(settings) == "sk-ant-test"


def test_unknown_prompt_placeholder_is_caught() -> None:
    settings = settings_for("prompts.repair='fix {templat}'")
    with pytest.raises(ConfigError, match="templat"):
        check_prompt_set(settings.prompts)


def test_fingerprint_ignores_transport_and_keeps_what_changes_results() -> None:
    from benchmark.records.origin import config_hash

    base = config_hash(settings_for().result_fingerprint())
    same = [
        "model.providers.openai.timeout_s=5",
        "loop.concurrency=1",
        "lint.workers=1",
        "budget.max_usd=3",
        "budget.allow_partial=true",
        "plan=true",
        "planning.profile=synthetic-truth",
        "cache.enabled=false",
        "progress=false",
    ]
    for override in same:
        assert config_hash(settings_for(override).result_fingerprint()) == base, override
    for override in [
        "model.temperature=0.2",
        "loop.max_iterations=5",
        "lint.regions=[eu-west-1]",
        "prompts=structured",
        "model.id=openai/gpt-4o",
    ]:
        assert config_hash(settings_for(override).result_fingerprint()) != base, override


@pytest.mark.parametrize(
    "launcher", sorted(p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml"))
)
def test_every_launcher_config_composes(launcher: str) -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[f"hydra/launcher={launcher}"],
            return_hydra_config=True,
        )
    assert cfg.hydra.launcher._target_.startswith("hydra_plugins.")
    assert launcher.split("_")[0] in cfg.hydra.launcher._target_.lower()
