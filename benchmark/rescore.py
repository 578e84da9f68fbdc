"""Re-validate a finished run's stored templates with today's validators, without model calls.

    python -m benchmark.rescore runs/<sweep> [--out DIR]

Each job folder is re-scored under its own saved settings (`.hydra/config.yaml`) into a new run
folder with the same layout. Keys, replies, templates, usage and the chains' original stop
reasons are kept; counts, findings, checks, `clean` and provenance are new.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from tqdm import tqdm

from benchmark.config import ConfigError, Settings, load_settings
from benchmark.job import SigtermHandler, build_suite
from benchmark.problems import DatasetError, Problem, load_dataset
from benchmark.provenance import provenance
from benchmark.records import (
    ATTEMPT_KEY,
    RecordWriter,
    check_rows,
    finding_rows,
    outcome_columns,
    read_table,
)
from benchmark.validators.base import AttemptRef
from benchmark.validators.deploy import DeployJob


def job_dirs(run: Path) -> list[Path]:
    """Every job folder under `run` (a folder holding attempts and its saved config)."""
    saved = (p.parent.parent for p in run.rglob("config.yaml") if p.parent.name == ".hydra")
    return sorted(job for job in saved if (job / "attempts").is_dir())


def job_settings(job_dir: Path, dataset_dir: Path | None) -> Settings:
    raw: dict[str, Any] = yaml.safe_load((job_dir / ".hydra" / "config.yaml").read_text())
    if dataset_dir is not None:
        raw["dataset"]["path"] = str(dataset_dir)
    return load_settings(raw)


def _deploy_job(attempts: pd.DataFrame, out_root: Path, settings: Settings) -> DeployJob | None:
    """Whose attempts deploy acts for: stacks are tagged with the new run folder's name as the
    sweep (a janitor or a resume of the original sweep never touches them), and with each
    attempt's original id."""
    if attempts.empty:
        return None
    first = attempts.iloc[0]
    shared = [name for name in ATTEMPT_KEY if name not in ("problem_id", "sample", "iteration")]
    key_base = {
        name: first[name].item() if hasattr(first[name], "item") else first[name] for name in shared
    }
    return DeployJob(
        out_root.name, int(first["job_id"]), key_base, out_root, Path(settings.dataset.path)
    )


async def rescore_job(
    job_dir: Path, out_dir: Path, settings: Settings, bar: tqdm, out_root: Path | None = None
) -> int:
    problems: dict[str, Problem] = {
        p.id: p for p in load_dataset(settings.dataset.path, settings.dataset.only)
    }
    attempts = read_table(job_dir, "attempts")
    suite = build_suite(settings, _deploy_job(attempts, out_root or out_dir, settings))
    writer = RecordWriter(out_dir)
    stamp = provenance()
    try:
        for row in attempts.sort_values(ATTEMPT_KEY).to_dict("records"):
            row = {k: (None if v != v else v) for k, v in row.items()}  # NaN -> None
            key = {name: row[name] for name in ATTEMPT_KEY}
            template = row["template"]
            new = {**row, **stamp}
            findings: list[Any] = []
            checks: list[Any] = []
            if template is not None:
                ref = AttemptRef(row["problem_id"], int(row["sample"]), int(row["iteration"]))
                verdict = await suite.check(template, problems.get(row["problem_id"]), ref)
                findings, checks = verdict.findings, verdict.checks
                new.update(verdict.provenance)
                new.update(
                    outcome_columns(
                        verdict.counts,
                        not verdict.gating_failed,
                        verdict.parse_ok,
                        verdict.clean,
                        verdict.failures,
                        checks,
                        verdict.columns,
                    )
                )
            writer.append(
                new,
                finding_rows(row["attempt_id"], key, findings),
                check_rows(row["attempt_id"], key, checks),
            )
            bar.update(1)
    finally:
        writer.close()
        suite.close()
    saved = job_dir / ".hydra"
    shutil.copytree(saved, out_dir / ".hydra", dirs_exist_ok=True)
    return len(attempts)


async def rescore(run: Path, out: Path, dataset_dir: Path | None) -> int:
    jobs = job_dirs(run)
    if not jobs:
        raise ConfigError(f"{run}: no job folders (with .hydra/config.yaml and attempts/) found")
    total = sum(len(read_table(job, "attempts")) for job in jobs)
    done = 0
    stopping = SigtermHandler()  # SIGTERM stops like Ctrl-C: validators close (deploy cleans up)
    try:
        with tqdm(total=total, desc="re-scoring", unit="att") as bar:
            for job in jobs:
                settings = job_settings(job, dataset_dir)
                done += await rescore_job(job, out / job.relative_to(run), settings, bar, out)
    finally:
        stopping.close()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.rescore",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", type=Path, help="a finished run folder (a sweep or one job)")
    parser.add_argument("--out", type=Path, help="new run folder (default: <run>-rescored)")
    parser.add_argument("--dataset-dir", type=Path, help="problems folder, if it moved")
    args = parser.parse_args(argv)
    out = args.out or args.run.with_name(f"{args.run.name}-rescored")
    if out.exists() and any(out.iterdir()):
        print(f"error: {out} exists and is not empty; choose --out", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(rescore(args.run, out, args.dataset_dir))
    except (ConfigError, DatasetError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"re-scored {count} attempts of {args.run} into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
