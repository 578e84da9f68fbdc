"""The response cache: what its key separates, what it refuses to keep, how a hit is marked."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
    ToolCall,
    ToolSpec,
)
from benchmark.models.cache import CachedModel, ResponseCache, cache_key

MESSAGES = [ChatMessage("system", "S"), ChatMessage("user", "write a bucket")]
CONFIG = GenerateConfig(temperature=1.0, max_tokens=100, seed=None)
CONTEXT = CallContext("p1", 0, 1, "yaml")


class Counting(ModelAPI):
    def __init__(self, provider: str = "openai", name: str = "gpt-4o", **output) -> None:
        super().__init__(name)
        self.provider = provider
        self.calls = 0
        self.output = {
            "text": "```yaml\nResources: {}\n```",
            "finish_reason": "stop",
            "input_tokens": 50,
            "output_tokens": 20,
            "latency_s": 1.5,
            "request_id": "req-1",
            **output,
        }

    async def generate(self, messages, config, context) -> ModelOutput:
        self.calls += 1
        if isinstance(self.output, Exception):
            raise self.output
        return ModelOutput(**self.output)


def key(
    model: ModelAPI | None = None,
    endpoint: str | None = None,
    messages=MESSAGES,
    config=CONFIG,
    context=CONTEXT,
) -> str:
    return cache_key(model or Counting(), endpoint, messages, config, context)


def test_key_separates_everything_that_can_change_the_reply() -> None:
    base = key()
    variants = [
        key(model=Counting(provider="anthropic")),
        key(model=Counting(name="gpt-4o-mini")),
        key(model=Counting(provider="openai-compatible"), endpoint="http://a/v1"),
        key(endpoint="http://other/v1"),
        key(messages=[ChatMessage("system", "S2"), MESSAGES[1]]),
        key(messages=MESSAGES[:1]),
        key(config=dataclasses.replace(CONFIG, temperature=0.0)),
        key(config=dataclasses.replace(CONFIG, max_tokens=101)),
        key(config=dataclasses.replace(CONFIG, seed=3)),
        key(context=dataclasses.replace(CONTEXT, output_format="json")),
        key(context=dataclasses.replace(CONTEXT, sample=1)),
        key(context=dataclasses.replace(CONTEXT, iteration=2)),
        key(context=dataclasses.replace(CONTEXT, problem_id="p2")),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
    same_endpoint = Counting(provider="openai-compatible")
    assert key(same_endpoint, "http://a/v1") != key(same_endpoint, "http://b/v1")


def run(model: ModelAPI) -> ModelOutput:
    return asyncio.run(model.generate(MESSAGES, CONFIG, CONTEXT))


def test_hit_returns_the_original_usage_and_is_marked(tmp_path: Path) -> None:
    inner = Counting()
    first = run(CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"), None))
    again = run(CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"), None))
    assert inner.calls == 1
    assert "cache_hit" not in first.extra and again.extra["cache_hit"] == "true"
    assert (again.text, again.input_tokens, again.output_tokens, again.request_id) == (
        first.text,
        50,
        20,
        "req-1",
    )


def test_two_models_never_share_an_entry(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    one, other = Counting(name="model-a", text="A"), Counting(name="model-b", text="B")
    assert run(CachedModel(one, cache, None)).text == "A"
    assert run(CachedModel(other, cache, None)).text == "B"
    assert one.calls == other.calls == 1


@pytest.mark.parametrize(
    "output",
    [
        {"finish_reason": "refusal"},
        {"finish_reason": "content_filter"},
        {"text": "  "},
        {"extra": {"refusal": "I can't help with that"}},
    ],
)
def test_refusals_and_empty_replies_are_not_kept(tmp_path: Path, output: dict) -> None:
    inner = Counting(**output)
    for _ in range(2):
        run(CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"), None))
    assert inner.calls == 2


def test_errors_are_not_kept(tmp_path: Path) -> None:
    inner = Counting()
    inner.output = ModelError("overloaded", kind="overloaded")  # type: ignore[assignment]
    model = CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"), None)
    for _ in range(2):
        with pytest.raises(ModelError):
            run(model)
    assert inner.calls == 2


# keys computed before tool use existed: a fixed-loop call keeps its key (and its cached reply)
OLD_KEYS = {
    "plain": "c9831a735798a7378d00e1ed58a76dd3f46c3c0ec5e58fc65cf04b9449f530fc",
    "carry+effort": "2ea89318d5dccef6db8054a9ead71eb4a872c105795eaa044fc7cdf5dac6d66a",
}
CALL = ToolCall("c1", "validate_template", '{"template": "Resources: {}"}')
TOOL = ToolSpec("validate_template", "check", {"type": "object"})


def test_fixed_loop_keys_are_unchanged_by_tool_use() -> None:
    carried = [
        ChatMessage("system", "S"),
        ChatMessage("assistant", "a", ({"type": "thinking"},)),
        ChatMessage("user", "u"),
    ]
    assert key() == OLD_KEYS["plain"]
    effort = dataclasses.replace(CONFIG, effort="high")
    assert key(messages=carried, config=effort) == OLD_KEYS["carry+effort"]


def test_key_separates_tools_tool_choice_tool_turns_and_turn() -> None:
    tools = dataclasses.replace(CONFIG, tools=(TOOL,))
    asked = [*MESSAGES, ChatMessage("assistant", "", tool_calls=(CALL,))]
    answered = [*asked, ChatMessage("tool", "no findings", tool_call_id="c1", tool_name=CALL.name)]
    variants = [
        key(),
        key(config=tools),
        key(config=dataclasses.replace(tools, tool_choice="submit_template")),
        key(config=dataclasses.replace(tools, tools=(dataclasses.replace(TOOL, name="x"),))),
        key(messages=[*MESSAGES, ChatMessage("assistant", "")]),
        key(messages=asked),
        key(messages=answered),
        key(messages=[*asked, dataclasses.replace(answered[-1], is_error=True)]),
        key(messages=[*asked, dataclasses.replace(answered[-1], tool_call_id="c2")]),
        key(context=dataclasses.replace(CONTEXT, turn=2)),
    ]
    assert len(set(variants)) == len(variants)


def test_tool_calls_survive_a_cache_round_trip(tmp_path: Path) -> None:
    inner = Counting(text="", tool_calls=[CALL])  # a reply of tool calls only is kept
    for _ in range(2):
        model = CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"), None)
        again = asyncio.run(model.generate(MESSAGES, CONFIG, CONTEXT))
    assert inner.calls == 1 and again.extra["cache_hit"] == "true"
    assert again.tool_calls == [CALL] and again.tool_calls[0].parsed() == {
        "template": "Resources: {}"
    }
