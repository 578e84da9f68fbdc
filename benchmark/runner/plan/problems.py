"""The problems a planned job can attempt: the simulator skips prompt-only ones (a problem
with a reference template or a reference CDK app is not prompt-only)."""

from __future__ import annotations

from benchmark.config import Settings
from benchmark.problems.dataset import Problem, load_dataset


def attemptable_problems(settings: Settings) -> tuple[list[Problem], list[str]]:
    """The problems the model can attempt (the simulator: those with a reference), and notes."""
    problems = load_dataset(settings.dataset.path, settings.dataset.only, settings.dataset.limit)
    notes: list[str] = []
    if settings.model.provider == "simulated":
        runnable = [p for p in problems if (p.reference_template or p.reference_app) is not None]
        if len(runnable) < len(problems):
            notes.append(
                f"the simulator skips {len(problems) - len(runnable)} prompt-only problems"
            )
        problems = runnable
        notes.append("simulated: costs 0; its recorded tokens are word counts")
    if not problems:
        raise ValueError(f"dataset {settings.dataset.name}: no problem this model can attempt")
    return problems, notes
