"""The two sides of a comparison: a run folder's group, or the paper's published means, with
where their findings came from (the lint provenance that decides whether they are comparable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.cost_frontier import with_axes
from analysis.load import (
    GROUP_KEYS,
    fill_chains,
    group_label,
    group_list,
    load_run,
    went_on_after_clean,
)
from analysis.measures import ProblemData
from analysis.paper import CITATION, baseline_per_template, import_raw, raw_chains
from analysis.provenance import (
    LintMismatch,
    Provenance,
    published,
)

CLEAN_NOTE = (
    "Clean fraction: the share of templates clean at iteration n, as the paper counts it (its "
    "loop went on after a clean template, so its count can fall). Chains this harness runs "
    "stop at their first clean attempt and are filled forward, so for them clean at n is "
    "clean by n."
)
PAPER_LINTED = "linted in 2024 by an older cfn-lint release"


IMPORT_HINT = (
    "To compare like with like, import the authors' run, `make import-paper PAPER=<their "
    "repository>` (their templates, linted by the configured cfn-lint), and compare against "
    "that run folder."
)


def paper_provenance(raw: str | Path | None = None) -> Provenance:
    """The paper as a side: its published means, or the authors' lint text read from `raw`."""
    return published(
        "baseline",
        lint=f"cfn-lint of 2024: {PAPER_LINTED} (version not recorded)",
        dataset="the paper's 33 prompts × 5 queries",
        prompt_set="the authors' prompts",
        output_format="json (OpenAI JSON mode)",
        origin="recorded" if raw else "published",
        words=f"recorded (the authors' lint text in {raw})" if raw else "published (Fig. 5 means)",
        source=str(raw) if raw else None,
    )


def paper_lint_note(candidate: Provenance | None) -> str:
    """What the verdict says about a comparison with the paper's figures."""
    theirs = f" than the candidate's ({candidate.lint_text})" if candidate else ""
    if candidate is not None and candidate.recorded:
        hint = (
            "Where the candidate is the authors' own run, imported, both sides hold the same "
            "templates and the whole difference is the linter's (`python -m analysis.drift "
            f"{candidate.path or 'RUN'} --recorded` shows it rule by rule)."
        )
    else:
        hint = IMPORT_HINT
    return (
        f"The paper's figures were {PAPER_LINTED}"
        f"{theirs}: newer releases add rules and some rules read the clock, so part of any "
        f"difference is the linter's, not the model's. {hint}"
    )


class LintMismatchError(ValueError):
    """The sides were linted differently; the message is the one-line refusal."""

    def __init__(self, mismatch: LintMismatch) -> None:
        super().__init__(mismatch.message)
        self.mismatch = mismatch


@dataclass
class Side:
    """One side of a comparison: problem-level data, or a fixed per-iteration table."""

    label: str
    data: ProblemData | None = None
    table: pd.DataFrame | None = None  # iteration + per-template errors, warnings, clean
    simulated: bool = False
    notes: list[str] = field(default_factory=list)
    provenance: Provenance | None = None  # origin, linter, dataset, ... of its rows
    attempts: pd.DataFrame | None = None  # a run's side: its rows (cost, pass@k)
    chains: pd.DataFrame | None = None  # and its filled chains

    @property
    def recorded(self) -> bool:
        return self.provenance is not None and self.provenance.recorded

    @property
    def is_paper(self) -> bool:
        return self.provenance is not None and self.provenance.published is not None

    @property
    def iterations(self) -> np.ndarray:
        if self.data is not None:
            return self.data.iterations
        assert self.table is not None
        return self.table["iteration"].to_numpy(dtype=int)

    def point(self, measure: str, iterations: np.ndarray) -> np.ndarray:
        if self.data is not None:
            index = np.searchsorted(self.data.iterations, iterations)
            return self.data.point(measure)[index]
        assert self.table is not None
        return self.table.set_index("iteration").loc[iterations, measure].to_numpy(dtype=float)


def paper_side(raw: str | Path | None = None, samples_per_prompt: int = 5) -> Side:
    """The paper as a baseline: the shipped table, or its raw data when a folder is given."""
    if raw is None:
        return Side(
            "paper (published Fig. 5 means)",
            table=baseline_per_template(),
            notes=[f"Baseline: {CITATION} Sums over 165 templates divided by 165.", CLEAN_NOTE],
            provenance=paper_provenance(),
        )
    imported = import_raw(raw)
    chains = raw_chains(imported, samples_per_prompt)
    data = ProblemData.from_chains(chains, ("paper",))
    notes = [f"Baseline: raw data of {CITATION} ({imported.layout})", *imported.notes]
    notes.append(CLEAN_NOTE)
    return Side("paper (raw data)", data=data, notes=notes, provenance=paper_provenance(raw))


def run_side(
    run_dir: str | Path,
    where: dict[str, str] | None = None,
    stopped: str = "carry",
    group_keys: list[str] = GROUP_KEYS,
) -> Side:
    """One model × prompt set × protocol of a run; `where` picks it when the run has several."""
    run = load_run(run_dir)
    attempts, group_keys = with_axes(run.attempts, group_keys)
    for key, value in (where or {}).items():
        if key not in attempts:
            raise ValueError(f"unknown column {key!r} in --where")
        attempts = attempts[attempts[key].astype(str) == value]
    if attempts.empty:
        raise ValueError(f"{run_dir}: no attempts match {where}")
    chains = fill_chains(attempts, stopped, group_keys)  # type: ignore[arg-type]
    groups = group_list(chains, group_keys)
    if len(groups) != 1:
        listed = "; ".join(group_label(g) for g in groups)
        raise ValueError(
            f"{run_dir}: {len(groups)} groups ({listed}); pick one with --*-where KEY=VALUE"
        )
    simulated = bool(attempts["simulated"].fillna(False).astype(bool).any())
    data = ProblemData.from_chains(chains, groups[0])
    label = f"{group_label(groups[0], group_keys)} ({Path(run_dir).name})"
    provenance = Provenance.of_attempts(attempts, "side", str(run_dir))
    notes = []
    went_on = went_on_after_clean(attempts, group_keys)
    if went_on:
        notes.append(went_on_note(label, went_on))
    return Side(
        label,
        data=data,
        simulated=simulated,
        notes=notes,
        provenance=provenance,
        attempts=attempts,
        chains=chains,
    )


def went_on_note(label: str, chains: int) -> str:
    return (
        f"{label}: {chains} chains went on after a clean template, as the paper's loop did "
        "(a clean template was queried again and could come back unclean), so its clean "
        "fraction at n can fall; chains this harness runs stop at their first clean attempt."
    )
