"""An agent job's plan (`loop.protocol=agent`): tool turns, tokens and cost, before any call.

The chains come from the planning profile's chain model (`simulator/chains.py`), as for the
fixed loops, and are walked turn by turn with the profile's `agent` policy
(`simulator/agent.py`, an ASSUMPTION set by hand; the default policy for a profile without
one): each template written is a turn that validates it, or submits it unvalidated with
`skip_validation_probability`; after a validate whose feedback shows findings of the policy's
`lookup_rules` (E3002/E3003/E3030), a lookup turn with `lookup_probability`, one
get_resource_schema call per such finding, which multiplies the chance of fixing those
findings by `lookup_fix_factor` (the chain model takes the expected chance: a mix of
boosted and plain fixes by `lookup_probability`); a validate that finds nothing, or the
`loop.max_iterations`-th validate, is followed by a submit turn. A chain stops at
`loop.max_turns` turns.

Each turn resends the whole transcript: the opening (the prompt set's system prompt and agent
text, and the tools' definitions as the loop offers them, TOOLS_CHARS), then every
earlier turn's reply (a template call: the template as JSON text; a lookup: LOOKUP_CALL_CHARS
a call) and tool results (a validate: the job's feedback design rendered from real findings,
`findings.py`; a lookup: the resource's cfn-lint schema, its properties, required and
definitions as compact JSON, averaged over the problem's resource types); every result is
capped at `loop.tool_result_max_chars`. Prompt caching: OpenAI's automatic cache reads each
turn's previous prompt, a prefix of it (from 1,024 tokens, in steps of 128; online only, as
for the conversation protocol); no other provider's cache read is planned (Anthropic's
depends on where the agent loop marks its turns), so their expected cost is on the high side.

Maximum: every chain runs `loop.max_turns` turns, every reply `model.max_tokens` long,
every tool result at its cap, counted generously, every input token at its highest rate.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from benchmark.config import Settings
from benchmark.loop.agent_tools import TOOLS
from benchmark.loop.prompts import agent_messages
from benchmark.models.batch import BATCH_WIRES
from benchmark.models.pricing import Price, PriceBasis
from benchmark.models.prompt_cache import CHARS_PER_TOKEN as GENEROUS_CHARS_PER_TOKEN
from benchmark.problems.dataset import Problem
from benchmark.runner.plan.findings import FeedbackSizer
from benchmark.runner.plan.job import (
    Bounds,
    JobPlan,
    feedback_sizer,
    problem_texts,
    profile_ref,
)
from benchmark.runner.plan.problems import attemptable_problems
from benchmark.runner.plan.token_usage import OPENAI_CACHE_STEP, OPENAI_MIN_CACHED, Usage
from benchmark.runner.prices import model_price, price_notes
from benchmark.simulator.agent import AgentPolicy
from benchmark.simulator.chains import ChainProcess, ProblemShape, problem_shapes
from benchmark.simulator.effort import EffortLevel
from benchmark.simulator.model import difficulty_of
from benchmark.simulator.profile import Profile, load_profile
from benchmark.simulator.template import parse_template, resource_schema

# the three tools' names, descriptions and JSON schemas, as the loop offers them
TOOLS_CHARS = sum(len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in TOOLS)
LOOKUP_CALL_CHARS = 80  # one get_resource_schema call: its name and {"resource_type": ...}
NOTE_CHARS = 60  # a reply's own words beside its tool call
NO_FINDINGS = "no findings"


@dataclass
class AgentJobPlan(JobPlan):
    """A job plan with the agent's expected tool use per chain (plan.json: `agent`)."""

    agent: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "agent": self.agent}


@dataclass(frozen=True)
class AgentChains:
    """Drawn chains for the agent, per chain and iteration (chains x max_iterations)."""

    reached: np.ndarray  # template t is written (the fixed loop's attempt t)
    clean: np.ndarray  # ... and validates with no findings
    shown: np.ndarray  # findings its validate feeds back
    lookups: np.ndarray  # findings of the lookup rules in that feedback
    skip: np.ndarray  # submitted without validating
    look: np.ndarray  # a lookup turn follows its validate (where it shows lookup findings)
    problem_index: np.ndarray
    rules: tuple[str, ...]  # the profile's rules ...
    weights: np.ndarray  # ... their weight at generation, per problem (problems x rules)


