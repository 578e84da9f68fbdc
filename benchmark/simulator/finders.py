"""The finders: each lists every site of one kind of mistake on a reference template."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from benchmark.simulator.facts import (
    Facts,
    checked_type,
    literal_string,
    names_used,
    sub_variables,
)
from benchmark.simulator.lint_data import (
    entangled,
    format_rules,
    runtime_lifecycle,
    runtime_rule,
    secret_properties,
    zone_properties,
)
from benchmark.simulator.mutations import SYNTAX, Edit, Mutation
from benchmark.simulator.template import (
    KeyPath,
    intrinsic_calls,
    ref_schema,
    resource_schema,
    resources,
    typos,
)

HARDCODED_AZ = "us-east-1a"


TEMPLATE_VERSION = "2010-09-09"


PLAINTEXT_PASSWORD = "ChangeMe123!"


SECRET_PARAMETER = "DBPassword"


# Parameters the unused-parameter mutation may add: name -> definition.
SPARE_PARAMETERS: dict[str, dict[str, Any]] = {
    "EnvironmentName": {"Type": "String", "Default": "dev"},
    "ProjectName": {"Type": "String", "Default": "demo"},
    "KeyPairName": {"Type": "String", "Default": "my-key"},
    "LogRetentionDays": {"Type": "Number", "Default": 14},
}


# A plausible wrong-typed value per JSON-schema type.
WRONG_TYPE_VALUE: dict[str, Callable[[Any], Any]] = {
    "boolean": lambda _: "yes",
    "integer": lambda _: "any",
    "number": lambda _: "any",
    "string": lambda value: [value],
}


# Values tried, in order, for a string that must break its schema pattern.
PATTERN_BREAKERS = ("invalid value!", "Invalid_Value", "-", "x" * 300)


def misspelt_property(facts: Facts) -> list[Mutation]:
    """E3002: rename an optional property of a closed object to a near-miss."""
    out = []
    for slot in facts.slots:
        key = slot.path[-1]
        known = slot.parent.get("properties", {})
        if slot.parent.get("additionalProperties") is not False:
            continue
        if key in slot.parent.get("required", []) or entangled(slot, facts.template):
            continue
        if isinstance(slot.value, dict) and "Ref" in slot.value:
            continue  # a Ref's target format may be read from where it stands (a VpcId)
        out += [
            Mutation.one("misspelt_property", "E3002", "rename", slot.path, typo)
            for typo in typos(key)[:3]
            if typo not in known
        ]
    return out


def wrong_type(facts: Facts) -> list[Mutation]:
    """E3012: give a scalar property a value of another type ("yes" for a boolean...)."""
    out = []
    for slot in facts.slots:
        kind = slot.schema.get("type")
        scalar = isinstance(slot.value, (str, int, float))
        plain_type = isinstance(kind, str) and kind in WRONG_TYPE_VALUE  # not a union of types
        if entangled(slot, facts.template):
            continue
        if plain_type and "enum" not in slot.schema and scalar:
            new = WRONG_TYPE_VALUE[kind](slot.value)
            out.append(Mutation.one("wrong_type", "E3012", "set", slot.path, new))
    return out


def bad_enum(facts: Facts) -> list[Mutation]:
    """E3030: change an enumerated value to one outside the enum (lower- or upper-cased)."""
    out = []
    for slot in facts.slots:
        allowed = slot.schema.get("enum")
        if slot.path[-1] == "Runtime":
            continue  # a Lambda runtime has rules of its own (eol_runtime)
        if isinstance(allowed, list) and isinstance(slot.value, str) and slot.value in allowed:
            for new in (slot.value.lower(), slot.value.upper(), slot.value + "_DEFAULT"):
                if new not in allowed:
                    out.append(Mutation.one("bad_enum", "E3030", "set", slot.path, new))
                    break
    return out


def missing_required(facts: Facts) -> list[Mutation]:
    """E3003: delete a property its object's schema requires."""
    return [
        Mutation.one("missing_required", "E3003", "delete", slot.path)
        for slot in facts.slots
        if slot.path[-1] in slot.parent.get("required", [])
        and not facts.sole_parameter_use(slot.value)
    ]


def _located(path: KeyPath, rule_in_resources: str) -> str | None:
    """The rule a broken reference at `path` triggers: Outputs have their own (E6101)."""
    return {"Resources": rule_in_resources, "Outputs": "E6101"}.get(str(path[0]) if path else "")


def _declared(template: dict[str, Any]) -> set[str]:
    return {*(template.get("Resources") or {}), *(template.get("Parameters") or {})}


