"""Do a run folder's rows match the settings about to write into it, or to re-score it?

Every attempt row records the config hash of the settings that made it
(`config_hash(settings.result_fingerprint())`). A resume must go on under the same settings,
and `rescore` must re-score under the settings the rows were made with: both are checked here,
from the rows, before anything is written. Where the folder's saved `.hydra/config.yaml` still
matches its rows, the refusal also names the settings that differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark.config import ConfigError, Settings, load_settings
from benchmark.problems.dataset import DatasetError, load_dataset
from benchmark.records.origin import config_hash
from benchmark.records.resume import changed_problems
from benchmark.records.tables import SCHEMAS, read_table

SAVED_CONFIG = Path(".hydra") / "config.yaml"
_SHOWN = 3  # differing settings named in a refusal


def fingerprint_as_saved(
    settings: Settings, saved: dict[str, Any], recorded_problems: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`settings`' fingerprint naming the dataset by the path saved beside the rows (`saved`:
    the saved config's `dataset` section), as the rows' config hash does, while its problems
    are read from wherever `settings` reads them (`rescore --dataset-dir`)."""
    fingerprint = settings.result_fingerprint(recorded_problems)
    fingerprint["dataset"]["path"] = saved["path"]
    return fingerprint


def recorded_problems(attempts: pd.DataFrame) -> dict[str, str]:
    """Problem id -> the digest of the problem its rows were made from (rows that record one)."""
    known = attempts.dropna(subset=["problem_sha256"])
    return dict(zip(known["problem_id"].astype(str), known["problem_sha256"], strict=True))


def recorded_attempts(job_dir: Path) -> pd.DataFrame:
    """`job_dir`'s attempts (none for a folder that does not exist)."""
    if not job_dir.is_dir():
        return SCHEMAS["attempts"].empty_table().to_pandas()
    return read_table(job_dir, "attempts")


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."


def differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`key: old -> new` for the first settings that differ between two fingerprints."""
    before, after = _flat(old), _flat(new)
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    shown = [f"{k}: {_short(before.get(k))} -> {_short(after.get(k))}" for k in keys[:_SHOWN]]
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(shown) + more


def saved_fingerprint(job_dir: Path) -> dict[str, Any] | None:
    """The fingerprint of the settings saved beside `job_dir`'s rows; None when they cannot
    be read (missing, from an older layout, a dataset that moved)."""
    try:
        raw = yaml.safe_load((job_dir / SAVED_CONFIG).read_text())
        return load_settings(raw).result_fingerprint()
    except (OSError, yaml.YAMLError, ConfigError, DatasetError, TypeError, KeyError):
        return None


def resume_refusal(
    job_dir: Path, label: str, settings: Settings, attempts: pd.DataFrame
) -> str | None:
    """One line refusing to write `settings`' attempts into `job_dir`, whose rows are
    `attempts`, or None when they (if any) were all made under the same settings, from the
    same problems."""
    recorded = set(attempts["config_hash"].dropna())
    if not recorded:
        return None
    fingerprint = settings.result_fingerprint()
    mine = config_hash(fingerprint)
    others = sorted(recorded - {mine})
    if not others:
        return None
    dataset = settings.dataset
    changed = changed_problems(attempts, load_dataset(dataset.path, dataset.only, dataset.limit))
    if changed:
        return (
            f"cannot resume {label} in {job_dir}: problem files changed since its attempts were "
            f"recorded: {', '.join(changed)}; nothing was written; use a new folder"
        )
    detail = ""
    saved = saved_fingerprint(job_dir)
    if saved is not None and config_hash(saved) == others[0]:
        detail = f" ({differences(saved, fingerprint)})"
    return (
        f"cannot resume {label} in {job_dir}: its attempts were recorded under config hash "
        f"{others[0]}, this run's is {mine}{detail}; nothing was written; use a new folder"
    )


def rescore_refusal(
    job_dir: Path, saved: Settings, saved_dataset: dict[str, Any], attempts: pd.DataFrame
) -> str | None:
    """One line refusing to re-score `job_dir` under its saved settings when they are not
    the ones its rows record (config hash, the linter release and its frozen date). Problems
    that changed since the run do not count: re-scoring under new intent checks is the point;
    the hash is taken over the problems as the rows record them."""
    fingerprint = fingerprint_as_saved(saved, saved_dataset, recorded_problems(attempts))
    mine = config_hash(fingerprint)
    found = []
    others = sorted(set(attempts["config_hash"].dropna()) - {mine})
    if others:
        found.append(f"config hash {mine}, rows {', '.join(others)}")
    version = saved.lint.resolved_version
    linted = sorted(set(attempts["cfn_lint_version"].dropna()) - {version})
    if linted:
        found.append(f"lint.cfn_lint_version {version}, rows linted by {', '.join(linted)}")
    if saved.lint.as_of is not None:
        days = sorted(str(d) for d in set(attempts["lint_as_of"].dropna()) - {saved.lint.as_of})
        if days:
            found.append(f"lint.as_of {saved.lint.as_of}, rows linted as of {', '.join(days)}")
    if not found:
        return None
    return (
        f"cannot rescore {job_dir}: its saved settings ({SAVED_CONFIG}) are not the ones its "
        f"rows were made with: {'; '.join(found)}"
    )