def with_lookups(process: ChainProcess, policy: AgentPolicy) -> ChainProcess:
    """The process whose named fixes of the lookup rules take the agent's expected chance."""
    rules = np.isin(process.rules, policy.lookup_rules)
    p, factor = policy.lookup_probability, policy.lookup_fix_factor

    def mixed(chance: np.ndarray) -> np.ndarray:
        helped = np.minimum(1.0, chance * factor)
        return np.where(rules, p * helped + (1.0 - p) * chance, chance)

    return dataclasses.replace(
        process, fix=mixed(process.fix), persistent_fix=mixed(process.persistent_fix)
    )


def draw_agent_chains(
    settings: Settings,
    problems: Sequence[Problem],
    profile: Profile,
    effort: EffortLevel,
) -> AgentChains:
    options = settings.model.simulator if settings.model.provider == "simulated" else {}
    process = with_lookups(ChainProcess.from_profile(profile, options), profile.agent)
    if effort.mistakes != 1.0:
        clean = {k: effort.clean_chance(v) for k, v in process.clean.items()}
        process = dataclasses.replace(process, clean=clean)
    with_sites = {s.id: s for s in problem_shapes(problems, settings.lint.as_of)}
    shapes = [with_sites.get(p.id) or ProblemShape(p.id, difficulty_of(p), None) for p in problems]
    index = np.repeat(np.arange(len(shapes)), settings.planning.draws)
    rng = np.random.default_rng(settings.planning.seed)
    named = "E" if settings.prompts.feedback == "errors-only" else "EW"
    policy, n = profile.agent, settings.loop.max_iterations
    # validate answers "no findings" only where there is none: the no_findings rule
    bound = process.bind(shapes)
    chains = bound.simulate(index, n, rng, "no_findings", named, track=policy.lookup_rules)
    assert chains.tracked is not None
    shown = chains.errors + (0 if named == "E" else chains.warnings)
    return AgentChains(
        reached=chains.reached,
        clean=chains.clean,
        shown=np.where(chains.clean, 0, shown),
        lookups=chains.tracked,
        skip=rng.random(chains.reached.shape) < policy.skip_validation_probability,
        look=rng.random(chains.reached.shape) < policy.lookup_probability,
        problem_index=index,
        rules=process.rules,
        weights=bound.generation[:, : len(process.rules)],
    )


@cache
def schema_chars(type_name: str) -> int | None:
    """Characters of a resource type's cfn-lint schema (properties, required, definitions)."""
    schema = resource_schema(type_name)
    if not schema:
        return None
    parts = {k: schema.get(k) for k in ("properties", "required", "definitions")}
    return len(json.dumps(parts, separators=(",", ":")))


def lookup_chars(problem: Problem, cap: int) -> float:
    """A lookup's result on this problem: its resource types' schemas, capped, on average."""
    try:
        resources = parse_template(problem.reference_template or "").get("Resources")
    except ValueError:
        resources = None
    types = (
        [r.get("Type") for r in (resources or {}).values() if isinstance(r, dict)]
        if isinstance(resources, dict)
        else []
    )
    sizes = [min(cap, s) for t in types if isinstance(t, str) and (s := schema_chars(t))]
    return float(np.mean(sizes)) if sizes else float(cap)


@dataclass
class Walk:
    """Totals over the drawn chains' turns (unweighted: per drawn chain, summed)."""

    turns: float = 0.0
    validates: float = 0.0
    lookups: float = 0.0
    lookup_turns: float = 0.0
    unvalidated: float = 0.0
    input_chars: float = 0.0
    output_chars: float = 0.0
    cached_tokens: float = 0.0  # OpenAI's automatic prompt cache, online
    template_turns: np.ndarray = field(default_factory=lambda: np.zeros(0))
    template_input: np.ndarray = field(default_factory=lambda: np.zeros(0))