def bad_ref(facts: Facts) -> list[Mutation]:
    """E1020 (E6101 in Outputs): misspell the target of a Ref to a resource or parameter."""
    names = _declared(facts.template)
    out = []
    for path, target in intrinsic_calls(facts.template, "Ref"):
        rule = _located(path, "E1020")
        if not (rule and target in names) or facts.parameter_uses[target] == 1:
            continue
        new = next((t for t in typos(target) if t not in names), None)
        if new:
            out.append(Mutation.one("bad_ref", rule, "set", (*path, "Ref"), new))
    return out


def bad_getatt(facts: Facts) -> list[Mutation]:
    """E1010 (E6101 in Outputs): misspell the attribute of a Fn::GetAtt."""
    out = []
    for path, args in intrinsic_calls(facts.template, "Fn::GetAtt"):
        valid = isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)
        target = resources(facts.template).get(args[0]) if valid else None
        if target is None or not checked_type(str(target.get("Type"))):
            continue  # custom resources' attributes are not checked
        if any(str(part).startswith("Fn::") for part in path):
            continue  # inside another function, which reports it instead
        rule = _located(path, "E1010")
        if rule and isinstance(args[1], str) and typos(args[1]):
            new = typos(args[1])[0]
            out.append(Mutation.one("bad_getatt", rule, "set", (*path, "Fn::GetAtt", 1), new))
    return out


def unused_parameter(facts: Facts) -> list[Mutation]:
    """W2001: declare a parameter that nothing references (not under a transform, whose
    expansion cfn-lint cannot see through for this rule)."""
    if facts.template.get("Transform"):
        return []
    taken = _declared(facts.template) | set(facts.template.get("Outputs") or {})
    return [
        Mutation.one("unused_parameter", "W2001", "set", ("Parameters", name), definition)
        for name, definition in SPARE_PARAMETERS.items()
        if name not in taken
    ]


def hardcoded_az(facts: Facts) -> list[Mutation]:
    """W3010: write a literal availability zone where cfn-lint checks for one."""
    out = []
    for logical_id, resource in resources(facts.template).items():
        props = resource.get("Properties")
        if isinstance(props, dict) and resource.get("Type") in zone_properties():
            current = props.get("AvailabilityZone")
            if isinstance(current, str) or facts.sole_parameter_use(current):
                continue  # already literal, or its parameter would be left unused
            path = ("Resources", logical_id, "Properties", "AvailabilityZone")
            out.append(Mutation.one("hardcoded_az", "W3010", "set", path, HARDCODED_AZ))
    return out


def broken_syntax(facts: Facts) -> list[Mutation]:
    """E0000: drop the colon after a resource's logical id in the serialised text.

    While the text does not parse cfn-lint reports only E0000, hiding every other mutation.
    """
    anchors = list(resources(facts.template)) or ["Resources"]  # e.g. only Fn::ForEach inside
    return [Mutation.one("broken_syntax", "E0000", "text", SYNTAX, anchor) for anchor in anchors]


def bad_pattern(facts: Facts) -> list[Mutation]:
    """E3031: a literal string that breaks its property's schema pattern (within its lengths)."""
    out = []
    for slot in facts.slots:
        pattern = slot.schema.get("pattern")
        if not (literal_string(slot.value) and isinstance(pattern, str)):
            continue
        if "format" in slot.schema or "enum" in slot.schema:
            continue
        low, high = slot.schema.get("minLength", 0), slot.schema.get("maxLength", 10**9)
        try:
            compiled = re.compile(pattern)
        except re.error:
            continue  # a pattern Python cannot read: no trustworthy breaker
        for value in PATTERN_BREAKERS:
            if low <= len(value) <= high and not compiled.search(value):
                out.append(Mutation.one("bad_pattern", "E3031", "set", slot.path, value))
                break
    return out


def _placeholder(pattern: str) -> str:
    """A placeholder an author might leave in ("vpc-xxxxxxxx"): the id prefix, then x's."""
    prefix = re.match(r"\^?\(?([a-z]+)-", pattern)
    return f"{prefix.group(1)}-xxxxxxxx" if prefix else "REPLACE_ME"


def bad_format(facts: Facts) -> list[Mutation]:
    """E1150-E1161: a placeholder where a property takes an id of a known format."""
    out = []
    for slot in facts.slots:
        known = format_rules().get(str(slot.schema.get("format")))
        if known is None or not isinstance(slot.value, (str, dict)):
            continue
        if {"pattern", "minLength", "enum"} & set(slot.schema):
            continue  # the property's own checks would fire as well
        if facts.sole_parameter_use(slot.value):
            continue
        rule, pattern = known
        value = _placeholder(pattern)
        if not re.match(pattern, value):
            out.append(Mutation.one("bad_format", rule, "set", slot.path, value))
    return out


