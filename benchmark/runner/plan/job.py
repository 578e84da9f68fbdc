"""One job's plan: chains, calls, tokens and cost, expected and at most, before any call.

Expected figures come from a simulator profile's chain model (`simulator/chains.py`): for each
problem `planning.draws` chains are drawn with the job's iteration limit, clean rule and
feedback design, giving the share of chains that reach each iteration and the findings each
repair turn feeds back. A simulated job is planned with its own profile; a real model with
`planning.profile` (the hand-set default unless a profile calibrated on that model is given).

Each call's prompt is rendered by the loop's own code (`benchmark.loop.prompts`): the generation
prompt with the problem's request; a repair with the previous template and feedback, alone
(stateless) or after the whole history (conversation). A reply is the problem's reference
template in the prompt set's output format in one fence (a problem without one: the others'
mean length); the feedback is rendered by the design from real findings (`findings.py`).

Tokens: characters / `planning.chars_per_token` (neither SDK counts offline: Anthropic's
`count_tokens` is an API call, OpenAI's SDK has none). Prompt caching follows each provider's
rules: Anthropic caches where the harness marks a prefix (`prompt_cache.PromptCache`, the
code that marks the real requests), reading the longest cached prefix within 20 blocks of a
mark; OpenAI caches prompts of 1,024 tokens and more by itself, read in steps of 128 tokens,
here only where a conversation resends its previous prompt, and not in batch mode (its cache
lives minutes, a batch round can take hours). Reads across a problem's samples are not counted
(they start together). Costs are `pricing.tokens_cost` on the expected usage, online and at
batch prices (with batch mode's cache TTL: 1 hour unless fixed).

Reasoning (an ASSUMPTION, labelled so): a call at `model.effort` / `model.thinking` spends the
reasoning tokens the planning profile's hand-set `effort` section gives that level
(`simulator/effort.py`), its reply grows by the level's output multiplier, and a first
generation's chance of a mistake moves by its `mistakes` multiplier. Reasoning is output (as
providers bill it), so it is in the output tokens and the cost; a call's output is capped at
`model.max_tokens` (a note says where the assumed reasoning would not fit). A profile without
an effort section plans no reasoning.

Maximum: every chain runs to the iteration limit, every reply is `model.max_tokens` long,
every feedback as long as the most findings any drawn chain fed back (rendered from the
longest of the draws), prompts counted generously (3 characters a token), and every input
token billed at the highest rate it could be (a cache write where caching is on). Retries are
not counted: a failed request is not billed (a timed-out one may be, by some providers), and
neither are response-cache hits (a rerun costs less).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.config import Settings
from benchmark.loop.extract import extract_template, keep_template
from benchmark.loop.prompts import generation_messages, repair_messages
from benchmark.models.base import ChatMessage
from benchmark.models.batch import BATCH_WIRES
from benchmark.models.pricing import Price, PriceBasis
from benchmark.models.prompt_cache import CHARS_PER_TOKEN as GENEROUS_CHARS_PER_TOKEN
from benchmark.models.prompt_cache import PromptCache, Ttl
from benchmark.problems.dataset import Problem
from benchmark.runner.factory import prompt_cache
from benchmark.runner.plan.findings import FeedbackSizer
from benchmark.runner.plan.problems import attemptable_problems, written_reply
from benchmark.runner.plan.token_usage import Usage, anthropic_usage, count_tokens, openai_usage
from benchmark.runner.prices import model_price, price_notes
from benchmark.simulator.chains import ChainProcess, ProblemShape, problem_shapes
from benchmark.simulator.effort import NO_EFFECT, EffortLevel
from benchmark.simulator.model import difficulty_of
from benchmark.simulator.profile import load_profile


@dataclass
class Bounds:
    """Expected and maximum of one quantity (None: not known, e.g. a cost without a price)."""

    expected: float | None
    maximum: float | None

    def as_dict(self, digits: int = 1) -> dict[str, float | None]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, digits)

        return {"expected": r(self.expected), "maximum": r(self.maximum)}


@dataclass
class JobPlan:
    job_id: int
    model: str
    provider: str
    simulated: bool
    prompt_set: str
    protocol: str
    max_iterations: int
    samples: int
    dataset: str
    problems: int
    chains: int
    calls: Bounds
    input_tokens: Bounds
    output_tokens: Bounds
    cached_tokens: dict[str, float]  # basis -> expected cache reads
    cache_write_tokens: dict[str, float]  # basis -> expected cache writes
    cost_usd: dict[str, Bounds]  # basis -> cost; a basis the provider lacks is absent
    billed: PriceBasis  # the basis this job is billed on (model.batch)
    profile: str  # the profile behind the expectation
    profile_path: str
    per_iteration: list[dict[str, Any]]
    generation_input_tokens: dict[str, float]  # problem id -> tokens of its generation call
    overrides: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    effort: str | None = None  # model.effort
    thinking: str | int | None = None  # model.thinking
    reasoning_tokens: float | None = None  # expected, ASSUMED (the profile's effort section)
    reasoning_per_call: int | None = None  # ... per call; None: the profile does not model it
    priced: bool = True  # False: no price for the model, its cost is null

    @property
    def cost(self) -> Bounds:
        """The cost on the basis this job is billed on."""
        return self.cost_usd[self.billed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "overrides": self.overrides,
            "model": self.model,
            "provider": self.provider,
            "simulated": self.simulated,
            "prompt_set": self.prompt_set,
            "protocol": self.protocol,
            "max_iterations": self.max_iterations,
            "samples": self.samples,
            "dataset": self.dataset,
            "problems": self.problems,
            "chains": self.chains,
            "profile": self.profile,
            "profile_path": self.profile_path,
            "calls": self.calls.as_dict(),
            "input_tokens": self.input_tokens.as_dict(0),
            "output_tokens": self.output_tokens.as_dict(0),
            "cached_tokens": {k: round(v) for k, v in self.cached_tokens.items()},
            "cache_write_tokens": {k: round(v) for k, v in self.cache_write_tokens.items()},
            "cost_usd": {k: v.as_dict(4) for k, v in self.cost_usd.items()},
            "billed": self.billed,
            "per_iteration": self.per_iteration,
            "generation_input_tokens": {
                k: round(v, 2) for k, v in self.generation_input_tokens.items()
            },
            "notes": self.notes,
            "effort": self.effort,
            "thinking": self.thinking,
            "reasoning_tokens_assumed": {
                "expected": None if self.reasoning_tokens is None else round(self.reasoning_tokens),
                "per_call": self.reasoning_per_call,
            },
            "priced": self.priced,
        }


# ---- the profile's chains --------------------------------------------------------------------


@dataclass(frozen=True)
class DrawnChains:
    """Per problem and iteration: the share of chains that reach it, and per drawn chain the
    findings each attempt would feed back (0 where it is clean, last, or never reached)."""

    reach: np.ndarray  # problems x iterations
    fed_back: np.ndarray  # chains x iterations: findings in the feedback of that attempt
    reached: np.ndarray  # chains x iterations
    problem_index: np.ndarray  # chain -> problem
    weights: np.ndarray  # problems x rules: the rules a finding is drawn from
    rules: tuple[str, ...]


def draw_chains(
    settings: Settings,
    problems: Sequence[Problem],
    profile_ref: str,
    effort: EffortLevel = NO_EFFECT,
) -> DrawnChains:
    """The profile's chains; `effort` moves the chance of a clean generation."""
    profile = load_profile(profile_ref)
    options = settings.model.simulator if settings.model.provider == "simulated" else {}
    process = ChainProcess.from_profile(profile, options)
    if effort.mistakes != 1.0:
        clean = {k: effort.clean_chance(v) for k, v in process.clean.items()}
        process = dataclasses.replace(process, clean=clean)
    with_sites = {s.id: s for s in problem_shapes(problems, settings.lint.as_of)}
    shapes = [with_sites.get(p.id) or ProblemShape(p.id, difficulty_of(p), None) for p in problems]
    bound = process.bind(shapes)
    draws = settings.planning.draws
    index = np.repeat(np.arange(len(shapes)), draws)
    iterations = settings.loop.max_iterations
    named = "E" if settings.prompts.feedback == "errors-only" else "EW"
    chains = bound.simulate(
        index,
        iterations,
        np.random.default_rng(settings.planning.seed),
        settings.loop.clean_when,
        named,
    )
    shown = chains.errors + (0 if named == "E" else chains.warnings)
    not_last = np.arange(iterations) < iterations - 1
    fed = np.where(chains.reached & ~chains.clean & not_last[None, :], shown, 0)
    reach = chains.reached.reshape(len(shapes), draws, iterations).mean(axis=1)
    weights = bound.generation[:, : len(process.rules)]
    return DrawnChains(reach, fed, chains.reached, index, weights, process.rules)


