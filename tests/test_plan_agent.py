"""The plan of an agent job (benchmark/runner/plan/agent.py): tool turns within the limits,
a cost for a priced model, and the same tool use as the simulator's own agent chains."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmark.runner.plan.agent import AgentJobPlan
from benchmark.runner.plan.sweep import format_plan, plan_settings, single
from benchmark.simulator import SimulatedModel, load_profile
from benchmark.simulator.agent import LOOKUP_RULES
from benchmark.simulator.chains import ChainProcess, ProblemShape
from tests.test_job import settings_for
from tests.test_simulator_agent import PAPER33, SMALL, drive

ROOT = Path(__file__).resolve().parents[1]
AGENT = ("loop.protocol=agent", "planning.draws=60")


@pytest.mark.parametrize("model", ["anthropic/claude-opus-5-5", "openai/gpt-4o"])
def test_an_agent_job_plans_validate_calls_within_the_limit_and_a_cost(model: str) -> None:
    for iterations in (2, 10):
        settings = settings_for(f"model.id={model}", f"loop.max_iterations={iterations}", *AGENT)
        plan = plan_settings(settings)
        assert isinstance(plan, AgentJobPlan) and plan.protocol == "agent"
        per_chain = plan.agent["per_chain"]
        assert 1.0 <= per_chain["validate_calls"] <= iterations
        assert per_chain["validate_calls"] < per_chain["turns"] <= settings.loop.max_turns
        assert plan.calls.expected == pytest.approx(per_chain["turns"] * plan.chains, rel=0.01)
        assert plan.calls.maximum == plan.chains * settings.loop.max_turns
        assert 0 < plan.cost.expected < plan.cost.maximum
        assert 0 < plan.input_tokens.expected < plan.input_tokens.maximum
        assert json.loads(json.dumps(plan.as_dict()))["agent"]["per_chain"] == per_chain
    assert "agent (job 0" in format_plan(single(settings, plan))


def test_the_turn_limit_caps_the_planned_turns() -> None:
    settings = settings_for("model.id=openai/gpt-4o", "loop.max_turns=2", *AGENT)
    plan = plan_settings(settings)
    assert plan.agent["per_chain"]["turns"] <= 2
    assert plan.calls.maximum == plan.chains * 2


def test_the_profiles_agent_policy_moves_the_plan(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "conf/model/simulator/default.yaml").read_text())
    data["agent"] = {"skip_validation_probability": 0.0, "lookup_probability": 0.0}
    path = tmp_path / "never-looks.yaml"
    path.write_text(yaml.safe_dump(data))
    careless = plan_settings(
        settings_for("model.id=simulated/default", f"+model.simulator.profile={path}", *AGENT)
    )
    assert careless.agent["per_chain"]["schema_lookups"] == 0
    assert careless.agent["per_chain"]["submitted_unvalidated"] == 0
    default = plan_settings(settings_for("model.id=simulated/default", *AGENT))
    assert default.agent["per_chain"]["submitted_unvalidated"] > 0
    assert default.cost.expected == 0  # the simulator is free


def test_the_plan_expects_the_tool_use_the_simulator_shows() -> None:
    """The chain model walked with the policy against the simulator's own agent chains (the
    stand-in harness of test_simulator_agent.py), on the same problems."""
    ids = SMALL[:6]
    settings = settings_for(
        "model.id=simulated/default",
        "dataset=paper33",
        f"dataset.only=[{','.join(ids)}]",
        "loop.samples=1",
        "loop.protocol=agent",
        "planning.draws=400",
    )
    planned = plan_settings(settings).agent["per_chain"]
    sim = SimulatedModel.from_options("default", PAPER33, {})
    runs = [drive(sim, pid, sample) for pid in ids for sample in range(25)]
    seen = {
        "validate_calls": sum(len(t.validated) for t in runs) / len(runs),
        "schema_lookups": sum(len(s.types) for t in runs for s in t.steps) / len(runs),
        "turns": sum(len(t.steps) for t in runs) / len(runs),
    }
    for measure in ("validate_calls", "turns"):
        assert planned[measure] == pytest.approx(seen[measure], rel=0.3), measure
    assert planned["schema_lookups"] == pytest.approx(seen["schema_lookups"], abs=0.35)


def test_the_protocols_experiment_sweeps_the_three_protocols(tmp_path: Path) -> None:
    """conf/experiment/protocols.yaml, as `make experiment-protocols` runs it, planned (the
    Makefile's -n line is the command; plan=true stops before any job)."""
    sweep = tmp_path / "protocols"
    args = f"dataset.limit=1 planning.draws=5 plan=true hydra.sweep.dir={sweep}"
    shown = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",  # under another make (CI's make test-all) it says where it is
            "experiment-protocols",
            f"PY={sys.executable}",
            "MODELS=simulated/default",
            "ITERS=3",
            f"ARGS={args}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = shlex.split(shown.replace("\\\n", " "))
    assert command[1:3] == ["sweep", "+experiment=protocols"]
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = json.loads((sweep / "plan.json").read_text())["jobs"]
    assert [j["protocol"] for j in jobs] == ["stateless", "conversation", "agent"]
    assert {j["dataset"] for j in jobs} == {"paper33"} and {j["max_iterations"] for j in jobs} == {
        3
    }
    assert [bool(j.get("agent")) for j in jobs] == [False, False, True]


def test_the_chain_model_counts_the_lookup_rules_findings_apart() -> None:
    process = ChainProcess.from_profile(load_profile("synthetic-truth"))
    bound = process.bind([ProblemShape("p", 3)])
    index = np.zeros(500, dtype=int)
    plain = bound.simulate(index, 4, np.random.default_rng(0))
    tracked = bound.simulate(index, 4, np.random.default_rng(0), track=LOOKUP_RULES)
    assert plain.tracked is None and tracked.tracked is not None
    assert np.array_equal(plain.errors, tracked.errors)  # counting draws nothing
    assert (tracked.tracked <= tracked.errors).all() and tracked.tracked[:, 0].sum() > 0
    assert (tracked.tracked[~tracked.reached] == 0).all()


def test_openai_s_automatic_cache_reads_are_planned_online_only() -> None:
    plan = plan_settings(settings_for("model.id=openai/gpt-4o", *AGENT))
    assert 0 < plan.cached_tokens["online"] < plan.input_tokens.expected
    assert plan.cached_tokens["batch"] == 0
    none = plan_settings(settings_for("model.id=anthropic/claude-opus-5-5", *AGENT))
    assert set(none.cached_tokens.values()) == {0.0}
