"""Re-validate a finished run's stored templates with today's validators, without model calls.

    python -m benchmark.replication.rescore runs/<sweep> [--out DIR] [--cfn-lint 1.4.2] \
        [--as-of 2024-08-01]

Each job folder is re-scored under its own saved settings (`.hydra/config.yaml`) into a new run
folder with the same layout; saved settings that are not the ones its rows record (config hash,
linter release and date) are refused in one line. Keys, replies, templates, usage and the
chains' original stop reasons are kept; counts, findings, checks, `clean` and provenance are
new. Findings recorded by someone else (an imported run's `cfn-lint (recorded by the authors)`)
are data, not a verdict: they are carried over. `--cfn-lint` and `--as-of` re-lint with another
cfn-lint release and/or its clock frozen to a day (`--as-of today`: the real clock); they are
written into the new run's saved config, so the new run says how it was linted and is compared
only with runs linted the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml
from tqdm import tqdm

from benchmark.config import ConfigError, Settings, load_settings
from benchmark.help_examples import examples
from benchmark.problems.dataset import DatasetError, Problem, load_dataset
from benchmark.progress import progress_bar
from benchmark.records.origin import config_hash, provenance
from benchmark.records.tables import (
    ATTEMPT_KEY,
    SCHEMAS,
    RecordWriter,
    check_rows,
    finding_rows,
    outcome_columns,
    read_table,
)
from benchmark.replication.paper_repo import RECORDED_LINTER, RECORDED_SOURCE
from benchmark.runner.run_folder_check import fingerprint_as_saved, rescore_refusal
from benchmark.runner.sigterm import SigtermHandler
from benchmark.runner.suite_factory import prepare_suite
from benchmark.validators.base import AttemptRef
from benchmark.validators.cfn_lint.validator import lint_columns, linter_label
from benchmark.validators.deploy.validator import DeployJob

CONFIG = Path(".hydra") / "config.yaml"

_INTEGER_FINDING_FIELDS = [f.name for f in SCHEMAS["findings"] if pa.types.is_integer(f.type)]


def recorded_findings(job_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """attempt_id -> the findings of a job that no validator of ours produced (kept as data)."""
    findings = read_table(job_dir, "findings")
    kept = findings[findings["source"] == RECORDED_SOURCE]
    out: dict[str, list[dict[str, Any]]] = {}
    for row in kept.sort_values(["attempt_id", "finding_index"]).to_dict("records"):
        row = {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for name in _INTEGER_FINDING_FIELDS:
            row[name] = None if row[name] is None else int(row[name])
        out.setdefault(row["attempt_id"], []).append(row)
    return out


def feedback_linter_of(row: dict[str, Any]) -> str | None:
    """The linter that wrote a row's feedback: as recorded, or (a row written before the column
    existed) the one that judged it then, "recorded" for an imported row."""
    if row.get("feedback") is None:
        return None
    if row.get("feedback_linter"):
        return str(row["feedback_linter"])
    if row.get("origin") == "recorded":
        return RECORDED_LINTER
    return linter_label(row.get("cfn_lint_version"), row.get("lint_as_of"))


def job_dirs(run: Path) -> list[Path]:
    """Every job folder under `run` (a folder holding attempts and its saved config)."""
    saved = (p.parent.parent for p in run.rglob("config.yaml") if p.parent.name == ".hydra")
    return sorted(job for job in saved if (job / "attempts").is_dir())


def job_settings(
    job_dir: Path, dataset_dir: Path | None, lint: dict[str, Any] | None = None
) -> Settings:
    """A job's saved settings; `lint` overrides keys of its `lint` section."""
    raw: dict[str, Any] = yaml.safe_load((job_dir / CONFIG).read_text())
    if dataset_dir is not None:
        raw["dataset"]["path"] = str(dataset_dir)
    raw["lint"] = {**raw.get("lint", {}), **(lint or {})}
    return load_settings(raw)


def saved_dataset(job_dir: Path) -> dict[str, Any]:
    """The `dataset` section saved beside the job's rows (its path, not `--dataset-dir`)."""
    return yaml.safe_load((job_dir / CONFIG).read_text())["dataset"]


def check_saved_settings(job_dir: Path, dataset_dir: Path | None) -> None:
    """A ConfigError (one line) when the job's saved settings are not the ones its rows
    record: a job is re-scored under its saved settings, so they must be the rows' own."""
    settings = job_settings(job_dir, dataset_dir)
    attempts = read_table(job_dir, "attempts")
    refused = rescore_refusal(job_dir, settings, saved_dataset(job_dir), attempts)
    if refused:
        raise ConfigError(refused)


