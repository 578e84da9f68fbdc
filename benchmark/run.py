"""Entry point: `python -m benchmark.run [-m] [hydra overrides]`. One call = one Hydra job."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmark.config import ConfigError, load_settings, resolve_api_key
from benchmark.job import JobInfo, run_job
from benchmark.problems import DatasetError
from benchmark.prompts import check_prompt_set

log = logging.getLogger("benchmark")
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")

# The SDKs log request details at DEBUG and cfn-lint logs whole templates at INFO: keep them
# quiet so nothing sensitive or bulky reaches the job logs.
for _name in ("openai", "anthropic", "httpx", "httpcore", "cfnlint"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def _fail(message: str, code: int) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


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
        check_prompt_set(settings.prompts)
        api_key = resolve_api_key(settings)
    except (ConfigError, DatasetError) as exc:
        _fail(str(exc), 2)
        return
    if settings.model.provider == "simulated":
        print(
            f"offline: {settings.model.id} is the seeded repair simulator, not an LLM; "
            "every row it writes is labelled simulated",
            file=sys.stderr,
            flush=True,
        )
    try:
        summary = asyncio.run(run_job(settings, job, api_key))
    except (ConfigError, DatasetError) as exc:
        _fail(str(exc), 2)
        return
    if summary.fatal_error:
        _fail(f"job {job.job_id} stopped: {summary.fatal_error}", 3)
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
