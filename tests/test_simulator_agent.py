"""The simulator as an agent (simulator/agent.py), driven by a stand-in of the harness side.

`drive` plays what benchmark/loop/agent.py does for the simulator: it offers the three tools,
answers validate_template (canned feedback naming the rules of the template's own mistakes, or
the real cfn-lint with the raw feedback design), get_resource_schema (canned text; chosen types
answered with an error) and ends the chain at submit_template, filling the CallContext as the
contract says (iteration = 1 + validate calls, previous_* = the last validated template and
its feedback, schema_lookups = the types looked up since). At max_iterations validate calls or
at the last turn it forces a submission (tool_choice=submit_template).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from benchmark.loop.feedback import FeedbackInput, render_feedback
from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelOutput,
    ToolSpec,
)
from benchmark.problems.dataset import load_dataset
from benchmark.simulator import ProfileError, SimulatedModel, SimulatorSettings, load_profile
from benchmark.simulator.agent import (
    DEFAULT_POLICY,
    LOOKUP,
    LOOKUP_RULES,
    SUBMIT,
    VALIDATE,
    AgentPolicy,
    resource_type,
)
from benchmark.validators.cfn_lint.validator import WarmLinter

ROOT = Path(__file__).resolve().parents[1]
PAPER33 = {p.id: p for p in load_dataset(ROOT / "datasets" / "paper33")}
SMOKE = {p.id: p for p in load_dataset(ROOT / "datasets" / "smoke")}
# the ten shortest templates: the chains are many and every turn renders one
SMALL = sorted(PAPER33, key=lambda i: len(PAPER33[i].reference_template or ""))[:10]
TOOLS = tuple(
    ToolSpec(name, f"the {name} tool", {"type": "object"}) for name in (VALIDATE, LOOKUP, SUBMIT)
)
# every first draft has mistakes, repairs add none: the chains are about fixing
ALWAYS_WRONG = SimulatorSettings(clean_start_probability=0.0, introduce_probability=0.0)


@dataclass
class Step:
    """One turn as the harness saw it."""

    turn: int
    tool: str  # the first call's tool ("reply": no tool call)
    template: str | None = None
    types: tuple[str, ...] = ()
    feedback: str | None = None
    forced: str | None = None


@dataclass
class Transcript:
    steps: list[Step] = field(default_factory=list)
    outputs: list[ModelOutput] = field(default_factory=list)
    submitted: str | None = None
    validated: list[tuple[str, str]] = field(default_factory=list)  # template, feedback

    @property
    def submission_validated(self) -> bool:
        return any(t == self.submitted for t, _ in self.validated)


def canned_feedback(sim: SimulatedModel, problem_id: str) -> Callable[[str], str]:
    """Feedback naming each of the template's own mistakes by rule and path."""

    def validate(template: str) -> str:
        active = sim.decode(problem_id, template, "yaml")
        assert active is not None, "the simulator validated a template it did not write"
        if not active:
            return "no findings"
        return "\n".join(f"{m.rule_id} at {'/'.join(map(str, m.path))}" for m in active)

    return validate


def lint_feedback(linter: WarmLinter, problem_id: str) -> Callable[[str], str]:
    """The real validator and the raw design, as the fixed loop feeds back."""

    def validate(template: str) -> str:
        findings = linter.lint(template)
        if not findings:
            return "no findings"
        request = PAPER33[problem_id].prompt
        return render_feedback("raw", FeedbackInput(findings, "template.yaml", template, request))

    return validate


