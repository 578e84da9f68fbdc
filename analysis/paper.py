"""The paper's published per-iteration results, and an importer for the authors' raw data.

Baseline: Palavalli & Santolucito, "Using a Feedback Loop for LLM-based Infrastructure as Code
Generation", arXiv:2411.19043 (2024), Fig. 5: per iteration, the mean over 6 trials of the sum
over 165 templates (33 prompts × 5 queries) of cfn-lint errors, warnings, and clean templates.

Raw data: the authors' lint text as they published it, read by
`benchmark.replication.paper_repo` (their repository root, its `JSON_run_v2` folder, or
`trial{T}/errorsCSV{I}.csv` folders): one row
per template holding that template's default-format cfn-lint output; an empty cell is a clean
template. Counted as the paper did: findings = blank-line-separated blocks; a block whose rule
(first token) starts with `W` is a warning, every other block an error; sums over templates,
means over trials, standard error over trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.replication.paper_repo import (
    TEMPLATES,
    discover,
    parse_block,
    read_cells,
    split_blocks,
)

CITATION = (
    "Palavalli, M. A., & Santolucito, M. (2024). Using a Feedback Loop for LLM-based "
    "Infrastructure as Code Generation. arXiv:2411.19043, Fig. 5."
)
URL = "https://arxiv.org/abs/2411.19043"
PROMPTS = 33
TRIALS = 6

BASELINE = pd.DataFrame(
    {
        "iteration": list(range(1, 11)),
        "errors": [176.3, 68.0, 40.7, 34.7, 29.8, 29.8, 29.3, 35.5, 36.3, 29.7],
        "warnings": [67.0, 42.8, 40.3, 30.5, 28.7, 25.7, 23.3, 23.3, 24.5, 21.0],
        "clean": [67.8, 109.3, 120.5, 128.3, 131.3, 129.2, 131.8, 131.2, 130.0, 134.5],
    }
)
"""Means over 6 trials of sums over the 165 templates, iterations 1–10 (the paper's Fig. 5)."""


def baseline_table() -> pd.DataFrame:
    """The published table: iteration, errors, warnings, clean (sums over 165 templates)."""
    return BASELINE.copy()


def baseline_per_template() -> pd.DataFrame:
    """The published table divided by 165: means per template and the clean fraction."""
    out = BASELINE.copy()
    for column in ("errors", "warnings", "clean"):
        out[column] = out[column] / TEMPLATES
    return out


# ---- raw-data importer -------------------------------------------------------------------


@dataclass
class PaperRaw:
    """The authors' raw data, parsed: one row per template and one per finding block."""

    folder: Path
    templates: pd.DataFrame  # trial, iteration, template, errors, warnings, findings, clean
    blocks: pd.DataFrame  # trial, iteration, template, block, rule_id, level, message, location
    notes: list[str] = field(default_factory=list)
    layout: str = "trial folders"

    @property
    def trials(self) -> list[int]:
        return sorted(self.templates["trial"].unique().tolist())


def counted_level(block: str) -> str:
    """The level as the paper counted it: a block whose first token starts with W is a
    warning, every other block (informational ones and those without a rule id) an error."""
    return "W" if block.strip().startswith("W") else "E"


def import_raw(folder: str | Path, templates: int | None = None) -> PaperRaw:
    """Read the authors' lint text as published
    (`benchmark.replication.paper_repo.discover` lists the layouts: their repository root,
    `JSON_run_v2`, `trial*/errorsCSV*.csv`). `templates`, if
    given, is the required row count of every file."""
    repo = discover(folder)
    notes: list[str] = []
    template_rows, block_rows = [], []
    sizes: dict[tuple[int, int], int] = {}
    for trial in repo.trials:
        for iteration in trial.iterations:
            path = trial.csvs[iteration]
            cells = read_cells(path)
            sizes[(trial.trial, iteration)] = len(cells)
            if templates is not None and len(cells) != templates:
                raise ValueError(f"{path}: {len(cells)} template rows, expected {templates}")
            for template, cell in enumerate(cells):
                blocks = split_blocks(cell)
                levels = [counted_level(b) for b in blocks]
                warnings = levels.count("W")
                template_rows.append(
                    {
                        "trial": trial.trial,
                        "iteration": iteration,
                        "template": template,
                        "errors": len(blocks) - warnings,
                        "warnings": warnings,
                        "findings": len(blocks),
                        "clean": not blocks,
                    }
                )
                for i, (block, level) in enumerate(zip(blocks, levels, strict=True)):
                    found = parse_block(block)
                    location = f"{found.file}:{found.line}:{found.column}" if found.line else None
                    block_rows.append(
                        {
                            "trial": trial.trial,
                            "iteration": iteration,
                            "template": template,
                            "block": i,
                            "rule_id": found.rule_id,
                            "level": level,
                            "message": found.message,
                            "location": location,
                        }
                    )
    if len(set(sizes.values())) > 1:
        notes.append(f"template counts differ between files: {sorted(set(sizes.values()))}")
    trials = sorted({t for t, _ in sizes})
    iterations = {t: sorted(i for tt, i in sizes if tt == t) for t in trials}
    if len({tuple(v) for v in iterations.values()}) > 1:
        notes.append(f"trials have different iteration files: {iterations}")
    blocks = pd.DataFrame(
        block_rows,
        columns=[
            "trial",
            "iteration",
            "template",
            "block",
            "rule_id",
            "level",
            "message",
            "location",
        ],
    )
    unknown = int(blocks["rule_id"].isna().sum())
    if unknown:
        notes.append(
            f"{unknown} finding blocks have no rule id; counted as errors, as the paper did"
        )
    return PaperRaw(repo.root, pd.DataFrame(template_rows), blocks, notes, repo.layout)


def raw_table(raw: PaperRaw) -> pd.DataFrame:
    """Per iteration: mean over trials of the sums over templates, and the standard error."""
    sums = raw.templates.groupby(["iteration", "trial"])[["errors", "warnings", "clean"]].sum()
    grouped = sums.groupby("iteration")
    mean = grouped.mean()
    se = grouped.std(ddof=1) / np.sqrt(grouped.size().to_numpy()[:, None])
    out = mean.join(se.add_suffix("_se"))
    out["trials"] = grouped.size()
    out["templates"] = raw.templates.groupby("iteration")["template"].nunique()
    columns = ["errors", "errors_se", "warnings", "warnings_se", "clean", "clean_se"]
    return out[[*columns, "trials", "templates"]].reset_index()


def raw_chains(raw: PaperRaw, samples_per_prompt: int = 5) -> pd.DataFrame:
    """The raw data as a filled-chains frame, so the run measures and bootstrap apply.

    Row r of every file is taken to be the same template slot; with `samples_per_prompt` = 5
    rows r // 5 are one prompt (the paper's 33 prompts × 5 queries, assuming prompt-major
    order) and the prompt is the resampled unit. Use 1 to resample template rows instead.
    `clean` is the template's state at iteration n, the paper's measure (its loop went on
    after a clean template, so a template could become unclean again); `clean_by` says
    whether it was clean at n or earlier.
    """
    frame = raw.templates.sort_values(["trial", "template", "iteration"]).copy()
    per = max(1, int(samples_per_prompt))
    frame["problem_id"] = (frame["template"] // per).map(lambda p: f"prompt-{p:03d}")
    frame["sample"] = frame["trial"] * per + frame["template"] % per
    frame["model"], frame["prompt_set"], frame["protocol"] = "paper", "paper", "stateless"
    frame["sweep_id"], frame["job_id"] = "paper-raw", 0
    frame["infos"] = 0
    frame["clean_by"] = frame.groupby(["trial", "template"])["clean"].cummax()
    frame["intent_rate"] = np.nan
    frame["source_attempt_id"] = (
        frame["trial"].astype(str)
        + "/"
        + frame["iteration"].astype(str)
        + "/"
        + frame["template"].astype(str)
    )
    frame["source_iteration"] = frame["iteration"]
    frame["fill"], frame["status"] = "observed", "complete"
    return frame.drop(columns=["trial", "template"])
