"""The reasoning keys of `model` (effort, thinking, display, max_tokens auto, api, prices):
validated in one line, in the config hash only where they change the answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.config import ConfigError
from benchmark.records.origin import config_hash
from tests.test_config import settings_for

# computed on main before these keys existed (dataset path made relative): runs made then must
# keep their hash, so that they can be resumed and compared
HASHES_ON_MAIN = {
    ("model.id=anthropic/claude-sonnet-4-5",): "72dde688abc18337",
    (
        "model.id=openai/gpt-4o",
        "model.max_tokens=8000",
        "loop.protocol=conversation",
    ): "fae3a8cd18699bbb",
    ("model.id=bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0",): "bea0bd2f37078f49",
}


def _hash(*overrides: str) -> str:
    fingerprint = settings_for(*overrides).result_fingerprint()
    fingerprint["dataset"]["path"] = "datasets/smoke"
    return config_hash(fingerprint)


@pytest.mark.parametrize("overrides", list(HASHES_ON_MAIN))
def test_older_runs_keep_their_hash(overrides: tuple[str, ...]) -> None:
    assert _hash(*overrides) == HASHES_ON_MAIN[overrides]


def test_reasoning_keys_change_the_hash_and_prices_do_not(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("models: {}\n", encoding="utf-8")
    model = "model.id=anthropic/claude-sonnet-4-5"
    base = _hash(model)
    assert _hash(model, f"model.prices={prices}") == base
    assert _hash(model, "model.max_tokens_by_effort.high=9000") == base  # not this effort
    changed = [
        _hash(model, "model.effort=low"),
        _hash(model, "model.effort=high"),
        _hash(model, "model.thinking=adaptive"),
        _hash(model, "model.thinking=2048"),
        _hash(model, "model.thinking_display=omitted"),
        _hash(model, "model.max_tokens=auto"),
        _hash(model, "model.effort=high", "model.max_tokens_by_effort.high=9000"),
        _hash("model.id=openai/gpt-4o", "model.api=responses"),
    ]
    assert base not in changed and len(set(changed)) == len(changed)
    # auto resolves to what it was before for a chat model: the same hash as saying chat
    assert _hash("model.id=openai/gpt-4o", "model.api=chat") == _hash("model.id=openai/gpt-4o")


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("model.effort=extreme", "model.effort"),
        ("model.thinking=sometimes", "model.thinking"),
        ("model.thinking=0", "model.thinking"),
        ("model.thinking_display=loud", "model.thinking_display"),
        ("model.max_tokens=lots", "model.max_tokens"),
        ("+model.max_tokens_by_effort.huge=5", "model.max_tokens_by_effort"),
        ("model.max_tokens_by_effort.high=0", "model.max_tokens_by_effort"),
        ("model.api=websocket", "model.api"),
        ("model.prices=/no/such/prices.yaml", "model.prices"),
    ],
)
def test_bad_reasoning_values_are_one_line(override: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for("model.id=anthropic/claude-sonnet-4-5", override)
    assert where in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("model_id", "override", "says"),
    [
        ("openai/gpt-4o", "model.thinking=adaptive", "openai has no thinking setting"),
        ("openai-compatible/llama3", "model.thinking=2048", "no thinking setting"),
        ("openai/gpt-4o", "model.thinking_display=omitted", "no thinking display"),
        ("anthropic/claude-opus-5-5", "model.api=responses", "only openai models"),
    ],
)
def test_a_knob_the_provider_lacks_is_one_line(model_id: str, override: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        settings_for(f"model.id={model_id}", override)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "limit", "expected"),
    [
        ((), None, 4096),  # the number as configured
        (("model.max_tokens=auto",), None, 4096),  # no effort: as before
        (("model.max_tokens=auto", "model.effort=low"), None, 8192),
        (("model.max_tokens=auto", "model.effort=high"), None, 32000),
        (("model.max_tokens=auto", "model.effort=max"), 64000, 64000),  # capped at the model's
        (("model.max_tokens=auto", "model.effort=medium", "model.thinking=10000"), None, 26000),
        (("model.effort=high", "model.max_tokens_by_effort.high=50000"), None, 50000),
        (("model.effort=low", "model.max_tokens_by_effort.high=50000"), None, 4096),
    ],
)
def test_max_tokens_auto_and_per_effort(
    overrides: tuple[str, ...], limit: int | None, expected: int
) -> None:
    model = settings_for("model.id=anthropic/claude-opus-5-5", *overrides).model
    assert model.resolved_max_tokens(limit) == expected


def test_yaml_off_is_thinking_off() -> None:
    from benchmark.config_model import ModelConfig

    assert ModelConfig(id="anthropic/claude-haiku-4-5", thinking=False).thinking == "off"  # type: ignore[arg-type]
