"""The plan (benchmark/runner/plan/): its numbers against a tiny sweep's records on the loopback
servers, its cache and price arithmetic, the budget's refusal, plan=true, and the report."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.report import build_report
from benchmark.config import BudgetConfig, ConfigError
from benchmark.loop.prompts import generation_messages
from benchmark.models.anthropic import AnthropicModel
from benchmark.models.base import CallContext, GenerateConfig
from benchmark.models.pricing import price_for
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import read_table
from benchmark.runner.factory import prompt_cache
from benchmark.runner.hydra_job import JobInfo, run_job
from benchmark.runner.plan.job import chain_messages, draw_chains, plan_job
from benchmark.runner.plan.job import problem_texts as texts_of
from benchmark.runner.plan.sweep import budget_refusal, plan_settings
from benchmark.runner.plan.token_usage import anthropic_usage, count_tokens
from tests.loopback_usage import CountedUsage
from tests.test_job import settings_for

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-test-openai-PLAN0123456789"
CLEAN = '```json\n{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}\n```'
DIRTY = '```json\n{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}}\n```'


def reply(body: dict, path: str) -> str:
    """Dirty on a chain's generation, clean after one repair: a function of the request."""
    return DIRTY if "Request:" in body["messages"][-1]["content"] else CLEAN


def openai_settings(url: str, *overrides: str):
    return settings_for(
        "model.id=openai/gpt-4o",
        f"model.providers.openai.base_url={url}",
        "dataset.limit=2",
        "loop.samples=2",
        "loop.max_iterations=3",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
        "planning.draws=50",
        *overrides,
    )


@pytest.mark.slow
def test_the_plan_bounds_a_tiny_job_and_renders_its_generation_prompts(
    loopback, tmp_path: Path
) -> None:
    server = loopback(reply)
    settings = openai_settings(server.openai_base_url)
    plan = plan_job(settings)
    summary = asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path / "0"), KEY))
    attempts = read_table(tmp_path, "attempts")
    assert summary.status == "complete" and len(attempts) == len(server.requests)

    assert plan.chains == summary.chains == 4
    assert plan.calls.maximum == 4 * 3
    assert plan.chains <= plan.calls.expected <= plan.calls.maximum
    assert len(server.requests) <= plan.calls.maximum
    assert attempts["input_tokens"].sum() <= plan.input_tokens.maximum
    assert attempts["output_tokens"].sum() <= plan.output_tokens.maximum
    assert 0 < attempts["cost_usd"].sum() <= plan.cost.maximum

    # each generation call's planned tokens are the approximation applied to what was sent
    cpt = settings.planning.chars_per_token
    generations = [b for b in server.bodies("openai") if "Request:" in b["messages"][-1]["content"]]
    problems = load_dataset(settings.dataset.path, limit=2)
    assert len(generations) == 4
    for body in generations:
        (problem,) = [p for p in problems if p.prompt.strip() in body["messages"][-1]["content"]]
        sent = sum(len(m["content"]) for m in body["messages"]) / cpt
        assert plan.generation_input_tokens[problem.id] == sent
        rendered = count_tokens(generation_messages(settings.prompts, problem), cpt)
        assert rendered == sent


@pytest.mark.slow
def test_the_expected_calls_are_the_simulator_s(tmp_path: Path) -> None:
    """A simulated job makes about the calls its plan expects: within three standard errors
    of the plan's chains (the simulator is seeded: one fixed sweep, not a fresh draw)."""
    settings = settings_for(
        "model.id=simulated/default", "loop.samples=12", "progress=false", "lint.workers=1"
    )
    plan = plan_job(settings)
    summary = asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path / "0"), None))
    assert summary.chains == plan.chains == 36
    problems = load_dataset(settings.dataset.path)
    per_chain = draw_chains(settings, problems, "default").reached.sum(axis=1)
    error = 3 * per_chain.std() * math.sqrt(plan.chains)
    assert abs(summary.attempts - plan.calls.expected) < error < 0.5 * plan.calls.expected
    assert summary.attempts <= plan.calls.maximum