def ref_wrong_format(facts: Facts) -> list[Mutation]:
    """E1041: a Ref to a resource of another kind where the property takes a formatted id."""
    typed = {k: str(v.get("Type")) for k, v in resources(facts.template).items()}
    out = []
    for slot in facts.slots:
        wanted = slot.schema.get("format")
        current = slot.value.get("Ref") if isinstance(slot.value, dict) else None
        if not (isinstance(wanted, str) and isinstance(current, str) and current in typed):
            continue
        owner = str(slot.path[1])
        for other, type_name in typed.items():
            if other in (owner, current) or type_name == "AWS::EC2::SecurityGroup":
                continue
            got = ref_schema(type_name).get("format")
            if isinstance(got, str) and got != wanted and not facts.reaches(other, owner):
                new = {"Ref": other}
                out.append(Mutation.one("ref_wrong_format", "E1041", "set", slot.path, new))
                break
    return out


def needless_sub(facts: Facts) -> list[Mutation]:
    """W1020: wrap a literal string in Fn::Sub although it has no variable."""
    return [
        Mutation.one("needless_sub", "W1020", "set", slot.path, {"Fn::Sub": slot.value})
        for slot in facts.slots
        if slot.schema.get("type") == "string" and literal_string(slot.value)
    ]


def missing_sub(facts: Facts) -> list[Mutation]:
    """E1029: write a ${Variable} string without the Fn::Sub it needs."""
    slots = {slot.path: slot for slot in facts.slots}
    out = []
    for path, arg in intrinsic_calls(facts.template, "Fn::Sub"):
        slot = slots.get(path)
        if slot is None or not isinstance(arg, str) or len(sub_variables(arg)) != 1:
            continue
        if {"pattern", "format"} & set(slot.schema) or facts.sole_parameter_use(slot.value):
            continue
        out.append(Mutation.one("missing_sub", "E1029", "set", path, arg))
    return out


def obsolete_depends_on(facts: Facts) -> list[Mutation]:
    """W3005: add a DependsOn that a Ref or GetAtt already implies."""
    out = []
    for logical_id, resource in resources(facts.template).items():
        if "DependsOn" in resource:
            continue
        body = resource.get("Properties")
        named = Counter(names_used(body))
        for target in named:
            if target not in facts.refers_to or target == logical_id or named[target] > 1:
                continue  # each naming of the target makes the DependsOn obsolete once more
            guards = tuple(
                path
                for name in ("Ref", "Fn::GetAtt", "Fn::Sub")
                for path, _ in intrinsic_calls(body, name, ("Resources", logical_id, "Properties"))
            )
            edit = Edit("set", ("Resources", logical_id, "DependsOn"), target)
            out.append(Mutation("obsolete_depends_on", "W3005", (edit,), guards))
    return out


def bad_resource_type(facts: Facts) -> list[Mutation]:
    """E3006: misspell a resource type (the linter then cannot check its properties)."""
    out = []
    for logical_id, resource in resources(facts.template).items():
        type_name = str(resource.get("Type"))
        if logical_id in facts.getatt_targets or not checked_type(type_name):
            continue
        if {"UpdatePolicy", "CreationPolicy"} & set(resource):
            continue  # policies are checked against the type: they would be reported too
        head, _, last = type_name.rpartition("::")
        new = next((f"{head}::{t}" for t in typos(last) if not resource_schema(f"{head}::{t}")), "")
        if new:
            edit = Edit("set", ("Resources", logical_id, "Type"), new)
            guard = ("Resources", logical_id)
            out.append(Mutation("bad_resource_type", "E3006", (edit,), (guard,)))
    return out


def bad_update_policy(facts: Facts) -> list[Mutation]:
    """E3016: misspell a setting of a resource's UpdatePolicy."""
    out = []
    for logical_id, resource in resources(facts.template).items():
        policy = resource.get("UpdatePolicy")
        if not isinstance(policy, dict):
            continue
        for name, body in policy.items():
            if not isinstance(body, dict):
                continue
            for key in body:
                new = next((t for t in typos(key) if t not in body), None)
                if new:
                    path = ("Resources", logical_id, "UpdatePolicy", name, key)
                    out.append(Mutation.one("bad_update_policy", "E3016", "rename", path, new))
    return out


def bad_select(facts: Facts) -> list[Mutation]:
    """E1017: give a Fn::Select a word where its index goes."""
    return [
        Mutation.one("bad_select", "E1017", "set", (*path, "Fn::Select", 0), "first")
        for path, args in intrinsic_calls(facts.template, "Fn::Select")
        if path and path[0] == "Resources" and isinstance(args, list) and len(args) == 2
    ]


