"""What a job already recorded: which chains are finished and where the others go on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.config import ConfigError
from benchmark.loop.feedback_loop import RecordedAttempt
from benchmark.problems.dataset import Problem
from benchmark.records.reasoning import carry_items
from benchmark.records.tables import read_table

ChainKey = tuple[str, int]  # (problem_id, sample)


@dataclass
class Recorded:
    """A job folder's recorded attempts, by chain."""

    finished: set[ChainKey] = field(default_factory=set)
    partial: dict[ChainKey, list[RecordedAttempt]] = field(default_factory=dict)
    attempts: int = 0


def changed_problems(attempts: pd.DataFrame, problems: Sequence[Problem]) -> list[str]:
    """Ids of `problems` whose content differs from what the rows were made from (rows that
    record no digest, as from before it was recorded, are not compared)."""
    today = {p.id: p.sha256 for p in problems}
    recorded = attempts.dropna(subset=["problem_sha256"])
    return sorted(
        str(problem_id)
        for problem_id, digests in recorded.groupby("problem_id")["problem_sha256"]
        if problem_id in today and set(digests) != {today[problem_id]}
    )


def _text(value: Any) -> str | None:
    """A string column's value; None for null (NaN where a column an older row lacks)."""
    return value if isinstance(value, str) else None


def _agent_fields(row: Any) -> tuple[str | None, int | None, str | None]:
    """What an agent chain's resume needs of a row: its tool, its findings, its turns (all
    None for a fixed loop's row and for folders from before the agent protocol)."""
    counts = [getattr(row, name) for name in ("errors", "warnings", "infos")]
    findings = None if any(pd.isna(c) for c in counts) else int(sum(counts))
    return _text(getattr(row, "tool", None)), findings, _text(getattr(row, "agent_turns", None))


def recorded_chains(job_dir: Path, config_hash: str, problems: Sequence[Problem] = ()) -> Recorded:
    """Read `job_dir`'s attempts; refuse a folder written under another configuration or from
    other contents of `problems` (the job's problems as loaded today)."""
    found = Recorded()
    if not job_dir.exists():
        return found
    attempts = read_table(job_dir, "attempts")
    if attempts.empty:
        return found
    changed = changed_problems(attempts, problems)
    if changed:
        raise ConfigError(
            f"cannot resume in {job_dir}: problem files changed since its attempts were "
            f"recorded: {', '.join(changed)}; restore them or use a new folder"
        )
    others = set(attempts["config_hash"].dropna()) - {config_hash}
    if others:
        raise ConfigError(
            f"cannot resume in {job_dir}: it holds attempts of another configuration "
            f"(config hash {sorted(others)[0]}, this run {config_hash}); use a new folder"
        )
    found.attempts = len(attempts)
    for (problem_id, sample), chain in attempts.groupby(["problem_id", "sample"], sort=False):
        chain = chain.sort_values("iteration")
        key = (str(problem_id), int(sample))
        if chain["stop_reason"].notna().any():
            found.finished.add(key)
            continue
        rows: list[RecordedAttempt] = []
        for expected, row in enumerate(chain.itertuples(index=False), start=1):
            if row.iteration != expected or row.feedback is None or row.template is None:
                break  # only an unbroken run of iterations 1..n can be continued
            carry = carry_items(row.reasoning_carry)
            rows.append(
                RecordedAttempt(row.reply, row.template, row.feedback, carry, *_agent_fields(row))
            )
        if rows:
            found.partial[key] = rows
    return found