@pytest.mark.parametrize(
    "overrides",
    [
        ("model.id=openai/gpt-4o", "loop.protocol=stateless"),
        ("model.id=anthropic/claude-sonnet-4-5", "model.prompt_cache=off", "prompts=structured"),
    ],
)
def test_batch_cost_is_the_online_cost_at_batch_prices(overrides: tuple[str, ...]) -> None:
    settings = settings_for(*overrides, "dataset.limit=3", "planning.draws=50")
    plan = plan_job(settings)
    price = price_for(settings.model.id)
    assert price is not None and price.batch is not None
    discount = price.batch.input / price.input
    assert discount == price.batch.output / price.output == 0.5  # prices.yaml: half
    online, batch = plan.cost_usd["online"], plan.cost_usd["batch"]
    assert online.expected > 0
    assert batch.expected == pytest.approx(discount * online.expected)
    assert batch.maximum == pytest.approx(discount * online.maximum)
    assert plan.cached_tokens == {"online": 0, "batch": 0}


def test_a_cached_conversation_costs_less_than_its_uncached_twin() -> None:
    base = ("model.id=anthropic/claude-sonnet-4-5", "loop.protocol=conversation", "dataset=paper33")
    common = ("dataset.limit=3", "planning.draws=50")
    cached = plan_job(settings_for(*base, *common))
    plain = plan_job(settings_for(*base, *common, "model.prompt_cache=off"))
    assert cached.cached_tokens["online"] > 0 and cached.cache_write_tokens["online"] > 0
    assert cached.input_tokens.expected == pytest.approx(plain.input_tokens.expected)
    assert cached.cost_usd["online"].expected < plain.cost_usd["online"].expected
    # the maximum assumes every input token written and none read: never below the uncached
    assert cached.cost_usd["online"].maximum > plain.cost_usd["online"].maximum


def test_the_plan_reads_and_writes_anthropic_s_cache_as_the_loopback_bills() -> None:
    """The plan's cache accounting against the loopback's own model of Anthropic's rules, on
    the requests the provider builds for the plan's messages."""
    settings = settings_for(
        "model.id=anthropic/claude-sonnet-4-5",
        "loop.protocol=conversation",
        "dataset=paper33",
        "dataset.limit=1",
        "loop.max_iterations=5",
        "planning.chars_per_token=4",
    )
    problem = load_dataset(settings.dataset.path, limit=1)[0]
    path = chain_messages(settings, texts_of(settings, [problem])[0], [300, 200, 100, 50])
    cache = prompt_cache(settings)
    planned = anthropic_usage(
        path, cache, batch=False, ttl="5m", max_iterations=5, chars_per_token=4
    )
    model = AnthropicModel("claude-sonnet-4-5", api_key="sk-ant-x", prompt_cache=cache)
    billed = CountedUsage()
    config = GenerateConfig(1.0, 4096)
    for t, messages in enumerate(path, start=1):
        context = CallContext(problem.id, 0, t, "json", max_iterations=5)
        usage = billed.anthropic(model.request_params(messages, config, context), "")
        call = planned[t - 1]
        assert call.cached == pytest.approx(usage["cache_read_input_tokens"], rel=0.02, abs=8)
        assert call.written == pytest.approx(usage["cache_creation_input_tokens"], rel=0.02, abs=8)
    assert sum(u.cached for u in planned) > 0
    assert planned[-1].written == 0 and planned[-1].cached > 0  # the last call only reads


def test_refusal_is_one_line_naming_cost_budget_and_the_way_out() -> None:
    line = budget_refusal(12.345, BudgetConfig(max_usd=5))
    assert line is not None and "\n" not in line
    assert "$12.35" in line and "budget.max_usd=$5" in line and "budget.allow_partial=true" in line
    assert budget_refusal(12.3, BudgetConfig(max_usd=5, allow_partial=True)) is None
    assert budget_refusal(4.9, BudgetConfig(max_usd=5)) is None
    assert budget_refusal(None, BudgetConfig(max_usd=5)) is None  # no price: SweepPlan.refusal
    assert budget_refusal(12.3, BudgetConfig()) is None


def test_a_simulated_job_is_planned_with_its_own_profile_and_costs_nothing() -> None:
    plan = plan_job(settings_for("model.id=simulated/synthetic-truth", "planning.draws=50"))
    assert plan.profile == "synthetic-truth" and plan.simulated
    assert plan.cost.expected == plan.cost.maximum == 0.0
    assert any("simulated" in note for note in plan.notes)
    real = plan_job(settings_for("model.id=openai/gpt-4o", "planning.draws=50"))
    assert real.profile == "default"  # planning.profile stands in for a real model