def drive(
    sim: SimulatedModel,
    problem_id: str,
    sample: int,
    validate: Callable[[str], str] | None = None,
    *,
    max_iterations: int = 10,
    max_turns: int = 20,
    failing_types: Collection[str] = (),
    tools: tuple[ToolSpec, ...] = TOOLS,
) -> Transcript:
    """One agent chain (see the module docstring)."""
    validate = validate or canned_feedback(sim, problem_id)
    messages = [ChatMessage("system", "You write templates."), ChatMessage("user", "Write it.")]
    out = Transcript()
    previous: tuple[str, str] | None = None
    lookups: list[str] = []
    for turn in range(1, max_turns + 1):
        last = turn == max_turns or len(out.validated) >= max_iterations
        forced = SUBMIT if last else None
        context = CallContext(
            problem_id,
            sample,
            len(out.validated) + 1,
            "yaml",
            previous_template=previous[0] if previous else None,
            previous_feedback=previous[1] if previous else None,
            max_iterations=max_iterations,
            turn=turn,
            schema_lookups=tuple(lookups),
        )
        config = GenerateConfig(1.0, 4096, tools=tools, tool_choice=forced)
        reply = asyncio.run(sim.generate(messages, config, context))
        out.outputs.append(reply)
        messages.append(ChatMessage("assistant", reply.text, tool_calls=tuple(reply.tool_calls)))
        if not reply.tool_calls:
            out.steps.append(Step(turn, "reply", forced=forced))
            return out
        step = Step(turn, reply.tool_calls[0].name, forced=forced)
        out.steps.append(step)
        for call in reply.tool_calls:
            args = call.parsed()
            assert args is not None, call.arguments
            error, result = False, ""
            if call.name == VALIDATE:
                step.template = args["template"]
                result = step.feedback = validate(step.template)
                out.validated.append((step.template, result))
                previous, lookups = (step.template, result), []
            elif call.name == LOOKUP:
                kind = args["resource_type"]
                step.types += (kind,)
                lookups.append(kind)
                error = kind in failing_types
                result = f"unknown resource type {kind}" if error else f"schema of {kind}"
            else:
                assert call.name == SUBMIT
                out.submitted = step.template = args["template"]
                return out
            messages.append(
                ChatMessage(
                    "tool", result, tool_call_id=call.id, tool_name=call.name, is_error=error
                )
            )
    return out


def agent_model(
    settings: SimulatorSettings = ALWAYS_WRONG,
    policy: AgentPolicy = DEFAULT_POLICY,
    problems: dict = PAPER33,
) -> SimulatedModel:
    return SimulatedModel("default", problems=problems, settings=settings, agent=policy)


def chains(sim: SimulatedModel, samples: int, **kwargs) -> list[tuple[str, Transcript]]:
    return [(pid, drive(sim, pid, s, **kwargs)) for pid in SMALL for s in range(samples)]


def wilson(hits: int, n: int, z: float = 3.0) -> tuple[float, float]:
    """A Wilson score interval (z = 3: about 99.7 %)."""
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# ---- the policy --------------------------------------------------------------------------------


def test_the_simulator_says_it_supports_tools() -> None:
    assert SimulatedModel.supports_tools


def test_it_validates_before_submitting_most_of_the_time() -> None:
    sim = agent_model(policy=AgentPolicy(skip_validation_probability=0.05))
    runs = chains(sim, samples=20)
    assert all(t.submitted is not None for _, t in runs)  # every chain ends in a submission
    validated = sum(t.submission_validated for _, t in runs)
    low, _high = wilson(validated, len(runs))
    # about 0.05 per template written, two to three templates a chain: ~ 0.9 validated
    assert low > 0.75 and validated < len(runs), (validated, len(runs))
    for _, t in runs:
        # a submission after a clean validate is that template; validate comes before it
        if t.validated and t.validated[-1][1] == "no findings":
            assert t.submitted == t.validated[-1][0]
            assert t.steps[-2].tool == VALIDATE
    careful = agent_model(policy=AgentPolicy(skip_validation_probability=0.0))
    assert all(t.submission_validated for _, t in chains(careful, samples=1))


def test_lookups_precede_lookup_rule_fixes_and_raise_their_fix_rate() -> None:
    # hard fixes (0.1) that a lookup makes five times as likely; a lookup half the time
    settings = SimulatorSettings(
        clean_start_probability=0.0,
        introduce_probability=0.0,
        fix_probability=0.9,
        fix_probability_by_rule=dict.fromkeys(LOOKUP_RULES, 0.1),
    )
    policy = AgentPolicy(
        skip_validation_probability=0.0, lookup_probability=0.5, lookup_fix_factor=5
    )
    sim = agent_model(settings, policy)
    tally = {True: [0, 0], False: [0, 0]}  # looked up -> [fixed, tried]
    for pid, t in chains(sim, samples=12):
        problem = sim.problem(pid)
        written = [s for s in t.steps if s.template is not None]
        for before, after in itertools.pairwise(written):
            looked = {k for s in t.steps if before.turn < s.turn < after.turn for k in s.types}
            old = sim.decode(pid, before.template, "yaml")
            new = sim.decode(pid, after.template, "yaml")
            for m in old:
                if m.rule_id not in LOOKUP_RULES or resource_type(problem, m) is None:
                    continue
                helped = resource_type(problem, m) in looked
                tally[helped][1] += 1
                tally[helped][0] += m not in new
    (fixed_with, n_with), (fixed_without, n_without) = tally[True], tally[False]
    assert n_with >= 80 and n_without >= 80, tally
    with_low, _ = wilson(fixed_with, n_with)
    _, without_high = wilson(fixed_without, n_without)
    assert with_low > without_high, tally  # about 0.5 against 0.1