# ---- what a call looks like ------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemText:
    problem: Problem
    reply: str  # a reply: the template in one fence
    template: str  # what the loop extracts from it and sends back


def problem_texts(settings: Settings, problems: Sequence[Problem]) -> list[ProblemText]:
    """Per problem, the reply a model is expected to write (`written_reply`; a problem without a
    reference: the others' mean length)."""

    fmt = settings.prompts.output_format
    written: dict[str, str] = {}
    for p in problems:
        text = written_reply(p, fmt)
        if text is not None:
            written[p.id] = text
    cpt = settings.planning.chars_per_token
    mean = (
        int(np.mean([len(t) for t in written.values()]))
        if written
        else int(settings.model.table_max_tokens() * cpt)
    )
    out = []
    for p in problems:
        template = written.get(p.id, "#" * mean + "\n")
        reply = f"```{fmt}\n{template}```\n"
        kept = keep_template(extract_template(reply), settings.prompts.template_as)
        out.append(ProblemText(p, reply, kept.template))
    return out


def chain_messages(
    settings: Settings, text: ProblemText, feedback_chars: Sequence[float]
) -> list[list[ChatMessage]]:
    """The messages of a chain's calls 1..len(feedback_chars) + 1, the s-th repair told a
    feedback of feedback_chars[s - 1] characters (rendered by the loop's prompts code)."""
    prompts, protocol = settings.prompts, settings.loop.protocol
    messages = generation_messages(prompts, text.problem)
    path = [messages]
    for chars in feedback_chars:
        feedback = "·" * round(chars)
        messages = repair_messages(prompts, protocol, messages, text.reply, text.template, feedback)
        path.append(messages)
    return path