def walk(
    settings: Settings,
    drawn: AgentChains,
    opening: Sequence[float],
    template: Sequence[float],
    lookup: Sequence[float],
    sizer: FeedbackSizer,
) -> list[Walk]:
    """Every drawn chain turn by turn (module docstring); per problem, the totals."""
    loop = settings.loop
    cap, n = loop.tool_result_max_chars, loop.max_iterations
    out = [Walk(template_turns=np.zeros(n), template_input=np.zeros(n)) for _ in opening]
    for c, p in enumerate(drawn.problem_index):
        w = out[p]
        # (input chars, output chars, kind, iteration or lookup calls) of each turn; kinds:
        # validate / skip (a template written, then validated or submitted unvalidated),
        # lookup, submit
        turns: list[tuple[float, float, str, int]] = []
        history = opening[p]
        for k in range(n):
            if not drawn.reached[c, k]:
                break
            reply = NOTE_CHARS + template[p]
            skip = bool(drawn.skip[c, k])
            turns.append((history, reply, "skip" if skip else "validate", k))
            history += reply
            if skip:
                break
            shown = int(drawn.shown[c, k])
            history += min(cap, sizer.size(p, shown)) if shown else len(NO_FINDINGS)
            found = int(drawn.lookups[c, k])
            if shown and k < n - 1 and found and drawn.look[c, k]:
                calls = NOTE_CHARS + found * LOOKUP_CALL_CHARS
                turns.append((history, calls, "lookup", found))
                history += calls + found * lookup[p]
        if turns[-1][2] != "skip":
            turns.append((history, NOTE_CHARS + template[p], "submit", -1))
        if len(turns) > loop.max_turns:  # the last allowed turn is asked for the submission
            chars_in = turns[loop.max_turns - 1][0]
            turns = [
                *turns[: loop.max_turns - 1],
                (chars_in, NOTE_CHARS + template[p], "submit", -1),
            ]
        w.turns += len(turns)
        if settings.model.provider == "openai":
            ends = [t[0] / settings.planning.chars_per_token for t in turns]
            w.cached_tokens += sum(openai_cached(prefix) for prefix in ends[:-1])
        for chars_in, chars_out, kind, value in turns:
            w.input_chars += chars_in
            w.output_chars += chars_out
            if kind in ("validate", "skip"):
                w.template_turns[value] += 1
                w.template_input[value] += chars_in
            w.validates += kind == "validate"
            w.unvalidated += kind == "skip"
            if kind == "lookup":
                w.lookup_turns += 1
                w.lookups += value
    return out


def openai_cached(prefix_tokens: float) -> float:
    """Tokens OpenAI's automatic cache reads of a resent prefix of this many tokens."""
    if prefix_tokens < OPENAI_MIN_CACHED:
        return 0.0
    steps = math.floor((prefix_tokens - OPENAI_MIN_CACHED) / OPENAI_CACHE_STEP)
    return float(OPENAI_MIN_CACHED + OPENAI_CACHE_STEP * steps)


def _maximum(
    settings: Settings,
    opening: Sequence[float],
    bases: Sequence[PriceBasis],
    price: Price | None,
) -> dict[str, Any]:
    """Every chain `loop.max_turns` turns, every reply max_tokens long, every tool result at
    its cap; counted generously; every input token at its highest possible rate."""
    model, loop = settings.model, settings.loop
    cpt, turns = GENEROUS_CHARS_PER_TOKEN, loop.max_turns
    reply = model.table_max_tokens()
    growth = reply + loop.tool_result_max_chars / cpt  # what each turn adds to the next's input
    per_chain = [turns * o / cpt + growth * turns * (turns - 1) / 2 for o in opening]
    usage_in = sum(per_chain) * loop.samples
    usage_out = float(len(opening) * loop.samples * turns * reply)
    costs: dict[str, float | None] = {}
    for basis in bases:
        rate = price.basis(basis) if price is not None else None
        # a cache write where one can be billed (as the fixed loops' maximum, plan/job.py)
        caching = model.provider == "anthropic" and model.prompt_cache == "auto"
        caching = caching or (model.provider == "openai" and bool(rate and rate.cache_write))
        costs[basis] = Usage(usage_in, usage_out, 0.0, usage_in if caching else 0.0).cost(rate)
    return {"input": usage_in, "output": usage_out, "cost": costs}


# ---- the plan --------------------------------------------------------------------------------


