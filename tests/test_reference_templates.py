"""The shipped datasets' guarantees: clean references, non-vacuous intent checks, true difficulty.

The same checks `make check-datasets` runs, one test per problem so a failure names it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.problems.check import apply_near_miss
from benchmark.problems.dataset import Problem, load_dataset
from benchmark.problems.difficulty import template_metrics
from benchmark.problems.intent_language import EMPTY_TEMPLATE, evaluate_text, parse_template
from benchmark.validators.cfn_lint.validator import WarmLinter

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
PAPER33 = load_dataset(DATASETS / "paper33")
SMOKE = load_dataset(DATASETS / "smoke")
PROBLEMS = PAPER33 + SMOKE


@pytest.fixture(scope="module")
def linter(warm_linter: WarmLinter) -> WarmLinter:
    return warm_linter


def test_paper33_has_33_problems_with_unique_ids() -> None:
    assert len(PAPER33) == 33
    assert len({p.id for p in PROBLEMS}) == len(PROBLEMS)
    assert all(p.source and p.source.startswith("project") for p in PAPER33)
    assert {p.difficulty for p in PAPER33} == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.id)
def test_reference_is_lint_clean(problem: Problem, linter: WarmLinter) -> None:
    assert problem.reference_template is not None
    findings = [f for f in linter.lint(problem.reference_template) if f.level in ("E", "W")]
    assert findings == []


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.id)
def test_intent_checks_are_meaningful(problem: Problem) -> None:
    assert problem.reference_template is not None and problem.intent_checks
    assert problem.difficulty == template_metrics(problem.reference_template).difficulty
    _, on_reference = evaluate_text(problem.intent_checks, problem.reference_template)
    failing = [
        c.id for c, o in zip(problem.intent_checks, on_reference, strict=True) if not o.passed
    ]
    assert failing == [], "the reference template fails its own checks"
    _, on_empty = evaluate_text(problem.intent_checks, EMPTY_TEMPLATE)
    vacuous = [c.id for c, o in zip(problem.intent_checks, on_empty, strict=True) if o.passed]
    assert vacuous == [], "these checks pass on an empty template"
    written = parse_template(problem.reference_template).written
    assert written is not None and problem.near_misses
    for near_miss in problem.near_misses:
        _, outcomes = evaluate_text(
            problem.intent_checks, json.dumps(apply_near_miss(written, near_miss))
        )
        assert not all(o.passed for o in outcomes), f"near miss not caught: {near_miss.why}"
