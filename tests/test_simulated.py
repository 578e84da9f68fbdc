"""The offline repair simulator: mutations trigger their rules, fixes remove them, seeds hold."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError
from benchmark.models.simulated import (
    CATALOGUE,
    SimulatedModel,
    SimulatorSettings,
    find_sites,
    parse_template,
    render,
)
from benchmark.problems import Problem, load_dataset
from benchmark.validators.base import Finding
from benchmark.validators.cfn_lint import LintSettings, WarmLinter

ROOT = Path(__file__).resolve().parents[1]
SMOKE = {p.id: p for p in load_dataset(ROOT / "datasets" / "smoke")}
CONFIG = GenerateConfig(temperature=1.0, max_tokens=4096)
FENCE = re.compile(r"```(yaml|json)\n(.*?)```", re.DOTALL)
# fix what is mentioned, add nothing (EAGER_MUTATED: and never start clean)
EAGER = SimulatorSettings(
    fix_probability=1.0, fix_probability_by_rule={}, introduce_probability=0.0
)
MUTATED = SimulatorSettings(clean_start_probability=0.0)
EAGER_MUTATED = SimulatorSettings(
    fix_probability=1.0,
    fix_probability_by_rule={},
    introduce_probability=0.0,
    clean_start_probability=0.0,
)


@pytest.fixture(scope="module")
def linter() -> WarmLinter:
    return WarmLinter(LintSettings())


def rules(linter: WarmLinter, text: str) -> set[str]:
    return {f.rule_id for f in linter.lint(text)}


def feedback(findings: list[Finding]) -> str:
    return "\n".join(f"{f.rule_id} {f.message}" for f in findings)


def model(settings: SimulatorSettings, problems: dict[str, Problem] = SMOKE) -> SimulatedModel:
    return SimulatedModel("default", problems=problems, settings=settings)


def call(
    sim: SimulatedModel,
    problem_id: str,
    sample: int,
    iteration: int,
    user: str = "Write the template.",
    output_format: str = "yaml",
):
    context = CallContext(problem_id, sample, iteration, output_format)  # type: ignore[arg-type]
    return asyncio.run(sim.generate([ChatMessage("user", user)], CONFIG, context))


def template_of(text: str) -> str:
    match = FENCE.search(text)
    assert match, text
    return match.group(2)


SITES = [
    (problem_id, kind, mutation)
    for problem_id, problem in SMOKE.items()
    for kind, sites in find_sites(parse_template(problem.reference_template)).items()
    for mutation in sites
]


def test_every_kind_applies_to_some_smoke_problem() -> None:
    assert {kind for _, kind, _ in SITES} == set(CATALOGUE)


@pytest.mark.parametrize("output_format", ["yaml", "json"])
@pytest.mark.parametrize("problem_id", sorted(SMOKE))
def test_reference_renders_clean(linter: WarmLinter, problem_id: str, output_format: str) -> None:
    tree = parse_template(SMOKE[problem_id].reference_template)
    assert linter.lint(render(tree, (), output_format)) == []


@pytest.mark.parametrize(
    ("problem_id", "kind", "mutation"),
    SITES,
    ids=[f"{p}-{k}-{i}" for i, (p, k, _) in enumerate(SITES)],
)
def test_mutation_triggers_its_rule(linter: WarmLinter, problem_id, kind, mutation) -> None:
    tree = parse_template(SMOKE[problem_id].reference_template)
    for output_format in ("yaml", "json"):
        assert mutation.rule_id in rules(linter, render(tree, (mutation,), output_format))


@pytest.mark.parametrize("problem_id", sorted(SMOKE))
def test_fix_removes_the_rule_and_restores_the_original(linter: WarmLinter, problem_id) -> None:
    sim = model(EAGER_MUTATED)
    tree = parse_template(SMOKE[problem_id].reference_template)
    for sample in range(8):
        first = template_of(call(sim, problem_id, sample, 1).text)
        active = sim.step(CallContext(problem_id, sample, 1, "yaml"), "")
        target = active[0]
        # mention only the first mutation's rule: that one goes, others sharing no rule stay
        second = call(sim, problem_id, sample, 2, user=f"{target.rule_id} fix this")
        kept = [m for m in active if m.rule_id != target.rule_id]
        assert template_of(second.text) == render(tree, tuple(kept), "yaml")
        if not kept:
            assert linter.lint(template_of(second.text)) == []
        if all(m.rule_id != "E0000" for m in active):  # a syntax error hides the rest
            assert target.rule_id in rules(linter, first)


def test_unmentioned_rules_are_never_fixed() -> None:
    sim = model(EAGER_MUTATED)
    for problem_id in SMOKE:
        for sample in range(5):
            first = call(sim, problem_id, sample, 1).text
            for iteration in range(2, 6):
                reply = call(sim, problem_id, sample, iteration, user="W9999 something else")
                assert template_of(reply.text) == template_of(first)


@pytest.mark.parametrize("output_format", ["yaml", "json"])
def test_chain_with_real_feedback_becomes_clean(linter: WarmLinter, output_format: str) -> None:
    sim = model(EAGER)
    for problem_id in SMOKE:
        for sample in range(10):
            user = "Write the template."
            for iteration in range(1, 5):
                reply = call(sim, problem_id, sample, iteration, user, output_format)
                findings = linter.lint(template_of(reply.text))
                if not findings:
                    break
                user = feedback(findings)
            assert findings == [], (problem_id, sample, findings)


def test_same_seed_same_replies_other_seed_differs() -> None:
    a, b = model(SimulatorSettings(seed=7)), model(SimulatorSettings(seed=7))
    c = model(SimulatorSettings(seed=8))
    same, differs = True, False
    for problem_id in SMOKE:
        for sample in range(4):
            for iteration, user in ((1, "go"), (2, "E3002 E3012 E0000 E1020 W2001")):
                ra, rb = (call(m, problem_id, sample, iteration, user) for m in (a, b))
                rc = call(c, problem_id, sample, iteration, user)
                same &= ra.text == rb.text and ra.request_id == rb.request_id
                differs |= ra.text != rc.text
    assert same and differs


def test_replies_are_identical_across_processes() -> None:
    script = (
        "import asyncio, hashlib\n"
        "from benchmark.problems import load_dataset\n"
        "from benchmark.models.base import CallContext, ChatMessage, GenerateConfig\n"
        "from benchmark.models.simulated import SimulatedModel, SimulatorSettings\n"
        "ps = {p.id: p for p in load_dataset('datasets/smoke')}\n"
        "m = SimulatedModel('default', problems=ps, settings=SimulatorSettings(seed=3))\n"
        "h = hashlib.sha256()\n"
        "for pid in sorted(ps):\n"
        "    for s in range(3):\n"
        "        for it in (1, 2):\n"
        "            ctx = CallContext(pid, s, it, 'json')\n"
        "            msgs = [ChatMessage('user', 'E3002 E0000 E3003')]\n"
        "            out = asyncio.run(m.generate(msgs, GenerateConfig(1.0, 10), ctx))\n"
        "            h.update(out.text.encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1


def test_retried_call_and_protocols_give_the_same_reply() -> None:
    sim = model(MUTATED)
    call(sim, "s3-versioned-bucket", 0, 1)
    once = call(sim, "s3-versioned-bucket", 0, 2, user="E3002 E3003 E3012 E3030")
    again = call(sim, "s3-versioned-bucket", 0, 2, user="E3002 E3003 E3012 E3030")
    assert once.text == again.text
    # conversation protocol: the full history, same last user message
    history = [
        ChatMessage("system", "You write CloudFormation."),
        ChatMessage("user", "Write the template."),
        ChatMessage("assistant", "E3002 E3003 (a reply must not count as feedback)"),
        ChatMessage("user", "E3002 E3003 E3012 E3030"),
    ]
    context = CallContext("s3-versioned-bucket", 0, 2, "yaml")
    assert asyncio.run(sim.generate(history, CONFIG, context)).text == once.text


@pytest.mark.parametrize("output_format", ["yaml", "json"])
def test_output_formats_parse_and_say_simulated(output_format: str) -> None:
    sim = model(SimulatorSettings(clean_start_probability=1.0))
    assert sim.simulated and sim.id == "simulated/default"
    for problem_id in SMOKE:
        out = call(sim, problem_id, 0, 1, output_format=output_format)
        match = FENCE.search(out.text)
        assert match and match.group(1) == output_format
        assert "not an LLM" in out.text.split("```")[0]
        load = json.loads if output_format == "json" else yaml.safe_load
        assert "Resources" in load(match.group(2))
        assert out.finish_reason == "stop" and out.request_id.startswith("sim-")
        assert out.input_tokens == 3 and out.output_tokens > 10


def test_latency_and_bad_inputs() -> None:
    out = call(model(SimulatorSettings(latency_s=0.02)), "s3-versioned-bucket", 0, 1)
    assert out.latency_s is not None and out.latency_s >= 0.02
    with pytest.raises(ModelError) as err:
        call(model(SimulatorSettings()), "no-such-problem", 0, 1)
    assert err.value.fatal
    with pytest.raises(ValueError, match="fix_probability"):
        SimulatorSettings(fix_probability=1.5)
    with pytest.raises(ValueError, match="min_mutations"):
        SimulatorSettings(min_mutations=3, max_mutations=2)