def bad_join(facts: Facts) -> list[Mutation]:
    """E1022: a Fn::Join with its delimiter but without the list to join."""
    return [
        Mutation.one("bad_join", "E1022", "set", (*path, "Fn::Join"), [args[0]])
        for path, args in intrinsic_calls(facts.template, "Fn::Join")
        if path and path[0] == "Resources" and isinstance(args, list) and len(args) == 2
    ]


def eol_runtime(facts: Facts) -> list[Mutation]:
    """W2531 / E2531 / E2533: an older runtime of the same language (its state on the lint
    date decides the rule: end of life, creation blocked, update blocked)."""
    out = []
    for logical_id, resource in resources(facts.template).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        runtime = (resource.get("Properties") or {}).get("Runtime")
        if not isinstance(runtime, str):
            continue
        family = re.match(r"[a-z]+", runtime)
        if family is None:
            continue
        by_rule: dict[str, tuple[str, str]] = {}
        for other, data in runtime_lifecycle().items():
            rule = runtime_rule(other, facts.as_of)
            if rule and re.match(r"[a-z]+", other).group(0) == family.group(0):  # type: ignore[union-attr]
                newest = (str(data.get("deprecated")), other)
                by_rule[rule] = max(by_rule.get(rule, newest), newest)
        path = ("Resources", logical_id, "Properties", "Runtime")
        out += [
            Mutation.one("eol_runtime", rule, "set", path, old)
            for rule, (_, old) in sorted(by_rule.items())
        ]
    return out


def bad_template_structure(facts: Facts) -> list[Mutation]:
    """E1001: a wrong format version, or a misspelt Outputs section."""
    template, out = facts.template, []
    if template.get("AWSTemplateFormatVersion") == TEMPLATE_VERSION:
        path = ("AWSTemplateFormatVersion",)
        out.append(Mutation.one("bad_template_structure", "E1001", "set", path, "2010-09-10"))
    outputs_only = [n for n in facts.parameter_uses if not facts.parameter_uses_outside_outputs[n]]
    if isinstance(template.get("Outputs"), dict) and not outputs_only:
        path = ("Outputs",)
        out.append(Mutation.one("bad_template_structure", "E1001", "rename", path, "Output"))
    return out


MAX_ITEMS_PADDED = 10  # too_many_items pads short lists only


def too_many_items(facts: Facts) -> list[Mutation]:
    """E3032: one item more than the property's maxItems (the last item repeated)."""
    out = []
    for slot in facts.slots:
        most, value = slot.schema.get("maxItems"), slot.value
        if not (isinstance(value, list) and value and isinstance(most, int)):
            continue
        if len(value) > most or most > MAX_ITEMS_PADDED or slot.schema.get("uniqueItems"):
            continue
        new = [*value, *[value[-1]] * (most + 1 - len(value))]
        out.append(Mutation.one("too_many_items", "E3032", "set", slot.path, new))
    return out


def _password_sites(facts: Facts) -> list[tuple[KeyPath, tuple[Edit, ...]]]:
    """Where a password goes, with the edits that make room for it (a managed-password switch
    is removed). Only resources whose reference sets a password or lets the service manage it."""
    sites = []
    for logical_id, resource in resources(facts.template).items():
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        for type_name, name in sorted(secret_properties()):
            if resource.get("Type") != type_name:
                continue
            base = ("Resources", logical_id, "Properties")
            managed = [k for k in props if k.startswith("Manage") and k.endswith(name)]
            if name in props and not facts.sole_parameter_use(props[name]):
                sites.append(((*base, name), ()))
            elif managed and props[managed[0]] is True:
                sites.append(((*base, name), (Edit("delete", (*base, managed[0])),)))
    return sites


def secret_parameter(facts: Facts) -> list[Mutation]:
    """W1011: pass a password through a (NoEcho) parameter instead of a dynamic reference."""
    if SECRET_PARAMETER in _declared(facts.template):
        return []
    parameter = Edit("set", ("Parameters", SECRET_PARAMETER), {"Type": "String", "NoEcho": True})
    return [
        Mutation(
            "secret_parameter",
            "W1011",
            (*room, Edit("set", path, {"Ref": SECRET_PARAMETER}), parameter),
        )
        for path, room in _password_sites(facts)
    ]


def plaintext_password(facts: Facts) -> list[Mutation]:
    """W2501: write a password into the template as plain text."""
    return [
        Mutation("plaintext_password", "W2501", (*room, Edit("set", path, PLAINTEXT_PASSWORD)))
        for path, room in _password_sites(facts)
    ]
