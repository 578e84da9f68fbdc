"""CDK problems (dataset paper33-cdk): `based_on` loading, the language fields, and the
dataset check of reference apps (synth, lint after CDK's own findings, intent checks)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.problems import __main__ as problems_main
from benchmark.problems.check import check_dataset
from benchmark.problems.check_cdk import local_synth
from benchmark.problems.dataset import (
    DEFAULTED_FIELDS,
    EDIT_FIELDS,
    DatasetError,
    load_dataset,
    load_problem,
)
from benchmark.validators.base import Finding
from benchmark.validators.cdk.sandbox import cdk_available
from benchmark.validators.cfn_lint.validator import WarmLinter

ROOT = Path(__file__).resolve().parents[1]
APP = "import aws_cdk as cdk\n\n\nclass AppStack(cdk.Stack):\n    pass\n"
TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
BASE: dict[str, Any] = {
    "id": "queue",
    "title": "A queue",
    "prompt": "Make a queue.",
    "services": ["SQS"],
    "difficulty": 1,
    "source": "project (paper topic 1)",
    "reference_template": 'Resources:\n  Queue:\n    Type: "AWS::SQS::Queue"\n',
    "intent_checks": [
        {
            "id": "queue",
            "kind": "resource_exists",
            "description": "A queue.",
            "type": "AWS::SQS::Queue",
        }
    ],
}


def cdk_problem(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "queue",
        "based_on": "paper33/queue",
        "language": "cdk-python",
        "source": "project (paper topic 1, CDK)",
        "reference_app": APP,
        **overrides,
    }


def write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def datasets(tmp_path: Path) -> Path:
    write(tmp_path / "paper33", "queue.yaml", BASE)
    return tmp_path


def test_based_on_takes_the_request_and_intent_checks_from_the_base(datasets: Path) -> None:
    path = write(datasets / "paper33-cdk", "queue.yaml", cdk_problem())
    problem = load_problem(path)
    assert (problem.title, problem.prompt, problem.services) == (
        "A queue",
        "Make a queue.",
        ["SQS"],
    )
    assert problem.difficulty == 1
    assert [c.id for c in problem.intent_checks] == ["queue"]
    assert problem.language == "cdk-python" and problem.reference_app == APP
    assert problem.reference_template is None  # not inherited: the app is the reference
    assert problem.source == "project (paper topic 1, CDK)"


def test_keys_the_problem_file_gives_win_over_its_base(datasets: Path) -> None:
    own_checks = [
        {
            "id": "topic",
            "kind": "resource_exists",
            "description": "A topic.",
            "type": "AWS::SNS::Topic",
        }
    ]
    path = write(
        datasets / "paper33-cdk", "queue.yaml", cdk_problem(title="Mine", intent_checks=own_checks)
    )
    problem = load_problem(path)
    assert problem.title == "Mine" and problem.prompt == "Make a queue."
    assert [c.id for c in problem.intent_checks] == ["topic"]


def test_based_on_is_read_in_any_yaml_layout(datasets: Path) -> None:
    path = datasets / "paper33-cdk" / "queue.yaml"
    path.parent.mkdir()
    path.write_text(json.dumps(cdk_problem()))  # flow style: the key is not at a line start
    assert load_problem(path).prompt == "Make a queue."


def test_a_changed_base_is_seen_by_the_next_load(datasets: Path) -> None:
    path = write(datasets / "paper33-cdk", "queue.yaml", cdk_problem())
    before = load_problem(path)
    write(datasets / "paper33", "queue.yaml", {**BASE, "prompt": "Make two queues."})
    after = load_problem(path)
    assert (before.prompt, after.prompt) == ("Make a queue.", "Make two queues.")
    assert before.sha256 != after.sha256


@pytest.mark.parametrize(
    ("based_on", "message"),
    [
        ("paper33/nothing", "field 'based_on': 'paper33/nothing' not found"),
        ("nowhere/queue", "field 'based_on': 'nowhere/queue' not found"),
        ("queue", "field 'based_on': 'queue' is not '<dataset>/<problem id>'"),
        ("../../etc/queue", "is not '<dataset>/<problem id>'"),
    ],
)
def test_a_bad_based_on_is_one_line_naming_file_and_field(
    datasets: Path, based_on: str, message: str
) -> None:
    path = write(datasets / "paper33-cdk", "queue.yaml", cdk_problem(based_on=based_on))
    with pytest.raises(DatasetError) as error:
        load_problem(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_based_on_loop_is_one_line_error(tmp_path: Path) -> None:
    write(tmp_path / "a", "one.yaml", {"id": "one", "based_on": "b/two"})
    write(tmp_path / "b", "two.yaml", {"id": "two", "based_on": "a/one"})
    with pytest.raises(
        DatasetError, match=r"a/one\.yaml: field 'based_on': a loop \(one -> two -> one\)$"
    ):
        load_problem(tmp_path / "a" / "one.yaml")
    write(tmp_path / "a", "self.yaml", {"id": "self", "based_on": "a/self"})
    with pytest.raises(DatasetError, match="a loop"):
        load_problem(tmp_path / "a" / "self.yaml")


def test_based_on_follows_a_chain(datasets: Path) -> None:
    write(
        datasets / "middle",
        "queue.yaml",
        {
            "id": "queue",
            "based_on": "paper33/queue",
            "title": "Middle",
            "reference_template": BASE["reference_template"],
        },
    )
    path = write(datasets / "paper33-cdk", "queue.yaml", cdk_problem(based_on="middle/queue"))
    problem = load_problem(path)
    assert (problem.title, problem.prompt) == ("Middle", "Make a queue.")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"reference_app": "import aws_cdk as cdk\nclass Other(cdk.Stack): pass\n"},
            "defines no class AppStack",
        ),
        ({"reference_app": "class AppStack(:\n"}, "does not parse"),
        (
            {"reference_template": BASE["reference_template"]},
            "a cdk-python problem has a reference_app instead",
        ),
        ({"language": "cloudformation"}, "only a problem with language cdk-python has one"),
        ({"language": "terraform"}, "field 'language'"),
    ],
)
def test_a_bad_cdk_problem_is_one_line_error(
    datasets: Path, overrides: dict[str, Any], message: str
) -> None:
    path = write(datasets / "paper33-cdk", "queue.yaml", cdk_problem(**overrides))
    with pytest.raises(DatasetError) as error:
        load_problem(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_language_fields_at_their_defaults_keep_every_digest() -> None:
    """The digest of a CloudFormation problem is what it was before the language axis."""
    for problem in load_dataset(ROOT / "datasets" / "paper33"):
        data = problem.model_dump(mode="json")
        for name in (*EDIT_FIELDS, *DEFAULTED_FIELDS):
            if data[name] in (None, [], "cloudformation"):
                del data[name]
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        assert problem.sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert problem.language == "cloudformation" and problem.reference_app is None


def test_shipped_paper33_cdk_problems_keep_paper33_requests() -> None:
    paper33 = {p.id: p for p in load_dataset(ROOT / "datasets" / "paper33")}
    cdk = load_dataset(ROOT / "datasets" / "paper33-cdk")
    assert cdk, "paper33-cdk has problems"
    for problem in cdk:
        base = paper33[problem.id]
        assert problem.based_on == f"paper33/{problem.id}"
        assert problem.language == "cdk-python" and problem.reference_template is None
        assert (problem.prompt, problem.title, problem.difficulty) == (
            base.prompt,
            base.title,
            base.difficulty,
        )
        assert problem.source and problem.source.endswith(", CDK)")
        assert problem.intent_checks
        assert problem.sha256 != base.sha256


# the dataset check, with a stand-in synth and lint: what it does with their answers


def ok_synth(template: str = TEMPLATE):
    def synth(code: str) -> dict[str, Any]:
        return {"status": "ok", "template": template}

    return synth


def lint_with(*rule_ids: str):
    def lint(text: str) -> list[Finding]:
        return [Finding(r, "W", f"{r} says so", ("Resources", "Queue")) for r in rule_ids]

    return lint


def test_check_passes_a_cdk_problem_whose_app_synthesizes_clean(datasets: Path) -> None:
    write(datasets / "paper33-cdk", "queue.yaml", cdk_problem())
    report = check_dataset(datasets / "paper33-cdk", lint_with(), ok_synth())
    assert report.ok and report.problems == 1, report.failures


def test_check_reports_the_findings_cdk_did_not_make(datasets: Path) -> None:
    """A W3005 on the model's queue is not one CDK makes on a clean app (those are the
    findings module's list, tested there): the check reports both."""
    write(datasets / "paper33-cdk", "queue.yaml", cdk_problem())
    report = check_dataset(datasets / "paper33-cdk", lint_with("W3005", "W3011"), ok_synth())
    assert len(report.failures) == 2
    assert "cfn-lint W3011 at Resources/Queue: W3011 says so" in report.failures[1]


