"""The problems a planned job can attempt: the simulator skips prompt-only ones."""

from __future__ import annotations

from benchmark.config import Settings
from benchmark.problems.dataset import Problem, load_dataset
from benchmark.simulator.cdk.author import is_cdk
from benchmark.simulator.template import parse_template, serialise


def attemptable_problems(settings: Settings) -> tuple[list[Problem], list[str]]:
    """The problems the model can attempt (the simulator: those with a reference template or
    a reference CDK app), and notes."""
    problems = load_dataset(settings.dataset.path, settings.dataset.only, settings.dataset.limit)
    notes: list[str] = []
    if settings.model.provider == "simulated":
        runnable = [p for p in problems if p.reference_template is not None or is_cdk(p)]
        if len(runnable) < len(problems):
            notes.append(
                f"the simulator skips {len(problems) - len(runnable)} prompt-only problems"
            )
        problems = runnable
        notes.append("simulated: costs 0; its recorded tokens are word counts")
    if not problems:
        raise ValueError(f"dataset {settings.dataset.name}: no problem this model can attempt")
    return problems, notes


def written_reply(problem: Problem, fmt: str) -> str | None:
    """What a model is expected to write for `problem`: its reference CDK app as it is, or its
    reference template in output format `fmt`; None for a prompt-only problem."""
    if is_cdk(problem):
        return problem.reference_app
    if problem.reference_template is None:
        return None
    try:
        return serialise(parse_template(problem.reference_template), fmt)
    except ValueError:
        return problem.reference_template
