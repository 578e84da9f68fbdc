"""Which rules the feedback of a recorded attempt named, read from the linter that wrote it.

A finding's "fixed when named" rate needs to know whether the model was told about it. The text
the model was shown (`attempts.feedback`) was written by one linter (`feedback_linter`), the
findings counted by another when the run was rescored or imported (`cfn_lint_version` @
`lint_as_of`): a rule that only the counting linter knows was never named, whatever the rate
of its fixes says. So an attempt's named rules are read:

* from its feedback text, where the two linters are one;
* from the findings the recording linter produced, where the run carries them (an imported
  run: the authors' lint text, parsed by the import, source `cfn-lint (recorded by the
  authors)`);
* not at all otherwise: the repair after it is left out of the fix rates (its findings'
  lifetimes are censored there).

A run where no attempt can be read is refused, in one line naming the rescore that fixes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.replication.paper_repo import RECORDED_LINTER, RECORDED_SOURCE
from benchmark.validators.cfn_lint.validator import linter_label
from studies.recorded_chains import CalibrationError, mentions

TEXT = "text"  # the feedback text names the rules (one linter behind text and findings)
RECORDED = "recorded findings"  # the recording linter's own findings name them
UNREAD = "unread"  # neither: the next repair is left out of the fix rates


@dataclass(frozen=True)
class Naming:
    """Per attempt: how its named rules are read, and the recorded rules where those are used."""

    how: Mapping[str, str]  # attempt_id -> TEXT | RECORDED | UNREAD
    recorded: Mapping[str, frozenset[str]]  # attempt_id -> rules the recording linter found
    feedback: Mapping[str, Any]  # attempt_id -> the text shown
    shown_by: tuple[str, ...] = ()  # the linters that wrote the feedback

    def named(self, attempt_id: str, rule_id: str) -> bool | None:
        """Whether the feedback of `attempt_id` named `rule_id`; None: it cannot be told."""
        how = self.how.get(attempt_id, TEXT)
        if how == TEXT:
            return mentions(self.feedback.get(attempt_id), rule_id)
        if how == RECORDED:
            return rule_id in self.recorded.get(attempt_id, frozenset())
        return None

    def summary(self) -> dict[str, int]:
        counts = pd.Series(list(self.how.values()), dtype=object).value_counts()
        return {how: int(counts.get(how, 0)) for how in (TEXT, RECORDED, UNREAD)}


def findings_linter(row: Mapping[str, Any]) -> str | None:
    return linter_label(row.get("cfn_lint_version"), row.get("lint_as_of"))


def feedback_linter(row: Mapping[str, Any]) -> str | None:
    """The row's `feedback_linter`; a run written before the column: the findings' linter (its
    text and findings came from one lint), "recorded" for an imported row."""
    value = row.get("feedback_linter")
    if isinstance(value, str) and value:
        return value
    if row.get("origin") == "recorded":
        return RECORDED_LINTER
    return findings_linter(row)


def read_naming(run: Path, view: pd.DataFrame, all_findings: pd.DataFrame) -> Naming:
    """How each attempt of `view` (with feedback) names its rules; refused if none can be read.

    `all_findings` are the view's findings from every source (the recorded ones included)."""
    recorded_rows = all_findings[all_findings["source"].fillna("") == RECORDED_SOURCE]
    recorded = {
        aid: frozenset(rows["rule_id"].dropna().astype(str))
        for aid, rows in recorded_rows.groupby("attempt_id")
    }
    has_recorded = not recorded_rows.empty
    how: dict[str, str] = {}
    shown_by: set[str] = set()
    pairs: dict[tuple[str | None, str | None], int] = {}
    for row in view.to_dict("records"):
        if not isinstance(row.get("feedback"), str):
            continue
        shown, counted = feedback_linter(row), findings_linter(row)
        shown_by.add(shown or "unknown")
        if shown is not None and shown == counted:
            how[row["attempt_id"]] = TEXT
        elif shown == RECORDED_LINTER and has_recorded:
            how[row["attempt_id"]] = RECORDED
        else:
            how[row["attempt_id"]] = UNREAD
            pairs[(shown, counted)] = pairs.get((shown, counted), 0) + 1
    if how and all(h == UNREAD for h in how.values()):
        (shown, counted), _ = max(pairs.items(), key=lambda kv: kv[1])
        raise CalibrationError(refusal(run, shown, counted))
    feedback = dict(zip(view["attempt_id"], view["feedback"], strict=True))
    return Naming(how, recorded, feedback, tuple(sorted(shown_by)))


def refusal(run: Path, shown: str | None, counted: str | None) -> str:
    """One line: why, and the rescore that puts the findings on the feedback's linter."""
    version, _, day = (shown or "").removeprefix("cfn-lint ").partition(" @ ")
    command = (
        f"iacbench rescore {run} --cfn-lint {version} --as-of {day}"
        if version and day
        else f"iacbench rescore {run} --cfn-lint <the recorder's release> --as-of <its date>"
    )
    return (
        f"{run}: the feedback the model was shown came from {shown or 'an unknown linter'} but "
        f"the findings counted from {counted or 'an unknown linter'}, on every attempt, so "
        f"'fixed when named' cannot be told; rescore with the feedback's linter: {command}"
    )
