"""`simulated/<profile>`: an offline, seeded repair SIMULATOR. It is not an LLM.

It exists for demos, tests and power analysis. A chain starts from the problem's own reference
template with a few deliberate mistakes ("mutations") drawn from a catalogue; each mutation is
tied to one cfn-lint rule. On a repair turn the simulator reads the previous attempt's
feedback and fixes mutations whose rule it names, with chances set by its profile, and now and
then introduces new ones. On an edit problem the reference is the expected template, and the
simulator also makes collateral changes (drops, alters or renames what should have stayed) at
rates from its profile's `edit` section (editing.py). Every reply says it is simulated, and
`simulated` is True, so its rows are never presentable as results about LLMs.

State is never kept in memory. A repair call reads the previous attempt's template and
feedback from its `CallContext` (the loop fills them, and a resumed chain fills them from the
recorded rows); the previous mutations are decoded from that template, which this simulator
rendered. Randomness comes from `random.Random` seeded by a SHA-256 of (seed, problem id,
sample, iteration). So a reply is a function of what is recorded: the same in any process, on
a retry, and after a kill and resume. Token counts are whitespace-separated words.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import time
from collections.abc import Mapping, Sequence
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
from benchmark.simulator.agent import (
    DEFAULT_POLICY,
    LOOKUP,
    SUBMIT,
    VALIDATE,
    AgentPolicy,
    Move,
    lookup_targets,
    read_state,
)
from benchmark.simulator.behaviour import (
    NO_BOOST,
    Behaviour,
    Calibrated,
    Chain,
    HandSet,
    SimProblem,
    SimulatorSettings,
    stable_rng,
)
from benchmark.simulator.catalogue import find_sites
from benchmark.simulator.cdk.author import CdkAuthor, is_cdk
from benchmark.simulator.cdk.behaviour import DEFAULT_CDK_RATES, CdkBehaviour
from benchmark.simulator.edit_sites import collateral_sites
from benchmark.simulator.editing import DEFAULT_EDIT_RATES, Editing
from benchmark.simulator.effort import NO_EFFECT, EffortError, EffortLevel, EffortModel
from benchmark.simulator.mutations import Mutation, decode, render
from benchmark.simulator.profile import Profile, load_profile
from benchmark.simulator.repair_state import previous_mistakes
from benchmark.simulator.template import parse_template, try_parse
from benchmark.simulator.transplant import KIND, transplant_sites

DECODE_CACHE = 256  # templates decoded per simulator instance, most recent kept


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
        agent: AgentPolicy | None = None,
    ) -> None:
        super().__init__(name)
        self.profile = profile
        self.agent = agent or (profile.agent if profile is not None else DEFAULT_POLICY)
        self.effort = profile.effort if profile is not None else EffortModel({})
        self.behaviour: Behaviour
        if profile is not None:
            self.behaviour, self.settings = profile.behaviour(options or {})
        else:
            self.settings = settings or SimulatorSettings()
            self.behaviour = HandSet(self.settings)
        rates = profile.edit if profile is not None else DEFAULT_EDIT_RATES
        self.editing = Editing(self.behaviour, rates)  # on edit problems (simulator/editing.py)
        cdk_rates = profile.cdk if profile is not None else DEFAULT_CDK_RATES
        # cdk-python problems: CDK apps (simulator/cdk/)
        self.cdk = CdkAuthor(problems, CdkBehaviour(cdk_rates), self.settings.seed)
        self.as_of = as_of
        self._problems = dict(problems)
        self._parsed: dict[str, SimProblem] = {}
        # an agent turn decodes the template its last validate saw, turn after turn (a lookup
        # turn, then the repair): decoded once per instance (a decode renders, ~25 ms)
        self._decoded = functools.lru_cache(maxsize=DECODE_CACHE)(self._decode)

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
        """The next template (a CDK app for a cdk-python problem, simulator/cdk/) of the chain.
        Of `config` only effort and thinking count (through the profile's effort section,
        simulator/effort.py): the seed is in the settings."""
        started = time.perf_counter()
        try:
            effort = self.effort.level(config.effort, config.thinking)
        except EffortError as exc:
            raise ModelError(f"simulated/{self.name}: {exc}", fatal=True) from None
        if self.settings.latency_s:
            await asyncio.sleep(self.settings.latency_s)
        if self.cdk.handles(context.problem_id):  # a cdk-python problem: a CDK app
            if config.tools:
                raise ModelError(
                    f"simulated/{self.name}: the agent protocol writes CloudFormation only, "
                    f"not the CDK app of {context.problem_id}",
                    fatal=True,
                )
            text, written = self.cdk.reply(context, effort)
            rules = [m.rule_id for m in written]
        else:
            problem = self.problem(context.problem_id)
            if config.tools:
                return self.agent_turn(problem, messages, config, context, effort, started)
            text, rules = self._template_reply(problem, context, effort)
        call_id = self._digest(context.problem_id, context.sample, context.iteration)
        reasoning = effort.reasoning_tokens
        return ModelOutput(
            text=text,
            finish_reason="stop",
            input_tokens=sum(word_count(m.content) for m in messages),
            output_tokens=round(word_count(text) * effort.output) + (reasoning or 0),
            reasoning_tokens=reasoning,
            latency_s=time.perf_counter() - started,
            request_id=f"sim-{call_id[:24]}",
            extra={"simulator_rules": ",".join(rules)},
        )

    def _template_reply(
        self, problem: SimProblem, context: CallContext, effort: EffortLevel
    ) -> tuple[str, list[str]]:
        """A CloudFormation reply and the rules of its mutations."""
        active = self.next_state(problem, context, effort)
        template = render(problem.template, active, context.output_format)
        lead = "here is the template." if context.iteration == 1 else "here is the fixed template."
        text = (
            f"Simulated repair model (not an LLM): {lead}\n\n"
            f"```{context.output_format}\n{template}```\n"
        )
        return text, [m.rule_id for m in active]

    def _digest(self, *parts: object) -> str:
        key = "\0".join(map(str, (self.settings.seed, self.name, *parts)))
        return hashlib.sha256(key.encode()).hexdigest()

    # ---- the agent protocol (simulator/agent.py documents the policy) -------------------------

    def agent_turn(
        self,
        problem: SimProblem,
        messages: Sequence[ChatMessage],
        config: GenerateConfig,
        context: CallContext,
        effort: EffortLevel,
        started: float,
    ) -> ModelOutput:
        """One agent turn: the policy's move as tool calls (ids unique in the chain)."""
        move, turn = self.agent_move(problem, messages, config, context, effort)

        def call_id(k: int) -> str:
            digest = self._digest("agent", problem.id, context.sample, turn, k)
            return f"sim-{digest[:16]}"

        calls = move.calls(call_id) if move.tool else []
        text = f"Simulated agent (not an LLM): {move.note}"
        if not move.tool:  # no tool to call: the template in the text is the submission
            text += f"\n\n```{context.output_format}\n{move.template}```\n"
        written = word_count(text) + sum(word_count(c.arguments) for c in calls)
        reasoning = effort.reasoning_tokens
        extra = {"simulator_agent": move.tool or "reply"}
        if move.template is not None:
            extra["simulator_rules"] = ",".join(m.rule_id for m in move.active)
        return ModelOutput(
            text=text,
            finish_reason="tool_use" if calls else "stop",
            input_tokens=sum(
                word_count(m.content) + sum(word_count(c.arguments) for c in m.tool_calls)
                for m in messages
            ),
            output_tokens=round(written * effort.output) + (reasoning or 0),
            reasoning_tokens=reasoning,
            latency_s=time.perf_counter() - started,
            request_id=f"sim-{self._digest('agent', problem.id, context.sample, turn)[:24]}",
            extra=extra,
            tool_calls=calls,
        )

    def agent_move(
        self,
        problem: SimProblem,
        messages: Sequence[ChatMessage],
        config: GenerateConfig,
        context: CallContext,
        effort: EffortLevel = NO_EFFECT,
    ) -> tuple[Move, int]:
        """The policy's move at this turn, and the turn."""
        state = read_state(
            messages,
            context.iteration,
            context.previous_template,
            context.previous_feedback,
            context.schema_lookups,
            context.turn,
        )
        offered = {t.name for t in config.tools}
        forced = config.tool_choice if config.tool_choice in offered else None
        iteration = state.validations + 1
        ctx = dataclasses.replace(
            context,
            iteration=iteration,
            previous_template=state.validated,
            previous_feedback=state.feedback,
        )

        def roll(what: str) -> float:
            seed = self.settings.seed
            return stable_rng(seed, "agent", what, problem.id, context.sample, iteration).random()

        def written(active: tuple[Mutation, ...], what: str) -> Move:
            template = render(problem.template, active, context.output_format)
            skip = roll("skip") < self.agent.skip_validation_probability and forced != VALIDATE
            if VALIDATE in offered and forced != SUBMIT and not (skip and SUBMIT in offered):
                return Move(VALIDATE, template, active, note=f"validating {what}.")
            tool = SUBMIT if SUBMIT in offered else ""
            return Move(tool, template, active, note=f"submitting {what} unvalidated.")

        if state.validated is None:
            return written(self.next_state(problem, ctx, effort), "the draft"), state.turn
        previous = self.previous_state(problem, ctx) or ()
        if state.clean or forced == SUBMIT or not ({VALIDATE, SUBMIT} & offered):
            tool = SUBMIT if SUBMIT in offered else ""
            why = "it validated clean" if state.clean else "asked to submit"
            move = Move(tool, state.validated, previous, note=f"submitting ({why}).")
            return move, state.turn
        feedback = state.feedback or ""
        targets = lookup_targets(self.agent, problem, previous, feedback)
        wanted = tuple(sorted(set(targets.values()) - state.looked_up))
        looking = forced in (None, LOOKUP) and LOOKUP in offered and not state.lookups_since
        chance = 1.0 if forced == LOOKUP else self.agent.lookup_probability
        if looking and wanted and roll("lookup") < chance:
            note = f"looking up {', '.join(wanted)}."
            return Move(LOOKUP, resource_types=wanted, note=note), state.turn
        if forced == LOOKUP:  # nothing the policy would look up: the types of its findings
            kinds = tuple(sorted(set(targets.values()))) or _first_type(problem)
            return Move(LOOKUP, resource_types=kinds, note="looking up (asked to)."), state.turn
        factor = self.agent.lookup_fix_factor
        boost = {key: factor for key, kind in targets.items() if kind in state.looked_up}
        return written(self.next_state(problem, ctx, effort, boost), "the repair"), state.turn

    def next_state(
        self,
        problem: SimProblem,
        context: CallContext,
        effort: EffortLevel = NO_EFFECT,
        boost: Mapping[str, float] = NO_BOOST,
    ) -> tuple[Mutation, ...]:
        """The active mutations of this call's reply, from what the context carries (effort
        moves only a first draw: a repair follows the feedback as before; `boost`: an agent's
        lookups, behaviour.py)."""
        chain = Chain(self.settings.seed, problem.id, context.sample, context.iteration)
        behaviour = self.editing if problem.edit else self.behaviour
        if context.iteration <= 1:
            return behaviour.first_draw(problem, chain, effort)
        previous = self.previous_state(problem, context)
        if previous is None:
            return behaviour.first_draw(problem, chain, effort)
        feedback = context.previous_feedback or ""
        return behaviour.repair(problem, previous, feedback, chain, boost)

    def previous_state(
        self, problem: SimProblem, context: CallContext
    ) -> tuple[Mutation, ...] | None:
        """The mistakes of the previous template a repair call carries (None: it was `null`,
        nothing of it is left); ModelError if there is none or this simulator did not write it."""
        return previous_mistakes(
            context,
            lambda text: self.decode(problem.id, text, context.output_format),
            "template",
            " (another profile, seed or format?)",
        )

    def decode(
        self, problem_id: str, template: str, output_format: str
    ) -> tuple[Mutation, ...] | None:
        """The active mutations behind a template this simulator rendered, else None."""
        return self._decoded(problem_id, template, output_format)

    def _decode(
        self, problem_id: str, template: str, output_format: str
    ) -> tuple[Mutation, ...] | None:
        problem = self.problem(problem_id)
        return decode(problem.template, problem.sites, template, output_format)

    def skip_reason(self, problem: ProblemLike) -> str | None:
        """A prompt-only problem gives the simulator nothing to mutate."""
        if problem.reference_template is None and not is_cdk(problem):
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
            self._parsed[problem_id] = SimProblem(
                problem_id,
                tree,
                sites,
                difficulty_of(source),
                edit=source.is_edit,
                collateral_by_kind=edit_sites_of(source, tree),
            )
        return self._parsed[problem_id]


def edit_sites_of(problem: Problem, tree: dict[str, Any]) -> dict[str, list[Mutation]]:
    """An edit problem's collateral-change sites on its reference `tree` (the expected
    template); none for a problem that is not an edit, or whose initial template won't parse."""
    if problem.initial_template is None:
        return {}
    initial = try_parse(problem.initial_template)
    if initial is None:
        return {}
    return collateral_sites(
        tree, initial, problem.must_keep, problem.may_change, problem.intent_checks
    )


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


def _first_type(problem: SimProblem) -> tuple[str, ...]:
    """The template's first resource type (a forced lookup with nothing else to look up)."""
    resources = problem.template.get("Resources")
    for resource in resources.values() if isinstance(resources, Mapping) else ():
        if isinstance(resource, Mapping) and isinstance(resource.get("Type"), str):
            return (resource["Type"],)
    return ()