# ---- the plan --------------------------------------------------------------------------------


def profile_ref(settings: Settings) -> str:
    """The simulator profile a job is planned with: a simulated model's own, else
    `planning.profile`."""
    model = settings.model
    if model.provider == "simulated":
        return str(model.simulator.get("profile") or model.name)
    return settings.planning.profile


def feedback_sizer(
    settings: Settings, rules: Sequence[str], weights: np.ndarray, texts: Sequence[ProblemText]
) -> FeedbackSizer:
    """The sizer of the feedback a job's drawn chains would be shown (its design and problems)."""
    return FeedbackSizer(
        settings.prompts.feedback,
        f"template.{settings.prompts.output_format}",
        rules,
        weights,
        [t.template for t in texts],
        [t.problem.prompt.strip() for t in texts],
        settings.planning.seed,
    )


def _bases(settings: Settings) -> list[PriceBasis]:
    return ["online", "batch"] if settings.model.provider in BATCH_WIRES else ["online"]


def plan_job(settings: Settings, job_id: int = 0, overrides: Sequence[str] = ()) -> JobPlan:
    """The plan of one job's configuration (see the module docstring)."""

    model, loop = settings.model, settings.loop
    simulated = model.provider == "simulated"
    problems, notes = attemptable_problems(settings)
    ref = profile_ref(settings)
    profile = load_profile(ref)
    effort = profile.effort.level(model.effort, model.thinking)
    drawn = draw_chains(settings, problems, ref, effort)
    texts = problem_texts(settings, problems)
    cpt = settings.planning.chars_per_token
    iterations, samples = loop.max_iterations, loop.samples
    sizer = feedback_sizer(settings, drawn.rules, drawn.weights, texts)
    feedback = _feedback_chars(drawn, sizer)
    price = model_price(settings)
    notes.extend(price_notes(settings, price))
    bases = _bases(settings)
    cache = prompt_cache(settings) if model.provider == "anthropic" else None
    reasoning = float(effort.reasoning_tokens or 0)
    cap = model.table_max_tokens()  # `auto` resolved by the rule and the capability table
    wanted = [len(t.reply) / cpt * effort.output + reasoning for t in texts]
    reply_tokens = [min(w, cap) for w in wanted]
    if reasoning and max(wanted) > cap:
        notes.append(
            f"{model.id} effort={model.effort}: assumed reasoning ({reasoning:,.0f} tokens) and "
            f"reply would pass max_tokens={cap}: replies may be cut (max_tokens=auto sizes it)"
        )
    reasoning_expected = 0.0

    expected = {basis: Usage() for basis in bases}
    cost_expected: dict[str, float | None] = dict.fromkeys(bases, 0.0)
    per_iteration = [
        {"iteration": t, "chains": 0.0, "input_tokens": 0.0, "output_tokens": 0.0}
        for t in range(1, iterations + 1)
    ]
    for p, text in enumerate(texts):
        chains_of_p = drawn.problem_index == p
        for t in range(1, iterations + 1):
            share = float(drawn.reach[p, t - 1])
            if share == 0.0:
                continue
            reached = chains_of_p & drawn.reached[:, t - 1]
            history = feedback[reached, : t - 1].mean(axis=0) if t > 1 else np.zeros(0)
            path = chain_messages(settings, text, history)
            weight = share * samples
            for basis in bases:
                call = _usage(settings, path, cache, basis)[-1]
                call.output = reply_tokens[p]
                expected[basis] = expected[basis] + call.scaled(weight)
                cost = call.cost(price.basis(basis) if price else None)
                previous = cost_expected[basis]
                cost_expected[basis] = (
                    None if cost is None or previous is None else previous + weight * cost
                )
            reasoning_expected += weight * min(reasoning, cap)
            row = per_iteration[t - 1]
            row["chains"] += weight
            row["input_tokens"] += weight * count_tokens(path[-1], cpt)
            row["output_tokens"] += weight * reply_tokens[p]

    maximum = _maximum(settings, texts, drawn, sizer, price, bases)
    for row in per_iteration:
        n = row["chains"]
        row["input_tokens"] = round(row["input_tokens"] / n, 1) if n else None
        row["output_tokens"] = round(row["output_tokens"] / n, 1) if n else None
        row["chains"] = round(n, 2)
    # batch mode where the provider has it (elsewhere the job refuses model.batch at start)
    billed: PriceBasis = "batch" if model.batch and "batch" in bases else "online"
    first = expected[billed]
    chains = len(problems) * samples
    return JobPlan(
        job_id=job_id,
        model=model.id,
        provider=model.provider,
        simulated=simulated,
        prompt_set=settings.prompts.name,
        protocol=loop.protocol,
        max_iterations=iterations,
        samples=samples,
        dataset=settings.dataset.name,
        problems=len(problems),
        chains=chains,
        calls=Bounds(float(drawn.reach.sum() * samples), float(chains * iterations)),
        input_tokens=Bounds(first.input, maximum["input"]),
        output_tokens=Bounds(first.output, maximum["output"]),
        cached_tokens={b: u.cached for b, u in expected.items()},
        cache_write_tokens={b: u.written for b, u in expected.items()},
        cost_usd={b: Bounds(cost_expected[b], maximum["cost"][b]) for b in bases},
        billed=billed,
        profile=profile.name,
        profile_path=str(profile.path),
        per_iteration=per_iteration,
        generation_input_tokens={
            t.problem.id: count_tokens(generation_messages(settings.prompts, t.problem), cpt)
            for t in texts
        },
        overrides=list(overrides),
        notes=notes,
        effort=model.effort,
        thinking=model.thinking,
        reasoning_tokens=reasoning_expected if effort.reasoning_tokens is not None else None,
        reasoning_per_call=effort.reasoning_tokens,
        priced=price is not None,
    )


