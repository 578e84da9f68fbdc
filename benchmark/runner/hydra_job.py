"""One Hydra job: every problem x sample chain of one configuration, recorded as it goes."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark.config import ConfigError, Settings
from benchmark.loop.feedback_loop import Attempt, FatalModelError, RecordedAttempt
from benchmark.models.base import ModelAPI, ModelOutput
from benchmark.models.pricing import cost_usd, price_basis
from benchmark.problems.dataset import Problem, load_dataset
from benchmark.progress import in_terminal, progress_bar
from benchmark.records.job_totals import count_whole_job
from benchmark.records.origin import config_hash, provenance
from benchmark.records.reasoning import reasoning_columns
from benchmark.records.reply_flags import ReplyFlags, reply_columns
from benchmark.records.resume import recorded_chains
from benchmark.records.tables import (
    RecordWriter,
    agent_columns,
    attempt_id,
    check_rows,
    finding_rows,
    outcome_columns,
)
from benchmark.runner.budget import BudgetLedger
from benchmark.runner.call_health import CallHealth
from benchmark.runner.capability_check import check_capabilities
from benchmark.runner.factory import create_loop, create_model, job_label
from benchmark.runner.prices import model_price, unpriced_budget_refusal
from benchmark.runner.sigterm import SigtermHandler
from benchmark.runner.suite_factory import prepare_suite
from benchmark.secrecy import Redactor, scrub
from benchmark.validators.cfn_lint.validator import (
    CfnLintValidator,
    lint_columns,
    linter_label,
)
from benchmark.validators.deploy.validator import DeployJob, DeployValidator
from benchmark.validators.suite import ValidatorSuite

SUMMARY_FILE = "job.json"


@dataclass(frozen=True)
class JobInfo:
    sweep_id: str
    job_id: int
    output_dir: Path
    sweep_dir: Path | None = None  # where the sweep's shared budget ledger lives

    @property
    def ledger_dir(self) -> Path:
        return self.sweep_dir or self.output_dir


@dataclass
class JobSummary:
    """job.json. The row counts (`job_totals.TOTALS`: attempts, chains, clean chains, tokens,
    cost, model errors, lint failures, response-cache hits, retries, stop reasons) are the whole
    job's, earlier runs' rows included; `this_run` holds the same counts for this run's own
    attempts (null where they are not told apart: rows that could not be read back, an import,
    a synthetic run). Every other field describes this run."""

    model: str
    simulated: bool
    chains: int = 0
    attempts: int = 0
    clean_chains: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens: read from the provider's prompt cache
    cache_write_tokens: int = 0  # of input_tokens: written to it
    cost_usd: float | None = 0.0
    model_errors: int = 0
    lint_failures: int = 0
    lint_cache_hits: int = 0  # lint results a cache answered (memory or the persistent one)
    lint_calls: int = 0  # templates cfn-lint itself linted (no cache had them)
    response_cache_hits: int = 0
    retries: int = 0
    resumed_attempts: int = 0  # recorded by an earlier run of this job, not redone
    resumed_chains_finished: int = 0
    unfinished_chains: int = 0  # left for a later resume (budget spent)
    torn_journal_lines: int = 0  # cut off the journal's end on open; their attempts ran again
    skipped_problems: dict[str, str] = field(default_factory=dict)  # id -> why the model cannot
    budget_stop: str | None = None
    deploy_leftovers: int = 0  # stacks the deploy validator could not confirm deleted
    seconds: float = 0.0
    fatal_error: str | None = None
    status: str = "running"  # complete | budget_exhausted | failed | interrupted
    stop_reasons: dict[str, int] = field(default_factory=dict)
    this_run: dict[str, Any] | None = None
    reply_flags: ReplyFlags = field(default_factory=ReplyFlags)  # usage dropped, replies cut


def key_base(settings: Settings, job: JobInfo, model: ModelAPI | None = None) -> dict[str, Any]:
    """The attempt key's fields that one job's attempts share. The model names itself (a
    simulator profile given as a path names the model after the profile); without one, the
    configured id stands in."""
    return {
        "sweep_id": job.sweep_id,
        "job_id": job.job_id,
        "model": model.id if model is not None else settings.model.id,
        "provider": model.provider if model is not None else settings.model.provider,
        "prompt_set": settings.prompts.name,
        "protocol": settings.loop.protocol,
        "max_iterations": settings.loop.max_iterations,
    }


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
        ledger: BudgetLedger,
        max_tokens: int | None = None,
    ) -> None:
        self.settings, self.job, self.model = settings, job, model
        self.writer, self.bar, self.summary, self.ledger = writer, bar, summary, ledger
        self.price = model_price(settings, model.id)
        self.redactor = Redactor.from_environment([settings.model.provider_config().api_key_env])
        self.base = key_base(settings, job, model)
        self.constant = {
            "simulated": model.simulated,
            "origin": "simulated" if model.simulated else "run",
            "dataset": settings.dataset.name,
            "language": settings.dataset.language,
            "output_format": settings.prompts.output_format,
            "clean_rule": settings.loop.clean_when,
            # as sent: `auto` and per-effort overrides resolved
            "max_tokens": max_tokens or settings.model.resolved_max_tokens(),
            "response_format": settings.model.response_format,
            "config_hash": config_hash(settings.result_fingerprint()),
            **provenance(),
            # a row no linter vouched for (Attempt.provenance): the configured release, no date
            **lint_columns(settings.lint.resolved_version, None),
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
        hit = out is not None and out.extra.get("cache_hit") == "true"
        basis = price_basis(out) if out is not None else None
        # a cache hit spends nothing: its usage is the original call's, its cost is 0
        cost = 0.0 if hit else (self.cost(out) if out is not None else None)
        # scored: a template was judged (not: no reply, a failed linter, an agent's row
        # that submitted nothing)
        scored = extraction is not None and attempt.stop_reason != "lint_failure"
        row: dict[str, Any] = {
            "attempt_id": aid,
            **key,
            **self.constant,
            "problem_sha256": attempt.problem.sha256,
            "reply": out.text if out else None,
            "template": extraction.template if extraction else None,
            "synth_template": attempt.synthesized,  # a CDK app's; its other columns: provenance
            "extraction_rule": extraction.rule if extraction else None,
            **outcome_columns(
                attempt.counts,
                scored,
                attempt.parse_ok,
                attempt.clean,
                attempt.lint_failures,
                attempt.checks,
                attempt.columns,
            ),
            "stop_reason": attempt.stop_reason,
            "feedback": attempt.feedback,
            **agent_columns(attempt.agent),
            "model_error": attempt.model_error,
            "finish_reason": out.finish_reason if out else None,
            "input_tokens": out.input_tokens if out else None,
            "output_tokens": out.output_tokens if out else None,
            "cached_tokens": out.cached_tokens if out else None,
            "cache_write_tokens": out.cache_write_tokens if out else None,
            "cache_write_1h_tokens": out.cache_write_1h_tokens if out else None,
            "latency_s": out.latency_s if out else None,
            "cost_usd": cost,
            "price_basis": basis,
            "request_id": out.request_id if out else None,
            "batch_id": out.batch_id if out else None,
            "cache_hit": hit if out else None,
            "retries": int(out.extra["retries"]) if out and "retries" in out.extra else None,
            **reply_columns(out),
            **reasoning_columns(
                self.settings.model.effort,
                self.settings.model.thinking,
                self.settings.model.thinking_display,
                self.model.api,
                out,
            ),
            "started_at": attempt.started_at,
            "finished_at": attempt.finished_at,
            "seed": self.seed(attempt.sample),
            # null where the provider takes no temperature (current Anthropic API versions)
            "temperature": None
            if out is not None and out.extra.get("temperature") == "omitted"
            else self.settings.model.temperature,
        }
        row.update(attempt.provenance)  # the linter that judged it: version, clock date
        # the feedback is this linter's text on this attempt (a rescore keeps it, the findings move)
        row["feedback_linter"] = (
            linter_label(row["cfn_lint_version"], row["lint_as_of"])
            if attempt.feedback is not None
            else None
        )
        findings = finding_rows(aid, key, attempt.findings)
        checks = check_rows(aid, key, attempt.checks)
        row["redactions"] = self.redactor.rows(row, findings, checks)  # echoed secrets
        self.writer.append(row, findings, checks)
        self._count(attempt, cost, hit)

    def cost(self, output: ModelOutput) -> float | None:
        """USD of one call, at the prices of the basis it was billed on (online or batch)."""
        price = self.price.basis(price_basis(output)) if self.price is not None else None
        return cost_usd(price, output)

    def seed(self, sample: int) -> int | None:
        """The seed that shaped the reply: the one sent to the API for this sample (model.seed
        + sample), or the simulator's."""
        if self.model.simulated:
            return int(self.settings.model.simulator.get("seed", self.settings.seed))
        base = self.settings.model.seed
        return None if base is None else base + sample

    def _count(self, attempt: Attempt, cost: float | None, hit: bool) -> None:
        s = self.summary
        s.attempts += 1
        out = attempt.output
        if out is not None:
            tokens = (out.input_tokens or 0) + (out.output_tokens or 0)
            s.input_tokens += out.input_tokens or 0
            s.output_tokens += out.output_tokens or 0
            s.cached_tokens += out.cached_tokens or 0
            s.cache_write_tokens += out.cache_write_tokens or 0
            s.cost_usd = None if cost is None or s.cost_usd is None else s.cost_usd + cost
            s.response_cache_hits += hit
            s.retries += int(out.extra.get("retries", 0))
            s.reply_flags.add(out)
            if not hit:
                self.ledger.charge(cost, tokens)
        s.model_errors += attempt.model_error is not None
        s.lint_failures += bool(attempt.lint_failures)
        if attempt.stop_reason is not None:
            s.chains += 1
            s.clean_chains += attempt.clean
            s.stop_reasons[attempt.stop_reason] = s.stop_reasons.get(attempt.stop_reason, 0) + 1
            skipped = self.settings.loop.max_iterations - attempt.iteration
            self.bar.total -= skipped  # the chain stopped early: its later attempts never run
        self.bar.update(1)
        self.bar.set_postfix_str(self.postfix(), refresh=False)

    def postfix(self) -> str:
        s = self.summary
        cost_text = "n/a" if s.cost_usd is None else f"${s.cost_usd:.4f}"
        if self.ledger.max_usd is not None:
            cost_text += f" (sweep ${self.ledger.totals()[0]:.2f}/${self.ledger.max_usd:g})"
        status = self.model.status()  # the rate limit in force, a batch's state
        return (
            f"clean {s.clean_chains}/{s.chains} chains, "
            f"tok {s.input_tokens + s.output_tokens:,}, cost {cost_text}"
            + (f", {status}" if status else "")
        )

    async def follow_status(self, every_s: float = 2.0) -> None:
        """Redraw the bar when the model's status changes between attempts (a batch polled)."""
        shown = self.model.status()
        while True:
            await asyncio.sleep(every_s)
            status = self.model.status()
            if status != shown:
                shown = status
                self.bar.set_postfix_str(self.postfix(), refresh=in_terminal())


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _runnable(model: ModelAPI, problems: list[Problem], summary: JobSummary) -> list[Problem]:
    """The problems the model can attempt; the others go in the summary and in one line."""
    skipped = {p.id: why for p in problems if (why := model.skip_reason(p)) is not None}
    if skipped:
        groups: dict[str, list[str]] = {}
        for problem_id, why in skipped.items():
            groups.setdefault(why, []).append(problem_id)
        named = "; ".join(f"{why}: {', '.join(ids)}" for why, ids in groups.items())
        print(
            f"note: {model.id} skips {len(skipped)} of {len(problems)} problems ({named})",
            file=sys.stderr,
            flush=True,
        )
    summary.skipped_problems = skipped
    return [p for p in problems if p.id not in skipped]


