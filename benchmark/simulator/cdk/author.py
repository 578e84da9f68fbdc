"""The simulated model's CDK side: the app of one call, from the chain's recorded state.

As for templates (simulator/model.py), nothing is kept in memory: a repair call decodes the
previous app from its `CallContext` (edits.py) and reads the feedback it led to; draws are
seeded by (seed, problem, sample, iteration). So a reply is the same in any process, on a
retry and after a resume, and an unchanged app is byte-identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.models.base import CallContext, ModelError
from benchmark.simulator.behaviour import Chain
from benchmark.simulator.cdk.behaviour import CdkBehaviour, CdkProblem
from benchmark.simulator.cdk.edits import decode, render
from benchmark.simulator.cdk.mutation import CdkMutation
from benchmark.simulator.cdk.sites import find_cdk_sites
from benchmark.simulator.effort import NO_EFFECT, EffortLevel
from benchmark.simulator.repair_state import previous_mistakes

LANGUAGE = "cdk-python"
FENCE = "python"


def is_cdk(problem: Any) -> bool:
    """A problem the simulator answers with a CDK app (it has a reference app)."""
    return getattr(problem, "language", None) == LANGUAGE and bool(
        getattr(problem, "reference_app", None)
    )


class CdkAuthor:
    """Writes the CDK apps of a simulated model's chains (`behaviour` says how)."""

    def __init__(self, problems: Mapping[str, Any], behaviour: CdkBehaviour, seed: int) -> None:
        self._sources = {pid: p for pid, p in problems.items() if is_cdk(p)}
        self.behaviour = behaviour
        self.seed = seed
        self._parsed: dict[str, CdkProblem] = {}

    def handles(self, problem_id: str) -> bool:
        return problem_id in self._sources

    def problem(self, problem_id: str) -> CdkProblem:
        if problem_id not in self._parsed:
            source = self._sources[problem_id]
            try:
                sites = find_cdk_sites(source.reference_app, list(source.intent_checks or ()))
            except ValueError as exc:
                raise ModelError(f"{problem_id}: {exc}", fatal=True) from None
            self._parsed[problem_id] = CdkProblem(problem_id, source.reference_app, sites)
        return self._parsed[problem_id]

    def state(
        self, context: CallContext, effort: EffortLevel = NO_EFFECT
    ) -> tuple[CdkMutation, ...]:
        """The mistakes of this call's app."""
        problem = self.problem(context.problem_id)
        chain = Chain(self.seed, problem.id, context.sample, context.iteration)
        if context.iteration <= 1:
            return self.behaviour.first_draw(problem, chain, effort)
        previous = previous_mistakes(
            context, lambda text: decode(problem.reference, problem.sites, text), "app"
        )
        if previous is None:  # nothing of it was kept: draw anew
            return self.behaviour.first_draw(problem, chain, effort)
        assert context.previous_feedback is not None  # previous_mistakes checked it
        return self.behaviour.repair(problem, previous, context.previous_feedback, chain)

    def reply(
        self, context: CallContext, effort: EffortLevel = NO_EFFECT
    ) -> tuple[str, tuple[CdkMutation, ...]]:
        """The reply text (one ```python block) and the mistakes in it."""
        active = self.state(context, effort)
        app = render(self.problem(context.problem_id).reference, active)
        lead = "here is the app." if context.iteration == 1 else "here is the fixed app."
        text = f"Simulated repair model (not an LLM): {lead}\n\n```{FENCE}\n{app}```\n"
        return text, active
