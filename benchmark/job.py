"""One Hydra job: every problem x sample chain of one configuration, recorded as it goes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark.config import Settings
from benchmark.loop import Attempt, FatalModelError, FeedbackLoop
from benchmark.models.base import GenerateConfig, ModelAPI
from benchmark.models.factory import create_model
from benchmark.models.pricing import cost_usd, price_for
from benchmark.problems import Problem, load_dataset
from benchmark.provenance import config_hash, provenance
from benchmark.records import RecordWriter, attempt_id
from benchmark.validators.base import Validator
from benchmark.validators.cfn_lint import CfnLintValidator, LintSettings
from benchmark.validators.intent import IntentValidator

SUMMARY_FILE = "job.json"


@dataclass(frozen=True)
class JobInfo:
    sweep_id: str
    job_id: int
    output_dir: Path


@dataclass
class JobSummary:
    model: str
    simulated: bool
    chains: int = 0
    attempts: int = 0
    clean_chains: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    model_errors: int = 0
    lint_failures: int = 0
    lint_cache_hits: int = 0
    seconds: float = 0.0
    fatal_error: str | None = None
    status: str = "running"
    stop_reasons: dict[str, int] = field(default_factory=dict)


def build_validators(settings: Settings) -> list[Validator]:
    lint = settings.lint
    cfn_lint = CfnLintValidator(
        LintSettings(
            regions=tuple(lint.regions),
            ignore_checks=tuple(lint.ignore_checks),
            include_checks=tuple(lint.include_checks),
        ),
        workers=lint.workers,
        task_timeout_s=lint.task_timeout_s,
        cache_size=lint.cache_size,
    )
    return [cfn_lint, IntentValidator()]


class Recorder:
    """Turns finished attempts into rows, writes them durably, keeps the running totals."""

    def __init__(
        self,
        settings: Settings,
        job: JobInfo,
        model: ModelAPI,
        writer: RecordWriter,
        bar: tqdm,
        summary: JobSummary,
    ) -> None:
        self.settings, self.job, self.model = settings, job, model
        self.writer, self.bar, self.summary = writer, bar, summary
        self.price = price_for(model.id)
        self.base = {
            "sweep_id": job.sweep_id,
            "job_id": job.job_id,
            "model": model.id,
            "provider": model.provider,
            "prompt_set": settings.prompts.name,
            "protocol": settings.loop.protocol,
            "max_iterations": settings.loop.max_iterations,
        }
        self.constant = {
            "simulated": model.simulated,
            "dataset": settings.dataset.name,
            "output_format": settings.prompts.output_format,
            "clean_rule": settings.loop.clean_when,
            "max_tokens": settings.model.max_tokens,
            "config_hash": config_hash(settings.model_dump(exclude={"progress"})),
            **provenance(),
        }

    def __call__(self, attempt: Attempt) -> None:
        key = {
            **self.base,
            "problem_id": attempt.problem.id,
            "sample": attempt.sample,
            "iteration": attempt.iteration,
        }
        aid = attempt_id(key)
        out, extraction = attempt.output, attempt.extraction
        cost = cost_usd(self.price, out) if out is not None else None
        intent = [c for c in attempt.checks if c.source == "intent"]
        scored = out is not None and attempt.stop_reason != "lint_failure"
        row: dict[str, Any] = {
            "attempt_id": aid,
            **key,
            **self.constant,
            "reply": out.text if out else None,
            "template": extraction.template if extraction else None,
            "extraction_rule": extraction.rule if extraction else None,
            "parse_ok": attempt.parse_ok,
            # no counts where nothing was scored (no reply, or the linter failed): never 0
            "errors": attempt.counts["E"] if scored else None,
            "warnings": attempt.counts["W"] if scored else None,
            "infos": attempt.counts["I"] if scored else None,
            "clean": attempt.clean,
            "stop_reason": attempt.stop_reason,
            "model_error": attempt.model_error,
            "lint_failure": "; ".join(attempt.lint_failures) or None,
            "intent_passed": sum(c.passed for c in intent) if intent else None,
            "intent_total": len(intent) if intent else None,
            "finish_reason": out.finish_reason if out else None,
            "input_tokens": out.input_tokens if out else None,
            "output_tokens": out.output_tokens if out else None,
            "cached_tokens": out.cached_tokens if out else None,
            "latency_s": out.latency_s if out else None,
            "cost_usd": cost,
            "request_id": out.request_id if out else None,
            "started_at": attempt.started_at,
            "finished_at": attempt.finished_at,
            "seed": self.settings.model.seed,
            # null where the provider takes no temperature (current Anthropic API versions)
            "temperature": None
            if out is not None and out.extra.get("temperature") == "omitted"
            else self.settings.model.temperature,
        }
        findings = [
            {
                "attempt_id": aid,
                **key,
                "finding_index": i,
                "source": f.source,
                "rule_id": f.rule_id,
                "level": f.level,
                "message": f.message,
                "path": "/".join(str(p) for p in f.path),
                "line": f.line,
                "column": f.column,
                "end_line": f.end_line,
                "end_column": f.end_column,
            }
            for i, f in enumerate(attempt.findings)
        ]
        checks = [
            {
                "attempt_id": aid,
                **key,
                "check_index": i,
                "source": c.source,
                "check_id": c.check_id,
                "passed": c.passed,
                "description": c.description,
                "resource": c.resource,
            }
            for i, c in enumerate(attempt.checks)
        ]
        self.writer.append(row, findings, checks)
        self._count(attempt, cost)

    def _count(self, attempt: Attempt, cost: float | None) -> None:
        s = self.summary
        s.attempts += 1
        if attempt.output is not None:
            s.input_tokens += attempt.output.input_tokens or 0
            s.output_tokens += attempt.output.output_tokens or 0
            s.cost_usd = None if cost is None or s.cost_usd is None else s.cost_usd + cost
        s.model_errors += attempt.model_error is not None
        s.lint_failures += bool(attempt.lint_failures)
        if attempt.stop_reason is not None:
            s.chains += 1
            s.clean_chains += attempt.clean
            s.stop_reasons[attempt.stop_reason] = s.stop_reasons.get(attempt.stop_reason, 0) + 1
            skipped = self.settings.loop.max_iterations - attempt.iteration
            self.bar.total -= skipped  # the chain stopped early: its later attempts never run
        self.bar.update(1)
        cost_text = "n/a" if s.cost_usd is None else f"${s.cost_usd:.4f}"
        self.bar.set_postfix_str(
            f"clean {s.clean_chains}/{s.chains} chains, "
            f"tok {s.input_tokens + s.output_tokens:,}, cost {cost_text}",
            refresh=False,
        )


def _chains(problems: list[Problem], samples: int) -> Iterator[tuple[Problem, int]]:
    for problem in problems:
        for sample in range(samples):
            yield problem, sample


async def run_job(settings: Settings, job: JobInfo, api_key: str | None) -> JobSummary:
    """Run every chain of this job's configuration; rows land under `job.output_dir`."""
    started = time.monotonic()
    problems = load_dataset(settings.dataset.path, settings.dataset.only, settings.dataset.limit)
    model = create_model(settings, {p.id: p for p in problems}, api_key)
    summary = JobSummary(model=model.id, simulated=model.simulated)
    validators = build_validators(settings)
    writer = RecordWriter(job.output_dir)
    loop_cfg = settings.loop
    total = len(problems) * loop_cfg.samples * loop_cfg.max_iterations
    label = f"{model.id} {settings.prompts.name} {loop_cfg.protocol} n={loop_cfg.max_iterations}"
    bar = tqdm(total=total, desc=label, unit="att", disable=not settings.progress, leave=True)

    def generate_config(sample: int) -> GenerateConfig:
        seed = None if settings.model.seed is None else settings.model.seed + sample
        return GenerateConfig(settings.model.temperature, settings.model.max_tokens, seed)

    loop = FeedbackLoop(model, validators, settings.prompts, loop_cfg, generate_config)
    recorder = Recorder(settings, job, model, writer, bar, summary)
    pending = _chains(problems, loop_cfg.samples)

    async def worker() -> None:
        for problem, sample in pending:  # shared iterator: each chain is taken once
            await loop.run_chain(problem, sample, recorder)

    try:
        workers = [asyncio.create_task(worker()) for _ in range(loop_cfg.concurrency)]
        try:
            await asyncio.gather(*workers)
        except FatalModelError as exc:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            summary.fatal_error = str(exc)
        summary.status = "failed" if summary.fatal_error else "complete"
    finally:
        bar.close()
        writer.close()
        for validator in validators:
            if isinstance(validator, CfnLintValidator):
                summary.lint_cache_hits = validator.stats.cache_hits
            validator.close()
        await model.aclose()
        summary.seconds = round(time.monotonic() - started, 3)
        write_summary(job.output_dir, summary)
    return summary


def write_summary(output_dir: Path, summary: JobSummary) -> None:
    """The job's marker file: its status and totals (written last, atomically)."""
    path = output_dir / SUMMARY_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(asdict(summary), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
