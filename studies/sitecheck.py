"""How faithful the catalogue is on a dataset: each sampled site linted alone on its reference.

A site is *exact* when cfn-lint reports one finding, of the site's rule, and nothing else; the
simulator's finding counts are only as good as this share. `python -m studies
sites DATASET` prints the table.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from benchmark.progress import progress_bar
from benchmark.simulator.mutations import render
from benchmark.simulator.sites import sample_sites
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter, default_cache


def check_sites(dataset: str | Path, per_kind: int = 20, seed: int = 0) -> pd.DataFrame:

    linter = WarmLinter(LintSettings(), default_cache())
    rows = []
    for problem_id, tree, m in progress_bar(
        sample_sites(dataset, per_kind, seed), desc="lint sites"
    ):
        found = [f.rule_id for f in linter.lint(render(tree, (m,), "yaml"))]
        rows.append(
            {
                "kind": m.kind,
                "problem_id": problem_id,
                "rule": m.rule_id,
                "exact": found == [m.rule_id],
                "raises_its_rule": m.rule_id in found,
                "extra": ",".join(sorted(r for r in found if r != m.rule_id)),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return (
        frame.groupby("kind")
        .agg(
            linted=("exact", "size"),
            exact=("exact", "mean"),
            raises_its_rule=("raises_its_rule", "mean"),
            extra=(
                "extra",
                lambda s: ",".join(
                    k for k, _ in Counter(",".join(s).split(",")).most_common(3) if k
                ),
            ),
        )
        .reset_index()
    )
