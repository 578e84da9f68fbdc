"""`import generic <folder>`: a folder of templates as a dataset, and `check` on the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.problems.__main__ import main
from benchmark.problems.check import check_dataset
from benchmark.problems.dataset import load_dataset
from benchmark.problems.importers.output import DatasetImportError
from benchmark.problems.importers.template_folder import (
    TWINS_NOTE,
    import_template_folder,
    leading_comments,
)

QUEUE_YAML = """\
# Create an SQS queue that keeps messages
# for four days.

AWSTemplateFormatVersion: "2010-09-09"
Description: |
  This stack creates an SQS queue
  with a four-day retention.
Resources:
  # the queue
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 345600
"""
QUEUE_JSON = json.dumps(
    {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "This stack creates an SQS queue with a four-day retention.",
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 345600}}
        },
    },
    indent=2,
)
TOPIC = """\
Description: An SNS topic for alarms.
Resources:
  Alarms:
    Type: AWS::SNS::Topic
"""
# a property the resource type does not have: cfn-lint E3002
BAD_BUCKET = json.dumps(
    {
        "Description": "A bucket with a property S3 does not know.",
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"Colour": "blue"}}},
    }
)
KUBERNETES = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def template_folder(root: Path) -> Path:
    """Three templates (one as YAML and JSON twins, one failing cfn-lint), and two others."""
    root.mkdir(parents=True)
    (root / "sqs-queue.yaml").write_text(QUEUE_YAML)
    (root / "SQS-Queue.json").write_text(QUEUE_JSON)  # a twin whatever the case
    (root / "sns-topic.yaml").write_text(TOPIC.replace("\n", "\r\n"))  # CRLF
    (root / "bad-bucket.json").write_text(BAD_BUCKET)
    (root / "configmap.yaml").write_text(KUBERNETES)
    (root / "README.md").write_text("# not a template\n")
    return root


def test_folder_of_templates_with_requests_from_description(tmp_path: Path) -> None:
    report = import_template_folder(template_folder(tmp_path / "cloudformation"), tmp_path / "out")
    assert (report.rows_read, report.written) == (5, 3)
    assert report.notes == {TWINS_NOTE: 1}
    assert report.row_notes == [
        "configmap.yaml: skipped: not a CloudFormation template: no 'Resources' mapping of "
        "typed resources (top-level keys: apiVersion, kind, metadata)"
    ]
    problems = {p.id: p for p in load_dataset(tmp_path / "out")}
    assert set(problems) == {"bad-bucket", "sns-topic", "sqs-queue"}
    queue = problems["sqs-queue"]
    assert queue.prompt == "This stack creates an SQS queue with a four-day retention."
    assert queue.reference_template == QUEUE_YAML  # the YAML twin, comments and all
    assert queue.source == "cloudformation/sqs-queue.yaml" and queue.services == ["SQS"]
    assert problems["sns-topic"].reference_template == TOPIC  # line endings made LF
    assert all(not p.intent_checks and p.difficulty for p in problems.values())


def test_requests_from_the_leading_comment_block(tmp_path: Path) -> None:
    folder = template_folder(tmp_path / "t")
    report = import_template_folder(folder, tmp_path / "out", request_from="comments")
    problems = {p.id: p for p in load_dataset(tmp_path / "out")}
    assert problems["sqs-queue"].prompt == "Create an SQS queue that keeps messages for four days."
    assert set(problems) == {"sqs-queue"}
    assert sorted(report.row_notes)[:2] == [
        "bad-bucket.json: skipped: no leading comment block (try --request-from description)",
        "configmap.yaml: skipped: not a CloudFormation template: no 'Resources' mapping of "
        "typed resources (top-level keys: apiVersion, kind, metadata)",
    ]
    assert leading_comments("\n# a\n#   b\nResources: {}\n# not this\n") == "a b"
    channel = "---\nDescription: A channel\n# Keep data ten days\nResources: {}\n"
    assert leading_comments(channel) == "Keep data ten days"  # after its Description
    assert leading_comments("Parameters: {}\n# in a section\nResources: {}\n") == ""


def test_cli_takes_a_folder_and_explains_a_template_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = template_folder(tmp_path / "t")
    out = ["--out", str(tmp_path / "out")]
    assert main(["import", "generic", str(folder), *out, "--id-prefix", "iac-eval"]) == 0
    printed = capsys.readouterr().out
    assert "templates read: 5" in printed and "problems written: 3" in printed
    assert f"note: {TWINS_NOTE}: 1" in printed and "templates skipped: 1" in printed
    assert (tmp_path / "out" / "iac-eval-sqs-queue.yaml").is_file()

    assert main(["import", "generic", str(folder / "sqs-queue.yaml"), *out]) == 2
    err = capsys.readouterr().err
    assert "a template, not a prompt list (.csv or .jsonl)" in err and "'prompt'" not in err
    assert f"pass their folder: import generic {folder}" in err
    assert main(["import", "generic", str(folder), *out, "--map", "prompt=q"]) == 2
    assert "a folder of templates has none" in capsys.readouterr().err
    with pytest.raises(DatasetImportError, match="no templates"):
        import_template_folder(tmp_path, tmp_path / "elsewhere")


@pytest.mark.slow
def test_check_names_the_references_cfn_lint_rejects_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_template_folder(template_folder(tmp_path / "t"), tmp_path / "local" / "iac-eval")
    assert main(["check", str(tmp_path / "local" / "iac-eval")]) == 1
    out = capsys.readouterr().out
    assert "3 problems, 1 failure(s)" in out
    assert "note: 3 imported problems without intent checks (intent: not available" in out
    assert "references failing cfn-lint: 1 of 3\n    bad-bucket: E3002\n" in out
    assert "no intent checks" not in out and "no near misses" not in out
    failures = [line for line in out.splitlines() if ".yaml: field" in line]
    assert (
        len(failures) == 1
        and "bad-bucket.yaml: field 'reference_template': cfn-lint E3002" in (failures[0])
    )


@pytest.mark.parametrize(("source", "required"), [("project (paper topic 1)", True), ("x", False)])
def test_only_the_projects_own_problems_must_carry_intent_checks(
    tmp_path: Path, source: str, required: bool
) -> None:
    data = {"id": "p", "title": "t", "prompt": "p", "source": source, "difficulty": 1}
    data["reference_template"] = TOPIC
    (tmp_path / "p.yaml").write_text(json.dumps(data))
    report = check_dataset(tmp_path, lambda text: [])
    missing = [f"{tmp_path / 'p.yaml'}: field '{f}': no {w}" for f, w in
               (("intent_checks", "intent checks"), ("near_misses", "near misses"))]  # fmt: skip
    assert report.failures == (missing if required else [])
    assert report.no_intent == ([] if required else ["p"])
