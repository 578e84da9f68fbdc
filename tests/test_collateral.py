"""The collateral-change validator: what an edit attempt changed that was not asked for."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.problems.dataset import Problem, load_dataset
from benchmark.problems.intent_language import parse_template
from benchmark.records.tables import SCHEMAS, read_table
from benchmark.validators.base import Finding, ValidationResult
from benchmark.validators.collateral import CollateralValidator, requested_changes
from benchmark.validators.intent import IntentValidator
from benchmark.validators.suite import ValidatorSuite

EDITS = Path(__file__).resolve().parent / "edit_problems"


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    return {p.id: p for p in load_dataset(EDITS)}


def validate(problem: Problem, template: str) -> ValidationResult:
    return asyncio.run(CollateralValidator().validate(template, problem))


def edited(problem: Problem, change: Callable[[dict[str, Any]], None]) -> str:
    """The problem's expected template (parsed, as JSON text) after `change`."""
    assert problem.expected_template is not None
    template = copy.deepcopy(parse_template(problem.expected_template).written)
    assert template is not None
    change(template)
    return json.dumps(template)


def rules(result: ValidationResult) -> list[tuple[str, str]]:
    return [(f.rule_id, "/".join(map(str, f.path))) for f in result.findings]


def test_the_expected_template_changes_nothing_it_must_not(problems: dict[str, Problem]) -> None:
    for problem in problems.values():
        assert problem.expected_template is not None
        result = validate(problem, problem.expected_template)
        assert result.findings == [] and result.failure is None
        assert result.columns == {"collateral_changes": 0, "expected_distance": 0.0}


def test_a_removed_resource_is_x1001(problems: dict[str, Problem]) -> None:
    problem = problems["rename-parameter"]
    result = validate(problem, edited(problem, lambda t: t["Resources"].pop("Logs")))
    assert rules(result) == [("X1001", "Resources/Logs")]
    assert all(f.source == "collateral" and f.level == "W" for f in result.findings)
    assert result.columns["collateral_changes"] == 1
    assert 0 < result.columns["expected_distance"] <= 1


def test_a_retyped_resource_is_x1002(problems: dict[str, Problem]) -> None:
    problem = problems["rename-parameter"]

    def retype(t: dict[str, Any]) -> None:
        t["Resources"]["Logs"]["Type"] = "AWS::Logs::LogStream"

    assert rules(validate(problem, edited(problem, retype))) == [("X1002", "Resources/Logs/Type")]


def test_a_changed_property_of_a_kept_resource_is_x1003(problems: dict[str, Problem]) -> None:
    problem = problems["rename-parameter"]

    def change(t: dict[str, Any]) -> None:
        t["Resources"]["Logs"]["Properties"]["RetentionInDays"] = 30
        t["Resources"]["Logs"]["Properties"]["LogGroupClass"] = "STANDARD"  # added

    assert sorted(rules(validate(problem, edited(problem, change)))) == [
        ("X1003", "Resources/Logs/Properties/LogGroupClass"),
        ("X1003", "Resources/Logs/Properties/RetentionInDays"),
    ]


def test_a_removed_output_is_x1004(problems: dict[str, Problem]) -> None:
    problem = problems["topic-queue"]
    result = validate(problem, edited(problem, lambda t: t.pop("Outputs")))
    assert rules(result) == [("X1004", "Outputs/QueueUrl")]
    assert result.findings[0].message == "output 'QueueUrl' was removed"


def test_a_renamed_parameter_is_x1005(problems: dict[str, Problem]) -> None:
    problem = problems["bucket-encryption"]

    def rename(t: dict[str, Any]) -> None:
        t["Parameters"]["Stage"] = t["Parameters"].pop("Env")
        t["Resources"]["Bucket"]["Properties"]["Tags"][0]["Value"] = {"Ref": "Stage"}

    result = validate(problem, edited(problem, rename))
    assert rules(result) == [("X1005", "Parameters/Env")]
    assert result.findings[0].message == "parameter 'Env' was renamed to 'Stage'"


def test_a_must_keep_path_is_reported_whatever_else_allows_it(
    problems: dict[str, Problem],
) -> None:
    problem = problems["topic-queue"]

    def change(t: dict[str, Any]) -> None:
        t["Resources"]["Topic"]["Properties"]["DisplayName"] = "invoices"
        # the queue's type is named by an intent check, but this path must stay
        t["Resources"]["Queue"]["Properties"]["MessageRetentionPeriod"] = 60

    assert sorted(rules(validate(problem, edited(problem, change)))) == [
        ("X1003", "Resources/Queue/Properties/MessageRetentionPeriod"),
        ("X1003", "Resources/Topic/Properties/DisplayName"),
    ]


