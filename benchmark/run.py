"""Entry point: `python -m benchmark.run [-m] [hydra overrides]`. One call = one Hydra job."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmark.config import ConfigError, Settings, load_settings, resolve_api_key
from benchmark.loop.prompts import check_prompt_set
from benchmark.problems.dataset import DatasetError
from benchmark.runner.factory import job_label
from benchmark.runner.hydra_job import JobInfo, JobSummary, run_job, write_summary
from benchmark.runner.plan.sweep import format_plan, plan_settings, single
from benchmark.runner.prices import (
    model_price,
    no_price_note,
    price_as_note,
    unpriced_budget_refusal,
)
from benchmark.secrecy import redact_urls

log = logging.getLogger("benchmark")
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")

# The SDKs log request details at DEBUG and cfn-lint logs whole templates at INFO: keep them
# quiet so nothing sensitive or bulky reaches the job logs.
for _name in (
    "openai",
    "anthropic",
    "httpx",
    "httpx2",
    "httpcore",
    "cfnlint",
    "boto3",
    "botocore",
    "urllib3",
):
    logging.getLogger(_name).setLevel(logging.WARNING)


def _fail(job: JobInfo, message: str, code: int, multirun: bool) -> None:
    """One line, then: a single run exits with `code`; a multirun job records its failure in
    job.json and lets the other jobs go on (the sweep summary lists it and fails at the end)."""
    message = redact_urls(message)[0]
    print(f"error: {message}", file=sys.stderr, flush=True)
    if not multirun:
        sys.exit(code)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    write_summary(
        job.output_dir, JobSummary(model="?", simulated=False, status="failed", fatal_error=message)
    )


def _planned(settings: Settings, job: JobInfo, overrides: list[str]) -> bool:
    """Plan this job before any call (benchmark/runner/plan/) and write its plan.json; False when
    `plan=true` says to stop there. A maximum cost above `budget.max_usd` is a ConfigError
    unless `budget.allow_partial` (a multirun's total was checked before its jobs started)."""
    plan = single(settings, plan_settings(settings, job.job_id, overrides))
    path = plan.write(job.output_dir)
    if settings.plan:
        print(format_plan(plan))
        print(f"plan: {path}; plan=true: no call made", flush=True)
        return False
    refused = plan.refusal()
    if refused:
        raise ConfigError(refused)
    cost = plan.jobs[0].cost
    log.info(
        "job %s plan: %.0f calls expected (at most %.0f), cost %s (at most %s) -> %s",
        job.job_id,
        plan.jobs[0].calls.expected,
        plan.jobs[0].calls.maximum,
        "n/a" if cost.expected is None else f"${cost.expected:.2f}",
        "n/a" if cost.maximum is None else f"${cost.maximum:.2f}",
        path,
    )
    return True


@hydra.main(config_path=CONFIG_DIR, config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    is_multirun = str(hydra_cfg.mode) == "RunMode.MULTIRUN"
    sweep_dir = Path(hydra_cfg.sweep.dir) if is_multirun else output_dir
    job = JobInfo(
        sweep_id=sweep_dir.name,
        job_id=int(hydra_cfg.job.num) if is_multirun else 0,
        output_dir=output_dir,
        sweep_dir=sweep_dir,
    )
    try:
        settings = load_settings(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
        if model_price(settings) is None:  # the job's first line, or its refusal
            refused = unpriced_budget_refusal(settings.budget, [settings.model.id])
            if refused:
                raise ConfigError(refused)
            print(no_price_note(settings.model.id), file=sys.stderr, flush=True)
        elif (note := price_as_note(settings)) is not None:
            print(note, file=sys.stderr, flush=True)
        check_prompt_set(settings.prompts)
        if not _planned(settings, job, list(hydra_cfg.overrides.task)):
            return  # plan=true: the plan is all this job does
        api_key = resolve_api_key(settings)
    except (ConfigError, DatasetError) as exc:
        _fail(job, str(exc), 2, is_multirun)
        return
    if settings.model.provider == "simulated":
        print(
            f"offline: {settings.model.id} is the seeded repair simulator, not an LLM; "
            "every row it writes is labelled simulated",
            file=sys.stderr,
            flush=True,
        )
    if settings.model.effort is not None or settings.model.thinking is not None:
        log.info("job %s: %s", job.job_id, job_label(settings, settings.model.id))
    try:
        summary = asyncio.run(run_job(settings, job, api_key))
    except (ConfigError, DatasetError) as exc:
        _fail(job, str(exc), 2, is_multirun)
        return
    except (asyncio.CancelledError, KeyboardInterrupt):
        print(
            f"interrupted: job {job.job_id} stopped; rerun the same command to resume",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(130)
    if summary.fatal_error:
        print(f"error: job {job.job_id} stopped: {summary.fatal_error}", file=sys.stderr)
        if not is_multirun:
            sys.exit(3)
    if summary.budget_stop:
        print(
            f"budget: job {job.job_id} started no new attempt after {summary.budget_stop}; "
            f"{summary.unfinished_chains} chains left for a resume (resume={sweep_dir})",
            file=sys.stderr,
            flush=True,
        )
    if summary.resumed_attempts:
        log.info(
            "job %s resumed: %d attempts already recorded, %d chains already finished",
            job.job_id,
            summary.resumed_attempts,
            summary.resumed_chains_finished,
        )
    log.info(
        "job %s done: %d chains, %d clean, %d attempts in %.1fs -> %s",
        job.job_id,
        summary.chains,
        summary.clean_chains,
        summary.attempts,
        summary.seconds,
        output_dir,
    )


if __name__ == "__main__":
    main()