def test_prompt_only_problems_are_planned_for_a_real_model_and_skipped_by_the_simulator(
    tmp_path: Path,
) -> None:
    source = ROOT / "datasets" / "smoke" / "s3-versioned-bucket.yaml"
    (tmp_path / "with-reference.yaml").write_text(
        source.read_text().replace("id: s3-versioned-bucket", "id: with-reference")
    )
    (tmp_path / "prompt-only.yaml").write_text(
        "id: prompt-only\ntitle: Queue\nprompt: Create one SQS queue.\n"
    )
    common = (f"dataset.path={tmp_path}", "loop.samples=1", "planning.draws=50")
    real = plan_job(settings_for("model.id=openai/gpt-4o", *common))
    assert real.problems == 2 and set(real.generation_input_tokens) == {
        "prompt-only",
        "with-reference",
    }
    simulated = plan_job(settings_for("model.id=simulated/default", *common))
    assert simulated.problems == 1 and any("prompt-only" in n for n in simulated.notes)


def test_a_bad_stand_in_profile_is_one_line() -> None:
    settings = settings_for("model.id=openai/gpt-4o", "planning.profile=no-such-profile")
    with pytest.raises(ConfigError) as caught:
        plan_settings(settings)
    assert "planning.profile" in str(caught.value) and "\n" not in str(caught.value)


