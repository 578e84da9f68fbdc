"""The intent-check language: each kind passes and fails where it should; the validator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from benchmark.problems.intent_language import (
    Check,
    evaluate,
    evaluate_text,
    normalise,
    parse_template,
)
from benchmark.validators.base import Validator
from benchmark.validators.intent import IntentValidator

ADAPTER: TypeAdapter[Check] = TypeAdapter(Check)

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr:
    Type: String
    Default: 10.0.0.0/16
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref Cidr
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.1.0/24
      MapPublicIpOnLaunch: "true"
  Group:
    Type: AWS::EC2::SecurityGroup
    DependsOn: Subnet
    Properties:
      GroupDescription: web
      VpcId: !GetAtt Vpc.VpcId
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0}
        - {IpProtocol: tcp, FromPort: "80", ToPort: 80, CidrIp: 10.0.0.0/8}
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12345678
      UserData: !Base64
        Fn::Sub: "#!/bin/bash\\nyum install -y httpd\\necho ${Group} ${AWS::Region}"
Outputs:
  VpcIdOut:
    Value: !Ref Vpc
  Text:
    Value: !Sub "${Subnet.AvailabilityZone}"
"""


def check(**fields: Any) -> Check:
    return ADAPTER.validate_python({"id": "c", "description": "d", **fields})


def passes(spec: dict[str, Any], text: str = TEMPLATE) -> bool:
    return evaluate(check(**spec), parse_template(text)).passed


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"kind": "resource_exists", "type": "AWS::EC2::VPC"}, True),
        ({"kind": "resource_exists", "type": "AWS::EC2::*", "at_least": 4}, True),
        ({"kind": "resource_exists", "type": "AWS::EC2::*", "at_least": 5}, False),
        ({"kind": "resource_exists", "type": "AWS::S3::Bucket"}, False),
        ({"kind": "property_exists", "resource_type": "AWS::EC2::VPC", "path": "Properties"}, True),
        (
            {"kind": "property_exists", "resource_type": "AWS::EC2::VPC", "path": "Properties.X"},
            False,
        ),
        # booleans and numbers compare by their string forms, as CloudFormation sees them
        (
            {
                "kind": "property_equals",
                "resource_type": "AWS::EC2::Subnet",
                "path": "Properties.MapPublicIpOnLaunch",
                "value": True,
            },
            True,
        ),
        (
            {
                "kind": "property_equals",
                "resource_type": "AWS::EC2::Subnet",
                "path": "Properties.CidrBlock",
                "value": "10.0.2.0/24",
            },
            False,
        ),
        (
            {
                "kind": "property_contains",
                "resource_type": "AWS::EC2::SecurityGroup",
                "path": "Properties.SecurityGroupIngress[].FromPort",
                "value": 80,
            },
            True,
        ),
        (
            {
                "kind": "property_contains",
                "resource_type": "AWS::EC2::SecurityGroup",
                "path": "Properties.SecurityGroupIngress",
                "value": {"FromPort": 443, "CidrIp": "0.0.0.0/0"},
            },
            True,
        ),
        (
            {
                "kind": "property_contains",
                "resource_type": "AWS::EC2::SecurityGroup",
                "path": "Properties.SecurityGroupIngress",
                "value": {"FromPort": 22},
            },
            False,
        ),
        (
            {
                "kind": "property_contains",
                "resource_type": "AWS::EC2::SecurityGroup",
                "path": "Properties.GroupDescription",
                "value": "we",
            },
            True,
        ),
        # matches looks into intrinsic functions (Fn::Base64 / Fn::Sub) for string leaves
        (
            {
                "kind": "property_matches",
                "resource_type": "AWS::EC2::Instance",
                "path": "Properties.UserData",
                "pattern": "install -y HTTPD",
                "ignore_case": True,
            },
            True,
        ),
        (
            {
                "kind": "property_matches",
                "resource_type": "AWS::EC2::Instance",
                "path": "Properties.UserData",
                "pattern": "nginx",
            },
            False,
        ),
        (
            {
                "kind": "property_exists",
                "resource_type": "AWS::EC2::*",
                "path": "Properties.VpcId",
                "quantifier": "all",
            },
            False,
        ),
        (
            {
                "kind": "property_exists",
                "resource_type": "AWS::EC2::S*",
                "path": "Properties.VpcId",
                "quantifier": "all",
            },
            True,
        ),
        # no resource_type: the whole template as written
        ({"kind": "property_exists", "path": "Parameters.Cidr.Default"}, True),
        ({"kind": "property_exists", "path": "Mappings"}, False),
        ({"kind": "references", "from_type": "AWS::EC2::Subnet", "to_type": "AWS::EC2::VPC"}, True),
        (
            {"kind": "references", "from_type": "AWS::EC2::VPC", "to_type": "AWS::EC2::Subnet"},
            False,
        ),
        (
            {
                "kind": "references",
                "from_type": "AWS::EC2::SecurityGroup",
                "to_type": "AWS::EC2::VPC",
                "via": ["GetAtt"],
            },
            True,
        ),
        (
            {
                "kind": "references",
                "from_type": "AWS::EC2::SecurityGroup",
                "to_type": "AWS::EC2::VPC",
                "via": ["Ref"],
            },
            False,
        ),
        (
            {
                "kind": "references",
                "from_type": "AWS::EC2::SecurityGroup",
                "to_type": "AWS::EC2::Subnet",
                "via": ["DependsOn"],
            },
            True,
        ),
        (
            {
                "kind": "references",
                "from_type": "AWS::EC2::Instance",
                "to_type": "AWS::EC2::SecurityGroup",
                "via": ["Sub"],
                "path": "Properties.UserData",
            },
            True,
        ),
        (
            {
                "kind": "references",
                "from_type": "AWS::EC2::Instance",
                "to_type": "AWS::EC2::SecurityGroup",
                "path": "Properties.ImageId",
            },
            False,
        ),
        ({"kind": "output_exists"}, True),
        ({"kind": "output_exists", "name_matches": "^vpcid"}, True),
        ({"kind": "output_exists", "name_matches": "bucket"}, False),
        ({"kind": "output_exists", "value_references": "AWS::EC2::Subnet"}, True),
        ({"kind": "output_exists", "value_references": "AWS::EC2::Instance"}, False),
        (
            {
                "kind": "any_of",
                "checks": [
                    {"id": "a", "description": "d", "kind": "resource_exists", "type": "X::Y::Z"},
                    {"id": "b", "description": "d", "kind": "resource_exists", "type": "*VPC"},
                ],
            },
            True,
        ),
        (
            {
                "kind": "any_of",
                "checks": [
                    {"id": "a", "description": "d", "kind": "resource_exists", "type": "X::Y::Z"},
                    {"id": "b", "description": "d", "kind": "output_exists", "name_matches": "q"},
                ],
            },
            False,
        ),
    ],
)
def test_check_kinds(spec: dict[str, Any], expected: bool) -> None:
    assert passes(spec) is expected


