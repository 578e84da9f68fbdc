"""Problem loading (one clear error per bad file), difficulty, near misses, the dataset check."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.problems.__main__ import main
from benchmark.problems.check import apply_near_miss, check_dataset
from benchmark.problems.dataset import DatasetError, NearMiss, load_dataset
from benchmark.problems.difficulty import difficulty_level, template_metrics
from benchmark.validators.base import Finding
from tests.job_process import run_job_process

REFERENCE = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: "2010-09-09"
    Resources:
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 60
    Outputs:
      QueueUrl:
        Value: !Ref Queue
    """
)


def problem(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "sqs-queue",
        "title": "A queue",
        "prompt": "Make a queue with a 60 second visibility timeout.",
        "services": ["SQS"],
        "difficulty": 1,
        "reference_template": REFERENCE,
        "intent_checks": [
            {
                "id": "queue",
                "kind": "resource_exists",
                "description": "A queue exists.",
                "type": "AWS::SQS::Queue",
            },
            {
                "id": "timeout",
                "kind": "property_equals",
                "description": "Visibility timeout is 60 s.",
                "resource_type": "AWS::SQS::Queue",
                "path": "Properties.VisibilityTimeout",
                "value": 60,
            },
        ],
        "near_misses": [
            {"why": "default timeout", "delete": ["Resources/Queue/Properties/VisibilityTimeout"]}
        ],
    }
    data.update(overrides)
    return data


def write(folder: Path, name: str, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def load_error(tmp_path: Path, data: Any) -> str:
    write(tmp_path, "p.yaml", data)
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    return str(info.value)


def test_valid_problem_loads(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", problem())
    write(tmp_path, "b.yaml", problem(id="another"))
    loaded = load_dataset(tmp_path)
    assert [p.id for p in loaded] == ["another", "sqs-queue"]
    assert loaded[1].intent_checks[1].kind == "property_equals"
    assert [p.id for p in load_dataset(tmp_path, only=["sqs-queue"])] == ["sqs-queue"]
    assert len(load_dataset(tmp_path, limit=1)) == 1


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ("id: [unclosed", None, "cannot read problem file"),
        ("- a\n- list\n", None, "must be a YAML mapping"),
        (problem(prompt=None) | {"prompt": None}, "prompt", "string"),
        ({k: v for k, v in problem().items() if k != "title"}, "title", "Field required"),
        (problem(colour="blue"), "colour", "Extra inputs"),
        (problem(id="Bad Id"), "id", "pattern"),
        (problem(difficulty=3), "difficulty", "computes to 1"),
        (problem(reference_template="Resources: ["), "reference_template", "does not parse"),
        (
            problem(intent_checks=[{"id": "x", "kind": "resource_exist", "description": "d"}]),
            "intent_checks[0] (id 'x').kind",
            "unknown check kind 'resource_exist'",
        ),
        (
            problem(intent_checks=[{"id": "x", "description": "d", "type": "T"}]),
            "intent_checks[0] (id 'x').kind",
            "missing",
        ),
        (
            problem(
                intent_checks=[
                    {"id": "x", "kind": "property_exists", "description": "d", "path": "a.["}
                ]
            ),
            "intent_checks[0] (id 'x').path",
            "JMESPath",
        ),
        (
            problem(
                intent_checks=[
                    {"id": "x", "kind": "output_exists", "description": "d"},
                    {"id": "x", "kind": "output_exists", "description": "e"},
                ]
            ),
            "intent_checks",
            "duplicate intent check id 'x'",
        ),
        (problem(near_misses=[{"why": "nothing"}]), "near_misses[0]", "at least one path"),
        (
            problem(no_reference="the ground truth does not parse"),
            "no_reference",
            "only a problem without a reference_template is prompt-only",
        ),
        (
            problem(reference_template=None, difficulty=None, no_reference=" "),
            "no_reference",
            "must not be empty",
        ),
    ],
)
def test_bad_problem_gives_one_clear_error(
    tmp_path: Path, data: Any, field: str | None, words: str
) -> None:
    message = load_error(tmp_path, data)
    assert message.startswith(str(tmp_path / "p.yaml"))
    if field is not None:
        assert f"field '{field}'" in message
    assert words in message
    assert "\n" not in message


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", problem())
    write(tmp_path, "b.yaml", problem())
    with pytest.raises(
        DatasetError, match=r"b\.yaml: field 'id': duplicate id 'sqs-queue'.*a\.yaml"
    ):
        load_dataset(tmp_path)


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no problem files"):
        load_dataset(tmp_path)


