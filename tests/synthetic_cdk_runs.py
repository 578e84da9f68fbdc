"""Synthetic CDK chains (issue 23), for tests and demos of the stage measures.

A `cdk-python` attempt carries `language`, `synth_stage` (the first stage that failed: python,
cdk or template; null when clean) and its findings with the stage's `source` (python, cdk,
cfn-lint) and, for the template stage, the `construct` cfn-lint's finding maps to. A
CloudFormation chain leaves `language` null (rows written before the column) or says
`cloudformation`. Rows go through the real RecordWriter, so tests read real Parquet. Chains stop
at their first clean attempt, as the harness's do. Nothing here is a measurement of any model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.synthetic_runs import attempt_row, finding_row, write_job

APP = "class AppStack(cdk.Stack):\n    pass\n"
# the finding each failing stage gives: (rule id, source, construct)
STAGE_FINDING = {
    "python": ("S1002", "python", None),
    "cdk": ("C1001", "cdk", "AppStack/Data"),
    "template": ("E3002", "cfn-lint", "AppStack/Data"),
}
ORDER = ("python", "cdk", "template", "clean")


def stage_chain(
    problem_id: str,
    stages: Sequence[str],
    *,
    sample: int = 0,
    language: str | None = "cdk-python",
    intent: Sequence[tuple[int, int]] | None = None,
    **extra: Any,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Attempt and finding rows of one chain stopping at `stages` in order (python, cdk,
    template or clean); with `language` other than cdk-python no `synth_stage` is written.
    `intent`: (passed, total) per attempt (default 2 of 2 when clean or template, 0 of 2 when
    nothing was synthesized, as the suite records it)."""
    attempts, findings = [], []
    cdk = language == "cdk-python"
    for number, stage in enumerate(stages, start=1):
        synthesized = stage in ("template", "clean")
        passed, total = intent[number - 1] if intent else ((2 if synthesized else 0), 2)
        row = attempt_row(
            problem_id,
            sample,
            number,
            errors=0 if stage == "clean" else 1,
            language=language,
            synth_stage=stage if cdk and stage != "clean" else None,
            synth_template="{}" if cdk and synthesized else None,
            intent_passed=passed,
            intent_total=total,
            **extra,
        )
        if cdk:
            row["template"] = APP
        if number == len(stages) and row["stop_reason"] is None:
            row["stop_reason"] = "max_iterations"
        attempts.append(row)
        if stage != "clean":
            rule, source, construct = STAGE_FINDING[stage if cdk else "template"]
            finding = finding_row(row, 0, rule, "Resources/Data/Properties/BucketName")
            finding.update(source=source, construct=construct if cdk else None)
            findings.append(finding)
    return attempts, findings


@dataclass(frozen=True)
class LanguageSpec:
    """One group of a synthetic run: a model on one language, and how its chains move."""

    model: str = "synthetic/model"
    language: str | None = "cdk-python"  # None: a row written before the column
    prompt_set: str = "cdk"
    protocol: str = "stateless"
    start: tuple[float, float, float, float] = (0.3, 0.2, 0.3, 0.2)  # P(stage) at iteration 1
    advance: float = 0.6  # chance a repair moves the chain one stage on
    intent_fail: float = 0.2  # chance a synthesized attempt fails one of its two checks
    dataset: str = "paper33-cdk"


def _stages(spec: LanguageSpec, rng: np.random.Generator, max_iterations: int) -> list[str]:
    start = list(spec.start)
    if spec.language != "cdk-python":  # no synth: a template is clean or not
        start = [0.0, 0.0, start[0] + start[1] + start[2], start[3]]
    at = int(rng.choice(4, p=np.asarray(start) / sum(start)))
    stages = [ORDER[at]]
    while ORDER[at] != "clean" and len(stages) < max_iterations:
        if rng.random() < spec.advance:
            at += 1
        stages.append(ORDER[at])
    return stages


def write_language_run(
    root: str | Path,
    specs: Sequence[LanguageSpec] = (LanguageSpec(),),
    *,
    problems: int = 10,
    samples: int = 2,
    max_iterations: int = 5,
    simulated: bool = False,
    seed: int = 0,
) -> Path:
    """A run folder: one job per spec over the same problem ids `p00`.. (paper33 and
    paper33-cdk share theirs)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for job, spec in enumerate(specs):
        attempts: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        key = {
            "model": spec.model,
            "prompt_set": spec.prompt_set,
            "protocol": spec.protocol,
            "max_iterations": max_iterations,
            "simulated": simulated,
            "sweep_id": "synthetic-cdk",
            "job_id": job,
            "dataset": spec.dataset,
        }
        for p in range(problems):
            for sample in range(samples):
                stages = _stages(spec, rng, max_iterations)
                intent = [
                    ((1 if rng.random() < spec.intent_fail else 2), 2)
                    if s in ("template", "clean") or spec.language != "cdk-python"
                    else (0, 2)
                    for s in stages
                ]
                rows, found = stage_chain(
                    f"p{p:02d}",
                    stages,
                    sample=sample,
                    language=spec.language,
                    intent=intent,
                    **key,
                )
                attempts += rows
                findings += found
        write_job(root / f"job-{job}", attempts, findings)
    return root
