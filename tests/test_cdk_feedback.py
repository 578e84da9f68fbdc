"""Each feedback design renders a CDK app's findings in the model's terms: app.py, its lines,
the construct that made a finding, the project's own rule ids described."""

from __future__ import annotations

import pytest

from benchmark.loop.feedback import FORMATTERS, FeedbackInput, render_feedback
from benchmark.validators.base import CheckResult, Finding
from benchmark.validators.cdk.findings import map_template_findings, synth_findings
from benchmark.validators.cfn_lint.validator import WarmLinter
from tests.test_cdk_findings import case, line_of

REQUEST = "Create a versioned bucket and a function that reads it."
CHECKS = (
    CheckResult("function-reads-bucket", False, "the function can read the bucket", None, "intent"),
)


@pytest.fixture(scope="module")
def template_stage(warm_linter: WarmLinter) -> FeedbackInput:
    """The escape-hatch app: its own E3002 and three W3005, mapped onto app.py."""
    outcome, code = case("escape_hatch")
    assert outcome.template
    findings = map_template_findings(warm_linter.lint(outcome.template), outcome.template, code)
    return FeedbackInput(findings, "app.py", code, REQUEST, CHECKS)


def python_stage(name: str) -> FeedbackInput:
    outcome, code = case(name)
    return FeedbackInput(synth_findings(outcome, code), "app.py", code, REQUEST, CHECKS)


def test_structured_names_the_construct_its_property_and_the_apps_line(
    template_stage: FeedbackInput,
) -> None:
    line = line_of(template_stage.template, 'add_property_override("VersioningConfig"')
    text = FORMATTERS["structured"](template_stage)
    assert (
        "E3002 (error) at construct AppStack/Data "
        f"(Resources.Data666C94C7.Properties.VersioningConfig), app.py line {line}: "
        "Additional properties are not allowed"
    ) in text
    assert text.count("W3005 (warning) at construct AppStack/Reader") == 3


def test_structured_points_a_python_error_at_its_line_and_a_lineless_one_at_the_file() -> None:
    data = python_stage("misspelt_kwarg")
    line = line_of(data.template, "versiond")
    assert FORMATTERS["structured"](data) == (
        f"1. S1002 (error) at app.py line {line}: TypeError while the app ran: "
        "Bucket.__init__() got an unexpected keyword argument 'versiond'"
    )
    assert FORMATTERS["structured"](python_stage("no_appstack")).startswith(
        "1. S1003 (error) in app.py: app.py breaks the contract"
    )


def test_raw_keeps_cfn_lints_layout_in_app_py(template_stage: FeedbackInput) -> None:
    line = line_of(template_stage.template, "add_property_override(")
    column = template_stage.template.splitlines()[line - 1].index('"VersioningConfig"') + 1
    blocks = FORMATTERS["raw"](template_stage).split("\n\n")
    [e3002] = [b for b in blocks if b.startswith("E3002 ")]
    message, location = e3002.splitlines()
    assert message.endswith("(construct AppStack/Data)")
    assert location == f"app.py:{line}:{column}"
    lineless = FORMATTERS["raw"](python_stage("no_appstack"))
    assert lineless.splitlines()[-1] == "app.py"  # no made-up position


def test_explained_describes_the_projects_own_rules_and_cfn_lints() -> None:
    outcome, code = case("misspelt_kwarg")
    e3002 = Finding("E3002", "E", "bad property", ("Resources", "Data666C94C7"), 9, 9)
    data = FeedbackInput([*synth_findings(outcome, code), e3002], "app.py", code, REQUEST)
    text = FORMATTERS["explained"](data)
    assert "- S1002: app.py raised an exception while the app ran" in text
    assert "- E3002: Resource properties are invalid (see https://" in text
    assert text.rstrip().endswith(f"The app must still do what was originally asked:\n{REQUEST}")
    for stage in ("syntax_slip", "bad_bucket_name", "annotations", "no_appstack"):
        explained = FORMATTERS["explained"](python_stage(stage))
        assert "What these rules check:" in explained


def test_excerpt_shows_the_lines_of_app_py(template_stage: FeedbackInput) -> None:
    line = line_of(template_stage.template, '"Data"')
    text = FORMATTERS["excerpt"](template_stage)
    assert f'{line:6d} |         bucket = s3.Bucket(self, "Data", versioned=True)' in text
    assert f">{line + 1:5d} |         bucket.node.default_child.add_property_override(" in text
    syntax = FORMATTERS["excerpt"](python_stage("syntax_slip"))
    assert '>    9 |         s3.Bucket(self, "Data", versioned=True' in syntax


def test_errors_only_withholds_cdks_warnings() -> None:
    text = FORMATTERS["errors-only"](python_stage("annotations"))
    assert "C1002 (error) at construct AppStack/Web, app.py line" in text
    assert "C2001" not in text


def test_intent_and_appended_checks_speak_of_the_app(template_stage: FeedbackInput) -> None:
    assert "The app does not yet do what was asked:\n- the function can read the bucket" in (
        FORMATTERS["intent"](template_stage)
    )
    text = render_feedback("structured", template_stage, ["intent"])
    assert "The app also fails these checks:\n- the function can read the bucket" in text


def test_a_template_still_reads_as_before() -> None:
    finding = Finding("E3002", "E", "bad", ("Resources", "Bucket"), None, None)
    data = FeedbackInput([finding], "template.yaml", "", REQUEST, CHECKS)
    assert FORMATTERS["structured"](data) == "1. E3002 (error) at Resources.Bucket, line 1: bad"
    assert FORMATTERS["raw"](data) == "E3002 bad\ntemplate.yaml:1:1"
    assert "The template does not yet do what was asked" in FORMATTERS["intent"](data)
