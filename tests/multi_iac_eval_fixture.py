"""A Multi-IaC-Eval CSV in the published layout, written by the tests (the data is CC-BY-NC 4.0:
none of it is shipped). Columns `source` (the initial template's file name and an index),
`initial`, `expected`, `utterance`, `source_repo`; quirks kept: a UTF-8 BOM, CRLF row endings,
templates in multi-line quoted cells (some with CRLF inside), YAML and JSON templates, Terraform
rows, a row whose source says nothing of its format (CDK code), a row with an empty `expected`,
a CloudFormation row that does not parse, a repeated row."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

COLUMNS = ("source", "initial", "expected", "utterance", "source_repo")

BUCKET = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: A bucket for build artefacts.
Resources:
  Artefacts:
    Type: AWS::S3::Bucket
Outputs:
  BucketName:
    Value: !Ref Artefacts
"""
BUCKET_VERSIONED = BUCKET.replace(
    "    Type: AWS::S3::Bucket\n",
    "    Type: AWS::S3::Bucket\n    Properties:\n      VersioningConfiguration:\n"
    "        Status: Enabled\n",
)
QUEUE = json.dumps(
    {"Resources": {"Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 0}}}},
    indent=2,
)
QUEUE_LONGER = json.dumps(
    {
        "Resources": {
            "Jobs": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"DelaySeconds": 0, "VisibilityTimeout": 120},
            }
        }
    },
    indent=2,
)
TERRAFORM = 'resource "aws_s3_bucket" "logs" {\n  bucket = "my-logs"\n}\n'
CDK = "from aws_cdk import Stack, aws_sqs as sqs\n\nclass Q(Stack):\n    pass\n"

# (source, initial, expected, utterance, source_repo); CRLF inside the JSON cells
ROWS = [
    ("templates/artefacts-bucket.yaml_0", BUCKET, BUCKET_VERSIONED,
     "Turn on versioning for the artefacts bucket\nso old builds can be restored.",
     "https://github.com/example-org/build-infra"),
    ("modules/logs/main.tf_1", TERRAFORM, TERRAFORM.replace("my-logs", "my-logs-2"),
     "Rename the bucket.", "https://github.com/example-org/tf-modules"),
    ("queues\\jobs.json_0", QUEUE.replace("\n", "\r\n"), QUEUE_LONGER.replace("\n", "\r\n"),
     "Give workers two minutes before a job reappears in the queue.", "example-org/queues"),
    ("templates/artefacts-bucket.yaml_1", BUCKET, "", "Add a lifecycle rule.",
     "example-org/build-infra"),
    ("stack_0", CDK, CDK + "# changed\n", "Add a dead-letter queue.", "example-org/cdk-app"),
    ("broken.yaml_0", "Resources:\n  Broken: [unclosed\n", BUCKET, "Fix it.", "example-org/x"),
    ("templates/artefacts-bucket.yaml_0", BUCKET, BUCKET_VERSIONED,
     "Turn on versioning for the artefacts bucket\nso old builds can be restored.",
     "https://github.com/example-org/build-infra"),
]  # fmt: skip
KEPT = (1, 3)  # rows (1-based) imported
SKIPPED = {
    2: "not CloudFormation (source 'modules/logs/main.tf_1')",
    4: "empty expected",
    5: "not CloudFormation (source 'stack_0'; initial has no Resources section)",
    6: "initial does not parse as CloudFormation",
    7: "duplicate of row 1 (the same initial, utterance and expected)",
}


def write_csv(path: Path, rows: list[tuple[str, ...]] | None = None, crlf: bool = True) -> Path:
    """The CSV as published: BOM, header, rows (CRLF endings unless `crlf` is false)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(COLUMNS)
    writer.writerows(ROWS if rows is None else rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path
