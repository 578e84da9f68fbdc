"""Importers, on synthetic fixtures in the published layouts (no published data is shipped)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmark.datasets.__main__ import main
from benchmark.datasets.checkov import jmespath_of, translate_policy
from benchmark.datasets.dpiaceval import import_dpiaceval
from benchmark.datasets.generic import import_generic, parse_mapping
from benchmark.datasets.output import DatasetImportError
from benchmark.intent import evaluate_text
from benchmark.problems import load_dataset

QUEUE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
"""

VM = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Ami:
    Type: AWS::EC2::Image::Id
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
      EnableDnsSupport: true
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24}
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.2.0/24}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: ssh, VpcId: !Ref Vpc}
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !Ref Ami
      InstanceType: t3.micro
      SubnetId: !Ref SubnetA
      SecurityGroupIds: [!Ref Group]
"""

ROW_0 = """\
metadata:
  id: "UIV_CUSTOM_ROW_0"
  name: "queue timeout"
  category: "USER_INTENT"
definition:
  cond_type: "attribute"
  resource_types:
    - "AWS::SQS::Queue"
  attribute: "VisibilityTimeout"
  operator: "equals"
  value: "5"
"""

ROW_1A = """\
metadata:
  id: "UIV_CUSTOM_ROW_1A"
  name: "vm network"
definition:
  and:
    - cond_type: "attribute"
      resource_types: ["AWS::EC2::VPC"]
      attribute: "Properties.EnableDnsSupport"
      operator: "equals"
      value: "true"
    - cond_type: "attribute"
      resource_types: ["AWS::EC2::Instance"]
      attribute: "Properties.KeyName"
      operator: "not_exists"
    - cond_type: "attribute"
      resource_types: ["AWS::EC2::Instance"]
      attribute: "Properties.InstanceType"
      operator: "regex_match"
      value: "t3\\\\..*"
    - cond_type: "filter"
      attribute: "resource_type"
      operator: "within"
      value: ["AWS::EC2::Instance"]
    - cond_type: "attribute"
      resource_types: ["*"]
      attribute: "Properties.Tags.*.Key"
      operator: "contains"
      value: "Name"
"""

ROW_1B = """\
metadata:
  id: "UIV_CUSTOM_ROW_1B"
  name: "vm wiring"
definition:
  and:
    - or:
        - cond_type: "attribute"
          resource_types: ["AWS::EC2::Instance"]
          attribute: "Properties.SubnetId"
          operator: "exists"
        - cond_type: "attribute"
          resource_types: ["AWS::EC2::Instance"]
          attribute: "Properties.NetworkInterfaces"
          operator: "exists"
    - cond_type: "connection"
      resource_types: ["AWS::EC2::Instance"]
      connected_resource_types: ["AWS::EC2::SecurityGroup"]
      operator: "connected"
"""

USER_INTENT_HEADER = [
    "row_number",
    "ground_truth_path",
    "prompt",
    "difficulty_level",
    "resources",
    "resource_count",
    "loc",
    "parameter_count",
    "user_intent",
    "user_intent_file_path",
    "user_intent_id",
    "needed_resources",
]


def dpiaceval_layout(root: Path) -> Path:
    """A download shaped like DPIaC-Eval's repository: Data/ with Windows-style relative paths."""
    data = root / "Data"
    (data / "groud_truth" / "template").mkdir(parents=True)
    (data / "user_intent").mkdir()
    templates = data / "groud_truth" / "template"
    (templates / "sqs_easy.yaml").write_text(QUEUE)
    (templates / "virtualmachine.yaml").write_text(VM)
    (templates / "broken.yaml").write_text("Resources: [")
    (data / "user_intent" / "row_0.yaml").write_text(ROW_0)
    (data / "user_intent" / "row_1A.yaml").write_text(ROW_1A)
    (data / "user_intent" / "row_1B.yaml").write_text(ROW_1B)
    rows = [
        # the CSV's stated difficulty for row 1 is wrong on purpose: the computed one is stored
        [0, r"Data\groud_truth\template\sqs_easy.yaml", "We need an SQS queue.", 1,
         "AWS::SQS::Queue", 1, 6, 0, 1, r"Data\user_intent\row_0.yaml", "UIV_CUSTOM_ROW_0",
         "AWS::SQS::Queue"],
        # as published: the second intent path lacks "Data\" and has a trailing space
        [1, r"Data\groud_truth\template\virtualmachine.yaml", "We need a VM in a VPC.", 4,
         "", 5, 25, 1, 3, r"Data\user_intent\row_1A.yaml, user_intent\row_1B.yaml ",
         "UIV_CUSTOM_ROW_1A, UIV_CUSTOM_ROW_1B",
         "AWS::EC2::VPC, AWS::EC2::Subnet, AWS::EC2::Subnet, AWS::EC2::Instance"],
        [2, r"Data\groud_truth\template\broken.yaml", "Broken ground truth.", 1, "", 0, 1, 0,
         "", "", "", ""],
        [3, r"Data\groud_truth\template\sqs_easy.yaml", "", 1, "", 1, 6, 0, "", "", "", ""],
    ]  # fmt: skip
    path = data / "iac_with_user_intent.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(USER_INTENT_HEADER)
        writer.writerows(rows)
    return path


