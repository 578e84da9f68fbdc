"""Synthetic recorded runs: a profile's simulator run through the loop and the real linter.

For tests and worked examples of calibration and validation: the rates behind such a run are
known (they are the profile's), so what `calibrate` recovers from it can be checked. By default
the loop goes on after a clean template up to the last iteration, as the paper authors' loop
did (the run importer's recorded runs look like that), feeding back empty lint output. Every
row is the simulator's: `simulated` true, origin `simulated`, model `simulated/<profile>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import Settings, load_settings
from benchmark.loop.feedback_loop import Attempt, FeedbackLoop
from benchmark.models.base import GenerateConfig, ModelAPI
from benchmark.problems.dataset import load_dataset
from benchmark.progress import progress_bar
from benchmark.records.tables import RecordWriter
from benchmark.runner.budget import BudgetLedger
from benchmark.runner.factory import create_model
from benchmark.runner.hydra_job import JobInfo, JobSummary, Recorder, write_summary
from benchmark.runner.suite_factory import build_suite

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_settings(overrides: Sequence[str]) -> Settings:
    """The harness's settings for these Hydra overrides (conf/config.yaml and its groups)."""

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    raw.pop("hydra", None)
    return load_settings(raw)


class PastCleanLoop(FeedbackLoop):
    """The authors' loop: a clean template is sent back for repair too (with empty feedback),
    and every chain runs to `max_iterations`."""

    async def _attempt(self, *args: Any, **kwargs: Any) -> Attempt:
        attempt = await super()._attempt(*args, **kwargs)
        if attempt.stop_reason == "clean":
            attempt.stop_reason = None
        return attempt


async def _run(settings: Settings, out_dir: Path, continue_past_clean: bool) -> JobSummary:
    problems = load_dataset(settings.dataset.path, settings.dataset.only, settings.dataset.limit)
    model: ModelAPI = create_model(settings, {p.id: p for p in problems}, None)
    if not model.simulated:
        raise ValueError("synthesize runs the simulator only")
    summary = JobSummary(model=model.id, simulated=True)
    job = JobInfo(out_dir.name, 0, out_dir)
    ledger = BudgetLedger(out_dir, 0, None, None)
    suite = build_suite(settings)
    writer = RecordWriter(out_dir)
    loop_cfg = settings.loop
    total = len(problems) * loop_cfg.samples * loop_cfg.max_iterations
    bar = progress_bar(
        total=total, desc=f"synthesize {model.id}", unit="att", disable=not settings.progress
    )
    loop_class = PastCleanLoop if continue_past_clean else FeedbackLoop
    loop = loop_class(
        model,
        suite,
        settings.prompts,
        loop_cfg,
        lambda sample: GenerateConfig(settings.model.temperature, settings.model.max_tokens),
    )
    recorder = Recorder(settings, job, model, writer, bar, summary, ledger)
    pending = iter([(p, s) for p in problems for s in range(loop_cfg.samples)])

    async def worker() -> None:
        for problem, sample in pending:
            await loop.run_chain(problem, sample, recorder)

    try:
        await asyncio.gather(*(worker() for _ in range(loop_cfg.concurrency)))
        summary.status = "complete"
    finally:
        bar.close()
        writer.close()
        suite.close()
        ledger.close()
        write_summary(out_dir, summary)
    return summary


def synthesize(
    profile: str,
    dataset: str | Path,
    out_dir: str | Path,
    *,
    samples: int = 5,
    max_iterations: int = 10,
    only: Sequence[str] | None = None,
    prompts: str = "paper",
    protocol: str = "stateless",
    seed: int = 0,
    continue_past_clean: bool = True,
    progress: bool = True,
    lint_workers: int = 2,
) -> JobSummary:
    """Write a synthetic run of `profile` on `dataset` into `out_dir` (a new folder)."""
    out = Path(out_dir)
    if (out / "attempts").exists():
        raise FileExistsError(f"{out}: already holds a run; use a new folder")
    dataset_path = Path(dataset).resolve()
    overrides = [
        f"model.id=simulated/{Path(profile).stem}",
        f"model.simulator.profile={profile}",
        f"dataset.path={dataset_path}",
        f"dataset.name={dataset_path.name}",
        f"prompts={prompts}",
        f"loop.protocol={protocol}",
        f"loop.samples={samples}",
        f"loop.max_iterations={max_iterations}",
        f"seed={seed}",
        f"lint.workers={lint_workers}",
        f"progress={str(progress).lower()}",
    ]
    if only:
        overrides.append(f"dataset.only=[{','.join(only)}]")
    settings = compose_settings(overrides)
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(settings, out, continue_past_clean))
