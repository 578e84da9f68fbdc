"""How long a repair turn's feedback is: real findings, rendered by the job's feedback design.

The plan knows from the profile how many findings each repair turn feeds back; how many
characters that is depends on the findings' messages and paths (27 to 900 characters for
cfn-lint's) and on the design (`benchmark/loop/feedback.py`). `finding_examples.yaml` beside this
module holds real findings, measured once: the simulator's own mistakes (its catalogue's
sites) linted alone on paper33's reference templates with the pinned cfn-lint, up to
`EXAMPLES_PER_RULE` of each rule. Regenerate it after a cfn-lint or catalogue change:

    python -m benchmark.runner.plan.findings datasets/paper33   # -> finding_examples.yaml

`FeedbackSizer` draws k of those findings (by the rules' weights in the profile), renders them
with the design's formatter on the problem's own template and request, and averages the
lengths over a few draws: the feedback of a turn with k findings. A rule with no example is
stood in for by the examples of its level.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm import tqdm

from benchmark.config import PINNED_CFN_LINT
from benchmark.loop.feedback import FeedbackInput, render_feedback
from benchmark.simulator.mutations import render
from benchmark.simulator.sites import sample_sites
from benchmark.validators.base import Finding
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter, default_cache

EXAMPLES_FILE = Path(__file__).with_name("finding_examples.yaml")
EXAMPLES_PER_RULE = 6
DRAWS_PER_SIZE = 6  # renders averaged per (problem, number of findings)


@cache
def load_examples(path: Path = EXAMPLES_FILE) -> tuple[dict[str, Any], tuple[Finding, ...]]:
    """(the file's provenance, its findings)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    findings = tuple(
        Finding(
            rule_id=str(f["rule_id"]),
            level=f["level"],
            message=str(f["message"]),
            path=tuple(f.get("path") or ()),
            line=f.get("line"),
            column=f.get("column"),
            end_line=f.get("end_line"),
        )
        for f in data["findings"]
    )
    return dict(data["measured"]), findings


@dataclass
class FeedbackSizer:
    """Characters of one repair turn's feedback with k findings, per problem (see module)."""

    design: str
    filename: str
    rules: Sequence[str]  # the profile's rules ...
    weights: np.ndarray  # ... their weight, per problem (problems x rules)
    templates: Sequence[str]  # per problem: the template the feedback is about
    requests: Sequence[str]  # per problem: its request (the explained design restates it)
    seed: int = 0

    def __post_init__(self) -> None:
        _, examples = load_examples()
        self.by_rule: dict[str, list[Finding]] = {}
        for f in examples:
            self.by_rule.setdefault(f.rule_id, []).append(f)
        self.by_level: dict[str, list[Finding]] = {}
        for f in examples:
            self.by_level.setdefault(f.level, []).append(f)
        self._sizes: dict[tuple[int, int], tuple[float, float]] = {}

    def _pool(self, rule: str) -> list[Finding]:
        return self.by_rule.get(rule) or self.by_level.get(rule[:1]) or self.by_level["E"]

    def size(self, problem: int, k: int, longest: bool = False) -> float:
        """Mean characters of the feedback of `k` findings on problem `problem` (0 for k = 0);
        `longest`: the longest of the draws instead."""
        if k <= 0:
            return 0.0
        key = (problem, k)
        if key not in self._sizes:
            rng = random.Random(f"{self.seed}/{problem}/{k}")
            weights = self.weights[problem]
            if weights.sum() <= 0:
                weights = np.ones(len(self.rules))
            lines = self.templates[problem].splitlines() or [""]
            lengths = []
            for _ in range(DRAWS_PER_SIZE):
                rules = rng.choices(list(self.rules), weights=list(weights), k=k)
                findings = [self._placed(rng.choice(self._pool(r)), len(lines)) for r in rules]
                data = FeedbackInput(
                    findings,
                    self.filename,
                    self.templates[problem],
                    self.requests[problem],
                )
                lengths.append(len(render_feedback(self.design, data)))
            self._sizes[key] = (sum(lengths) / len(lengths), float(max(lengths)))
        mean, most = self._sizes[key]
        return most if longest else mean

    @staticmethod
    def _placed(finding: Finding, lines: int) -> Finding:
        """The example moved onto a line this problem's template has (for the excerpt design)."""
        if finding.line is None:
            return finding
        line = (finding.line - 1) % lines + 1
        end = None if finding.end_line is None else line + max(finding.end_line - finding.line, 0)
        return Finding(
            finding.rule_id,
            finding.level,
            finding.message,
            finding.path,
            line,
            finding.column,
            end,
        )


# ---- measuring the examples ------------------------------------------------------------------


def measure(dataset: str | Path, per_kind: int = 20, seed: int = 0) -> dict[str, Any]:
    """Lint up to `per_kind` sites of each mutation kind alone on their reference template
    (sitecheck's sample) and keep up to EXAMPLES_PER_RULE findings of each rule."""

    linter = WarmLinter(LintSettings(), default_cache())
    seen: dict[str, list[Finding]] = {}
    sites = sample_sites(dataset, per_kind, seed)
    for _, tree, mutation in tqdm(sites, desc="lint sites", unit="site"):
        for f in linter.lint(render(tree, (mutation,), "yaml")):
            seen.setdefault(f.rule_id, []).append(f)
    rng = random.Random(seed)
    kept = []
    for rule in sorted(seen):
        found = seen[rule]
        kept += rng.sample(found, EXAMPLES_PER_RULE) if len(found) > EXAMPLES_PER_RULE else found
    return {
        "measured": {
            "dataset": str(dataset),
            "sites": len(sites),
            "per_kind": per_kind,
            "seed": seed,
            "cfn_lint_version": PINNED_CFN_LINT,
            "measured_on": datetime.now(UTC).date().isoformat(),
            "findings": sum(len(v) for v in seen.values()),
        },
        "findings": [_row(f) for f in kept],
    }


def _row(f: Finding) -> dict[str, Any]:
    row: Mapping[str, Any] = {
        "rule_id": f.rule_id,
        "level": f.level,
        "message": f.message,
        "path": [p if isinstance(p, int) else str(p) for p in f.path],
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
    }
    return {k: v for k, v in row.items() if v is not None}


HEADER = (
    "# Real cfn-lint findings for the plan's feedback sizes (benchmark/runner/plan/findings.py):\n"
    "# the simulator's catalogue sites linted alone on their reference template. Regenerate:\n"
    "#   python -m benchmark.runner.plan.findings datasets/paper33\n"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.runner.plan.findings", description=__doc__.splitlines()[0]
    )
    parser.add_argument("dataset")
    parser.add_argument("--out", default=str(EXAMPLES_FILE))
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = measure(args.dataset, args.per_kind, args.seed)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    Path(args.out).write_text(HEADER + text, encoding="utf-8")
    rules = len({f["rule_id"] for f in data["findings"]})
    print(f"{len(data['findings'])} findings of {rules} rules -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