def _feedback_chars(drawn: DrawnChains, sizer: FeedbackSizer) -> np.ndarray:
    """Characters of each drawn attempt's feedback (0 where none is fed back)."""
    out = np.zeros(drawn.fed_back.shape)
    for p in range(drawn.reach.shape[0]):
        rows = drawn.problem_index == p
        block = drawn.fed_back[rows]
        ks = np.unique(block)
        sizes = np.array([sizer.size(p, int(k)) for k in ks])
        out[rows] = sizes[np.searchsorted(ks, block)]
    return out


def _usage(
    settings: Settings,
    path: Sequence[Sequence[ChatMessage]],
    cache: PromptCache | None,
    basis: PriceBasis,
) -> list[Usage]:
    """Per call of the path: tokens, and what the provider's prompt cache reads and writes."""
    batch = basis == "batch"
    cpt = settings.planning.chars_per_token
    provider = settings.model.provider
    if cache is not None and cache.enabled:
        return anthropic_usage(
            path,
            cache,
            batch=batch,
            ttl=_ttl(settings, batch),
            max_iterations=settings.loop.max_iterations,
            chars_per_token=cpt,
        )
    if provider == "openai":
        return openai_usage(path, settings, batch=batch)
    return [Usage(count_tokens(m, cpt)) for m in path]


