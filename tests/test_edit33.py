"""datasets/edit33: one change request per paper33 topic, each with exactly the requested change.

Every problem is an edit of its paper33 topic's reference template (verbatim); its expected
template is lint-clean and passes its intent checks, at least one of which fails on the initial
template; and the only differences between initial and expected are additions or lie under
`may_change` globs, and touch no `must_keep` path.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.problems.check import check_dataset
from benchmark.problems.dataset import Problem, load_dataset
from benchmark.problems.intent_language import evaluate_text, parse_template
from benchmark.validators.cfn_lint.validator import WarmLinter

ROOT = Path(__file__).resolve().parents[1]
EDIT33 = load_dataset(ROOT / "datasets" / "edit33")
PAPER33 = {p.id: p for p in load_dataset(ROOT / "datasets" / "paper33")}
KINDS = {
    "add-resource",
    "change-property",
    "add-encryption",
    "wire-resources",
    "remove-resource",
    "rename-parameter",
}


def _ids(problem: Problem) -> str:
    return problem.id


def test_one_edit_problem_per_paper33_topic() -> None:
    assert len(EDIT33) == 33
    assert {p.id for p in EDIT33} == set(PAPER33)
    for problem in EDIT33:
        paper = PAPER33[problem.id]
        assert problem.is_edit
        assert problem.initial_template == paper.reference_template  # verbatim
        assert problem.reference_template == problem.expected_template
        topic = re.match(r"project \(paper topic (\d+)", paper.source or "")
        assert topic, paper.source
        assert problem.source == f"project (edit of paper33 topic {topic.group(1)})"
        assert problem.prompt != paper.prompt and problem.intent_checks
        assert problem.must_keep


def test_the_kinds_of_change_are_varied() -> None:
    kinds = Counter(p.edit_kind for p in EDIT33)
    assert set(kinds) == KINDS
    assert min(kinds.values()) >= 4 and max(kinds.values()) <= 8


@pytest.mark.parametrize("problem", EDIT33, ids=_ids)
def test_expected_is_lint_clean_and_does_what_was_asked(
    problem: Problem, warm_linter: WarmLinter
) -> None:
    assert problem.expected_template is not None and problem.initial_template is not None
    findings = [f for f in warm_linter.lint(problem.expected_template) if f.level in ("E", "W")]
    assert not findings, [(f.rule_id, f.line, f.message) for f in findings]
    _, expected = evaluate_text(problem.intent_checks, problem.expected_template)
    assert [
        c.id for c, o in zip(problem.intent_checks, expected, strict=True) if not o.passed
    ] == []
    _, initial = evaluate_text(problem.intent_checks, problem.initial_template)
    assert not all(o.passed for o in initial), "no intent check tells the change apart"


def _node(template: dict[str, Any], path: str) -> Any:
    node: Any = template
    for segment in path.split("/"):
        key: str | int = int(segment) if isinstance(node, list) else segment
        node = node[key]  # KeyError / IndexError: the path is not in the template
    return node


def _exists(template: dict[str, Any], path: str) -> bool:
    try:
        _node(template, path)
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return True


def _under(path: str, root: str) -> bool:
    """One path inside the other (a change to a parent replaces the child too)."""
    return path == root or path.startswith(root + "/") or root.startswith(path + "/")


@pytest.mark.parametrize("problem", EDIT33, ids=_ids)
def test_only_the_requested_paths_change(problem: Problem) -> None:
    deepdiff = pytest.importorskip("deepdiff")  # the core's collateral validator brings it
    assert problem.expected_template is not None and problem.initial_template is not None
    initial = parse_template(problem.initial_template).written
    expected = parse_template(problem.expected_template).written
    assert initial is not None and expected is not None
    diff = deepdiff.DeepDiff(initial, expected, view="tree")
    changed = {
        "/".join(str(p) for p in level.path(output_format="list"))
        for levels in diff.values()
        for level in levels
    }
    assert changed, "the expected template is the initial one"
    outside = [
        c
        for c in changed
        if _exists(initial, c) and not any(fnmatch.fnmatchcase(c, g) for g in problem.may_change)
    ]  # something new is never collateral; a change to what was there must be asked for
    assert outside == []
    assert [(c, k) for c in changed for k in problem.must_keep if _under(c, k)] == []
    for path in problem.must_keep:
        assert _node(initial, path) == _node(expected, path)


def test_the_dataset_check_passes_edit33(warm_linter: WarmLinter) -> None:
    report = check_dataset(ROOT / "datasets" / "edit33", warm_linter.lint)
    assert report.ok, report.failures
    assert report.problems == 33


def test_the_check_fails_an_edit_whose_initial_template_already_passes(
    tmp_path: Path, warm_linter: WarmLinter
) -> None:
    data = yaml.safe_load((ROOT / "datasets" / "edit33" / "asg-rolling-update.yaml").read_text())
    data["initial_template"] = data["expected_template"]  # a "change" already made
    (tmp_path / "asg-rolling-update.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    report = check_dataset(tmp_path, warm_linter.lint)
    assert report.failures == [
        f"{tmp_path / 'asg-rolling-update.yaml'}: field 'intent_checks': every check already "
        "passes on the initial template (none checks the change)"
    ]


def test_an_edit_problem_needs_no_near_misses_but_others_still_do(
    tmp_path: Path, warm_linter: WarmLinter
) -> None:
    data = yaml.safe_load((ROOT / "datasets" / "edit33" / "asg-rolling-update.yaml").read_text())
    assert "near_misses" not in data
    plain = {
        k: v for k, v in data.items() if k not in {"initial_template", "must_keep", "may_change"}
    }
    plain["reference_template"] = plain.pop("expected_template")
    del plain["edit_kind"]
    (tmp_path / "asg-rolling-update.yaml").write_text(yaml.safe_dump(plain), encoding="utf-8")
    report = check_dataset(tmp_path, warm_linter.lint)
    assert [f.split(": ", 1)[1] for f in report.failures] == ["field 'near_misses': no near misses"]


def test_the_edit_fields_are_part_of_the_problem_digest() -> None:
    problem = EDIT33[0]
    data = problem.model_dump()
    data["must_keep"] = [*problem.must_keep, "Outputs/Extra"]
    assert Problem.model_validate(data).sha256 != problem.sha256
