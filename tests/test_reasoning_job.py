"""Reasoning through a whole job: the capability check at start (asked once, cached in the job
folder, a refusal in one line before any call), the knobs on every call, the reasoning columns
on every row, and the reasoning items carried to the next turn, live and after a resume."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.config import ConfigError
from benchmark.models.base import (
    CallContext,
    Capabilities,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.records.resume import recorded_chains
from benchmark.records.tables import SCHEMAS, read_table
from benchmark.runner import hydra_job
from benchmark.runner.capability_check import CAPABILITIES_FILE, check_capabilities
from benchmark.runner.factory import job_label
from benchmark.runner.hydra_job import JobInfo, run_job
from tests.job_process import run_job_process
from tests.test_job import CLEAN, DIRTY, settings_for

ALL = Capabilities(
    efforts=frozenset({"low", "high"}),
    thinking=frozenset({"adaptive"}),
    max_output_tokens=20000,
    source="models_api",
)


class ReasoningModel(ModelAPI):
    """A stand-in reasoning provider: dirty first, clean after a repair; every reply brings a
    thinking block to carry, and the first stops at the token limit. Counts what it is asked."""

    provider = "anthropic"

    def __init__(self, caps: Capabilities | None = ALL, fail_fetch: bool = False) -> None:
        super().__init__("claude-test")
        self.caps, self.fail_fetch = caps, fail_fetch
        self.fetches = 0
        self.calls: list[tuple[list[ChatMessage], GenerateConfig, CallContext]] = []
        self.closed = False

    @property
    def api(self) -> str:
        return "messages"

    async def fetch_capabilities(self) -> Capabilities | None:
        self.fetches += 1
        if self.fail_fetch:
            raise ModelError("models API unreachable", kind="connection")
        return self.caps

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        self.calls.append((list(messages), config, context))
        return ModelOutput(
            text=DIRTY if context.iteration == 1 else CLEAN,
            finish_reason="max_tokens" if context.iteration == 1 else "end_turn",
            input_tokens=10,
            output_tokens=20,
            reasoning_tokens=7,
            carry=[{"type": "thinking", "thinking": "", "signature": f"sig-{context.iteration}"}],
            thinking_display="omitted",
            service_tier="standard",
            speed="standard",
        )

    async def aclose(self) -> None:
        self.closed = True


def _settings(*overrides: str) -> Any:
    return settings_for(
        "model.id=anthropic/claude-test",
        "dataset.limit=1",
        "loop.samples=1",
        "loop.max_iterations=3",
        "loop.protocol=conversation",
        "loop.concurrency=1",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
        "model.effort=high",
        "model.thinking=adaptive",
        "model.max_tokens=auto",
        *overrides,
    )


def _run(
    monkeypatch: pytest.MonkeyPatch,
    model: ReasoningModel,
    out: Path,
    *overrides: str,
    sweep: str = "s",
) -> Any:
    monkeypatch.setattr(hydra_job, "create_model", lambda *args, **kwargs: model)
    job = JobInfo("sweep-r", 0, out, sweep_dir=out.parent / sweep)
    return asyncio.run(run_job(_settings(*overrides), job, "sk-test"))


def test_an_unsupported_effort_is_refused_in_one_line_before_any_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = ReasoningModel(Capabilities(efforts=frozenset({"low"}), source="models_api"))
    with pytest.raises(ConfigError) as caught:
        _run(monkeypatch, model, tmp_path / "0")
    message = str(caught.value)
    assert "model.effort=high is not supported (supported: low)" in message
    assert "Models API" in message and "\n" not in message
    assert model.calls == [] and model.closed


def test_capabilities_are_asked_once_and_a_resume_reads_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = ReasoningModel()
    assert _run(monkeypatch, first, tmp_path / "0").status == "complete"
    assert first.fetches == 1
    cached = json.loads((tmp_path / "0" / CAPABILITIES_FILE).read_text())
    assert cached["model"] == "anthropic/claude-test"
    assert Capabilities.from_json(cached["capabilities"]) == ALL
    again = ReasoningModel(caps=Capabilities(efforts=frozenset(), source="models_api"))
    _run(monkeypatch, again, tmp_path / "0")  # the cached answer stands: not asked, not refused
    assert again.fetches == 0


def test_every_call_gets_the_knobs_and_rows_record_reasoning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = ReasoningModel()
    _run(monkeypatch, model, tmp_path / "0")
    configs = [config for _, config, _ in model.calls]
    assert {(c.effort, c.thinking, c.max_tokens) for c in configs} == {("high", "adaptive", 20000)}
    rows = read_table(tmp_path / "0", "attempts").sort_values("iteration")
    first, second = rows.iloc[0], rows.iloc[1]
    assert (first["effort"], first["thinking"], first["model_api"]) == (
        "high",
        "adaptive",
        "messages",
    )
    assert first["max_tokens"] == 20000  # auto for high (32000), capped at the model's 20000
    assert (first["reasoning_tokens"], first["service_tier"], first["speed"]) == (
        7,
        "standard",
        "standard",
    )
    assert first["thinking_display"] == "omitted"
    assert (first["truncation"], bool(first["truncated"])) == ("max_tokens", True)
    assert pd.isna(second["truncation"]) and not second["truncated"]
    assert json.loads(first["reasoning_carry"])[0]["signature"] == "sig-1"


def test_the_conversation_sends_the_carry_back_live_and_after_a_resume(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live = ReasoningModel()
    _run(monkeypatch, live, tmp_path / "live")
    turn2 = live.calls[1][0]
    assert [m.role for m in turn2] == ["system", "user", "assistant", "user"]
    assert turn2[2].carry == ({"type": "thinking", "thinking": "", "signature": "sig-1"},)

    # the budget stops the chain after its first attempt; a rerun resumes it from the rows
    stopped = ReasoningModel()
    summary = _run(monkeypatch, stopped, tmp_path / "r", "budget.max_tokens=1", sweep="s1")
    assert summary.unfinished_chains == 1 and len(stopped.calls) == 1
    resumed = ReasoningModel()
    _run(monkeypatch, resumed, tmp_path / "r", sweep="s2")
    messages, _, context = resumed.calls[0]
    assert context.iteration == 2
    assert messages == turn2  # the same messages, carry included, as the live chain sent


def test_the_stateless_protocol_carries_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = ReasoningModel()
    _run(monkeypatch, model, tmp_path / "0", "loop.protocol=stateless")
    assert all(not m.carry for messages, _, _ in model.calls for m in messages)


def test_an_unreachable_models_api_falls_back_to_the_table_and_is_asked_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ReasoningModel(fail_fetch=True)
    settings = _settings().model
    assert asyncio.run(check_capabilities(model, settings, tmp_path)) is None  # not in the table
    assert not (tmp_path / CAPABILITIES_FILE).exists()  # a later run asks again
    err = capsys.readouterr().err
    assert "did not answer" in err and "effort and thinking are sent unchecked" in err


def test_the_cli_refuses_an_effort_from_the_table_with_one_line(tmp_path: Path) -> None:
    """claude-haiku-4-5 takes no effort (benchmark/models/capabilities.yaml); no server runs
    on the base URL, so a call would fail otherwise."""
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-test")
    done = run_job_process(
        tmp_path / "run",
        "model.id=anthropic/claude-haiku-4-5",
        "model.providers.anthropic.base_url=http://127.0.0.1:9",
        "model.effort=high",
        "dataset.limit=1",
        "loop.samples=1",
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "model.effort=high is not supported" in errors[0]
    assert "Traceback" not in done.stderr
    assert read_table(tmp_path / "run", "attempts").empty


def test_the_job_names_its_reasoning_knobs_when_set() -> None:
    plain = _settings("~model.effort", "~model.thinking")
    assert job_label(plain, "anthropic/claude-test").split()[-1] == "n=3"
    label = job_label(_settings("model.thinking=2048"), "anthropic/claude-test")
    assert label.endswith("n=3 effort=high thinking=2048")


def test_a_folder_from_before_the_reasoning_columns_reads_as_null(tmp_path: Path) -> None:
    new = {"truncation", "effort", "thinking", "thinking_display", "model_api"}
    new |= {"reasoning_tokens", "service_tier", "speed", "reasoning_carry"}
    schema = SCHEMAS["attempts"]
    old = pa.schema([f for f in schema if f.name not in new])
    row = {f.name: None for f in old}
    row.update(attempt_id="a", sweep_id="s", job_id=0, model="m/x", provider="m")
    row.update(prompt_set="p", protocol="conversation", max_iterations=3, problem_id="p1")
    row.update(sample=0, iteration=1, reply="r", template="t", feedback="f", truncated=True)
    part = tmp_path / "attempts" / "part-1-00000.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=old), part)
    rows = read_table(tmp_path, "attempts")
    assert set(rows.columns) >= new and rows[sorted(new)].isna().all(axis=None)
    recorded = recorded_chains(tmp_path, "h")
    assert recorded.partial[("p1", 0)][0].carry == ()
