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
from benchmark.problems.dataset import Problem, load_dataset
from benchmark.simulator import (
    SimulatedModel,
    SimulatorSettings,
    find_sites,
    parse_template,
    render,
)
from benchmark.simulator.catalogue import CLASSIC_KINDS
from benchmark.validators.base import Finding
from benchmark.validators.cfn_lint.validator import WarmLinter

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
def linter(warm_linter: WarmLinter) -> WarmLinter:
    return warm_linter


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
    previous: str | None = None,
):
    """One call; a repair (iteration > 1) is told `previous` (the template it repairs) and
    `user` as that template's feedback, as the loop tells it."""
    context = CallContext(
        problem_id,
        sample,
        iteration,
        output_format,  # type: ignore[arg-type]
        previous_template=previous,
        previous_feedback=user if iteration > 1 else None,
    )
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


def test_every_classic_kind_applies_to_some_smoke_problem() -> None:
    assert {kind for _, kind, _ in SITES} >= set(CLASSIC_KINDS)


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
        found = [f.rule_id for f in linter.lint(render(tree, (mutation,), output_format))]
        assert found == [mutation.rule_id]  # its rule, once, and nothing else


@pytest.mark.parametrize("problem_id", sorted(SMOKE))
def test_fix_removes_the_rule_and_restores_the_original(linter: WarmLinter, problem_id) -> None:
    sim = model(EAGER_MUTATED)
    tree = parse_template(SMOKE[problem_id].reference_template)
    for sample in range(8):
        first = template_of(call(sim, problem_id, sample, 1).text)
        active = sim.decode(problem_id, first, "yaml")
        assert active
        target = active[0]
        # mention only the first mutation's rule: that one goes, others sharing no rule stay
        second = call(sim, problem_id, sample, 2, f"{target.rule_id} fix this", previous=first)
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
            first = template_of(call(sim, problem_id, sample, 1).text)
            previous = first
            for iteration in range(2, 6):
                reply = call(sim, problem_id, sample, iteration, "W9999 else", previous=previous)
                previous = template_of(reply.text)
                assert previous == first


@pytest.mark.parametrize("output_format", ["yaml", "json"])
def test_chain_with_real_feedback_becomes_clean(linter: WarmLinter, output_format: str) -> None:
    sim = model(EAGER)
    for problem_id in SMOKE:
        for sample in range(10):
            user, previous = "Write the template.", None
            for iteration in range(1, 5):
                reply = call(sim, problem_id, sample, iteration, user, output_format, previous)
                previous = template_of(reply.text)
                findings = linter.lint(previous)
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
            firsts = [template_of(call(m, problem_id, sample, 1).text) for m in (a, b, c)]
            same &= firsts[0] == firsts[1]
            differs |= firsts[0] != firsts[2]
            user = "E3002 E3012 E0000 E1020 W2001"
            ra, rb, rc = (
                call(m, problem_id, sample, 2, user, previous=first)
                for m, first in zip((a, b, c), firsts, strict=True)
            )
            same &= ra.text == rb.text and ra.request_id == rb.request_id
            differs |= ra.text != rc.text
    assert same and differs


def test_replies_are_identical_across_processes() -> None:
    script = (
        "import asyncio, hashlib\n"
        "from benchmark.problems.dataset import load_dataset\n"
        "from benchmark.models.base import CallContext, ChatMessage, GenerateConfig\n"
        "from benchmark.simulator import SimulatedModel, SimulatorSettings\n"
        "ps = {p.id: p for p in load_dataset('datasets/smoke')}\n"
        "m = SimulatedModel('default', problems=ps, settings=SimulatorSettings(seed=3))\n"
        "h = hashlib.sha256()\n"
        "for pid in sorted(ps):\n"
        "    for s in range(3):\n"
        "        previous = None\n"
        "        for it in (1, 2, 3):\n"
        "            fb = 'E3002 E0000 E3003' if previous else None\n"
        "            ctx = CallContext(pid, s, it, 'json', previous, fb)\n"
        "            msgs = [ChatMessage('user', 'E3002 E0000 E3003')]\n"
        "            out = asyncio.run(m.generate(msgs, GenerateConfig(1.0, 10), ctx))\n"
        "            previous = out.text.split('```json\\n')[1].split('```')[0]\n"
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
    first = template_of(call(sim, "s3-versioned-bucket", 0, 1).text)
    user = "E3002 E3003 E3012 E3030"
    once = call(sim, "s3-versioned-bucket", 0, 2, user, previous=first)
    again = call(sim, "s3-versioned-bucket", 0, 2, user, previous=first)
    assert once.text == again.text
    # a fresh instance (a restarted process) answers the same: no state is kept in memory
    assert call(model(MUTATED), "s3-versioned-bucket", 0, 2, user, previous=first).text == once.text
    # conversation protocol: the full history; only the context's feedback counts
    history = [
        ChatMessage("system", "You write CloudFormation."),
        ChatMessage("user", "Write the template."),
        ChatMessage("assistant", "E3002 E3003 (a reply must not count as feedback)"),
        ChatMessage("user", "W9999 the messages are not read"),
    ]
    context = CallContext("s3-versioned-bucket", 0, 2, "yaml", first, user)
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