def test_every_lookup_rule_finding_gets_its_schema_looked_up_first() -> None:
    sim = agent_model(policy=AgentPolicy(lookup_probability=1.0, skip_validation_probability=0.0))
    seen = 0
    for pid, t in chains(sim, samples=6):
        problem = sim.problem(pid)
        for i, step in enumerate(t.steps):
            if step.tool != VALIDATE or step.feedback == "no findings" or step.forced:
                continue
            named = {
                resource_type(problem, m)
                for m in sim.decode(pid, step.template, "yaml")
                if m.rule_id in LOOKUP_RULES
            } - {None}
            if named and i + 1 < len(t.steps) and not t.steps[i + 1].forced:
                seen += 1
                assert t.steps[i + 1].tool == LOOKUP and set(t.steps[i + 1].types) == named
    assert seen >= 40


def test_a_failed_lookup_does_not_help() -> None:
    settings = SimulatorSettings(
        clean_start_probability=0.0,
        introduce_probability=0.0,
        fix_probability_by_rule=dict.fromkeys(LOOKUP_RULES, 0.1),
    )
    policy = AgentPolicy(
        skip_validation_probability=0.0, lookup_probability=1.0, lookup_fix_factor=10
    )
    sim = agent_model(settings, policy)
    every_type = {resource_type(sim.problem(p), m) for p in PAPER33 for m in sim.problem(p).sites}

    def fixes(failing: Collection[str]) -> tuple[int, int]:
        hits = n = 0
        for pid, t in chains(sim, samples=3, failing_types=failing):
            written = [s.template for s in t.steps if s.template is not None]
            for before, after in itertools.pairwise(written):
                old = sim.decode(pid, before, "yaml")
                new = sim.decode(pid, after, "yaml")
                tried = [m for m in old if m.rule_id in LOOKUP_RULES]
                n += len(tried)
                hits += sum(m not in new for m in tried)
        return hits, n

    ok, failed = fixes(()), fixes(every_type)
    assert ok[0] / ok[1] > 0.9  # 0.1 x 10
    assert failed[0] / failed[1] < 0.3  # the base 0.1


def test_a_forced_submission_is_honoured() -> None:
    sim = agent_model(policy=AgentPolicy(skip_validation_probability=0.0))
    for pid in SMALL[:6]:
        # forced at the first turn: the draft; after the first validate: the validated template
        first = drive(sim, pid, 0, max_turns=1)
        assert [s.tool for s in first.steps] == [SUBMIT] and first.steps[0].forced == SUBMIT
        once = drive(sim, pid, 0, max_iterations=1)
        assert once.steps[0].tool == VALIDATE
        assert once.submitted == once.validated[0][0]
        assert [s.tool for s in once.steps][-1] == SUBMIT
        assert len(once.outputs[-1].tool_calls) == 1


def test_the_agent_calls_only_offered_tools() -> None:
    sim = agent_model()
    no_lookup = tuple(t for t in TOOLS if t.name != LOOKUP)
    only_submit = tuple(t for t in TOOLS if t.name == SUBMIT)
    for pid in SMALL[:4]:
        t = drive(sim, pid, 0, tools=no_lookup)
        assert LOOKUP not in {s.tool for s in t.steps} and t.submitted is not None
        t = drive(sim, pid, 0, tools=only_submit)
        assert [s.tool for s in t.steps] == [SUBMIT] and not t.validated
    # no tool it can use: the template in its text is the submission (the contract's rule)
    only_lookup = tuple(t for t in TOOLS if t.name == LOOKUP)
    t = drive(sim, SMALL[0], 0, tools=only_lookup)
    assert t.steps[-1].tool == "reply" and "```yaml" in t.outputs[-1].text


