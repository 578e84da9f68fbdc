"""Held-out validation: a source run's chains split by trial or by sample.

    calibrate RUN --train trials=1-3          # the profile learns from trials 1-3 only
    validate-profile PROFILE --run RUN --test trials=4-6

A split is `trials=...` or `samples=...`, a comma list of numbers and inclusive ranges
(`1-3`, `0,2,4-9`). Samples are the harness's `sample` column. Trials are the recorded run's
own (the authors' `JSONwork_batching{T}` folders, read from `recorded_from`); a run without them
is refused in one line. Whole chains go to one side, so nothing learnt leaks into the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from studies.recorded_chains import CalibrationError

AXES = {"trials": "trial", "samples": "sample"}
TRIAL_IN_PATH = re.compile(r"JSONwork_batching(\d+)/")


@dataclass(frozen=True)
class Split:
    axis: str  # trials | samples
    values: frozenset[int]
    spec: str

    @classmethod
    def parse(cls, spec: str, option: str = "--train") -> Split:
        axis, sep, listed = spec.partition("=")
        if not sep or axis not in AXES:
            raise CalibrationError(
                f"{option} {spec!r}: expected trials=LIST or samples=LIST, e.g. trials=1-3"
            )
        values: set[int] = set()
        for part in listed.split(","):
            low, dash, high = part.strip().partition("-")
            try:
                first, last = int(low), int(high) if dash else int(low)
            except ValueError:
                raise CalibrationError(
                    f"{option} {spec!r}: {part!r} is not a number or a range like 1-3"
                ) from None
            if last < first:
                raise CalibrationError(f"{option} {spec!r}: range {part!r} runs backwards")
            values.update(range(first, last + 1))
        return cls(axis, frozenset(values), f"{axis}={listed}")

    def describe(self) -> dict[str, object]:
        return {"by": self.axis, "keep": sorted(self.values), "spec": self.spec}

    def overlaps(self, recorded: object) -> bool:
        """Whether a profile's recorded split (`source.split`) shares chains with this one."""
        if not isinstance(recorded, dict) or recorded.get("by") != self.axis:
            return False
        return bool(self.values & {int(v) for v in recorded.get("keep", [])})


def trials(attempts: pd.DataFrame) -> pd.Series:
    """The recorded trial of each attempt (from `recorded_from`); refused where it has none."""
    paths = attempts.get("recorded_from", pd.Series(index=attempts.index, dtype=object))
    found = paths.fillna("").astype(str).str.extract(TRIAL_IN_PATH)[0]
    # a row whose file was not published still names the trial it belonged to
    if found.isna().any():
        raise CalibrationError(
            "trials=: this run records no trials (only an imported run of the authors' "
            "repository does); split by samples= instead"
        )
    return found.astype(int)


def take(attempts: pd.DataFrame, split: Split | None) -> pd.DataFrame:
    """The attempts of the chains on the split's side (all of them without a split)."""
    if split is None:
        return attempts
    axis = trials(attempts) if split.axis == "trials" else attempts["sample"].astype(int)
    kept = attempts[axis.isin(split.values)]
    if kept.empty:
        raise CalibrationError(f"{split.spec}: no attempt of the run falls in it")
    return kept