def test_check_reports_an_intent_check_the_synthesized_app_fails(datasets: Path) -> None:
    write(datasets / "paper33-cdk", "queue.yaml", cdk_problem())
    no_queue = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    report = check_dataset(datasets / "paper33-cdk", lint_with(), ok_synth(no_queue))
    assert [line.split(": ", 1)[1] for line in report.failures] == [
        "intent check 'queue': fails on the synthesized reference app"
    ]


def test_check_reports_an_app_that_does_not_synthesize(datasets: Path) -> None:
    write(datasets / "paper33-cdk", "queue.yaml", cdk_problem())

    def broken(code: str) -> dict[str, Any]:
        return {
            "status": "python_error",
            "error_type": "TypeError",
            "message": "bad kwarg",
            "line": 8,
        }

    report = check_dataset(datasets / "paper33-cdk", lint_with(), broken)
    assert report.failures == [
        f"{datasets / 'paper33-cdk' / 'queue.yaml'}: field 'reference_app': "
        "synth python_error line 8: TypeError: bad kwarg"
    ]


def test_check_without_cdk_skips_by_default_and_fails_when_asked(
    datasets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = datasets / "paper33-cdk"
    write(folder, "queue.yaml", cdk_problem())
    monkeypatch.setattr(
        problems_main, "cdk_available", lambda: "no cdk: make install EXTRAS=dev,cdk"
    )
    monkeypatch.setattr(problems_main, "DEFAULT_CHECKED", (folder,))
    assert problems_main.main(["check"]) == 0
    assert f"{folder}: skipped: no cdk: make install EXTRAS=dev,cdk" in capsys.readouterr().out
    assert problems_main.main(["check", str(folder)]) == 1
    assert f"{folder}: skipped: no cdk" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(cdk_available() is not None, reason="needs the cdk extra")
def test_shipped_reference_apps_synthesize_clean_and_pass_their_intent_checks(
    warm_linter: WarmLinter,
) -> None:
    """`make check-datasets` on paper33-cdk: every app really synthesized, in this process."""
    report = check_dataset(ROOT / "datasets" / "paper33-cdk", warm_linter.lint, local_synth())
    assert report.failures == []
