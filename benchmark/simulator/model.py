"""`simulated/<profile>`: an offline, seeded repair SIMULATOR. It is not an LLM.

It exists for demos, tests and power analysis. A chain starts from the problem's own reference
template with a few deliberate mistakes ("mutations") drawn from a catalogue; each mutation is
tied to one cfn-lint rule. On a repair turn the simulator reads the previous attempt's
feedback and fixes mutations whose rule it names, with chances set by its profile, and now and
then introduces new ones. Every reply says it is simulated, and `simulated` is True, so its
rows are never presentable as results about LLMs.

State is never kept in memory. A repair call reads the previous attempt's template and
feedback from its `CallContext` (the loop fills them, and a resumed chain fills them from the
recorded rows); the previous mutations are decoded from that template, which this simulator
rendered. Randomness comes from `random.Random` seeded by a SHA-256 of (seed, problem id,
sample, iteration). So a reply is a function of what is recorded: the same in any process, on
a retry, and after a kill and resume. Token counts are whitespace-separated words.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

from benchmark.models.base import (
    CallContext,
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
    ProblemLike,
)
from benchmark.models.capabilities import EFFORTS, THINKING_MODES, Capabilities
from benchmark.problems.dataset import Problem
from benchmark.problems.difficulty import template_metrics
from benchmark.simulator.behaviour import (
    Behaviour,
    Calibrated,
    Chain,
    HandSet,
    SimProblem,
    SimulatorSettings,
)
from benchmark.simulator.catalogue import find_sites
from benchmark.simulator.effort import NO_EFFECT, EffortError, EffortLevel, EffortModel
from benchmark.simulator.mutations import Mutation, decode, render
from benchmark.simulator.profile import Profile, load_profile
from benchmark.simulator.template import parse_template
from benchmark.simulator.transplant import KIND, transplant_sites


def word_count(text: str) -> int:
    return len(text.split())


class SimulatedModel(ModelAPI):
    """A seeded repair simulator (NOT an LLM), named `simulated/<profile>`.

    Give it a `profile` (see profile.py) or, as tests do, hand-set `settings`; with neither it
    is the hand-set default. `as_of` is the date the linter's clock reads (the Lambda runtime
    rules depend on it); today by default.
    """

    provider = "simulated"
    supports_tools = True  # the agent protocol runs offline (the simulator's agent policy)

    def __init__(
        self,
        name: str,
        *,
        problems: Mapping[str, Problem],
        settings: SimulatorSettings | None = None,
        profile: Profile | None = None,
        options: Mapping[str, Any] | None = None,
        as_of: date | None = None,
    ) -> None:
        super().__init__(name)
        self.profile = profile
        self.effort = profile.effort if profile is not None else EffortModel({})
        self.behaviour: Behaviour
        if profile is not None:
            self.behaviour, self.settings = profile.behaviour(options or {})
        else:
            self.settings = settings or SimulatorSettings()
            self.behaviour = HandSet(self.settings)
        self.as_of = as_of
        self._problems = dict(problems)
        self._parsed: dict[str, SimProblem] = {}

    @classmethod
    def from_options(
        cls,
        name: str,
        problems: Mapping[str, Problem],
        options: Mapping[str, Any],
        as_of: date | None = None,
    ) -> SimulatedModel:
        """The model `simulated/<name>` with `model.simulator` options: the profile is
        `options['profile']` (a name or path) or else the one named `name`. A profile given as
        a path names the model after itself."""
        ref = str(options.get("profile") or name)
        profile = load_profile(ref)
        label = profile.name if options.get("profile") else name
        return cls(label, problems=problems, profile=profile, options=options, as_of=as_of)

    @property
    def simulated(self) -> bool:
        return True

    @property
    def api(self) -> str:
        return "simulated"

    async def fetch_capabilities(self) -> Capabilities:
        """Every effort and thinking mode: the simulator models them all through its profile."""
        return Capabilities(
            efforts=frozenset(EFFORTS), thinking=frozenset(THINKING_MODES), source="simulator"
        )

    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        """The next template of the chain. Of `config` only effort and thinking count (through
        the profile's effort section, simulator/effort.py): the seed is in the settings."""
        started = time.perf_counter()
        try:
            effort = self.effort.level(config.effort, config.thinking)
        except EffortError as exc:
            raise ModelError(f"simulated/{self.name}: {exc}", fatal=True) from None
        if self.settings.latency_s:
            await asyncio.sleep(self.settings.latency_s)
        problem = self.problem(context.problem_id)
        active = self.next_state(problem, context, effort)
        template = render(problem.template, active, context.output_format)
        lead = "here is the template." if context.iteration == 1 else "here is the fixed template."
        text = (
            f"Simulated repair model (not an LLM): {lead}\n\n"
            f"```{context.output_format}\n{template}```\n"
        )
        call_id = hashlib.sha256(
            f"{self.settings.seed}\0{self.name}\0{context.problem_id}\0"
            f"{context.sample}\0{context.iteration}".encode()
        ).hexdigest()
        reasoning = effort.reasoning_tokens
        return ModelOutput(
            text=text,
            finish_reason="stop",
            input_tokens=sum(word_count(m.content) for m in messages),
            output_tokens=round(word_count(text) * effort.output) + (reasoning or 0),
            reasoning_tokens=reasoning,
            latency_s=time.perf_counter() - started,
            request_id=f"sim-{call_id[:24]}",
            extra={"simulator_rules": ",".join(m.rule_id for m in active)},
        )

    def next_state(
        self, problem: SimProblem, context: CallContext, effort: EffortLevel = NO_EFFECT
    ) -> tuple[Mutation, ...]:
        """The active mutations of this call's reply, from what the context carries (effort
        moves only a first draw: a repair follows the feedback as before)."""
        chain = Chain(self.settings.seed, problem.id, context.sample, context.iteration)
        if context.iteration <= 1:
            return self.behaviour.first_draw(problem, chain, effort)
        where = f"{problem.id} sample {context.sample} iteration {context.iteration}"
        if context.previous_template is None or context.previous_feedback is None:
            raise ModelError(
                f"simulated: {where} is a repair call without the previous attempt's "
                "template and feedback in its CallContext",
                kind="simulator_state",
            )
        if context.previous_template.strip() == "null":
            # the loop kept an unparseable reply as `null` (template_as: json_dumps, as the
            # paper's script did): nothing of the previous template is left, so draw anew
            return self.behaviour.first_draw(problem, chain, effort)
        previous = self.decode(problem.id, context.previous_template, context.output_format)
        if previous is None:
            raise ModelError(
                f"simulated: {where}: the previous template is not one this simulator "
                "rendered for this problem (another profile, seed or format?)",
                kind="simulator_state",
            )
        return self.behaviour.repair(problem, previous, context.previous_feedback, chain)

    def decode(
        self, problem_id: str, template: str, output_format: str
    ) -> tuple[Mutation, ...] | None:
        """The active mutations behind a template this simulator rendered, else None."""
        problem = self.problem(problem_id)
        return decode(problem.template, problem.sites, template, output_format)

    def skip_reason(self, problem: ProblemLike) -> str | None:
        """A prompt-only problem gives the simulator nothing to mutate."""
        if problem.reference_template is None:
            return "prompt-only, no reference template"
        return None

    def problem(self, problem_id: str) -> SimProblem:
        if problem_id not in self._parsed:
            if problem_id not in self._problems:
                raise ModelError(f"simulator has no problem '{problem_id}'", fatal=True)
            source = self._problems[problem_id]
            if source.reference_template is None:
                raise ModelError(
                    f"{problem_id}: the simulator needs a reference template", fatal=True
                )
            try:
                tree = parse_template(source.reference_template)
            except ValueError as exc:
                raise ModelError(f"{problem_id}: {exc}", fatal=True) from None
            sites = find_sites(tree, self.as_of)
            if isinstance(self.behaviour, Calibrated) and self.behaviour.rates.transplants:
                sites[KIND] = transplant_sites(tree, self.behaviour.rates.transplants)
            self._parsed[problem_id] = SimProblem(problem_id, tree, sites, difficulty_of(source))
        return self._parsed[problem_id]


def difficulty_of(problem: Problem) -> int | None:
    """The problem's stored difficulty, else the one its reference template computes to."""
    if problem.difficulty is not None:
        return problem.difficulty
    if problem.reference_template is None:
        return None

    try:
        return template_metrics(problem.reference_template).difficulty
    except ValueError:
        return None