def test_dpiaceval_import(tmp_path: Path) -> None:
    csv_path = dpiaceval_layout(tmp_path / "download")
    out = tmp_path / "out"
    report = import_dpiaceval(csv_path, out)
    assert (report.rows_read, report.written) == (4, 2)
    assert report.rows_skipped == {"ground truth does not parse": 1, "empty prompt": 1}
    assert report.policies_read == 3
    assert report.conditions_skipped == {"operator not_exists": 1, "cond_type filter": 1}
    assert report.checks_dropped == {"fails on the reference template": 1}  # no Tags in VM
    assert report.checks_translated == 5  # row 0: 1; row 1A: 2 of 5; row 1B: or + connection
    assert report.checks_from_resources == 4  # SQS; VPC, Subnet (x2), Instance
    assert report.notes == {"difficulty_level differs from the computed level (stored computed)": 1}
    text = "\n".join(report.lines())
    assert "rows read: 4" in text and "problems written: 2" in text

    problems = {p.id: p for p in load_dataset(out)}
    assert set(problems) == {"dpiaceval-000-sqs-easy", "dpiaceval-001-virtualmachine"}
    vm = problems["dpiaceval-001-virtualmachine"]
    assert vm.difficulty == 3 and vm.services == ["EC2"]
    assert vm.reference_template == VM
    assert "row 1" in (vm.source or "")
    assert {c.kind for c in vm.intent_checks} == {"resource_exists", "property_equals",
                                                  "property_matches", "any_of"}  # fmt: skip
    subnet = next(c for c in vm.intent_checks if c.id == "needs-ec2-subnet")
    assert subnet.at_least == 2  # type: ignore[union-attr]
    for problem in problems.values():
        assert problem.reference_template is not None
        _, outcomes = evaluate_text(problem.intent_checks, problem.reference_template)
        assert all(o.passed for o in outcomes)
        _, outcomes = evaluate_text(problem.intent_checks, "Resources: {}")
        assert not any(o.passed for o in outcomes)


def test_dpiaceval_keep_failing_and_overwrite(tmp_path: Path) -> None:
    csv_path = dpiaceval_layout(tmp_path / "download")
    out = tmp_path / "out"
    import_dpiaceval(csv_path, out)
    with pytest.raises(DatasetImportError, match="already holds problem files"):
        import_dpiaceval(csv_path, out)
    report = import_dpiaceval(csv_path, out, keep_failing=True, overwrite=True)
    assert report.checks_dropped.total() == 0 and report.checks_translated == 6


def test_dpiaceval_basic_csv_and_root(tmp_path: Path) -> None:
    download = tmp_path / "download"
    dpiaceval_layout(download)
    basic = tmp_path / "elsewhere" / "iac_basic.csv"
    basic.parent.mkdir()
    basic.write_text(
        "row_number,ground_truth_path,prompt\n"
        '0,Data\\groud_truth\\template\\sqs_easy.yaml,"We need a queue, please."\n'
    )
    report = import_dpiaceval(basic, tmp_path / "out", root=download)
    assert report.written == 1 and report.policies_read == 0
    (problem,) = load_dataset(tmp_path / "out")
    assert problem.intent_checks == [] and problem.prompt == "We need a queue, please."