# ---- whole commands ------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    return subprocess.run(
        [sys.executable, "-m", "benchmark.run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def sweep_args(url: str, *extra: str) -> list[str]:
    return [
        "model.id=openai/gpt-4o",
        f"model.providers.openai.base_url={url}",
        "dataset.limit=1",
        "loop.max_iterations=3",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
        "planning.draws=50",
        *extra,
    ]


def test_make_plan_makes_no_call_and_writes_the_sweep_s_plan(loopback, tmp_path: Path) -> None:
    server = loopback(reply)
    sweep = tmp_path / "sweep"
    args = " ".join(sweep_args(server.openai_base_url, f"hydra.sweep.dir={sweep}"))
    done = subprocess.run(
        ["make", "plan", f"PY={sys.executable}", "PROMPTS=paper,structured", f"ARGS={args}"],
        cwd=ROOT,
        env={**os.environ, "OPENAI_API_KEY": ""},  # a plan needs no key
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert server.requests == []
    plan = json.loads((sweep / "plan.json").read_text())
    assert [j["prompt_set"] for j in plan["jobs"]] == ["paper", "structured"]
    assert plan["total"]["calls"]["maximum"] == 2 * 5 * 3
    assert "total" in done.stdout and "no call made" in done.stdout
    assert not [p for p in sweep.iterdir() if p.is_dir()]  # no job started


def test_make_plan_into_the_dated_default_leaves_no_run_folder(tmp_path: Path) -> None:
    """plan=true without a named folder prints the plan and writes nothing: no dated runs/<date>/
    holding only plan.json and a lock (the default folder is relative to the working directory)."""
    smoke = ROOT / "datasets" / "smoke"
    args = ["-m", "prompts=paper,structured", "plan=true", f"dataset.path={smoke}"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.run", *args, "dataset.limit=1", "planning.draws=20"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "total" in done.stdout and "plan: not written (hydra.sweep.dir=" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_job_that_cannot_be_planned_leaves_the_others_planned(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run(
        "-m",
        "prompts=paper,telepathic",
        "plan=true",
        "planning.draws=20",
        "dataset.limit=1",
        f"hydra.sweep.dir={sweep}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    plan = json.loads((sweep / "plan.json").read_text())
    assert [j["job_id"] for j in plan["jobs"]] == [0] and "telepathic" in plan["failed"]["1"]
    assert "job 1: not planned" in done.stdout


@pytest.mark.parametrize("multirun", [True, False])
def test_a_sweep_over_budget_is_refused_in_one_line_before_any_call(
    loopback, tmp_path: Path, multirun: bool
) -> None:
    server = loopback(reply)
    folder = tmp_path / "sweep"
    where = f"hydra.sweep.dir={folder}" if multirun else f"hydra.run.dir={folder}"
    samples = "loop.samples=1,2" if multirun else "loop.samples=2"
    done = run(
        *(["-m"] if multirun else []),
        *sweep_args(server.openai_base_url, samples, "budget.max_usd=0.01", where),
    )
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    plan = json.loads((folder / "plan.json").read_text())
    most = plan["total"]["cost_usd"]["billed"]["maximum"]
    assert last.startswith("error: budget:")
    assert f"${most:,.2f}" in last and "budget.max_usd=$0.01" in last
    assert "budget.allow_partial=true" in last
    assert plan["budget"]["refused"] in last
    assert server.requests == [] and not list(folder.rglob("*.parquet"))


@pytest.mark.slow
def test_allow_partial_runs_to_the_budget_and_the_report_compares_plan_and_actual(
    loopback, tmp_path: Path
) -> None:
    server = loopback(reply)
    sweep = tmp_path / "sweep"
    done = run(
        "-m",
        *sweep_args(
            server.openai_base_url,
            "loop.samples=2",
            "loop.concurrency=1",
            "budget.max_usd=0.0002",  # a loopback call costs ~$0.00013
            "budget.allow_partial=true",
            f"hydra.sweep.dir={sweep}",
        ),
    )
    assert "budget: job 0 started no new attempt" in done.stderr, done.stderr[-3000:]
    assert json.loads((sweep / "0" / "job.json").read_text())["status"] == "budget_exhausted"
    assert server.requests  # it ran
    assert (sweep / "plan.json").is_file() and (sweep / "0" / "plan.json").is_file()

    report = build_report(sweep, n_boot=50, fit_boot=10)
    md = report.markdown.read_text()
    assert "Planned against actual" in md
    planned = pd.read_csv(report.markdown.parent / "plan.csv", dtype={"job": str}).set_index("job")
    attempts = read_table(sweep, "attempts")
    assert planned.loc["0", "calls_actual"] == len(attempts) < planned.loc["0", "calls_max"]
    assert planned.loc["0", "cost_actual"] == pytest.approx(attempts["cost_usd"].sum())
    assert planned.loc["total", "calls_expected"] == planned.loc["0", "calls_expected"]


# ---- reasoning effort ----------------------------------------------------------------------


def test_the_plan_assumes_reasoning_per_effort_and_prices_it() -> None:
    common = ("dataset.limit=2", "loop.samples=1", "loop.max_iterations=3", "planning.draws=50")
    plans = {
        effort: plan_job(settings_for("model.id=anthropic/claude-opus-5-5", effort, *common))
        for effort in ("model.effort=low", "model.effort=high", "model.thinking=off")
    }
    low, high, off = plans.values()
    assert (low.reasoning_per_call, high.reasoning_per_call) == (600, 3500)  # default.yaml
    assert 0 < low.reasoning_tokens < high.reasoning_tokens  # type: ignore[operator]
    assert high.calls.expected < low.calls.expected  # fewer first-try mistakes: fewer repairs
    assert high.output_tokens.expected > high.reasoning_tokens  # reasoning is output
    assert high.cost.expected > low.cost.expected > 0  # type: ignore[operator]
    assert off.reasoning_tokens == 0 and off.cost.expected is not None
    plain = plan_job(settings_for("model.id=anthropic/claude-opus-5-5", *common))
    assert plain.reasoning_tokens is None  # no effort, no thinking: nothing assumed


def test_make_plan_per_effort_prices_every_job_of_today_s_models(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = f"model.effort=low,high dataset.limit=1 planning.draws=20 hydra.sweep.dir={sweep}"
    done = subprocess.run(
        [
            "make",
            "plan",
            f"PY={sys.executable}",
            "MODELS=anthropic/claude-opus-5-5,openai/gpt-6.2-sol,openai/gpt-6-astra",
            "ITERS=3",
            f"ARGS={args}",
        ],
        cwd=ROOT,
        env={**os.environ, "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    plan = json.loads((sweep / "plan.json").read_text())
    assert plan["method"]["reasoning_tokens"].startswith("ASSUMED, not measured")
    jobs = plan["jobs"]
    assert [(j["model"], j["effort"]) for j in jobs] == [
        (m, e)
        for m in ("anthropic/claude-opus-5-5", "openai/gpt-6.2-sol", "openai/gpt-6-astra")
        for e in ("low", "high")
    ]
    for job in jobs:
        assert job["reasoning_tokens_assumed"]["expected"] > 0
        priced = job["model"] != "openai/gpt-6-astra"
        assert (job["cost_usd"]["online"]["expected"] is not None) == priced
    assert "reasoning (assumed)" in done.stdout
    assert "note: no price for openai/gpt-6-astra: cost will be null" in done.stdout


def test_the_maximum_bills_every_input_token_as_an_openai_cache_write_where_billed() -> None:
    common = ("dataset.limit=1", "loop.samples=1", "loop.max_iterations=2", "planning.draws=20")
    plan = plan_job(settings_for("model.id=openai/gpt-6.2-sol", *common))
    price = price_for("openai/gpt-6.2-sol")
    assert price is not None and price.cache_write and price.cache_write > price.input
    most = plan.input_tokens.maximum * price.cache_write + plan.output_tokens.maximum * price.output
    assert plan.cost.maximum == pytest.approx(most / 1e6)