@pytest.mark.parametrize(
    ("lines", "resources", "parameters", "level"),
    [
        (49, 1, 1, 1),
        (50, 1, 1, 2),
        (10, 2, 0, 2),
        (10, 0, 2, 2),
        (99, 3, 4, 2),
        (99, 4, 4, 3),
        (149, 7, 8, 3),
        (149, 7, 9, 4),
        (199, 11, 13, 4),
        (200, 1, 1, 5),
        (10, 12, 0, 5),
        (10, 0, 14, 5),
    ],
)
def test_difficulty_thresholds(lines: int, resources: int, parameters: int, level: int) -> None:
    assert difficulty_level(lines, resources, parameters) == level


def test_template_metrics_count_non_blank_lines_resources_and_parameters() -> None:
    text = (
        "Parameters:\n  A: {Type: String}\n\n  B: {Type: String}\n"
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
    )
    metrics = template_metrics(text)
    assert (metrics.lines, metrics.resources, metrics.parameters) == (6, 1, 2)
    assert metrics.difficulty == 2
    with pytest.raises(ValueError, match="does not parse"):
        template_metrics("Resources: [")


def test_apply_near_miss() -> None:
    template = {"Resources": {"A": {"Type": "T", "Properties": {"L": [1, 2]}}}}
    edited = apply_near_miss(
        template,
        NearMiss(
            why="w",
            delete=["Resources/A/Properties/L/0"],
            replace={"Resources/A/Type": "U", "Resources/A/Properties/L/1": 3},
        ),
    )
    assert edited == {"Resources": {"A": {"Type": "U", "Properties": {"L": [2, 3]}}}}
    assert template["Resources"]["A"]["Type"] == "T"  # the reference is not modified
    with pytest.raises(KeyError, match="Resources/B"):
        apply_near_miss(template, NearMiss(why="w", delete=["Resources/B"]))


def _lint_nothing(text: str) -> list[Finding]:
    return []


def test_check_dataset_passes_a_good_problem(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", problem())
    report = check_dataset(tmp_path, _lint_nothing)
    assert report.ok and report.problems == 1


def test_check_dataset_finds_each_kind_of_failure(tmp_path: Path) -> None:
    vacuous = {"id": "any-template", "kind": "property_exists", "description": "d", "path": "@"}
    wrong = {
        "id": "wrong",
        "kind": "property_equals",
        "description": "d",
        "resource_type": "AWS::SQS::Queue",
        "path": "Properties.VisibilityTimeout",
        "value": 30,
    }
    data = problem(
        intent_checks=[vacuous, wrong],
        near_misses=[{"why": "gone", "delete": ["Resources/Nope"]}],
    )
    write(tmp_path, "p.yaml", data)
    harmless = [{"why": "harmless", "replace": {"Outputs/QueueUrl/Description": "x"}}]
    write(tmp_path, "q.yaml", problem(id="other", near_misses=harmless))

    def lint_warns(text: str) -> list[Finding]:
        return [Finding("W1234", "W", "a warning", line=3)]

    failures = "\n".join(check_dataset(tmp_path, lint_warns).failures)
    assert "cfn-lint W1234 line 3" in failures
    assert "intent check 'wrong': fails on the reference template" in failures
    assert "intent check 'any-template': passes on an empty template (vacuous)" in failures
    assert "q.yaml: field 'near_misses[0]': every intent check passes (harmless)" in failures
    assert (
        "p.yaml: field 'near_misses[0]': path 'Resources/Nope' is not in the reference" in failures
    )


def prompt_only(**overrides: Any) -> dict[str, Any]:
    data = problem(id="prompt-only", reference_template=None, difficulty=None, near_misses=[])
    return data | {"no_reference": "ground truth does not parse: bad line (line 3)"} | overrides


def test_prompt_only_problem_loads_and_the_check_skips_it(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", problem())
    write(tmp_path, "q.yaml", prompt_only())
    loaded = load_dataset(tmp_path, only=["prompt-only"])[0]
    assert loaded.reference_template is None and loaded.no_reference.startswith("ground truth")
    assert len(loaded.intent_checks) == 2  # kept: they judge generated templates
    report = check_dataset(tmp_path, _lint_nothing)
    assert report.ok and report.problems == 2 and report.prompt_only == ["prompt-only"]


def test_check_dataset_fails_a_problem_without_reference_or_reason(tmp_path: Path) -> None:
    data = prompt_only()
    del data["no_reference"]
    write(tmp_path, "q.yaml", data)
    report = check_dataset(tmp_path, _lint_nothing)
    assert report.prompt_only == []
    assert report.failures == [
        f"{tmp_path / 'q.yaml'}: field 'reference_template': missing (every checked problem "
        "needs one; a prompt-only problem says why in 'no_reference')"
    ]


def test_check_dataset_reports_a_load_error(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", problem(difficulty=5))
    report = check_dataset(tmp_path, _lint_nothing)
    assert not report.ok and "field 'difficulty'" in report.failures[0]


def test_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "good", "p.yaml", problem())
    write(tmp_path / "bad", "p.yaml", problem(difficulty=2))
    assert main(["check", str(tmp_path / "good")]) == 0
    assert "1 problems, ok" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "good"), str(tmp_path / "bad")]) == 1
    assert "field 'difficulty'" in capsys.readouterr().out
    write(tmp_path / "good", "q.yaml", prompt_only())
    assert main(["check", str(tmp_path / "good")]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        f"{tmp_path / 'good'}: 2 problems, ok",
        "  note: 1 prompt-only problem skipped (no reference to check against): prompt-only",
    ]


