"""Synthetic agent-protocol chains (loop.protocol=agent), for tests and demos of the analysis.

An agent chain is written as the loop records it: one attempt row per template the model showed
to `validate_template` (tool `validate_template`), then the submission row (tool
`submit_template`, or `reply` for a template in a reply without a tool call; `submitted` true,
stop_reason `submitted`) with `submission_validated` and `open_findings_at_submit`; schema
lookups since the previous row in `schema_lookups` / `schema_lookup_types`. A chain that ends
without a submission has no submission row: its last row carries stop_reason `no_submission`
or `max_turns`. Nothing here is a measurement of any model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tests.synthetic_runs import (
    ERROR_RULES,
    LINT_DATE,
    LINT_VERSION,
    PATHS,
    attempt_row,
    finding_row,
    write_job,
)

LOOKUP_TYPES = ["AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::EC2::VPC"]


@dataclass(frozen=True)
class Step:
    """One attempt row of a hand-built agent chain."""

    tool: str = "validate_template"  # validate_template | submit_template | reply
    errors: int = 0
    warnings: int = 0
    lookups: tuple[str, ...] = ()  # resource types looked up since the previous row
    template: str | None = None  # None: "Resources: {<row number>}", a new template each row
    intent: tuple[int, int] | None = (3, 3)  # (passed, total); None: no intent checks
    input_tokens: int = 900
    output_tokens: int = 600
    cost_usd: float | None = 0.002


def agent_chain(
    problem_id: str,
    steps: Sequence[Step],
    *,
    sample: int = 0,
    end: str = "submitted",
    model: str = "synthetic/model",
    prompt_set: str = "paper",
    max_iterations: int = 5,
    job_id: int = 0,
    sweep_id: str = "hand",
    **extra: Any,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows and findings of one agent chain: `steps` in order; the last step is the submission
    when `end` is `submitted` (its tool must then be submit_template or reply), else the chain
    ends `end` (`no_submission`, `max_turns`) on its last validate row."""
    rows: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    validated: dict[str, int] = {}  # template -> findings the last validate reported
    for number, step in enumerate(steps, start=1):
        template = step.template or f"Resources: {{{number}}}"
        submitting = end == "submitted" and number == len(steps)
        last = number == len(steps)
        row = attempt_row(
            problem_id,
            sample,
            number,
            errors=step.errors,
            warnings=step.warnings,
            clean=step.errors == 0 and step.warnings == 0,
            model=model,
            prompt_set=prompt_set,
            protocol="agent",
            max_iterations=max_iterations,
            job_id=job_id,
            sweep_id=sweep_id,
            **extra,
        )
        row.update(
            stop_reason=end if last else None,
            template=template,
            tool=step.tool,
            turn=number + sum(len(s.lookups) > 0 for s in steps[:number]),
            schema_lookups=len(step.lookups),
            schema_lookup_types=json.dumps(list(step.lookups)),
            submitted=True if submitting else None,
            submission_validated=(template in validated) if submitting else None,
            open_findings_at_submit=validated.get(template) if submitting else None,
            agent_turns="[]",
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            cost_usd=step.cost_usd,
            intent_passed=step.intent[0] if step.intent else None,
            intent_total=step.intent[1] if step.intent else None,
        )
        if step.tool == "validate_template":
            validated[template] = step.errors + step.warnings
        rows.append(row)
        shown = [ERROR_RULES[i % len(ERROR_RULES)] for i in range(step.errors)]
        shown += ["W2001"] * step.warnings
        findings += [
            finding_row(row, i, rule, PATHS[i % len(PATHS)]) for i, rule in enumerate(shown)
        ]
    return rows, findings