def _ttl(settings: Settings, batch: bool) -> Ttl:
    """The cache TTL the plan assumes: 5 minutes online, 1 hour in batch mode under `auto`
    (its choice before any round was seen; a faster sweep is billed less)."""
    ttl = settings.model.prompt_cache_ttl
    if ttl != "auto":
        return ttl
    return "1h" if batch else "5m"


def _maximum(
    settings: Settings,
    texts: Sequence[ProblemText],
    drawn: DrawnChains,
    sizer: FeedbackSizer,
    price: Price | None,
    bases: Sequence[PriceBasis],
) -> dict[str, Any]:
    """Every chain to the iteration limit, every reply max_tokens long, every feedback the
    longest drawn; counted generously; every input token at its highest possible rate."""
    model, loop, prompts = settings.model, settings.loop, settings.prompts
    cpt = GENEROUS_CHARS_PER_TOKEN
    most = max(int(drawn.fed_back.max()), 1)
    reply = model.table_max_tokens()
    total_in = 0.0
    for p, text in enumerate(texts):
        longest = "·" * round(sizer.size(p, most, longest=True))
        generation = count_tokens(generation_messages(prompts, text.problem), cpt)
        if loop.protocol == "stateless":
            repair = repair_messages(prompts, "stateless", [], "", "", longest)
            per_repair = count_tokens(repair, cpt) + reply * prompts.repair.count("{template}")
            total_in += generation + (loop.max_iterations - 1) * per_repair
        else:
            turn = repair_messages(prompts, "conversation", [], "", "", longest)
            growth = (
                reply
                + count_tokens(turn, cpt)
                + reply * prompts.repair_followup.count("{template}")
            )
            # call t holds the generation prompt and t - 1 turns of growth
            turns = loop.max_iterations * (loop.max_iterations - 1) / 2
            total_in += loop.max_iterations * generation + turns * growth
    samples = loop.samples
    usage_in = total_in * samples
    calls = len(texts) * samples * loop.max_iterations
    usage_out = float(calls * reply)
    costs: dict[str, float | None] = {}
    for basis in bases:
        rate = price.basis(basis) if price is not None else None
        # a cache write where one can be billed: Anthropic where the harness marks prefixes,
        # OpenAI (it caches by itself) where its row bills writes
        caching = model.provider == "anthropic" and model.prompt_cache == "auto"
        one_hour = caching and _ttl(settings, basis == "batch") == "1h"
        caching = caching or (model.provider == "openai" and bool(rate and rate.cache_write))
        worst = Usage(
            usage_in,
            usage_out,
            0.0,
            usage_in if caching else 0.0,
            usage_in if one_hour else 0.0,
        )
        costs[basis] = worst.cost(rate)
    return {"input": usage_in, "output": usage_out, "cost": costs}