def test_calls_carry_unique_ids_json_arguments_and_usage() -> None:
    sim = agent_model()
    for pid, t in chains(sim, samples=1):
        ids = [c.id for o in t.outputs for c in o.tool_calls]
        assert len(ids) == len(set(ids)), pid
        for o in t.outputs:
            assert all(c.parsed() is not None for c in o.tool_calls)
            assert o.input_tokens and o.output_tokens and o.request_id
            assert "not an LLM" in o.text


def test_deterministic_per_seed_and_chain() -> None:
    def calls(seed: int, sample: int) -> list[list[tuple[str, str, str]]]:
        sim = agent_model(SimulatorSettings(seed=seed, clean_start_probability=0.0))
        t = drive(sim, SMALL[1], sample)
        return [[(c.id, c.name, c.arguments) for c in o.tool_calls] for o in t.outputs]

    assert calls(0, 0) == calls(0, 0)
    assert calls(0, 0) != calls(0, 1)
    assert calls(0, 0) != calls(1, 0)


def test_state_comes_from_the_messages_when_the_context_lacks_it() -> None:
    """A harness that sends only the transcript (no previous_* in the context) gets the same
    chain: the last validate result in the messages is the state."""
    sim = agent_model()
    full = drive(sim, SMALL[2], 0)
    messages = [ChatMessage("system", "s"), ChatMessage("user", "u")]
    validate = canned_feedback(sim, SMALL[2])
    for turn, expected in enumerate(full.outputs, start=1):
        validated = sum(1 for m in messages if m.tool_name == VALIDATE)
        context = CallContext(SMALL[2], 0, validated + 1, "yaml", turn=turn)
        reply = asyncio.run(sim.generate(messages, GenerateConfig(1.0, 4096, tools=TOOLS), context))
        assert reply.tool_calls == expected.tool_calls
        messages.append(ChatMessage("assistant", reply.text, tool_calls=tuple(reply.tool_calls)))
        for call in reply.tool_calls:
            args = call.parsed() or {}
            text = validate(args["template"]) if call.name == VALIDATE else "schema"
            messages.append(ChatMessage("tool", text, tool_call_id=call.id, tool_name=call.name))


def test_with_real_cfn_lint_feedback(warm_linter: WarmLinter) -> None:
    sim = agent_model(policy=AgentPolicy(skip_validation_probability=0.0))
    for pid in SMALL[:3]:
        for sample in range(2):
            t = drive(sim, pid, sample, lint_feedback(warm_linter, pid))
            assert t.submitted is not None and t.validated
            if t.validated[-1][1] == "no findings":
                assert warm_linter.lint(t.submitted) == []


def test_tools_off_is_the_classic_simulator() -> None:
    """Without tools a call is the fixed loop's reply, unchanged by the agent code."""
    sim = agent_model(problems=SMOKE)
    pid = sorted(SMOKE)[0]
    reply = asyncio.run(
        sim.generate(
            [ChatMessage("user", "u")], GenerateConfig(1.0, 4096), CallContext(pid, 0, 1, "yaml")
        )
    )
    assert not reply.tool_calls and "```yaml" in reply.text


# ---- the profile's agent section ---------------------------------------------------------------


def test_profiles_carry_an_agent_policy() -> None:
    default = load_profile("default").agent
    assert default.source == "profile" and set(default.lookup_rules) == set(LOOKUP_RULES)
    truth = load_profile("synthetic-truth").agent
    assert truth.skip_validation_probability > default.skip_validation_probability
    assert load_profile("synthetic-example").agent == DEFAULT_POLICY  # calibrated: the default


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"lookup_probability": 1.5}, "agent.lookup_probability"),
        ({"lookup_fix_factor": "big"}, "agent.lookup_fix_factor"),
        ({"lookup_rules": "E3002"}, "agent.lookup_rules"),
        ({"skip": 0.1}, "unknown key 'skip'"),
    ],
)
def test_a_bad_agent_section_is_one_clear_line(tmp_path: Path, section: dict, says: str) -> None:
    data = yaml.safe_load((ROOT / "conf/model/simulator/default.yaml").read_text())
    data["agent"] = section
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=says) as caught:
        load_profile(str(path))
    assert "\n" not in str(caught.value)
