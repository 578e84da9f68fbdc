"""Batch mode: rounds, the journal and resume, lost and failed requests, both batch wires."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmark.config import ConfigError
from benchmark.models.anthropic import AnthropicModel
from benchmark.models.anthropic_batch import AnthropicBatchWire
from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.models.batch import BatchGone, BatchingModel, BatchState, Lost, Result
from benchmark.models.batch_journal import JOURNAL_FILE, BatchJournal, request_key
from benchmark.models.openai import OpenAIModel
from benchmark.models.openai_batch import OpenAIBatchWire
from tests.loopback import Fault, LoopbackServer
from tests.loopback_batch import BatchScript

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated")
KEY = "sk-loopback-SECRET-0123456789"
CONFIG = GenerateConfig(temperature=1.0, max_tokens=100)


def ctx(sample: int, iteration: int = 1) -> CallContext:
    return CallContext("p", sample, iteration, "yaml")


def ask(n: int) -> list[ChatMessage]:
    return [ChatMessage("user", f"request {n}")]


class FakeWire:
    """An in-memory batch API: replies echo the request; `outcome` may say otherwise."""

    max_requests = 1000
    max_bytes = 10**9

    def __init__(self, outcome: Callable[[str, int], Result | None] | None = None) -> None:
        self.outcome = outcome  # (request text, times submitted before) -> result
        self.submitted: list[tuple[str, list[str]]] = []  # (batch id, request texts)
        self.requests: dict[str, dict[str, tuple[str, int]]] = {}
        self.polls: list[str] = []
        self.poll_failures: list[Exception] = []
        self.gone: set[str] = set()
        self.ttls: list[tuple[int, str | None, str | None]] = []  # (iteration, ttl, previous)
        self._sent: dict[str, int] = {}

    def params(
        self,
        messages: list[ChatMessage],
        config: GenerateConfig,
        context: CallContext,
        *,
        ttl: str | None = None,
        previous_ttl: str | None = None,
    ) -> dict[str, Any]:
        self.ttls.append((context.iteration, ttl, previous_ttl))
        return {"text": messages[-1].content}

    async def submit(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> str:
        batch_id = f"b{len(self.submitted) + 1}"
        texts = [params["text"] for _, params in requests]
        self.submitted.append((batch_id, texts))
        self.requests[batch_id] = {}
        for custom_id, params in requests:
            sent = self._sent.get(params["text"], 0)
            self._sent[params["text"]] = sent + 1
            self.requests[batch_id][custom_id] = (params["text"], sent)
        return batch_id

    async def poll(self, batch_id: str) -> BatchState:
        self.polls.append(batch_id)
        if self.poll_failures:
            raise self.poll_failures.pop(0)
        if batch_id in self.gone:
            raise BatchGone(batch_id)
        size = len(self.requests[batch_id])
        return BatchState("ended", True, size, size)

    async def results(self, batch_id: str) -> dict[str, Result]:
        out: dict[str, Result] = {}
        for custom_id, (text, sent) in self.requests[batch_id].items():
            result = self.outcome(text, sent) if self.outcome else None
            out[custom_id] = result or ModelOutput(f"reply to {text}", input_tokens=10)
        return out

    async def aclose(self) -> None:
        pass


class Named(ModelAPI):
    provider = "fake"

    async def generate(self, messages, config, context) -> ModelOutput:  # pragma: no cover
        raise AssertionError("batch mode never calls the provider online")


def batching(wire: FakeWire, folder: Path, **kw: Any) -> BatchingModel:
    kw.setdefault("poll_s", 0.0)
    kw.setdefault("backoff_base_s", 0.001)
    return BatchingModel(Named("m"), wire, BatchJournal(folder), **kw)


async def chains(model: BatchingModel, steps: dict[int, int]) -> dict[int, list[Any]]:
    """Chains `sample -> number of calls`, all at once, as the job runs them in batch mode."""
    out: dict[int, list[Any]] = {sample: [] for sample in steps}

    async def chain(sample: int) -> None:
        try:
            for step in range(1, steps[sample] + 1):
                try:
                    reply = await model.generate(ask(10 * sample + step), CONFIG, ctx(sample, step))
                    out[sample].append(reply)
                except ModelError as exc:
                    out[sample].append(exc)
                    return
                await asyncio.sleep(0)  # the lint between two calls
        finally:
            model.chain_closed()

    for _ in steps:
        model.chain_opened()
    await asyncio.gather(*(chain(sample) for sample in steps))
    return out


# -- rounds --------------------------------------------------------------------------------


def test_a_round_holds_every_live_chains_next_request(tmp_path: Path) -> None:
    wire = FakeWire()
    model = batching(wire, tmp_path)
    out = asyncio.run(chains(model, {0: 3, 1: 1, 2: 2}))
    # round 1: all three generations; round 2: the two chains still live; round 3: the last
    assert [texts for _, texts in wire.submitted] == [
        ["request 1", "request 11", "request 21"],
        ["request 2", "request 22"],
        ["request 3"],
    ]
    assert [o.text for o in out[0]] == [
        "reply to request 1",
        "reply to request 2",
        "reply to request 3",
    ]
    assert all(o.batch_id for outs in out.values() for o in outs)
    assert out[2][1].batch_id == "b2" and out[2][1].extra["retries"] == "0"
    assert model.status() == "round 3: 1/1 done, batch ended"


def test_a_round_is_split_at_the_batch_size_limit(tmp_path: Path) -> None:
    wire = FakeWire()
    out = asyncio.run(chains(batching(wire, tmp_path, max_requests=2), dict.fromkeys(range(5), 1)))
    assert [len(texts) for _, texts in wire.submitted] == [2, 2, 1]
    assert all(len(o) == 1 and isinstance(o[0], ModelOutput) for o in out.values())


def test_the_journal_holds_each_batch_before_its_results_are_read(tmp_path: Path) -> None:
    seen_in_journal: list[bool] = []

    class Watching(FakeWire):
        async def results(self, batch_id: str) -> dict[str, Result]:
            text = (tmp_path / JOURNAL_FILE).read_text()
            seen_in_journal.append(f'"batch_id":"{batch_id}"' in text)
            return await super().results(batch_id)

    asyncio.run(chains(batching(Watching(), tmp_path), {0: 2, 1: 2}))
    assert seen_in_journal == [True, True]
    entries = [json.loads(line) for line in (tmp_path / JOURNAL_FILE).read_text().splitlines()]
    assert [e["event"] for e in entries] == ["submitted", "ended", "submitted", "ended"]
    first = entries[0]["requests"]
    assert [(r["problem"], r["sample"], r["iteration"]) for r in first] == [
        ("p", 0, 1),
        ("p", 1, 1),
    ]
    assert all(r["custom_id"].startswith(r["key"][:48]) for r in first)


def test_a_resumed_job_follows_the_journalled_batch_and_submits_nothing_again(
    tmp_path: Path,
) -> None:
    class Pending(FakeWire):
        """A batch that never ends while the first run lives."""

        async def poll(self, batch_id: str) -> BatchState:
            self.polls.append(batch_id)
            return BatchState("in_progress", False, 0, len(self.requests[batch_id]))

    pending = Pending()

    async def killed_while_pending() -> None:
        model = batching(pending, tmp_path)
        run = asyncio.create_task(chains(model, {0: 1, 1: 1}))
        while not pending.polls:  # the batch is created, journalled and being polled
            await asyncio.sleep(0)
        run.cancel()  # the process dies: nothing after this point happens
        await model.aclose()

    asyncio.run(killed_while_pending())
    assert len(pending.submitted) == 1
    batch_id = pending.submitted[0][0]
    # the rerun rebuilds the same requests: the journal sends them to the same batch
    resumed_wire = FakeWire()
    resumed_wire.requests = pending.requests  # the provider still holds the batch
    resumed = batching(resumed_wire, tmp_path)
    out = asyncio.run(chains(resumed, {0: 1, 1: 1}))
    assert resumed_wire.submitted == [] and resumed_wire.polls == [batch_id]
    assert [o[0].batch_id for o in out.values()] == [batch_id, batch_id]
    assert resumed.batches_created == 0 and BatchJournal(tmp_path).created == 1


def test_a_lost_request_is_resubmitted_once_then_fails(tmp_path: Path) -> None:
    def outcome(text: str, sent: int) -> Result | None:
        if text == "request 1":
            return Lost("expired")  # always
        if text == "request 11" and sent == 0:
            return Lost("canceled")  # only the first time
        return None

    wire = FakeWire(outcome)
    out = asyncio.run(chains(batching(wire, tmp_path), {0: 1, 1: 1}))
    assert [texts for _, texts in wire.submitted] == [
        ["request 1", "request 11"],
        ["request 1", "request 11"],
    ]
    failed, recovered = out[0][0], out[1][0]
    assert isinstance(failed, ModelError) and failed.kind == "batch_expired" and not failed.fatal
    assert "after 2 batches" in str(failed)
    assert isinstance(recovered, ModelOutput) and recovered.extra["retries"] == "1"
    journal = [json.loads(line) for line in (tmp_path / JOURNAL_FILE).read_text().splitlines()]
    assert [r["because"] for r in journal[2]["requests"]] == ["lost", "lost"]


def test_a_resume_counts_the_losses_of_the_earlier_run(tmp_path: Path) -> None:
    wire = FakeWire(lambda text, sent: Lost("expired"))
    # an earlier run: the request was lost once and resubmitted (batch b0, then b1)
    key = request_key(ctx(0), wire.params(ask(1), CONFIG, ctx(0)))
    journal = BatchJournal(tmp_path)
    journal.submitted("b0", 1, [{"custom_id": f"{key[:48]}-0", "key": key, "because": None}])
    journal.submitted("b1", 1, [{"custom_id": f"{key[:48]}-1", "key": key, "because": "lost"}])
    wire.requests["b1"] = {f"{key[:48]}-1": ("request 1", 1)}
    out = asyncio.run(chains(batching(wire, tmp_path), {0: 1}))
    assert isinstance(out[0][0], ModelError) and out[0][0].kind == "batch_expired"
    assert wire.submitted == []  # lost again after its one resubmission: no third batch


def test_transient_errors_are_resubmitted_and_fatal_ones_raised(tmp_path: Path) -> None:
    def outcome(text: str, sent: int) -> Result | None:
        if text == "request 1" and sent < 2:
            return ModelError("overloaded", kind="overloaded")
        if text == "request 11":
            return ModelError("bad key", kind="auth", fatal=True)
        if text == "request 21":
            return ModelError("too long", kind="context_length")
        return None

    wire = FakeWire(outcome)
    out = asyncio.run(chains(batching(wire, tmp_path, max_retries=4), {0: 1, 1: 1, 2: 1}))
    assert out[0][0].extra["retries"] == "2"
    assert isinstance(out[1][0], ModelError) and out[1][0].fatal
    assert isinstance(out[2][0], ModelError) and out[2][0].kind == "context_length"
    assert [texts for _, texts in wire.submitted][1:] == [["request 1"], ["request 1"]]
    capped = FakeWire(lambda text, sent: ModelError("500", kind="server"))
    out = asyncio.run(chains(batching(capped, tmp_path / "capped", max_retries=2), {0: 1}))
    assert isinstance(out[0][0], ModelError) and "after 3 batches" in str(out[0][0])


def test_batch_api_calls_are_retried_and_a_vanished_batch_resubmitted(tmp_path: Path) -> None:
    wire = FakeWire()
    wire.poll_failures = [ModelError("503", kind="server"), ModelError("reset", kind="connection")]
    out = asyncio.run(chains(batching(wire, tmp_path), {0: 1}))
    assert isinstance(out[0][0], ModelOutput) and wire.polls == ["b1"] * 3

    gone = FakeWire()
    gone.gone = {"b1"}
    out = asyncio.run(chains(batching(gone, tmp_path / "gone"), {0: 1}))
    assert isinstance(out[0][0], ModelOutput) and out[0][0].batch_id == "b2"

    fatal = FakeWire()
    fatal.poll_failures = [ModelError("bad key", kind="auth", fatal=True)]
    out = asyncio.run(chains(batching(fatal, tmp_path / "fatal"), {0: 1, 1: 1}))
    assert all(isinstance(o[0], ModelError) and o[0].fatal for o in out.values())


# -- the wires against the loopback's batch APIs -------------------------------------------


def anthropic_wire(server: LoopbackServer) -> AnthropicBatchWire:
    return AnthropicBatchWire(
        AnthropicModel("claude-sonnet-4-5", api_key=KEY, base_url=server.anthropic_base_url)
    )


def openai_wire(server: LoopbackServer) -> OpenAIBatchWire:
    return OpenAIBatchWire(OpenAIModel("gpt-4o", api_key=KEY, base_url=server.openai_base_url))


WIRES = pytest.mark.parametrize("make", [anthropic_wire, openai_wire], ids=["anthropic", "openai"])


def lost_first_time(body: dict, seen: int) -> str | None:
    return "expired" if "request 2" in json.dumps(body) and seen == 0 else None


def fail_request_1(body: dict, path: str, seen: int) -> Fault | None:
    return (
        Fault(529 if "anthropic" in path or "messages" in path else 500)
        if ("request 1" in json.dumps(body))
        else None
    )


async def one_batch(wire: Any, count: int) -> tuple[str, list[BatchState], dict[str, Result]]:
    requests = [(f"c{n}", wire.params(ask(n), CONFIG, ctx(n))) for n in range(count)]
    try:
        batch_id = await wire.submit(requests)
        states = []
        while not (states and states[-1].ended):
            states.append(await wire.poll(batch_id))
        return batch_id, states, await wire.results(batch_id)
    finally:
        await wire.aclose()


@WIRES
def test_wire_submits_polls_and_reads_every_kind_of_result(
    loopback: Callable[..., LoopbackServer], make: Callable[[LoopbackServer], Any]
) -> None:
    script = BatchScript(polls=2, lost=lost_first_time)
    server = loopback(lambda body, path: "ok", faults=fail_request_1, batches=script)
    batch_id, states, results = asyncio.run(one_batch(make(server), 3))
    assert [s.ended for s in states] == [False, False, True]
    assert states[-1].total == 3 and states[-1].done == 3
    assert isinstance(results["c0"], ModelOutput) and results["c0"].text == "ok"
    assert isinstance(results["c1"], ModelError) and not results["c1"].fatal
    assert results["c1"].kind in ("overloaded", "server")
    assert results["c2"] == Lost("expired")
    (_, created_id, custom_ids, bodies) = server.batch.created[0]
    assert created_id == batch_id and custom_ids == ["c0", "c1", "c2"]
    assert [b["messages"][-1]["content"] for b in bodies] == ["request 0", "request 1", "request 2"]
    assert server.errors == []


def test_openai_wire_uploads_the_chat_completions_requests_as_jsonl(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(lambda body, path: "ok")
    asyncio.run(one_batch(openai_wire(server), 2))
    upload = next(r for r in server.requests if r.path == "/v1/files")
    assert b'name="purpose"' in upload.raw and b"batch" in upload.raw
    lines = [json.loads(x) for x in server.batch.files["file-loop-0001"].decode().splitlines()]
    assert [(x["custom_id"], x["method"], x["url"]) for x in lines] == [
        ("c0", "POST", "/v1/chat/completions"),
        ("c1", "POST", "/v1/chat/completions"),
    ]
    assert (
        lines[0]["body"]["model"] == "gpt-4o" and lines[0]["body"]["max_completion_tokens"] == 100
    )
    create = next(r for r in server.requests if r.path == "/v1/batches")
    assert create.body["endpoint"] == "/v1/chat/completions"
    assert create.body["completion_window"] == "24h"


def test_anthropic_batch_requests_cache_their_prefix_for_an_hour(
    loopback: Callable[..., LoopbackServer],
) -> None:
    server = loopback(lambda body, path: "ok")
    wire = anthropic_wire(server)
    long = ChatMessage("user", "Write a template.\n" + "Resources: {}\n" * 400)
    params = wire.params([long], CONFIG, ctx(0))
    block = params["messages"][0]["content"][0]
    assert block["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    online = wire.model.request_params([long], CONFIG, ctx(0))
    assert online["messages"][0]["content"][0]["cache_control"]["ttl"] == "5m"
    asyncio.run(wire.aclose())


@WIRES
def test_wire_reports_a_vanished_batch(
    loopback: Callable[..., LoopbackServer], make: Callable[[LoopbackServer], Any]
) -> None:
    server = loopback(lambda body, path: "ok")
    wire = make(server)

    async def go() -> None:
        try:
            await wire.poll("no-such-batch")
        finally:
            await wire.aclose()

    with pytest.raises(BatchGone):
        asyncio.run(go())


def test_batch_mode_needs_a_provider_with_a_batch_api(tmp_path: Path) -> None:
    from benchmark.runner.factory import create_model
    from tests.test_job import settings_for

    settings = settings_for(
        "model.id=openai-compatible/llama3", "model.batch=true", "dataset.limit=1"
    )
    with pytest.raises(ConfigError, match=r"'model.batch'.*anthropic, openai"):
        create_model(settings, {}, None, tmp_path)


# -- whole jobs ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_job_records_what_an_online_job_does_at_the_batch_price(
    loopback: Callable[..., LoopbackServer], tmp_path: Path, provider: str
) -> None:
    from benchmark.records.tables import read_table
    from benchmark.runner.hydra_job import JobInfo, run_job
    from tests.test_job import deterministic_reply, settings_for

    model_id = {"openai": "openai/gpt-4o", "anthropic": "anthropic/claude-sonnet-4-5"}[provider]
    runs = {}
    for mode in ("online", "batch"):
        server = loopback(deterministic_reply, batches=BatchScript(polls=2))
        url = server.anthropic_base_url if provider == "anthropic" else server.openai_base_url
        settings = settings_for(
            f"model.id={model_id}",
            f"model.providers.{provider}.base_url={url}",
            f"model.batch={str(mode == 'batch').lower()}",
            "model.batch_poll_s=0.01",
            "dataset.limit=2",
            "loop.samples=2",
            "loop.max_iterations=3",
            "loop.concurrency=2",  # batch mode runs every chain at once regardless
            "progress=false",
            "lint.workers=1",
            "cache.enabled=false",
        )
        summary = asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path / mode), "sk-test-key"))
        assert summary.status == "complete" and summary.attempts == 12
        runs[mode] = read_table(tmp_path / mode, "attempts").sort_values(
            ["problem_id", "sample", "iteration"], ignore_index=True
        )
        if mode == "batch":
            # three rounds, one batch each, every chain's request in it
            assert [len(ids) for _, _, ids, _ in server.batch.created] == [4, 4, 4]
            assert not any(
                r.path.endswith(("/chat/completions", "/messages")) for r in server.requests
            )
    online, batch = runs["online"], runs["batch"]
    same = [
        "problem_id",
        "sample",
        "iteration",
        "template",
        "errors",
        "stop_reason",
        "input_tokens",
    ]
    assert online[same].equals(batch[same])
    assert set(batch["price_basis"]) == {"batch"} and set(online["price_basis"]) == {"online"}
    assert batch["batch_id"].notna().all() and online["batch_id"].isna().all()
    assert batch["batch_id"].nunique() == 3
    assert (batch["cost_usd"] * 2 - online["cost_usd"]).abs().max() < 1e-12
    journal = [json.loads(x) for x in (tmp_path / "batch" / JOURNAL_FILE).read_text().splitlines()]
    assert [e["event"] for e in journal] == ["submitted", "ended"] * 3


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_job_killed_while_its_batch_is_pending_resumes_without_resubmitting(
    loopback: Callable[..., LoopbackServer], tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from benchmark.records.tables import read_table
    from tests.test_resilience import ROOT, reply, write_problems

    release = threading.Event()
    server = loopback(reply, batches=BatchScript(polls=1, release=release))
    dataset = write_problems(tmp_path / "tasks", 3)

    def command(run_dir: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "benchmark.run",
            "model.id=openai/gpt-4o",
            f"model.providers.openai.base_url={server.openai_base_url}",
            "model.batch=true",
            "model.batch_poll_s=0.02",
            "model.seed=100",
            f"dataset.path={dataset}",
            "dataset.name=tasks",
            "loop.samples=2",
            "loop.max_iterations=3",
            "lint.workers=1",
            "cache.enabled=false",
            "progress=false",
            f"hydra.run.dir={run_dir}",
        ]

    env = {**os.environ, "OPENAI_API_KEY": "sk-batch-FAKE-0123456789"}
    release.set()
    done = subprocess.run(command(tmp_path / "reference"), env=env, cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr[-3000:]
    reference_batches = len(server.batch.created)

    release.clear()  # from now on no batch ends: the job waits on its first round
    run_dir = tmp_path / "killed"
    job = subprocess.Popen(command(run_dir), env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    journal = run_dir / JOURNAL_FILE
    while not (journal.exists() and '"submitted"' in journal.read_text()):
        assert job.poll() is None, "the job ended before it was killed"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    pending = server.batch.created[reference_batches:]
    assert len(pending) == 1 and not (run_dir / "job.json").exists()

    release.set()
    done = subprocess.run(command(run_dir), env=env, cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr[-3000:]
    created = server.batch.created[reference_batches:]
    # the pending batch's requests were never submitted again: each was in exactly one batch
    first_round = {json.dumps(body, sort_keys=True) for body in pending[0][3]}
    later = [json.dumps(b, sort_keys=True) for _, _, _, bodies in created[1:] for b in bodies]
    assert first_round.isdisjoint(later)
    keys = ["problem_id", "sample", "iteration", "errors", "stop_reason"]
    resumed = read_table(run_dir, "attempts")[keys].sort_values(keys[:3], ignore_index=True)
    reference = read_table(tmp_path / "reference", "attempts")[keys]
    assert resumed.equals(reference.sort_values(keys[:3], ignore_index=True))


@pytest.mark.slow
def test_batch_mode_keeps_the_response_cache_and_the_budget(
    loopback: Callable[..., LoopbackServer], tmp_path: Path
) -> None:
    from benchmark.records.tables import read_table
    from benchmark.runner.hydra_job import JobInfo, run_job
    from tests.test_job import deterministic_reply, settings_for

    server = loopback(deterministic_reply)

    def job(folder: str, *overrides: str):
        settings = settings_for(
            "model.id=openai/gpt-4o",
            f"model.providers.openai.base_url={server.openai_base_url}",
            "model.batch=true",
            "model.batch_poll_s=0.01",
            "dataset.limit=2",
            "loop.samples=2",
            "loop.max_iterations=3",
            "progress=false",
            "lint.workers=1",
            f"cache.path={tmp_path / 'responses.sqlite'}",
            *overrides,
        )
        info = JobInfo("s", 0, tmp_path / folder, sweep_dir=tmp_path / folder)
        return asyncio.run(run_job(settings, info, "sk-test-key"))

    first = job("first")
    created = len(server.batch.created)
    again = job("again")  # a rerun elsewhere: every reply from the response cache
    assert len(server.batch.created) == created == 3
    assert again.response_cache_hits == again.attempts == first.attempts == 12
    assert (read_table(tmp_path / "again", "attempts")["cost_usd"] == 0).all()

    # the budget, checked before each attempt as online: round 1's replies are recorded one by
    # one (29 tokens each), so three chains start round 2 before the fourth sees 116 >= 100
    part = job("part", "cache.enabled=false", "budget.max_tokens=100")
    assert part.status == "budget_exhausted" and part.attempts == 4 + 3
    assert part.unfinished_chains == 4
    done = job("part", "cache.enabled=false")  # resumed with no limit: finishes the job
    assert done.status == "complete" and done.resumed_attempts == 7
    assert len(read_table(tmp_path / "part", "attempts")) == 12