def plan_agent_job(
    settings: Settings, job_id: int = 0, overrides: Sequence[str] = ()
) -> AgentJobPlan:
    """The plan of an agent job's configuration (see the module docstring)."""
    model, loop, planning = settings.model, settings.loop, settings.planning
    problems, notes = attemptable_problems(settings)
    simulated = model.provider == "simulated"
    profile = load_profile(profile_ref(settings))
    policy = profile.agent
    effort = profile.effort.level(model.effort, model.thinking)
    drawn = draw_agent_chains(settings, problems, profile, effort)
    texts = problem_texts(settings, problems)
    cpt, cap = planning.chars_per_token, loop.tool_result_max_chars
    sizer = feedback_sizer(settings, drawn.rules, drawn.weights, texts)
    opening = [
        sum(len(m.content) for m in agent_messages(settings.prompts, t.problem)) + TOOLS_CHARS
        for t in texts
    ]
    template = [float(len(json.dumps({"template": t.template}))) for t in texts]
    lookup = [lookup_chars(t.problem, cap) for t in texts]
    walks = walk(settings, drawn, opening, template, lookup, sizer)

    weight = loop.samples / planning.draws  # a drawn chain's share of the job's chains
    turns = sum(w.turns for w in walks) * weight
    reasoning = float(min(effort.reasoning_tokens or 0, model.table_max_tokens()))
    input_tokens = sum(w.input_chars for w in walks) / cpt * weight
    output_tokens = sum(w.output_chars for w in walks) / cpt * weight * effort.output
    output_tokens += turns * reasoning
    price = model_price(settings)
    notes.extend(price_notes(settings, price))
    bases: list[PriceBasis] = ["online", "batch"] if model.provider in BATCH_WIRES else ["online"]
    billed: PriceBasis = "batch" if model.batch and "batch" in bases else "online"
    chains = len(problems) * loop.samples
    maximum = _maximum(settings, opening, bases, price)
    cached = {b: 0.0 for b in bases}
    cached["online"] = sum(w.cached_tokens for w in walks) * weight
    expected = {b: Usage(input_tokens, output_tokens, cached[b]) for b in bases}
    per_chain = {
        "validate_calls": sum(w.validates for w in walks) * weight / chains,
        "schema_lookups": sum(w.lookups for w in walks) * weight / chains,
        "lookup_turns": sum(w.lookup_turns for w in walks) * weight / chains,
        "turns": turns / chains,
        "submitted_unvalidated": sum(w.unvalidated for w in walks) * weight / chains,
    }
    notes.append(
        f"agent (job {job_id}, {profile.name}'s {policy.source} agent policy, an assumption): "
        f"per chain {per_chain['validate_calls']:.1f} validate calls, "
        f"{per_chain['schema_lookups']:.1f} schema lookups, {per_chain['turns']:.1f} turns; "
        + (
            "OpenAI's automatic cache reads planned online"
            if model.provider == "openai"
            else "no prompt-cache read planned"
        )
    )
    per_iteration = []
    template_mean = float(np.mean(template))
    for k in range(loop.max_iterations):
        n = sum(float(w.template_turns[k]) for w in walks)
        chars = sum(float(w.template_input[k]) for w in walks)
        per_iteration.append(
            {
                "iteration": k + 1,
                "chains": round(n * weight, 2),
                "input_tokens": round(chars / n / cpt, 1) if n else None,
                "output_tokens": (
                    round((NOTE_CHARS + template_mean) / cpt * effort.output + reasoning, 1)
                    if n
                    else None
                ),
            }
        )
    return AgentJobPlan(
        job_id=job_id,
        model=model.id,
        provider=model.provider,
        simulated=simulated,
        prompt_set=settings.prompts.name,
        protocol=loop.protocol,
        max_iterations=loop.max_iterations,
        samples=loop.samples,
        dataset=settings.dataset.name,
        problems=len(problems),
        chains=chains,
        calls=Bounds(turns, float(chains * loop.max_turns)),
        input_tokens=Bounds(input_tokens, maximum["input"]),
        output_tokens=Bounds(output_tokens, maximum["output"]),
        cached_tokens=cached,
        cache_write_tokens=dict.fromkeys(bases, 0.0),
        cost_usd={
            b: Bounds(expected[b].cost(price.basis(b) if price else None), maximum["cost"][b])
            for b in bases
        },
        billed=billed,
        profile=profile.name,
        profile_path=str(profile.path),
        per_iteration=per_iteration,
        generation_input_tokens={
            t.problem.id: o / cpt for t, o in zip(texts, opening, strict=True)
        },
        overrides=list(overrides),
        notes=notes,
        effort=model.effort,
        thinking=model.thinking,
        reasoning_tokens=turns * reasoning if effort.reasoning_tokens is not None else None,
        reasoning_per_call=effort.reasoning_tokens,
        priced=price is not None,
        agent={
            "policy": dataclasses.asdict(policy),
            "per_chain": {k: round(v, 3) for k, v in per_chain.items()},
            "max_turns": loop.max_turns,
            "tool_result_max_chars": cap,
        },
    )
