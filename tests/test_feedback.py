"""Each feedback design, on a fixed set of real cfn-lint findings, says what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.loop.feedback import FORMATTERS, FeedbackInput, readable_path, render_feedback
from benchmark.validators.base import CheckResult
from benchmark.validators.cfn_lint.validator import WarmLinter

TEMPLATE = (Path(__file__).parent / "templates" / "bad_properties.yaml").read_text()
REQUEST = "Create a bucket and a subnet in the VPC."
CHECKS = (
    CheckResult("bucket-exists", True, "an S3 bucket exists", source="intent"),
    CheckResult("subnet-in-vpc", False, "the subnet references the VPC", "Subnet", "intent"),
    CheckResult(
        "CKV_AWS_21",
        False,
        "Ensure the S3 bucket has versioning enabled",
        "AWS::S3::Bucket.Bucket",
        "security",
    ),
)


@pytest.fixture(scope="module")
def data(warm_linter: WarmLinter) -> FeedbackInput:
    findings = warm_linter.lint(TEMPLATE)
    assert {"E3002", "E3030", "E1020", "W2001", "W3010"} <= {f.rule_id for f in findings}
    return FeedbackInput(findings, "template.yaml", TEMPLATE, REQUEST, CHECKS)


def test_raw_is_cfn_lints_default_text(data: FeedbackInput) -> None:
    text = FORMATTERS["raw"](data)
    blocks = text.split("\n\n")
    assert len(blocks) == len(data.findings)
    first = blocks[0].splitlines()
    assert first[0].startswith("W2001 ") and first[1] == "template.yaml:3:3"


def test_structured_numbers_every_finding_with_a_readable_path(data: FeedbackInput) -> None:
    lines = FORMATTERS["structured"](data).splitlines()
    assert len(lines) == len(data.findings)
    assert lines[0].startswith("1. W2001 (warning) at Parameters.Unused, line 3:")
    assert any(
        "E3002 (error) at Resources.Bucket.Properties.BucketNam, line 9:" in ln for ln in lines
    )
    assert readable_path(("Resources", "Topic", "Properties", "Tags", 0)) == (
        "Resources.Topic.Properties.Tags[0]"
    )


def test_explained_adds_rule_metadata_and_restates_the_request(data: FeedbackInput) -> None:
    text = FORMATTERS["explained"](data)
    assert FORMATTERS["structured"](data) in text
    assert "- E3002: Resource properties are invalid (see https://" in text
    assert "- W3010: Availability zone properties should not be hardcoded" in text
    assert text.count("\n- ") == len({f.rule_id for f in data.findings})
    assert text.rstrip().endswith(REQUEST)


def test_excerpt_shows_the_offending_lines(data: FeedbackInput) -> None:
    text = FORMATTERS["excerpt"](data)
    assert ">    9 |       BucketNam: foo" in text  # the E3002 line, marked
    assert "     8 |     Properties:" in text  # with context around it
    assert ">   16 |       AvailabilityZone: us-east-1a" in text


def test_errors_only_withholds_warnings(data: FeedbackInput) -> None:
    text = FORMATTERS["errors-only"](data)
    errors = [f for f in data.findings if f.level == "E"]
    assert len(text.splitlines()) == len(errors)
    assert "W2001" not in text and "W3010" not in text and "E3002" in text


def test_intent_adds_the_failed_intent_checks_only(data: FeedbackInput) -> None:
    text = FORMATTERS["intent"](data)
    assert "- the subnet references the VPC (Subnet)" in text
    assert "an S3 bucket exists" not in text  # passed
    assert "versioning" not in text  # a security check, not intent


def test_failed_checks_of_listed_sources_are_appended_once(data: FeedbackInput) -> None:
    plain = render_feedback("structured", data)
    assert "versioning" not in plain and "subnet references" not in plain
    with_security = render_feedback("structured", data, ["security"])
    assert with_security.endswith(
        "- Ensure the S3 bucket has versioning enabled (AWS::S3::Bucket.Bucket)"
    )
    intent_twice = render_feedback("intent", data, ["intent"])
    assert intent_twice.count("the subnet references the VPC") == 1
