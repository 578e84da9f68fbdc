"""Importers, on synthetic fixtures in the published layouts (no published data is shipped)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from benchmark.problems.__main__ import main
from benchmark.problems.check import check_dataset
from benchmark.problems.dataset import load_dataset, load_dataset_files, parse_problem
from benchmark.problems.importers.checkov import jmespath_of, translate_policy
from benchmark.problems.importers.dpiaceval import REPEATED_POLICY_ID, import_dpiaceval
from benchmark.problems.importers.generic import import_generic, parse_mapping
from benchmark.problems.importers.output import DatasetImportError, ImportReport, problem_yaml
from benchmark.problems.intent_language import evaluate_text
from tests.dpiaceval_fixture import IDS, PROMPT_ONLY, QUEUE, VM, dpiaceval_layout


def imported(tmp_path: Path, **options: Any) -> tuple[Path, ImportReport]:
    csv_path = dpiaceval_layout(tmp_path / "download")
    return csv_path, import_dpiaceval(csv_path, tmp_path / "out", **options)


def test_dpiaceval_imports_every_row_as_published(tmp_path: Path) -> None:
    _, report = imported(tmp_path)
    assert (report.rows_read, report.written) == (6, 5)
    assert report.rows_skipped == {"empty prompt": 1}
    assert report.prompt_only == {"ground truth does not parse": 2}
    assert report.policies_read == 8
    assert report.conditions_skipped == {"operator not_exists": 1, "cond_type filter": 1}
    assert report.checks_dropped == {"fails on the reference template": 1}  # no Tags in VM
    # row 0: 1; row 1: 2 of 1A's 5, 1B's or + connection; row 2: 2; row 4: one per file
    assert report.checks_translated == 11
    assert report.checks_unverified == 2  # row 2's: its ground truth does not parse
    assert report.checks_from_resources == 8  # SQS; VPC, Subnet (x2), Instance; table; 3 in row 4
    assert report.notes == {
        "difficulty_level differs from the computed level (stored computed)": 1,
        REPEATED_POLICY_ID: 1,
    }
    text = "\n".join(report.lines())
    assert "rows read: 6" in text and "problems written: 5" in text
    assert "prompt-only problems (no reference template, no difficulty): 2" in text
    assert "translated checks kept unverified (prompt-only problems: " in text
    assert f"note: {REPEATED_POLICY_ID}: 1" in text

    problems = {p.id: p for p in load_dataset(tmp_path / "out")}
    assert set(problems) == set(IDS.values())
    vm = problems[IDS[1]]
    assert vm.difficulty == 3 and vm.services == ["EC2"]
    assert vm.reference_template == VM and vm.no_reference is None
    assert "row 1" in (vm.source or "")
    assert {c.kind for c in vm.intent_checks} == {"resource_exists", "property_equals",
                                                  "property_matches", "any_of"}  # fmt: skip
    subnet = next(c for c in vm.intent_checks if c.id == "needs-ec2-subnet")
    assert subnet.at_least == 2  # type: ignore[union-attr]
    for problem in problems.values():
        if problem.reference_template is None:
            continue
        _, outcomes = evaluate_text(problem.intent_checks, problem.reference_template)
        assert all(o.passed for o in outcomes)
        _, outcomes = evaluate_text(problem.intent_checks, "Resources: {}")
        assert not any(o.passed for o in outcomes)


def test_dpiaceval_repeated_policy_id_takes_ids_from_the_file_name(tmp_path: Path) -> None:
    _, report = imported(tmp_path)
    (fanout,) = load_dataset(tmp_path / "out", only=[IDS[4]])
    assert [c.id for c in fanout.intent_checks] == [
        "needs-sns-subscription",
        "needs-sns-topic",
        "needs-sqs-queue",
        "uiv-custom-row-4-a-1",
        "uiv-custom-row-4-b-1",
        "row-4-c-1",  # row_4C.yaml repeats row_4B.yaml's metadata id
        "uiv-custom-row-4-d-1",
    ]
    repeated = next(c for c in fanout.intent_checks if c.id == "row-4-c-1")
    assert repeated.kind == "any_of" and "subscribed to the topic" in repeated.description
    assert report.notes[REPEATED_POLICY_ID] == 1


def test_dpiaceval_three_files_sharing_an_id_keep_every_check(tmp_path: Path) -> None:
    # as in row 110 of the real data, where B, C and D share one metadata id
    csv_path = dpiaceval_layout(tmp_path / "download")
    row_4d = csv_path.parent / "user_intent" / "row_4D.yaml"
    row_4d.write_text(row_4d.read_text().replace("UIV_CUSTOM_ROW_4D", "UIV_CUSTOM_ROW_4B"))
    report = import_dpiaceval(csv_path, tmp_path / "out")
    (fanout,) = load_dataset(tmp_path / "out", only=[IDS[4]])
    assert [c.id for c in fanout.intent_checks][3:] == [
        "uiv-custom-row-4-a-1",
        "uiv-custom-row-4-b-1",
        "row-4-c-1",
        "row-4-d-1",
    ]
    assert report.notes[REPEATED_POLICY_ID] == 2  # one per renamed file


TABLE = """\
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
"""


def test_dpiaceval_unparseable_ground_truth_gives_a_prompt_only_problem(tmp_path: Path) -> None:
    imported(tmp_path)
    (table, table_file), (alerts, alerts_file) = load_dataset_files(
        tmp_path / "out", only=list(PROMPT_ONLY)
    )
    assert (
        table.no_reference == "ground truth does not parse: Duplicate found 'BillingMode' (line 7)"
    )
    assert alerts.no_reference == "ground truth does not parse: did not find expected key (line 7)"
    for problem, path in ((table, table_file), (alerts, alerts_file)):
        assert problem.reference_template is None and problem.difficulty is None
        assert problem.services == (["DynamoDB"] if problem is table else ["SNS"])
        assert problem_yaml(problem) == path.read_text(encoding="utf-8")  # round trip
    assert alerts.prompt == "We need an SNS topic for the team\u00c2\u00a1\u00c2\u00afs alerts."
    assert alerts.intent_checks == []
    # its checks are kept, unverified: they judge a generated template as on any problem
    assert [c.id for c in table.intent_checks] == [
        "needs-dynamo-db-table",
        "uiv-custom-row-2-1",
        "uiv-custom-row-2-2",
    ]
    _, outcomes = evaluate_text(table.intent_checks, TABLE)
    assert all(o.passed for o in outcomes)
    _, outcomes = evaluate_text(table.intent_checks, TABLE.replace("PAY_PER_REQUEST", "X"))
    assert [o.passed for o in outcomes] == [True, False, True]


def test_dpiaceval_bad_rows_are_skipped_or_with_strict_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = dpiaceval_layout(tmp_path / "download")
    (csv_path.parent / "user_intent" / "row_4C.yaml").unlink()
    report = import_dpiaceval(csv_path, tmp_path / "out")
    assert report.rows_skipped == {"empty prompt": 1, "user_intent_file_path file not found": 1}
    assert report.written == 4
    assert "rows skipped: 2 (" in "\n".join(report.lines())

    with pytest.raises(DatasetImportError) as first:
        import_dpiaceval(csv_path, tmp_path / "strict", strict=True)
    assert str(first.value) == f"{csv_path}: row 3: empty prompt"
    assert not (tmp_path / "strict").exists()  # nothing written

    (csv_path.parent / "groud_truth" / "template" / "virtualmachine.yaml").unlink()
    argv = ["import", "dpiaceval", str(csv_path), "--out", str(tmp_path / "o"), "--strict"]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {csv_path}: row 1: ground_truth_path file not found: ")
    assert "'Data\\groud_truth\\template\\virtualmachine.yaml' (searched under " in line


def test_dpiaceval_keep_failing_and_overwrite(tmp_path: Path) -> None:
    csv_path, _ = imported(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(DatasetImportError, match="already holds problem files"):
        import_dpiaceval(csv_path, out)
    report = import_dpiaceval(csv_path, out, keep_failing=True, overwrite=True)
    assert report.checks_dropped.total() == 0 and report.checks_translated == 12


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


def test_dpiaceval_unreadable_csv_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("row_number,prompt\n0,x\n")
    with pytest.raises(DatasetImportError, match=r"bad\.csv: missing column 'ground_truth_path'"):
        import_dpiaceval(bad, tmp_path / "out")
    with pytest.raises(DatasetImportError, match=r"nope\.csv: file not found"):
        import_dpiaceval(tmp_path / "nope.csv", tmp_path / "out")


def test_dpiaceval_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = dpiaceval_layout(tmp_path / "download")
    out = tmp_path / "out"
    assert main(["import", "dpiaceval", str(csv_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rows read: 6" in printed and "Checkov conditions not translated: 2" in printed
    assert main(["import", "dpiaceval", str(tmp_path / "none.csv"), "--out", str(out)]) == 2
    assert "none.csv: file not found" in capsys.readouterr().err


def test_check_datasets_skips_prompt_only_problems_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    imported(tmp_path)
    report = check_dataset(tmp_path / "out", lambda text: [])
    assert report.problems == 5 and report.prompt_only == list(PROMPT_ONLY)
    failing = {line.split(": ")[0] for line in report.failures}
    assert failing and not any(pid in line for line in failing for pid in PROMPT_ONLY)
    monkeypatch.setattr("benchmark.problems.check.warm_lint", lambda: lambda text: [])
    assert main(["check", str(tmp_path / "out")]) == 1  # imports lack near misses
    notes = [line for line in capsys.readouterr().out.splitlines() if "note:" in line]
    assert notes == [
        f"  note: 2 prompt-only problems skipped (no reference to check against): "
        f"{', '.join(PROMPT_ONLY)}"
    ]


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
        ("Type", "Properties.Type"),  # Checkov's attributes are the Properties
        ("Type.Value", "Properties.Type.Value"),
    ],
)  # fmt: skip
def test_checkov_attribute_paths(attribute: str, path: str) -> None:
    assert jmespath_of(attribute) == path


SSM_PARAMETER = """\
Resources:
  Secret:
    Type: AWS::SSM::Parameter
    Properties:
      Type: StringList
      Value: a,b
