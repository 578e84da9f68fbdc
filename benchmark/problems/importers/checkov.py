"""Checkov custom YAML policies (DPIaC-Eval's user-intent files) as intent checks.

A policy's `definition` is a condition or an `and`/`or` of conditions. Each condition of a
top-level `and` becomes one check (an `or` becomes one `any_of`). A condition holds if some
resource of its type satisfies it, which is how DPIaC-Eval scores a policy as passed.

Translated: `cond_type: attribute` with `exists`, `equals`, `contains`, `regex_match`,
`starting_with`, `ending_with`, `is_true`, `is_false`; `cond_type: connection` with `connected`.
Everything else (negations, numeric and length comparisons, `within`, `filter`, JSONPath
operators, `and` nested in `or`) is skipped with a reason, never approximated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Heads of a path that start at the resource, not under `Properties`. Not `Type`: Checkov's
# CloudFormation graph gives a resource's Properties as its attributes (the resource type is
# `resource_type`), so `attribute: Type` is the property `Properties.Type` (an SSM parameter's,
# a load balancer's), never the resource type.
RESOURCE_KEYS = {
    "Properties",
    "DependsOn",
    "Metadata",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SEGMENT = re.compile(r"^(?P<name>[^\[\]]*)(?P<index>(\[(\*|\d+)\])*)$")
_MAX_ALTERNATIVES = 8


@dataclass
class Translation:
    checks: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one reason per untranslated condition


class _Skip(Exception):
    """A condition that has no faithful translation; the message is the reason."""


def jmespath_of(attribute: str) -> str:
    """A Checkov attribute path (`Properties.Tags.*.Key`, `Statement[*].Action`) as JMESPath,
    relative to the resource; paths not starting at a resource key (`Type` included) are
    under `Properties`."""
    segments = [s for s in attribute.strip().split(".") if s]
    if not segments:
        raise _Skip("empty attribute")
    head = _SEGMENT.match(segments[0])
    if head is None or head.group("name") not in RESOURCE_KEYS:
        segments = ["Properties", *segments]
    out = ""
    for segment in segments:
        if segment == "*":
            out += "[*]"
            continue
        if segment.isdigit():
            out += f"[{segment}]"
            continue
        match = _SEGMENT.match(segment)
        if match is None or not match.group("name"):
            raise _Skip(f"attribute path {attribute!r}")
        name = match.group("name")
        quoted = name if _IDENTIFIER.match(name) else '"' + name.replace('"', '\\"') + '"'
        out += ("." if out else "") + quoted + match.group("index")
    return out


def _types(condition: dict[str, Any], key: str = "resource_types") -> list[str]:
    raw = condition.get(key, [])
    types = [raw] if isinstance(raw, str) else list(raw or [])
    types = ["*" if t in ("*", "all") else str(t) for t in types]
    if not types:
        raise _Skip(f"no {key}")
    return types


def _attribute(condition: dict[str, Any], check_id: str, label: str) -> dict[str, Any]:
    operator = str(condition.get("operator", ""))
    path = jmespath_of(str(condition.get("attribute", "")))
    value = condition.get("value")
    base = {"path": path}
    if operator == "exists":
        body = {"kind": "property_exists", **base}
    elif operator == "equals" and "[*]" in path:
        body = {"kind": "property_contains", **base, "value": value}  # any matching element
    elif operator == "equals":
        body = {"kind": "property_equals", **base, "value": value}
    elif operator == "contains":
        body = {"kind": "property_contains", **base, "value": value}
    elif operator in ("is_true", "is_false"):
        body = {"kind": "property_equals", **base, "value": operator == "is_true"}
    elif operator in ("regex_match", "starting_with", "ending_with"):
        if not isinstance(value, str):
            raise _Skip(f"operator {operator} with a non-string value")
        pattern = {
            "regex_match": f"^(?:{value})",  # Checkov matches from the start (re.match)
            "starting_with": "^" + re.escape(value),
            "ending_with": re.escape(value) + "$",
        }[operator]
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _Skip(f"operator {operator} with an invalid regex") from exc
        body = {"kind": "property_matches", **base, "pattern": pattern}
    else:
        raise _Skip(f"operator {operator or '(none)'}")
    shown = "" if operator == "exists" else f" {value!r}"
    description = f"{label}: {condition.get('attribute')} {operator}{shown}"
    alternatives = [
        {"id": f"{check_id}-{n}", **body, "resource_type": t}
        for n, t in enumerate(_types(condition), start=1)
    ]
    return _one_of(alternatives, check_id, description)


def _connection(condition: dict[str, Any], check_id: str, label: str) -> dict[str, Any]:
    if condition.get("operator") != "connected":
        raise _Skip(f"connection operator {condition.get('operator')}")
    pairs = [
        (a, b)
        for a in _types(condition)
        for b in _types(condition, "connected_resource_types")
        for a, b in ((a, b), (b, a))
    ]
    if len(pairs) > _MAX_ALTERNATIVES:
        raise _Skip("connection between too many types")
    alternatives = [
        {"id": f"{check_id}-{n}", "kind": "references", "from_type": a, "to_type": b}
        for n, (a, b) in enumerate(pairs, start=1)
    ]
    description = f"{label}: {'/'.join(_types(condition))} connected to " + "/".join(
        _types(condition, "connected_resource_types")
    )
    return _one_of(alternatives, check_id, description)


def _one_of(alternatives: list[dict[str, Any]], check_id: str, description: str) -> dict[str, Any]:
    description = " ".join(description.split())[:200]
    if len(alternatives) == 1:
        return {**alternatives[0], "id": check_id, "description": description}
    for item in alternatives:
        item.setdefault(
            "description", f"{description} ({item.get('resource_type') or item['from_type']})"
        )
    return {"id": check_id, "kind": "any_of", "description": description, "checks": alternatives}


def _leaf(condition: Any, check_id: str, label: str) -> dict[str, Any]:
    if not isinstance(condition, dict):
        raise _Skip("condition is not a mapping")
    if "and" in condition or "or" in condition or "not" in condition:
        raise _Skip(f"{next(k for k in ('and', 'or', 'not') if k in condition)} nested in or")
    kind = condition.get("cond_type")
    if kind == "attribute":
        return _attribute(condition, check_id, label)
    if kind == "connection":
        return _connection(condition, check_id, label)
    raise _Skip(f"cond_type {kind or '(none)'}")


def translate_policy(policy: Any, prefix: str) -> Translation:
    """Checks (as dicts, validated later) for one parsed Checkov policy file."""
    result = Translation()
    if not isinstance(policy, dict) or "definition" not in policy:
        result.skipped.append("not a Checkov policy (no definition)")
        return result
    metadata = policy.get("metadata") or {}
    label = str(metadata.get("name") or metadata.get("id") or prefix)
    definition = policy["definition"]
    items = (
        definition["and"] if isinstance(definition, dict) and "and" in definition else [definition]
    )
    for number, item in enumerate(items, start=1):
        check_id = f"{prefix}-{number}"
        try:
            if isinstance(item, dict) and "or" in item:
                branches = [
                    _leaf(branch, f"{check_id}-{n}", label)
                    for n, branch in enumerate(item["or"], start=1)
                ]
                check = _one_of(branches, check_id, f"{label}: any of {len(branches)} conditions")
                if check["kind"] != "any_of":
                    check["description"] = branches[0]["description"]
            elif isinstance(item, dict) and "not" in item:
                raise _Skip("not")
            else:
                check = _leaf(item, check_id, label)
        except _Skip as skip:
            result.skipped.append(str(skip))
            continue
        result.checks.append(check)
    return result
