"""Capabilities, the documented table, the new ModelOutput fields, and the response cache's
key and round trip for reasoning."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from benchmark.models.base import (
    EFFORTS,
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelOutput,
)
from benchmark.models.cache import ResponseCache, cache_key
from benchmark.models.capabilities import THINKING_MODES, Capabilities, _table, table_capabilities
from benchmark.records.reply_flags import ReplyFlags
from benchmark.simulator import SimulatedModel
from tests.scripted import ScriptedModel

CTX = CallContext("p1", 0, 1, "yaml")
MESSAGES = [ChatMessage("system", "s"), ChatMessage("user", "u")]


def test_the_table_loads_and_names_only_known_values() -> None:
    rows = _table()
    assert len(rows) >= 10
    for _, _, caps in rows:
        assert (caps.efforts or frozenset()) <= set(EFFORTS)
        assert (caps.thinking or frozenset()) <= set(THINKING_MODES)
        assert caps.source == "table"


@pytest.mark.parametrize(
    ("model", "effort", "thinking", "refused"),
    [
        ("openai/gpt-6.2-sol", "none", None, "model.effort=none is not supported"),
        ("openai/gpt-6.2-sol", "low", None, None),
        ("openai/gpt-6-sol", "none", None, None),
        ("openai/gpt-4o", "low", None, "it takes no effort setting"),
        ("openai/gpt-4.1-mini", "high", None, "it takes no effort setting"),
        ("anthropic/claude-opus-5-5", "max", "adaptive", None),
        ("anthropic/claude-opus-5-5", None, "off", "model.thinking=off is not supported"),
        ("anthropic/claude-opus-5-5", None, 4096, "model.thinking=4096 is not supported"),
        ("anthropic/claude-opus-5-5", "minimal", None, "supported: low, medium, high"),
        ("anthropic/claude-haiku-4-5-20251001", "low", None, "it takes no effort setting"),
        ("anthropic/claude-haiku-4-5", None, 2048, None),
        ("anthropic/claude-sonnet-5-5", "xhigh", "off", None),  # off not confirmed: unknown
    ],
)
def test_the_table_refuses_what_the_providers_document(
    model: str, effort: str | None, thinking: str | int | None, refused: str | None
) -> None:
    provider, name = model.split("/")
    caps = table_capabilities(provider, name)
    assert caps is not None
    why = caps.refusal(effort, thinking)
    assert (why is None) if refused is None else (refused in str(why))


def test_a_model_no_entry_names_is_unknown() -> None:
    assert table_capabilities("openai", "gpt-99-turbo") is None
    assert table_capabilities("bedrock", "claude-opus-5-5") is None  # per provider


def test_structured_output_and_batch_are_refused_where_known_absent() -> None:
    caps = Capabilities(structured_outputs=False, batch=False)
    assert "json_schema" in str(caps.refusal(None, None, "json_schema"))
    assert caps.refusal(None, None, "json_object") is None
    assert "model.batch" in str(caps.refusal(None, None, None, batch=True))
    assert Capabilities().refusal("max", 99999, "json_schema", True) is None  # unknown: allowed


def test_capabilities_round_trip_as_json() -> None:
    caps = Capabilities(
        efforts=frozenset({"low", "max"}),
        thinking=frozenset(),
        structured_outputs=True,
        batch=False,
        max_output_tokens=64000,
        source="models_api",
    )
    assert Capabilities.from_json(caps.to_json()) == caps
    assert Capabilities.from_json(Capabilities().to_json()) == Capabilities()


def test_the_simulator_allows_every_effort_and_thinking_mode() -> None:
    caps = asyncio.run(SimulatedModel("default", problems={}).fetch_capabilities())
    assert SimulatedModel("default", problems={}).api == "simulated"
    for effort in EFFORTS:
        for thinking in ("off", "adaptive", 1024, None):
            assert caps.refusal(effort, thinking) is None


@pytest.mark.parametrize(
    ("finish", "hit"),
    [
        ("max_tokens", True),
        ("length", True),
        ("max_output_tokens", True),
        ("stop", False),
        ("end_turn", False),
        (None, False),
    ],
)
def test_a_reply_at_the_token_limit_says_so(finish: str | None, hit: bool) -> None:
    assert (
        ModelOutput("x", finish_reason=finish, input_tokens=1, output_tokens=1).hit_token_limit
        is hit
    )


def test_reasoning_figures_are_judged_like_the_other_counts() -> None:
    out = ModelOutput("x", input_tokens=1, output_tokens=5, reasoning_tokens="lots", speed=3)  # type: ignore[arg-type]
    assert out.reasoning_tokens is None and out.speed is None
    assert out.usage_flags == {"reasoning_tokens": "not an integer", "speed": "not text"}
    assert (
        ModelOutput("x", input_tokens=1, output_tokens=5, reasoning_tokens=4).reasoning_tokens == 4
    )


def test_the_cache_key_tells_reasoning_settings_and_carry_apart() -> None:
    model = ScriptedModel([])
    keys = {
        cache_key(model, None, MESSAGES, GenerateConfig(1.0, 64, effort=effort), CTX)
        for effort in (None, "low", "high")
    }
    keys |= {
        cache_key(model, None, MESSAGES, GenerateConfig(1.0, 64, thinking=t), CTX)
        for t in ("off", "adaptive", 2048)
    }
    keys.add(
        cache_key(model, None, MESSAGES, GenerateConfig(1.0, 64, thinking_display="omitted"), CTX)
    )
    carried = [*MESSAGES, ChatMessage("assistant", "a", ({"type": "thinking", "signature": "s"},))]
    plain = [*MESSAGES, ChatMessage("assistant", "a")]
    keys.add(cache_key(model, None, carried, GenerateConfig(1.0, 64), CTX))
    keys.add(cache_key(model, None, plain, GenerateConfig(1.0, 64), CTX))
    assert len(keys) == 9


def test_an_unset_knob_keeps_older_cache_keys() -> None:
    """The key of a call without reasoning settings is what it was on main before they
    existed (computed there), so the cache keeps serving older entries."""
    model = ScriptedModel([])
    key = cache_key(model, None, MESSAGES, GenerateConfig(1.0, 64), CTX)
    assert key == "8bef10f11e686780ff52113b8b63f48c1d8e2d62ac00f626443084269b2c16ff"


def test_carry_and_reasoning_survive_a_cache_round_trip(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "r.sqlite")
    out = ModelOutput(
        "reply",
        finish_reason="end_turn",
        input_tokens=3,
        output_tokens=9,
        reasoning_tokens=6,
        carry=[{"type": "reasoning", "encrypted_content": "abc"}],
        service_tier="priority",
        speed="fast",
        thinking_display="summarized",
    )
    cache.put("k", "scripted/test", out)
    back = cache.get("k")
    cache.close()
    assert back == out


def test_rows_from_before_truncation_count_their_cut_replies() -> None:
    rows = pd.DataFrame(
        {
            "reply": ["a", "b", "c", "d"],
            "usage_flags": [None] * 4,
            "truncated": [True, False, True, True],
            "truncation": [None, None, "max_tokens", "reply_chars"],
        }
    )
    flags = ReplyFlags.from_rows(rows)
    assert (flags.truncated, flags.token_limit) == (2, 1)