def save_config(job_dir: Path, out_dir: Path, lint: dict[str, Any]) -> None:
    """The job's saved Hydra files, with the lint overrides written into its config."""
    shutil.copytree(job_dir / ".hydra", out_dir / ".hydra", dirs_exist_ok=True)
    if lint:
        path = out_dir / CONFIG
        raw = yaml.safe_load(path.read_text())
        raw["lint"] = {**raw.get("lint", {}), **lint}
        path.write_text(yaml.safe_dump(raw, sort_keys=False))


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
    carried = recorded_findings(job_dir)
    suite = await prepare_suite(settings, _deploy_job(attempts, out_root or out_dir, settings))
    writer = RecordWriter(out_dir, sync_each=False)  # a killed rescore is simply run again
    # the settings written beside the rows (not --dataset-dir), the problems as found today
    stamp = {
        **provenance(),
        "config_hash": config_hash(fingerprint_as_saved(settings, saved_dataset(job_dir))),
        **lint_columns(settings.lint.resolved_version, None),  # until cfn-lint vouches for it
    }
    try:
        for row in attempts.sort_values(ATTEMPT_KEY).to_dict("records"):
            row = {k: (None if v != v else v) for k, v in row.items()}  # NaN -> None
            key = {name: row[name] for name in ATTEMPT_KEY}
            template = row["template"]
            new = {**row, **stamp}
            new["feedback_linter"] = feedback_linter_of(row)  # the text stays, so does its linter
            findings: list[Any] = []
            checks: list[Any] = []
            if template is not None:
                ref = AttemptRef(row["problem_id"], int(row["sample"]), int(row["iteration"]))
                verdict = await suite.check(template, problems.get(row["problem_id"]), ref)
                findings, checks = verdict.findings, verdict.checks
                new.update(verdict.provenance)
                if suite.front is not None:  # a CDK app, synthesized again
                    new["synth_template"] = verdict.synthesized
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
            rows = finding_rows(row["attempt_id"], key, findings)
            rows += [
                {**kept, "finding_index": len(rows) + i}
                for i, kept in enumerate(carried.get(row["attempt_id"], []))
            ]
            writer.append(new, rows, check_rows(row["attempt_id"], key, checks))
            bar.update(1)
    finally:
        writer.close()
        suite.close()
    return len(attempts)


async def rescore(
    run: Path, out: Path, dataset_dir: Path | None, lint: dict[str, Any] | None = None
) -> int:
    """Re-score every job of `run` into `out`; `lint` overrides each job's lint settings."""
    jobs = job_dirs(run)
    if not jobs:
        raise ConfigError(f"{run}: no job folders (with .hydra/config.yaml and attempts/) found")
    settings = {job: job_settings(job, dataset_dir, lint) for job in jobs}  # all checked first
    for job in jobs:
        check_saved_settings(job, dataset_dir)
    total = sum(len(read_table(job, "attempts")) for job in jobs)
    done = 0
    stopping = SigtermHandler()  # SIGTERM stops like Ctrl-C: validators close (deploy cleans up)
    try:
        with progress_bar(total=total, desc="re-scoring", unit="att") as bar:
            for job in jobs:
                target = out / job.relative_to(run)
                done += await rescore_job(job, target, settings[job], bar, out)
                save_config(job, target, lint or {})
    finally:
        stopping.close()
    return done


def _as_of(text: str) -> date | None:
    if text == "today":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or 'today': {text!r}") from None


def lint_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The `lint` keys the command line sets."""
    out: dict[str, Any] = {}
    if args.cfn_lint is not None:
        out["cfn_lint_version"] = args.cfn_lint
    if "as_of" in vars(args):  # given: a day, or None for today
        out["as_of"] = args.as_of.isoformat() if args.as_of else None
    return out


def main(
    argv: list[str] | None = None, prog: str = "python -m benchmark.replication.rescore"
) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        **examples(
            "iacbench rescore runs/<sweep>",
            "iacbench rescore runs/<sweep> --cfn-lint 1.19.0 --as-of 2024-11-01",
        ),
    )
    parser.add_argument("run", type=Path, help="a finished run folder (a sweep or one job)")
    parser.add_argument("--out", type=Path, help="new run folder (default: <run>-rescored)")
    parser.add_argument("--dataset-dir", type=Path, help="problems folder, if it moved")
    parser.add_argument(
        "--cfn-lint", metavar="VERSION", help="re-lint with this cfn-lint 1.x release"
    )
    parser.add_argument(
        "--as-of",
        type=_as_of,
        default=argparse.SUPPRESS,
        metavar="DATE",
        help="freeze cfn-lint's clock to this day (YYYY-MM-DD), or 'today' for the real clock",
    )
    args = parser.parse_args(argv)
    out = args.out or args.run.with_name(f"{args.run.name}-rescored")
    if out.exists() and any(out.iterdir()):
        print(f"error: {out} exists and is not empty; choose --out", file=sys.stderr)
        return 2
    try:
        lint = lint_overrides(args)
        count = asyncio.run(rescore(args.run, out, args.dataset_dir, lint))
    except (ConfigError, DatasetError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"re-scored {count} attempts of {args.run} into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