"""


def test_checkov_check_on_type_is_the_property_not_the_resource_type() -> None:
    policy = {
        "metadata": {"id": "CKV2_SSM_LIST"},
        "definition": {
            "cond_type": "attribute",
            "resource_types": ["AWS::SSM::Parameter"],
            "attribute": "Type",
            "operator": "equals",
            "value": "StringList",
        },
    }
    checks = parse_problem(
        {
            "id": "p",
            "title": "t",
            "prompt": "p",
            "reference_template": SSM_PARAMETER,
            "intent_checks": translate_policy(policy, "ssm").checks,
        },
        "test",
    ).intent_checks
    _, outcomes = evaluate_text(checks, SSM_PARAMETER)
    assert [o.passed for o in outcomes] == [True]  # kept: the reference passes it
    _, outcomes = evaluate_text(checks, SSM_PARAMETER.replace("StringList", "String"))
    assert [o.passed for o in outcomes] == [False]


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


def test_generic_csv_keeps_line_breaks_in_quoted_cells(tmp_path: Path) -> None:
    source = tmp_path / "tasks.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [["prompt", "reference_template"], ["Make a queue,\nplease.", QUEUE]]
        )
    import_generic(source, tmp_path / "out")
    (problem,) = load_dataset(tmp_path / "out")
    assert problem.reference_template == QUEUE and problem.prompt == "Make a queue,\nplease."


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
