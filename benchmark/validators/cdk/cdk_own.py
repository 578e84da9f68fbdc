"""Findings CDK itself makes on a clean app: cfn-lint's, on what the construct library wrote.

Measured (cfn-lint 1.58, aws-cdk-lib 2.275, the App as `synth_app` builds it) by synthesizing
typical clean apps (bucket+Lambda+grant, Lambda behind API Gateway with log retention, VPC+EC2,
SQS+SNS, DynamoDB, IAM role, Fargate behind an ALB, ASG behind an ALB, RDS, CloudFront+S3, EFS,
Step Functions+EventBridge, Kinesis+Lambda, NLB+endpoint) and linting each template; see
tests/cdk_fixtures/README.md. Each entry drops a finding only where the resource it is on was
made by a library construct (its construct path ends in the id the library gives it) and the
thing flagged is what that construct always writes: the same rule on something the model wrote
(an L1 resource, its own escape-hatch dependency, its own property) is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmark.validators.base import Finding

Resources = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class CdkOwnFinding:
    """One kind of finding CDK makes by itself: the rule, when it applies, and why."""

    rule_id: str
    name: str
    applies: Callable[[Finding, Resources, str], bool]  # (finding, template resources, app.py)
    why: str


def _cdk_path(resource: dict[str, Any]) -> list[str]:
    path = (resource.get("Metadata") or {}).get("aws:cdk:path", "")
    return path.split("/") if isinstance(path, str) and path else []


def _library_child(resource: dict[str, Any], child_ids: tuple[str, ...]) -> bool:
    """True when the resource is the child `child_ids` a library construct made: at least two
    ids below the stack (an L1 the model writes in its stack is one id below it)."""
    path = _cdk_path(resource)
    return len(path) >= 3 and path[-1] in child_ids


def _refers_to(value: Any, logical_id: str) -> bool:
    """`{"Ref": id}` or `{"Fn::GetAtt": [id, ...]}` (or "id.Attr")."""
    if not isinstance(value, dict):
        return False
    if value.get("Ref") == logical_id:
        return True
    target = value.get("Fn::GetAtt")
    if isinstance(target, list) and target:
        return target[0] == logical_id
    return isinstance(target, str) and target.split(".")[0] == logical_id


def _depends_on_target(finding: Finding, resources: Resources) -> tuple[dict[str, Any], str]:
    """The resource a W3005 finding is on and the DependsOn entry it flags ("" if none)."""
    path = finding.path
    if len(path) < 3 or path[0] != "Resources" or path[2] != "DependsOn":
        return {}, ""
    resource = resources.get(str(path[1])) or {}
    depends = resource.get("DependsOn")
    depends = [depends] if isinstance(depends, str) else depends or []
    index = path[3] if len(path) > 3 and isinstance(path[3], int) else 0
    return resource, depends[index] if index < len(depends) else ""


def _own_role_dependency(finding: Finding, resources: Resources, code: str) -> bool:
    resource, target = _depends_on_target(finding, resources)
    properties = resource.get("Properties") or {}
    return (
        bool(target)
        and resource.get("Type") in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine")
        and _library_child(resource, ("Resource",))
        and any(_refers_to(properties.get(key), target) for key in ("Role", "RoleArn"))
    )


def _own_target_group_dependency(finding: Finding, resources: Resources, code: str) -> bool:
    resource, target = _depends_on_target(finding, resources)
    balancers = (resource.get("Properties") or {}).get("LoadBalancers") or []
    return (
        bool(target)
        and resource.get("Type") == "AWS::ECS::Service"
        and _library_child(resource, ("Service",))
        and any(
            isinstance(b, dict) and _refers_to(b.get("TargetGroupArn"), target) for b in balancers
        )
    )


def _resource_of(finding: Finding, resources: Resources) -> dict[str, Any]:
    path = finding.path
    return resources.get(str(path[1])) or {} if len(path) > 1 and path[0] == "Resources" else {}


def _own_launch_configuration(finding: Finding, resources: Resources, code: str) -> bool:
    resource = _resource_of(finding, resources)
    return resource.get("Type") == "AWS::AutoScaling::LaunchConfiguration" and _library_child(
        resource, ("LaunchConfig",)
    )


def _own_log_delivery_acl(finding: Finding, resources: Resources, code: str) -> bool:
    resource = _resource_of(finding, resources)
    properties = resource.get("Properties") or {}
    return (
        resource.get("Type") == "AWS::S3::Bucket"
        and finding.path[2:4] == ("Properties", "AccessControl")
        and properties.get("AccessControl") == "LogDeliveryWrite"
        and _library_child(resource, ("Resource",))
        and "LOG_DELIVERY_WRITE" not in code  # the model did not ask for it itself
    )


def _own_unused_mapping(finding: Finding, resources: Resources, code: str) -> bool:
    """An unused mapping the library itself named (`awscdk...`: no construct id the model
    writes becomes a top-level mapping name with that prefix)."""
    return (
        len(finding.path) >= 2
        and finding.path[0] == "Mappings"
        and str(finding.path[1]).startswith("awscdk")
        and "awscdk" not in code
    )


CDK_OWN_FINDINGS: tuple[CdkOwnFinding, ...] = (
    CdkOwnFinding(
        "W3005",
        "execution role dependency",
        _own_role_dependency,
        "lambda.Function and stepfunctions.StateMachine add a DependsOn on their execution role "
        "(and its default policy) though the Role/RoleArn property already refers to it; every "
        "function the model writes gets it and no change to its code removes it (measured: "
        "bucket+Lambda, API Gateway's log-retention function, Step Functions, Kinesis+Lambda).",
    ),
    CdkOwnFinding(
        "W3005",
        "ECS service target group dependency",
        _own_target_group_dependency,
        "an ECS service attached to a load balancer depends on its listener and target group, "
        "which LoadBalancers[].TargetGroupArn already refers to (measured: Fargate behind ALB).",
    ),
    CdkOwnFinding(
        "W3697",
        "AutoScalingGroup launch configuration",
        _own_launch_configuration,
        "autoscaling.AutoScalingGroup without a launch template writes a LaunchConfiguration "
        "(a service in maintenance mode) unless the App sets the feature flag "
        "@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig, which `cdk init` "
        "sets and the harness does not; the model's app is not at fault (measured: ASG+ALB).",
    ),
    CdkOwnFinding(
        "W3045",
        "access-log bucket ACL",
        _own_log_delivery_acl,
        "s3.Bucket sets AccessControl LogDeliveryWrite (a legacy property) on a bucket used as "
        "server_access_logs_bucket unless the App sets @aws-cdk/aws-s3:"
        "serverAccessLogsUseBucketPolicy; kept where the model wrote LOG_DELIVERY_WRITE itself "
        "(measured: bucket with access logs).",
    ),
    CdkOwnFinding(
        "W7001",
        "library mapping left unused",
        _own_unused_mapping,
        "kinesisfirehose.DeliveryStream writes a mapping of Firehose's CIDR blocks per region "
        "(awscdkawskinesisfirehoseCidrBlocks) whether or not anything uses it (measured: "
        "paper33-cdk iot-telemetry-store-query).",
    ),
)


def cdk_own(finding: Finding, resources: Resources, code: str) -> CdkOwnFinding | None:
    """The entry of CDK_OWN_FINDINGS that says CDK made `finding`, or None."""
    for entry in CDK_OWN_FINDINGS:
        if entry.rule_id == finding.rule_id and entry.applies(finding, resources, code):
            return entry
    return None