@dataclass(frozen=True)
class AgentSpec:
    """One agent group of a synthetic run and the policy its chains follow."""

    model: str = "synthetic/model"
    prompt_set: str = "paper"
    fix: float = 0.45  # chance a finding is fixed between two validate calls
    lookup_fix: float = 0.75  # the same after a schema lookup
    lookup: float = 0.5  # chance of a lookup before a fix
    unvalidated: float = 0.15  # chance of submitting the first template without validating
    give_up: float = 0.1  # chance, after a validate with findings, of submitting anyway
    no_submission: float = 0.05  # chance, after a validate with findings, of ending silently
    cost_usd: float | None = 0.002  # per row
    simulated: bool = True


def write_agent_run(
    root: str | Path,
    groups: Sequence[AgentSpec] = (AgentSpec(),),
    *,
    problems: int = 12,
    samples: int = 2,
    max_iterations: int = 5,
    first_job: int = 0,
    seed: int = 0,
    sweep_id: str = "synthetic",
    problem_ids: Sequence[str] | None = None,
) -> Path:
    """Write agent groups as job folders `root/<first_job + i>` (beside the fixed-loop jobs of
    `tests.synthetic_runs.write_synthetic_run`, which numbers its jobs from 0).

    Each chain starts with Poisson(2 × difficulty) errors; it validates after each change, fixes
    each finding with chance `fix` (`lookup_fix` after a lookup), submits when validate reports
    no findings, sometimes submits unvalidated or with findings open, sometimes ends without a
    submission, and is asked to submit (stop_reason `max_turns` when it will not) once
    `max_iterations` validate calls are spent."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    ids = list(problem_ids) if problem_ids else [f"problem-{i:03d}" for i in range(problems)]
    factors = rng.gamma(4.0, 0.25, size=len(ids))
    for offset, spec in enumerate(groups):
        job = first_job + offset
        rows: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        common = {
            "model": spec.model,
            "prompt_set": spec.prompt_set,
            "max_iterations": max_iterations,
            "job_id": job,
            "sweep_id": sweep_id,
            "simulated": spec.simulated,
            "origin": "simulated" if spec.simulated else "run",
            "dataset": "synthetic",
            "cfn_lint_version": LINT_VERSION,
            "lint_as_of": LINT_DATE,
        }
        for pid, factor in zip(ids, factors, strict=True):
            for sample in range(samples):
                steps, end = _policy(spec, factor, max_iterations, rng)
                chain, found = agent_chain(pid, steps, sample=sample, end=end, **common)
                rows += chain
                findings += found
        write_job(root / str(job), rows, findings)
    return root


def _policy(
    spec: AgentSpec, factor: float, max_iterations: int, rng: np.random.Generator
) -> tuple[list[Step], str]:
    cost = {"cost_usd": spec.cost_usd}
    errors = int(rng.poisson(2.0 * factor))
    intent = (int(rng.binomial(3, 0.8)), 3)
    if rng.random() < spec.unvalidated:
        return [Step("submit_template", errors, intent=intent, **cost)], "submitted"
    steps: list[Step] = []
    lookups: tuple[str, ...] = ()
    for calls in range(1, max_iterations + 1):
        template = f"Resources: {{{calls}}}"
        steps.append(Step(errors=errors, lookups=lookups, template=template, intent=intent, **cost))
        if errors == 0 or rng.random() < spec.give_up:
            submit = Step("submit_template", errors, template=template, intent=intent, **cost)
            return [*steps, submit], "submitted"
        if rng.random() < spec.no_submission:
            return steps, "no_submission"
        lookups = ()
        if rng.random() < spec.lookup:
            lookups = tuple(rng.choice(LOOKUP_TYPES, size=int(rng.integers(1, 3))).tolist())
        chance = spec.lookup_fix if lookups else spec.fix
        errors = int(rng.binomial(errors, 1.0 - chance))
        intent = (min(3, intent[0] + int(rng.random() < 0.3)), 3)
    if rng.random() < 0.5:  # asked once to submit, it does: the last validated template
        last = steps[-1]
        submit = Step("submit_template", last.errors, template=last.template, intent=last.intent)
        return [*steps, replace(submit, cost_usd=spec.cost_usd)], "submitted"
    return steps, "max_turns"