# -- a reference must be a CloudFormation template: refused at load, by the check, at job start

KUBERNETES = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 2
    """
)


def kubernetes_dataset(folder: Path) -> Path:
    write(folder, "good.yaml", problem(id="good"))
    return write(folder, "k8s.yaml", problem(reference_template=KUBERNETES, difficulty=None))


def test_a_kubernetes_manifest_reference_is_refused_at_load_in_one_line(tmp_path: Path) -> None:
    path = kubernetes_dataset(tmp_path)
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    message = str(info.value)
    assert message == (
        f"{path}: field 'reference_template': not a CloudFormation template: no 'Resources' "
        "mapping of typed resources (top-level keys: apiVersion, kind, metadata, spec)"
    )


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("Resources: {}\n", "'Resources' is empty"),
        ("Resources:\n  Queue:\n    Properties: {}\n", "resource 'Queue' has no 'Type' string"),
        ("Resources:\n  Queue: AWS::SQS::Queue\n", "resource 'Queue' has no 'Type' string"),
        ("- a list\n", "not a mapping"),
        ('{"Resources": {"Q": {"Type": 7}}}', "resource 'Q' has no 'Type' string"),
        (
            "Resources:\n  Fn::ForEach::Qs: [Name, [A, B], {'${Name}': {Properties: {}}}]\n",
            "loop 'Fn::ForEach::Qs': resource '${Name}' has no 'Type' string",
        ),
    ],
)
def test_reference_without_typed_resources_is_refused(
    tmp_path: Path, reference: str, why: str
) -> None:
    message = load_error(tmp_path, problem(reference_template=reference, difficulty=None))
    assert message.startswith(f"{tmp_path / 'p.yaml'}: field 'reference_template': ")
    assert message.endswith(f"not a CloudFormation template: {why}")


@pytest.mark.parametrize(
    "reference",
    [
        REFERENCE,  # YAML with an intrinsic tag (!Ref)
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
        "      QueueName: !Sub '${AWS::StackName}-q'\n"
        "      VisibilityTimeout: !GetAtt Other.Value\n",
        '{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": '
        '{"QueueName": {"Fn::Sub": "${AWS::StackName}-q"}}}}}',  # JSON
        "Transform: AWS::LanguageExtensions\nResources:\n"
        "  Fn::ForEach::Qs: [Name, [A, B], {'Queue${Name}': {Type: AWS::SQS::Queue}}]\n",
    ],
    ids=["yaml-ref", "yaml-sub-getatt", "json", "foreach"],
)
def test_cloudformation_references_load(tmp_path: Path, reference: str) -> None:
    write(tmp_path, "p.yaml", problem(reference_template=reference, difficulty=None))
    assert load_dataset(tmp_path)[0].reference_template == reference


def test_check_datasets_refuses_a_kubernetes_reference_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = kubernetes_dataset(tmp_path)
    assert main(["check", str(tmp_path)]) == 1
    failures = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert failures == [
        f"  {path}: field 'reference_template': not a CloudFormation template: no 'Resources' "
        "mapping of typed resources (top-level keys: apiVersion, kind, metadata, spec)"
    ]


def test_job_start_refuses_a_kubernetes_reference_in_one_line(tmp_path: Path) -> None:
    path = kubernetes_dataset(tmp_path / "data")
    done = run_job_process(tmp_path / "run", f"dataset.path={tmp_path / 'data'}")
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(path) in last
    assert "field 'reference_template': not a CloudFormation template" in last
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "run").rglob("*.parquet"))