def test_a_must_keep_path_no_rule_names_is_x1006(problems: dict[str, Problem]) -> None:
    problem = problems["topic-queue"]
    kept = problem.model_copy(update={"must_keep": [*problem.must_keep, "Description"]})

    def describe(t: dict[str, Any]) -> None:
        t["Description"] = "something else"

    assert rules(validate(kept, edited(kept, describe))) == [("X1006", "Description")]


def test_changes_under_may_change_or_on_an_intent_checked_type_are_not_collateral(
    problems: dict[str, Problem],
) -> None:
    renamed = problems["rename-parameter"]  # may_change: Resources/Logs/Properties/Tags

    def retag(t: dict[str, Any]) -> None:
        t["Resources"]["Logs"]["Properties"]["Tags"].append({"Key": "team", "Value": "core"})

    assert validate(renamed, edited(renamed, retag)).findings == []
    wired = problems["topic-queue"]  # its intent checks name AWS::SQS::Queue

    def tune(t: dict[str, Any]) -> None:
        t["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 60
        t["Resources"]["Extra"] = {"Type": "AWS::SQS::Queue"}  # anything new: never collateral

    assert validate(wired, edited(wired, tune)).findings == []


def test_an_unparseable_attempt_kept_nothing(problems: dict[str, Problem]) -> None:
    problem = problems["rename-parameter"]
    result = validate(problem, "Resources: [unclosed")
    # the removed parameter Env is under may_change; RetentionDays and the output must stay
    assert sorted(rules(result)) == [
        ("X1001", "Resources/Logs"),
        ("X1004", "Outputs/LogGroupName"),
        ("X1005", "Parameters/RetentionDays"),
    ]
    assert result.columns["collateral_changes"] == 3


def test_the_suite_runs_it_for_edit_problems_only_and_does_not_count_it(
    problems: dict[str, Problem],
) -> None:
    suite = ValidatorSuite([IntentValidator(), CollateralValidator()], "no_errors_or_warnings")
    problem = problems["rename-parameter"]
    verdict = asyncio.run(suite.check(edited(problem, lambda t: t.pop("Outputs")), problem))
    assert [f.rule_id for f in verdict.findings] == ["X1004"]
    assert verdict.counts == {"E": 0, "W": 0, "I": 0} and verdict.clean
    assert verdict.columns["collateral_changes"] == 1
    plain = problem.model_copy(update={"initial_template": None})
    verdict = asyncio.run(suite.check(problem.expected_template or "", plain))
    assert verdict.findings == [] and verdict.columns == {}


def test_a_finding_says_where_and_what(problems: dict[str, Problem]) -> None:
    problem = problems["rename-parameter"]
    result = validate(problem, edited(problem, lambda t: t["Resources"].pop("Logs")))
    assert result.findings == [
        Finding(
            "X1001",
            "W",
            "resource 'Logs' (AWS::Logs::LogGroup) was removed",
            ("Resources", "Logs"),
            source="collateral",
        )
    ]


def test_a_folder_written_before_the_columns_existed_reads_them_as_null(tmp_path: Path) -> None:
    old = SCHEMAS["attempts"]
    for name in ("collateral_changes", "expected_distance"):
        old = old.remove(old.get_field_index(name))
    row = {f.name: 0 for f in old if not f.nullable} | {
        "attempt_id": "a",
        "sweep_id": "s",
        "model": "m",
        "provider": "p",
        "prompt_set": "ps",
        "protocol": "stateless",
        "problem_id": "x",
    }
    part = tmp_path / "attempts" / "part-0.parquet"
    part.parent.mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=old), part)
    frame = read_table(tmp_path, "attempts")
    assert frame["collateral_changes"].isna().all() and frame["expected_distance"].isna().all()


def test_the_changes_an_expected_template_makes_can_be_written_as_may_change(
    problems: dict[str, Problem],
) -> None:
    problem = problems["topic-queue"]
    assert problem.initial_template is not None and problem.expected_template is not None

    def retune(t: dict[str, Any]) -> None:
        t["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 60
        t["Parameters"] = {"Unused": {"Type": "String"}}  # new: never collateral

    expected = edited(problem, retune)
    paths = requested_changes(problem.initial_template, expected)
    assert paths == ["Resources/Queue/Properties/VisibilityTimeout"]
    # an imported problem: no intent checks, its change stated only by the expected template
    bare = problem.model_copy(
        update={"intent_checks": [], "must_keep": [], "expected_template": expected}
    )
    assert rules(validate(bare, expected)) == [
        ("X1003", "Resources/Queue/Properties/VisibilityTimeout")
    ]
    assert validate(bare.model_copy(update={"may_change": paths}), expected).findings == []