def test_dpiaceval_missing_column_file_and_skip(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("row_number,prompt\n0,x\n")
    with pytest.raises(DatasetImportError, match=r"bad\.csv: missing column 'ground_truth_path'"):
        import_dpiaceval(bad, tmp_path / "out")
    with pytest.raises(DatasetImportError, match=r"nope\.csv: file not found"):
        import_dpiaceval(tmp_path / "nope.csv", tmp_path / "out")
    csv_path = dpiaceval_layout(tmp_path / "download")
    (csv_path.parent / "user_intent" / "row_1B.yaml").unlink()
    with pytest.raises(DatasetImportError, match=r"row 1: column 'user_intent_file_path'.*row_1B"):
        import_dpiaceval(csv_path, tmp_path / "out")
    report = import_dpiaceval(csv_path, tmp_path / "out", skip_missing=True)
    assert report.rows_skipped["user_intent_file_path file not found"] == 1
    assert report.written == 1


def test_dpiaceval_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = dpiaceval_layout(tmp_path / "download")
    out = tmp_path / "out"
    assert main(["import", "dpiaceval", str(csv_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rows read: 4" in printed and "Checkov conditions not translated: 2" in printed
    assert main(["import", "dpiaceval", str(tmp_path / "none.csv"), "--out", str(out)]) == 2
    assert "none.csv: file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("attribute", "path"),
    [
        ("VisibilityTimeout", "Properties.VisibilityTimeout"),
        ("Properties.Tags.*.Key", "Properties.Tags[*].Key"),
        ("Properties.Doc.Statement[*].Action", "Properties.Doc.Statement[*].Action"),
        ("Properties.Statement.*.Condition.Bool.aws:SecureTransport",
         'Properties.Statement[*].Condition.Bool."aws:SecureTransport"'),
        ("Properties.Rules.0.Id", "Properties.Rules[0].Id"),
        ("DeletionPolicy", "DeletionPolicy"),
    ],
)  # fmt: skip
def test_checkov_attribute_paths(attribute: str, path: str) -> None:
    assert jmespath_of(attribute) == path


def test_checkov_operators() -> None:
    def policy(operator: str, value: object = "x") -> dict[str, object]:
        condition = {
            "cond_type": "attribute",
            "resource_types": ["AWS::S3::Bucket", "AWS::SQS::Queue"],
            "attribute": "Properties.A.*.B",
            "operator": operator,
            "value": value,
        }
        return {"metadata": {"id": "P"}, "definition": condition}

    kinds = {}
    for operator in ("exists", "equals", "contains", "is_true", "starting_with", "ending_with"):
        (check,) = translate_policy(policy(operator), "p").checks
        assert check["kind"] == "any_of" and len(check["checks"]) == 2
        kinds[operator] = check["checks"][0]["kind"]
    assert kinds["equals"] == "property_contains"  # any element of a wildcard path
    assert kinds["is_true"] == "property_equals"
    assert kinds["ending_with"] == "property_matches"
    for operator in ("not_equals", "greater_than", "within", "length_equals", "jsonpath_equals"):
        assert translate_policy(policy(operator), "p").skipped == [f"operator {operator}"]
    nested = {"definition": {"or": [{"and": []}, {"cond_type": "attribute"}]}}
    assert translate_policy(nested, "p").skipped == ["and nested in or"]
    assert translate_policy({"definition": {"not": {}}}, "p").skipped == ["not"]
    assert translate_policy("nonsense", "p").skipped == ["not a Checkov policy (no definition)"]


def test_generic_csv_with_mapping(tmp_path: Path) -> None:
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "q.yaml").write_text(QUEUE)
    source = tmp_path / "tasks.csv"
    source.write_text(
        "task,question,tmpl,svc\n"
        'T-1,Make a queue.,refs\\q.yaml,"SQS"\n'
        "T-2,Make a bucket.,,S3\n"
        "T-2,Duplicate id.,,\n"
        "T-3,,,\n"
    )
    mapping = parse_mapping(["id=task", "prompt=question", "reference_path=tmpl", "services=svc"])
    report = import_generic(source, tmp_path / "out", mapping)
    assert (report.rows_read, report.written) == (4, 2)
    assert report.rows_skipped == {"duplicate id": 1, "empty prompt": 1}
    first, second = load_dataset(tmp_path / "out")
    assert (first.id, first.difficulty, first.services) == ("t-1", 1, ["SQS"])
    assert first.reference_template == QUEUE
    assert (second.id, second.reference_template, second.difficulty) == ("t-2", None, None)


def test_generic_jsonl_with_checks(tmp_path: Path) -> None:
    check = {"id": "q", "kind": "resource_exists", "description": "a queue", "type": "AWS::SQS::*"}
    lines = [
        {"prompt": "Make a queue.", "reference_template": QUEUE, "intent_checks": [check]},
        {"prompt": "Make a topic.", "title": "Topic"},
    ]
    source = tmp_path / "prompts.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    report = import_generic(source, tmp_path / "out", id_prefix="mine")
    assert report.written == 2 and report.checks_translated == 1
    first, second = load_dataset(tmp_path / "out")
    assert first.id == "mine-0001" and first.intent_checks[0].id == "q"
    assert second.title == "Topic"


def test_generic_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "p.csv"
    source.write_text("question\nhello\n")
    with pytest.raises(DatasetImportError, match="missing column 'prompt'"):
        import_generic(source, tmp_path / "out")
    with pytest.raises(DatasetImportError, match="missing column 'text'"):
        import_generic(source, tmp_path / "out", {"prompt": "text"})
    with pytest.raises(DatasetImportError, match="unknown field"):
        parse_mapping(["difficulty=level"])
    with pytest.raises(DatasetImportError, match="expected field=column"):
        parse_mapping(["prompt"])
    bad_checks = tmp_path / "c.jsonl"
    bad_checks.write_text(json.dumps({"prompt": "p", "intent_checks": [{"kind": "bogus"}]}))
    with pytest.raises(DatasetImportError, match=r"row 1: field 'intent_checks\[0\]"):
        import_generic(bad_checks, tmp_path / "out")
    argv = [
        "import",
        "generic",
        str(source),
        "--out",
        str(tmp_path / "o"),
        "--map",
        "prompt=question",
    ]
    assert main(argv) == 0
    assert "problems written: 1" in capsys.readouterr().out
