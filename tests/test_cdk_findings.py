"""A CDK attempt's findings from every stage, in the model's terms, on real synth outcomes.

The fixtures (tests/cdk_fixtures/<case>/: app.py.txt and the outcome its synth came to) were
synthesized with aws-cdk-lib 2.275; cfn-lint lints their templates here, so what CDK makes on a
clean app is measured again by every run (see tests/cdk_fixtures/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.validators.base import Finding
from benchmark.validators.cdk import synth_app
from benchmark.validators.cdk.cdk_own import CDK_OWN_FINDINGS
from benchmark.validators.cdk.constructs_in_code import (
    construct_location,
    construct_of,
    override_location,
)
from benchmark.validators.cdk.findings import (
    CDK_RULES,
    map_template_findings,
    stage_of,
    synth_findings,
)
from benchmark.validators.cdk.outcome import SynthOutcome
from benchmark.validators.cfn_lint.validator import WarmLinter

FIXTURES = Path(__file__).parent / "cdk_fixtures"
CLEAN_APPS = (
    "bucket_lambda",
    "lambda_own_role",
    "api_lambda",
    "fargate_alb",
    "asg_alb",
    "events_sfn",
    "dynamo",
    "sqs_sns",
    "firehose",
)


def case(name: str) -> tuple[SynthOutcome, str]:
    """The outcome a fixture's app synthesized to, and the app's code."""
    outcome = json.loads((FIXTURES / name / "outcome.json").read_text(encoding="utf-8"))
    return SynthOutcome.from_dict(outcome), (FIXTURES / name / "app.py.txt").read_text("utf-8")


def linted(warm_linter: WarmLinter, name: str) -> tuple[list[Finding], str, str]:
    outcome, code = case(name)
    assert outcome.status == "ok" and outcome.template
    return warm_linter.lint(outcome.template), outcome.template, code


def line_of(code: str, text: str) -> int:
    return next(n for n, line in enumerate(code.splitlines(), start=1) if text in line)


# --- the Python and CDK stages -------------------------------------------------------------


def test_a_misspelt_keyword_is_s1002_at_the_models_line() -> None:
    outcome, code = case("misspelt_kwarg")
    [finding] = synth_findings(outcome, code)
    assert (finding.rule_id, finding.level, finding.source) == ("S1002", "E", "python")
    assert finding.message == (
        "TypeError while the app ran: "
        "Bucket.__init__() got an unexpected keyword argument 'versiond'"
    )
    assert finding.line == line_of(code, "versiond=True")
    assert stage_of(finding) == "python"


def test_a_wrong_enum_constant_is_s1002_naming_the_attribute() -> None:
    outcome, code = case("wrong_enum")
    [finding] = synth_findings(outcome, code)
    assert finding.rule_id == "S1002"
    assert finding.message == "AttributeError while the app ran: S3_MANAGE"
    assert finding.line == line_of(code, "S3_MANAGE")


def test_a_syntax_slip_is_s1001_with_line_and_column() -> None:
    outcome, code = case("syntax_slip")
    [finding] = synth_findings(outcome, code)
    assert (finding.rule_id, finding.source) == ("S1001", "python")
    assert finding.message == "SyntaxError: '(' was never closed"
    assert (finding.line, finding.column) == (line_of(code, "s3.Bucket("), 18)


def test_a_module_without_appstack_breaks_the_contract() -> None:
    outcome, code = case("no_appstack")
    [finding] = synth_findings(outcome, code)
    assert (finding.rule_id, finding.level, finding.source) == ("S1003", "E", "python")
    assert "AppStack" in finding.message and finding.message.startswith("app.py breaks")


def test_a_limit_names_the_limit_in_words() -> None:
    outcome = SynthOutcome(status="limit", limit="memory", message="killed at 1536 MB")
    [finding] = synth_findings(outcome, "")
    assert (finding.rule_id, finding.level, finding.source) == ("S1004", "E", "python")
    assert finding.message == "the app exceeded the sandbox's memory limit: killed at 1536 MB"
    assert stage_of(finding) == "python"


def test_an_invalid_bucket_name_is_c1001_at_the_models_line() -> None:
    outcome, code = case("bad_bucket_name")
    [finding] = synth_findings(outcome, code)
    assert (finding.rule_id, finding.level, finding.source) == ("C1001", "E", "cdk")
    assert finding.message == (
        "CDK rejected the app during synth: Invalid S3 bucket name (value: Bad_Name)"
    )
    assert finding.line == line_of(code, "Bad_Name")
    assert stage_of(finding) == "cdk"


def test_a_synth_time_validation_error_is_located_through_its_construct() -> None:
    """CDK's validation at synth names the construct ([AppStack/Lb/Http]) but no traceback
    line in app.py: the line is where the model named it (`add_listener("Http")`)."""
    outcome, code = case("listener_without_action")
    assert outcome.line is None
    [finding] = synth_findings(outcome, code)
    assert finding.rule_id == "C1001" and finding.construct == "AppStack/Lb/Http"
    assert "Listener needs at least one default action" in finding.message
    assert finding.line == line_of(code, 'add_listener("Http"')


def test_annotations_become_c1002_and_c2001_on_their_construct() -> None:
    outcome, code = case("annotations")
    assert outcome.status == "ok"
    found = synth_findings(outcome, code)
    assert [(f.rule_id, f.level, f.source) for f in found] == [
        ("C2001", "W", "cdk"),
        ("C1002", "E", "cdk"),
    ]
    assert {f.construct for f in found} == {"AppStack/Web"}
    assert {f.line for f in found} == {line_of(code, '"Web"')}
    assert found[0].message.startswith("Ignoring Egress rule since 'allowAllOutbound'")


def test_a_clean_synth_has_no_stage_findings() -> None:
    outcome, code = case("bucket_lambda")
    assert synth_findings(outcome, code) == []
    info = SynthOutcome(
        "ok", "{}", annotations=({"level": "info", "path": "/AppStack", "message": "x"},)
    )
    assert synth_findings(info, code) == []


def test_every_project_rule_has_a_description() -> None:
    assert set(CDK_RULES) == {"S1001", "S1002", "S1003", "S1004", "C1001", "C1002", "C2001"}
    assert all(description for description, _ in CDK_RULES.values())


# --- the template stage --------------------------------------------------------------------


@pytest.mark.parametrize("name", CLEAN_APPS)
def test_cdk_own_findings_on_clean_apps_are_dropped(warm_linter: WarmLinter, name: str) -> None:
    """cfn-lint finds something on most of these clean apps' templates (W3005 on CDK's own
    DependsOn, W3697 on the launch configuration an ASG makes); after the filter nothing is
    left."""
    findings, template, code = linted(warm_linter, name)
    assert map_template_findings(findings, template, code) == []


def test_the_clean_apps_do_raise_what_the_list_drops(warm_linter: WarmLinter) -> None:
    """Each entry of CDK_OWN_FINDINGS is still made by CDK (else it is dead and should go)."""
    raised = {f.rule_id for name in (*CLEAN_APPS, "nested") for f in linted(warm_linter, name)[0]}
    assert {entry.rule_id for entry in CDK_OWN_FINDINGS} <= raised
    assert all(entry.why for entry in CDK_OWN_FINDINGS)


def test_the_models_escape_hatch_findings_are_kept_and_pointed_at_its_code(
    warm_linter: WarmLinter,
) -> None:
    """The same app makes W3005 twice over: CDK's DependsOn on the function's role (dropped) and
    the model's own `fn.node.add_dependency(bucket)` (kept), beside an E3002 from its own bad
    property override."""
    findings, template, code = linted(warm_linter, "escape_hatch")
    role_dependency = [f for f in findings if f.message.startswith("'ReaderServiceRole8283AF10'")]
    assert role_dependency, "CDK's own W3005 should be in the raw findings"
    mapped = map_template_findings(findings, template, code)
    assert {f.rule_id for f in mapped} == {"E3002", "W3005"}
    assert not any(f.message.startswith("'ReaderServiceRole8283AF10'") for f in mapped)
    [e3002] = [f for f in mapped if f.rule_id == "E3002"]
    assert e3002.construct == "AppStack/Data"
    # the escape hatch that wrote the bad property, not the bucket's own line
    override = line_of(code, 'add_property_override("VersioningConfig"')
    column = code.splitlines()[override - 1].index('"VersioningConfig"') + 1
    assert (e3002.line, e3002.column) == (override, column)
    assert e3002.path == ("Resources", "Data666C94C7", "Properties", "VersioningConfig")
    dependencies = [f for f in mapped if f.rule_id == "W3005"]
    assert len(dependencies) == 3
    assert {f.construct for f in dependencies} == {
        "AppStack/Reader",
        "AppStack/Reader/ServiceRole/DefaultPolicy",
    }
    assert {f.line for f in dependencies} == {line_of(code, '"Reader"')}
    # cfn-lint's logical ids are followed by the construct the model knows them by
    assert all("'Data666C94C7' (AppStack/Data) dependency" in f.message for f in dependencies)
    assert all(stage_of(f) == "template" for f in mapped)


def test_the_same_rule_on_the_models_own_l1_dependency_is_kept(warm_linter: WarmLinter) -> None:
    """A CfnFunction the model wrote with its own `add_dependency(role)`: the W3005 is the
    model's (CDK's L2 function would have made it, the L1 does not) and is kept."""
    findings, template, code = linted(warm_linter, "l1_dependency")
    [finding] = map_template_findings(findings, template, code)
    assert finding.rule_id == "W3005" and finding.construct == "AppStack/Fn"
    assert finding.line == line_of(code, '"Fn"')


def test_the_access_log_acl_is_dropped_where_cdk_set_it_and_kept_where_the_model_did(
    warm_linter: WarmLinter,
) -> None:
    findings, template, code = linted(warm_linter, "nested")
    assert [f.rule_id for f in findings] == ["W3045"]
    assert map_template_findings(findings, template, code) == []
    findings, template, code = linted(warm_linter, "log_acl")
    [kept] = map_template_findings(findings, template, code)
    assert kept.rule_id == "W3045" and kept.construct == "AppStack/Logs"


def test_a_nested_construct_maps_to_the_line_in_its_own_class() -> None:
    """`AppStack/Store/Logs`: "Logs" is also a bucket of the stack's; the finding's line is the
    one inside the Storage class the model wrote."""
    outcome, code = case("nested")
    finding = Finding("E3002", "E", "bad", ("Resources", "StoreLogs6BDA8041", "Properties"), 5, 3)
    [mapped] = map_template_findings([finding], outcome.template or "", code)
    assert mapped.construct == "AppStack/Store/Logs"
    assert mapped.line == line_of(code, 'self.logs = s3.Bucket(self, "Logs")')
    assert construct_location(code, "AppStack/Logs")[0] == line_of(code, 'Bucket(self, "Logs", v')


def test_an_escape_hatch_is_found_only_where_one_call_alone_wrote_the_path() -> None:
    code = (
        "class AppStack(cdk.Stack):\n"
        "    def __init__(self, scope, construct_id, **kwargs):\n"
        '        a = s3.Bucket(self, "A")\n'
        '        a.node.default_child.add_override("Properties.Tags", [])\n'
        '        a.node.default_child.add_override("DependsOn", ["B"])\n'
        '        b = s3.Bucket(self, "B")\n'
        '        b.node.default_child.add_property_override("Tags.0.Key", "x")\n'
    )
    assert override_location(code, ("DependsOn",)) == (5, 43)
    assert override_location(code, ("Properties", "Tags")) is None  # two calls write it
    finding = Finding("E3012", "E", "bad", ("Resources", "B1", "Properties", "Tags", 0, "Key"))
    template = json.dumps(
        {"Resources": {"B1": {"Metadata": {"aws:cdk:path": "AppStack/B/Resource"}}}}
    )
    [mapped] = map_template_findings([finding], template, code)
    assert (mapped.construct, mapped.line) == ("AppStack/B", 6)  # the bucket's own line


def test_a_finding_off_any_resource_keeps_no_template_line() -> None:
    outcome, code = case("bucket_lambda")
    finding = Finding("W2001", "W", "unused", ("Parameters", "BootstrapVersion"), 3, 3)
    [mapped] = map_template_findings([finding], outcome.template or "", code)
    assert (mapped.construct, mapped.line, mapped.column) == (None, None, None)


def test_construct_of_drops_the_default_child() -> None:
    assert construct_of("/AppStack/Data/Resource") == "AppStack/Data"
    assert construct_of("AppStack/Web/Service/Service") == "AppStack/Web/Service/Service"
    assert construct_of("AppStack/Network/PublicSubnet1/DefaultRoute") == (
        "AppStack/Network/PublicSubnet1/DefaultRoute"
    )
    assert construct_location("def (", "AppStack/Data") is None


def test_stage_findings_pass_through_the_template_mapping() -> None:
    finding = Finding("S1002", "E", "boom", line=4, source="python")
    assert map_template_findings([finding], "not json", "") == [finding]
    assert stage_of(Finding("CKV_AWS_21", "W", "x", source="checkov")) == "template"


# --- the fixtures are what CDK makes today -------------------------------------------------


@pytest.mark.slow
def test_the_fixtures_are_what_the_installed_cdk_synthesizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fixture app, synthesized again in this process: same status, same template (so
    the CDK-own list is measured on what aws-cdk-lib writes now, not on stale files)."""
    pytest.importorskip("aws_cdk", reason="needs the cdk extra: make install EXTRAS=dev,cdk")
    monkeypatch.setenv("JSII_NODE", synth_app.node_path())
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        outcome, code = case(folder.name)
        again = SynthOutcome.from_dict(synth_app.synth(code, tmp_path / folder.name))
        assert (again.status, again.error_type, again.line) == (
            outcome.status,
            outcome.error_type,
            outcome.line,
        ), folder.name
        if outcome.template:
            assert json.loads(again.template or "") == json.loads(outcome.template), folder.name
