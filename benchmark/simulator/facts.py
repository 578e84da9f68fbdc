"""What a reference template offers a mutation: its resources, parameters, names in use and
the property slots cfn-lint's schemas check (`Facts`, computed once per template)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from benchmark.simulator.template import (
    Slot,
    intrinsic_calls,
    property_slots,
    resource_schema,
    resources,
)

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


# Top-level properties that cfn-lint rules written in Python check against their siblings, so
# a mistake anywhere inside them is reported twice (found by linting every site of the shipped
# datasets): DynamoDB keys and indexes (E3039), billing mode and throughput (E3639), an
# instance's image (E3673). No mutation goes inside them.
ENTANGLED_PROPERTIES: dict[str, frozenset[str]] = {
    "AWS::DynamoDB::Table": frozenset(
        {
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "BillingMode",
            "ProvisionedThroughput",
        }
    ),
    "AWS::EC2::Instance": frozenset({"ImageId"}),
}


@dataclass(frozen=True)
class Facts:
    """What finders need to know about a template beyond its tree."""

    template: dict[str, Any]
    as_of: date  # the day the linter's clock reads (Lambda runtime deprecation is by date)
    parameter_uses: Counter[str]  # Refs and ${X} in Sub strings, anywhere in the template
    parameter_uses_outside_outputs: Counter[str]
    refers_to: dict[str, set[str]]  # resource -> resources it names (Ref, GetAtt, Sub, DependsOn)
    getatt_targets: set[str]  # resources some Fn::GetAtt or ${X.Attr} reads an attribute of

    @classmethod
    def of(cls, template: dict[str, Any], as_of: date | None = None) -> Facts:
        names = set(resources(template))
        params = set(template.get("Parameters") or {})
        uses: Counter[str] = Counter()
        outside: Counter[str] = Counter()
        for section, body in template.items():
            for name in names_used(body):
                if name in params:
                    uses[name] += 1
                    outside[name] += section != "Outputs"
        refers = {
            logical_id: {n for n in names_used(resource) if n in names and n != logical_id}
            | set(_depends_on(resource))
            for logical_id, resource in resources(template).items()
        }
        getatts = {
            str(args[0])
            for _, args in intrinsic_calls(template, "Fn::GetAtt")
            if isinstance(args, list) and args
        } | {
            var.split(".")[0]
            for _, arg in intrinsic_calls(template, "Fn::Sub")
            for var in sub_variables(arg)
            if "." in var
        }
        return cls(template, as_of or date.today(), uses, outside, refers, getatts)

    @cached_property
    def slots(self) -> list[Slot]:
        """Every property slot a mutation may touch (not inside an entangled property)."""
        typed = {k: str(v.get("Type")) for k, v in resources(self.template).items()}
        return [
            slot
            for slot in property_slots(self.template)
            if slot.path[3] not in ENTANGLED_PROPERTIES.get(typed[str(slot.path[1])], ())
        ]

    def reaches(self, start: str, goal: str) -> bool:
        """Whether resource `start` depends, directly or not, on `goal`."""
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo.extend(self.refers_to.get(here, ()))
        return False

    def sole_parameter_use(self, value: Any) -> bool:
        """Whether removing `value` would leave a parameter unused (raising W2001 as well)."""
        return any(self.parameter_uses[name] <= 1 for name in names_used(value))


def sub_variables(arg: Any) -> list[str]:
    text = arg[0] if isinstance(arg, list) and arg else arg
    return _SUB_VARIABLE.findall(text) if isinstance(text, str) else []


def names_used(value: Any) -> list[str]:
    """Logical names a value refers to: Ref targets, GetAtt resources, Sub variables."""
    out: list[str] = []
    for _, target in intrinsic_calls(value, "Ref"):
        if isinstance(target, str):
            out.append(target)
    for _, args in intrinsic_calls(value, "Fn::GetAtt"):
        if isinstance(args, list) and args and isinstance(args[0], str):
            out.append(args[0])
        elif isinstance(args, str):
            out.append(args.split(".")[0])
    for _, arg in intrinsic_calls(value, "Fn::Sub"):
        out += [v.split(".")[0] for v in sub_variables(arg)]
    return out


def _depends_on(resource: dict[str, Any]) -> list[str]:
    value = resource.get("DependsOn")
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def checked_type(type_name: str) -> bool:
    """A resource type cfn-lint has a schema for and checks as such (not a custom resource)."""
    custom = type_name.startswith("Custom::") or type_name == "AWS::CloudFormation::CustomResource"
    return not custom and resource_schema(type_name) is not None


def literal_string(value: Any) -> bool:
    return isinstance(value, str) and "${" not in value
