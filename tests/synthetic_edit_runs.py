"""Synthetic edit-task chains (issue 22), for tests and demos of the edit measures.

An edit chain's attempts carry `collateral_changes` (how many changes the collateral validator
found against the initial template) beside their lint counts and intent checks; a chain of a
problem that is not an edit leaves it null. Chains stop at their first lint-clean attempt, as
the harness's do. Nothing here is a measurement of any model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.synthetic_runs import attempt_row, write_job


@dataclass(frozen=True)
class Step:
    """One attempt of a hand-built edit chain."""

    errors: int = 0
    collateral: int | None = 0  # None: not an edit problem
    intent: tuple[int, int] | None = (2, 2)  # (passed, total); None: no intent checks


def edit_chain(
    problem_id: str, steps: Sequence[Step], *, sample: int = 0, **extra: Any
) -> list[dict[str, Any]]:
    """The attempt rows of one chain, `steps` in order (the harness's columns, as written)."""
    rows = []
    for number, step in enumerate(steps, start=1):
        row = attempt_row(
            problem_id,
            sample,
            number,
            errors=step.errors,
            collateral_changes=step.collateral,
            intent_passed=step.intent[0] if step.intent else None,
            intent_total=step.intent[1] if step.intent else None,
            **extra,
        )
        if number == len(steps) and row["stop_reason"] is None:
            row["stop_reason"] = "max_iterations"
        rows.append(row)
    return rows


@dataclass(frozen=True)
class EditSpec:
    """One group of a synthetic edit run, and how its chains behave."""

    model: str = "synthetic/model"
    prompt_set: str = "paper"
    protocol: str = "stateless"
    errors: float = 2.0  # mean lint errors of a first attempt (Poisson)
    fix: float = 0.6  # chance a repair fixes each error
    applied: float = 0.8  # chance an attempt passes every intent check
    collateral: float = 0.3  # chance a first attempt has one collateral change
    damage_when_fixing: float = 0.2  # chance a repair that fixes lint adds one
    restore: float = 0.1  # chance any other repair removes one


def _chain(spec: EditSpec, rng: np.random.Generator, max_iterations: int) -> list[Step]:
    errors = int(rng.poisson(spec.errors))
    collateral = int(rng.random() < spec.collateral)
    steps = []
    for iteration in range(1, max_iterations + 1):
        if iteration > 1:
            fixed = int(rng.binomial(errors, spec.fix))
            errors -= fixed
            if fixed and rng.random() < spec.damage_when_fixing:
                collateral += 1
            elif collateral and rng.random() < spec.restore:
                collateral -= 1
        passed = 2 if rng.random() < spec.applied else 1
        steps.append(Step(errors, collateral, (passed, 2)))
        if errors == 0:
            break
    return steps


def write_edit_run(
    root: str | Path,
    specs: Sequence[EditSpec] = (EditSpec(),),
    *,
    problems: int = 12,
    samples: int = 2,
    max_iterations: int = 5,
    plain_problems: int = 0,
    simulated: bool = False,
    seed: int = 0,
) -> Path:
    """A run folder: per spec one job of edit chains over `problems` problems, plus
    `plain_problems` chains of problems that are not edits (collateral null)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for job, spec in enumerate(specs):
        rows: list[dict[str, Any]] = []
        key = {
            "model": spec.model,
            "prompt_set": spec.prompt_set,
            "protocol": spec.protocol,
            "max_iterations": max_iterations,
            "simulated": simulated,
            "sweep_id": "synthetic-edit",
            "job_id": job,
            "dataset": "edit-synthetic",
        }
        for p in range(problems + plain_problems):
            for sample in range(samples):
                steps = _chain(spec, rng, max_iterations)
                if p >= problems:  # a problem that is not an edit
                    steps = [Step(s.errors, None, s.intent) for s in steps]
                rows += edit_chain(f"p{p:02d}", steps, sample=sample, **key)
        write_job(root / f"job-{job}", rows)
    return root
