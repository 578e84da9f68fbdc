"""A recorded run's chains as the harness would have run them: one group's attempts, each
chain cut at its first clean attempt; whether a reply parsed; whether feedback named a rule."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

GROUP = ["model", "prompt_set", "protocol"]
CHAIN = ["sweep_id", "job_id", "problem_id", "sample"]
SYNTAX_RULE = "E0000"


class CalibrationError(ValueError):
    """A run or selection that cannot be calibrated from. The message is one line."""


# ---- reading the run -------------------------------------------------------------------------


def select(attempts: pd.DataFrame, where: Mapping[str, str]) -> pd.DataFrame:
    """The attempts of one model x prompt set x protocol group (`where` picks it)."""
    for key, value in where.items():
        if key not in attempts:
            raise CalibrationError(f"--where {key}={value}: no column {key!r} in attempts")
        attempts = attempts[attempts[key].astype(str) == value]
    groups = attempts[GROUP].drop_duplicates()
    if len(groups) != 1:
        listed = "; ".join(
            ", ".join(f"{k}={v}" for k, v in row.items()) for row in groups.to_dict("records")
        )
        raise CalibrationError(
            f"calibrate needs one model x prompt set x protocol group, found {len(groups)}"
            + (f" ({listed}); pick one with --where KEY=VALUE" if len(groups) else "")
        )
    return attempts


def source_dataset(run: Path, name: str) -> Path:
    """The dataset folder a run's problems come from: the one its saved config names (an
    imported run of the authors' names paper33, whose problems it maps theirs to), else
    datasets/<name>."""
    for saved in sorted(run.rglob(".hydra/config.yaml")):
        path = (yaml.safe_load(saved.read_text(encoding="utf-8")) or {}).get("dataset", {})
        folder = Path(str(path.get("path") or ""))
        if str(folder) not in ("", ".") and folder.is_dir():
            return folder
    return Path("datasets") / name


def harness_view(attempts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Each chain as the harness would have run it: up to its first clean attempt, and up to
    its first attempt that was not scored (a model error or a lint failure ends a chain).
    Returns the kept attempts and the number of chains that went on past a clean attempt."""
    frame = attempts.sort_values([*CHAIN, "iteration"])
    scored = (  # judged by the linter (a recorded run may publish counts without templates)
        frame["model_error"].isna()
        & frame["errors"].notna()
        & (frame["stop_reason"].fillna("") != "lint_failure")
    )
    frame = frame.assign(_scored=scored, _clean=frame["clean"].fillna(False).astype(bool))
    grouped = frame.groupby(CHAIN, sort=False)
    # an attempt is kept if no earlier attempt of its chain was clean or unscored
    ended_before = grouped["_clean"].transform(lambda s: s.shift(fill_value=False).cummax())
    broke_before = grouped["_scored"].transform(lambda s: (~s).shift(fill_value=False).cummax())
    unscored = ~frame["_scored"]
    keep = ~ended_before & ~broke_before & ~unscored
    past_clean = int((frame[ended_before].groupby(CHAIN).size() > 0).sum())
    return frame[keep].drop(columns=["_scored", "_clean"]), past_clean


def parsed(attempt: pd.Series, rules: Iterable[str]) -> bool:
    if pd.notna(attempt.get("parse_ok")):
        return bool(attempt["parse_ok"])
    return SYNTAX_RULE not in set(rules)


def mentions(feedback: Any, rule_id: str) -> bool:
    """Whether the feedback names the rule (a recorded run without feedback text: assume yes)."""
    if not isinstance(feedback, str):
        return True
    return re.search(rf"\b{re.escape(rule_id)}\b", feedback) is not None