async def run_job(settings: Settings, job: JobInfo, api_key: str | None) -> JobSummary:
    """Run every chain of this job's configuration; rows land under `job.output_dir`.

    Attempts already recorded in `job.output_dir` are never redone: finished chains are
    skipped and unfinished ones go on from their last recorded iteration.
    """
    deploy = DeployJob(
        job.sweep_id,
        job.job_id,
        key_base(settings, job),
        job.ledger_dir,
        Path(settings.dataset.path),
    )
    suite = await prepare_suite(settings, deploy)
    try:
        return await _run_job(settings, job, api_key, suite)
    finally:
        suite.close()  # a no-op once the job closed it; here for a job that failed to start


async def _run_job(
    settings: Settings, job: JobInfo, api_key: str | None, suite: ValidatorSuite
) -> JobSummary:
    started = time.monotonic()
    # the model's price first: a bad model.prices file, or a dollar budget that cannot count
    # an unpriced model's spend, stops the job here in one line (run.py printed the note)
    if model_price(settings) is None:
        refused = unpriced_budget_refusal(settings.budget, [settings.model.id])
        if refused:
            raise ConfigError(refused)
    problems = load_dataset(settings.dataset.path, settings.dataset.only, settings.dataset.limit)
    fingerprint = config_hash(settings.result_fingerprint())
    recorded = recorded_chains(job.output_dir, fingerprint, problems)
    model = create_model(settings, {p.id: p for p in problems}, api_key, job.output_dir)
    try:  # before any generation call: a setting the model does not support is one line
        caps = await check_capabilities(model, settings.model, job.output_dir)
    except BaseException:
        await model.aclose()
        raise
    max_tokens = settings.model.resolved_max_tokens(caps.max_output_tokens if caps else None)
    summary = JobSummary(model=model.id, simulated=model.simulated)
    problems = _runnable(model, problems, summary)
    summary.resumed_attempts = recorded.attempts
    budget = settings.budget
    ledger = BudgetLedger(job.ledger_dir, job.job_id, budget.max_usd, budget.max_tokens)
    writer = RecordWriter(job.output_dir)
    summary.torn_journal_lines = writer.torn_lines
    loop_cfg = settings.loop

    plan: list[tuple[Problem, int, list[RecordedAttempt]]] = []
    for problem in problems:
        for sample in range(loop_cfg.samples):
            if (problem.id, sample) in recorded.finished:
                summary.resumed_chains_finished += 1
            else:
                plan.append((problem, sample, recorded.partial.get((problem.id, sample), [])))
    total = sum(loop_cfg.max_iterations - len(done) for _, _, done in plan)
    label = job_label(settings, model.id)
    bar = progress_bar(
        total=total, desc=label, unit="att", disable=not settings.progress, leave=True
    )

    health = CallHealth(model.id, settings.model.provider_config().stop_after_connection_failures)

    def may_start() -> bool:
        if health.stop_reason is not None:
            return False  # the server is out of reach: the rest is left for a resume
        if summary.budget_stop is None:
            summary.budget_stop = ledger.exhausted()
        return summary.budget_stop is None

    loop = create_loop(settings, model, suite, max_tokens, may_start)  # by loop.protocol
    recorder = Recorder(settings, job, model, writer, bar, summary, ledger, max_tokens)

    def on_attempt(attempt: Attempt) -> None:
        recorder(attempt)
        health.record(attempt)

    pending = iter(plan)

    async def worker() -> None:
        for problem, sample, done in pending:  # shared iterator: each chain is taken once
            resume = loop.resume_point(problem, done) if done else None
            try:
                if await loop.run_chain(problem, sample, on_attempt, resume) is None:
                    summary.unfinished_chains += 1
            finally:
                model.chain_closed()

    for _ in plan:
        model.chain_opened()  # batch mode flushes a round when every open chain is waiting
    # batch mode: every chain at once, so that a round holds every chain's next request
    concurrency = len(plan) if settings.model.batch else loop_cfg.concurrency
    status = asyncio.create_task(recorder.follow_status())
    stopping = SigtermHandler()
    try:
        workers = [asyncio.create_task(worker()) for _ in range(max(1, concurrency))]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            summary.status = "interrupted"  # SIGINT / SIGTERM: the finally cleans up
            raise
        except FatalModelError as exc:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            summary.fatal_error = str(exc)
        summary.fatal_error = summary.fatal_error or health.failure(summary.unfinished_chains)
        if summary.fatal_error:
            summary.status = "failed"
        elif summary.budget_stop:
            summary.status = "budget_exhausted"
        else:
            summary.status = "complete"
    finally:
        status.cancel()
        stopping.shield()
        bar.close()
        writer.close()
        mended = summary.reply_flags.warning()  # this run's replies: said once, here
        count_whole_job(summary, job.output_dir)
        suite.close()  # deploy deletes what it created here, also when interrupted
        for validator in suite.validators:
            if isinstance(validator, CfnLintValidator):
                summary.lint_cache_hits = validator.stats.cache_hits
                summary.lint_calls = validator.stats.linted
            if isinstance(validator, DeployValidator):
                summary.deploy_leftovers = len(validator.leftovers)
        await model.aclose()
        ledger.close()
        summary.seconds = round(time.monotonic() - started, 3)
        if mended:
            _warn(f"{model.id}: {mended}")
        write_summary(job.output_dir, summary)
        stopping.close()
    return summary


def write_summary(output_dir: Path, summary: JobSummary) -> None:
    """The job's marker file: its status and totals (written last, atomically)."""
    path = output_dir / SUMMARY_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(scrub(asdict(summary)), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