def test_json_template_and_resource_reported() -> None:
    template = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"X": 1}}}}
    spec = check(
        kind="property_equals", resource_type="AWS::S3::Bucket", path="Properties.X", value="1"
    )
    outcome = evaluate(spec, parse_template(json.dumps(template)))
    assert outcome.passed and outcome.resource == "B"


@pytest.mark.parametrize("text", ["Resources: [unclosed", "", "just a string", "- a list", "{}"])
def test_unparseable_or_empty_template_fails_every_check(text: str) -> None:
    checks = [
        check(kind="property_exists", path="@"),
        check(kind="resource_exists", type="*"),
        check(kind="output_exists"),
    ]
    parsed, outcomes = evaluate_text(checks, text)
    assert parsed.ok is (text in ("", "{}"))
    assert not any(o.passed for o in outcomes)


def test_language_extensions_are_expanded_for_resource_checks() -> None:
    text = """\
Transform: AWS::LanguageExtensions
Resources:
  Fn::ForEach::Queues:
    - Name
    - [A, B, C]
    - ${Name}Queue:
        Type: AWS::SQS::Queue
"""
    assert passes({"kind": "resource_exists", "type": "AWS::SQS::Queue", "at_least": 3}, text)
    # template-level paths see the template as written
    assert passes({"kind": "property_exists", "path": '"Resources"."Fn::ForEach::Queues"'}, text)


def test_normalise() -> None:
    assert normalise(True) == normalise("True") == normalise("true") == "true"
    assert normalise(80) == normalise(80.0) == normalise("80") == "80"
    assert normalise({"a": [1, False]}) == {"a": ["1", "false"]}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "resource_exists", "type": "X", "extra": 1}, "Extra inputs"),
        ({"kind": "property_exists", "path": "a.["}, "JMESPath"),
        ({"kind": "property_matches", "path": "a", "pattern": "("}, "regular expression"),
        ({"kind": "resource_exists", "type": "X", "at_least": 0}, "greater than or equal"),
        ({"kind": "nope"}, "does not match any of the expected tags"),
    ],
)
def test_invalid_checks_are_rejected(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check(**fields)


def test_description_must_be_one_line() -> None:
    with pytest.raises(ValueError, match="one non-empty line"):
        ADAPTER.validate_python({"id": "c", "description": "two\nlines", "kind": "output_exists"})


class _Problem:
    def __init__(self, checks: list[Check]) -> None:
        self.intent_checks = checks


def test_intent_validator_reports_checks() -> None:
    validator = IntentValidator()
    assert isinstance(validator, Validator)
    checks = [
        check(kind="resource_exists", type="AWS::EC2::VPC"),
        ADAPTER.validate_python(
            {"id": "d", "description": "no bucket", "kind": "resource_exists", "type": "AWS::S3::*"}
        ),
    ]
    result = asyncio.run(validator.validate(TEMPLATE, _Problem(checks)))
    assert [(c.check_id, c.passed, c.source) for c in result.checks] == [
        ("c", True, "intent"),
        ("d", False, "intent"),
    ]
    assert result.checks[0].resource == "Vpc" and result.checks[1].description == "no bucket"
    assert result.failure is None and result.parse_ok
    broken = asyncio.run(validator.validate("Resources: [", _Problem(checks)))
    assert [c.passed for c in broken.checks] == [False, False]
    assert asyncio.run(validator.validate(TEMPLATE, _Problem([]))).checks == []
    validator.close()
