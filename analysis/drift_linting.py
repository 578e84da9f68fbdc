"""The two lintings a drift compares: two run folders (the second re-scored from the first), or
an imported run that recorded both the authors' findings and the configured linter's."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.load import (
    Run,
    gating_findings,
    scored_mask,
)
from analysis.provenance import Provenance, origins
from benchmark.replication.paper_repo import RECORDED_SOURCE

JUDGED = ["errors", "warnings", "infos", "clean"]
CLEAN_RULES = {  # the clean rules of `loop.clean_when`, applied to recorded counts
    "no_errors": lambda e, w, i: e == 0,
    "no_errors_or_warnings": lambda e, w, i: (e == 0) & (w == 0),
    "no_findings": lambda e, w, i: (e == 0) & (w == 0) & (i == 0),
}


@dataclass
class Linting:
    """One judgement of a run's templates: counts and `clean` per attempt, and findings."""

    label: str
    judged: pd.DataFrame  # attempt_id, errors, warnings, infos, clean (judged attempts only)
    findings: pd.DataFrame  # attempt_id, rule_id, level
    provenance: dict[str, str] = field(default_factory=dict)  # one `sides` table row


def run_linting(run: Run, label: str) -> Linting:
    """A run's own judgement: its scored attempts' counts and its gating linter's findings."""
    scored = run.attempts[scored_mask(run.attempts)]
    judged = scored[["attempt_id", *JUDGED]].copy()
    judged["clean"] = judged["clean"].astype(bool)
    row = Provenance.of_attempts(run.attempts, label, str(run.path)).row()
    return Linting(label, judged, gating_findings(run.findings), row)


def recorded_linting(run: Run, label: str = "A: recorded by the authors") -> Linting:
    """The authors' recorded findings of an imported run's recorded rows, counted by level
    (a block without a rule id is an error) and judged clean under each row's clean rule."""
    rows = run.attempts[(origins(run.attempts) == "recorded").to_numpy()]
    if rows.empty:
        raise ValueError(
            f"{run.path}: no recorded rows (origin recorded): --recorded compares an imported "
            "run's recorded findings with the configured cfn-lint's"
        )
    found = run.findings[run.findings["source"] == RECORDED_SOURCE]
    found = found[found["attempt_id"].isin(rows["attempt_id"])]
    levels = found.assign(level=found["level"].fillna("E"))
    counts = (
        levels.groupby(["attempt_id", "level"]).size().unstack("level", fill_value=0)
        if len(levels)
        else pd.DataFrame()
    )
    judged = pd.DataFrame({"attempt_id": rows["attempt_id"].to_numpy()})
    for column, letter in (("errors", "E"), ("warnings", "W"), ("infos", "I")):
        values = counts[letter] if letter in counts else pd.Series(dtype=int)
        judged[column] = judged["attempt_id"].map(values).fillna(0).astype(int).to_numpy()
    rules = rows["clean_rule"].fillna("no_errors_or_warnings").to_numpy()
    clean = np.zeros(len(judged), dtype=bool)
    for name, rule in CLEAN_RULES.items():
        mask = rules == name
        clean[mask] = rule(
            judged["errors"].to_numpy()[mask],
            judged["warnings"].to_numpy()[mask],
            judged["infos"].to_numpy()[mask],
        )
    judged["clean"] = clean
    row = Provenance.of_attempts(run.attempts, label, str(run.path)).row()
    row["cfn-lint and lint date"] = (
        f"as the authors ran it (findings of source `{RECORDED_SOURCE}`; release and date not "
        "recorded)"
    )
    return Linting(label, judged, found, row)
