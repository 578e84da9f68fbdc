"""What cfn-lint's own data says about a property: extension schemas, regional enums,
availability-zone properties, format rules, the Lambda runtime lifecycle, secret properties."""

from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

from benchmark.simulator.template import (
    resources,
)

_COMBINATORS = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else")


_RELATIONS = ("requiredXor", "requiredOr", "dependentRequired", "dependentExcluded")


def _named(schema: Any) -> set[str]:
    """Property names a schema fragment constrains: relations, `required`, `properties`,
    recursively through combinators."""
    out: set[str] = set()
    if isinstance(schema, list):
        for item in schema:
            out |= _named(item)
    elif isinstance(schema, dict):
        for key in _RELATIONS:
            relation = schema.get(key)
            if isinstance(relation, list):
                out |= {v for v in relation if isinstance(v, str)}
            elif isinstance(relation, dict):
                out |= set(relation)
                for values in relation.values():
                    out |= (
                        {v for v in values if isinstance(v, str)}
                        if isinstance(values, list)
                        else set()
                    )
        out |= {v for v in schema.get("required", []) if isinstance(v, str)}
        out |= (
            set(schema.get("properties", {}))
            if isinstance(schema.get("properties"), dict)
            else set()
        )
        for key in _COMBINATORS:
            out |= _named(schema.get(key))
    return out


@cache
def extension_names(type_name: str) -> frozenset[str]:
    """Property names cfn-lint's extension schemas for `type_name` put extra checks on."""

    folder = files("cfnlint.data.schemas.extensions") / type_name.lower().replace("::", "_")
    if not folder.is_dir():
        return frozenset()
    names: set[str] = set()
    for item in folder.iterdir():
        if item.name.endswith(".json"):
            names |= _named(json.loads(item.read_text(encoding="utf-8")))
    return frozenset(names)


def entangled(slot: Any, template: dict[str, Any]) -> bool:
    """Whether renaming or retyping this property would set off another check as well: its
    object relates it to siblings (requiredXor, dependentRequired, if/then...), or cfn-lint's
    extension schemas for the resource type constrain it."""
    key = slot.path[-1]
    if not isinstance(key, str):
        return True
    siblings = {k: v for k, v in slot.parent.items() if k in _RELATIONS or k in _COMBINATORS}
    type_name = str(resources(template).get(str(slot.path[1]), {}).get("Type"))
    named = key in _named(siblings) or key in extension_names(type_name)
    return named or key.lower() in regional_enums()


@cache
def regional_enums() -> frozenset[str]:
    """Lower-cased property names with a per-region enum in cfn-lint's extension schemas
    (`instancetype_enum.json`: InstanceType), wherever they appear."""

    root = files("cfnlint.data.schemas.extensions")
    return frozenset(
        item.name.removesuffix("_enum.json").replace("_", "")
        for folder in root.iterdir()
        if folder.is_dir()
        for item in folder.iterdir()
        if item.name.endswith("_enum.json")
    )


@cache
def zone_properties() -> frozenset[str]:
    """Resource types whose top-level AvailabilityZone cfn-lint's W3010 checks."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.rules.resources.properties.AvailabilityZone import AvailabilityZone

    return frozenset(
        parts[1]
        for parts in (k.split("/") for k in AvailabilityZone().keywords)
        if len(parts) == 4 and parts[3] == "AvailabilityZone"
    )


@cache
def format_rules() -> dict[str, tuple[str, str]]:
    """cfn-lint's format keywords: format name -> (rule id, the pattern a value must match)."""

    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    import cfnlint.rules.formats as package  # deferred: cfn-lint import cost
    from cfnlint.rules.formats.FormatKeyword import FormatKeyword

    out: dict[str, tuple[str, str]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, FormatKeyword):
                if value is FormatKeyword or not getattr(value, "id", ""):
                    continue
                try:
                    rule = value()
                except TypeError:
                    continue
                if rule.format_keyword and rule.pattern:
                    out[rule.format_keyword] = (rule.id, rule.pattern)
    return out


@cache
def runtime_lifecycle() -> dict[str, dict[str, str | None]]:
    """cfn-lint's Lambda runtime table: runtime -> deprecated / create-block / update-block."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.data import AdditionalSpecs  # deferred: cfn-lint import cost
    from cfnlint.helpers import load_resource  # deferred: cfn-lint import cost

    return load_resource(AdditionalSpecs, "LmbdRuntimeLifecycle.json")


def runtime_rule(runtime: str, day: date) -> str | None:
    """The rule cfn-lint raises for `runtime` on `day` (as its three runtime rules decide)."""
    data = runtime_lifecycle().get(runtime)
    if not data:
        return None

    def passed(key: str) -> bool:
        value = data.get(key)
        return value is not None and date.fromisoformat(value) <= day

    if passed("update-block"):
        return "E2533"
    if passed("create-block"):
        return "E2531"
    if passed("deprecated"):
        return "W2531"
    return None


@cache
def secret_properties() -> frozenset[tuple[str, str]]:
    """(resource type, top-level property) pairs cfn-lint's W1011 treats as secrets."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.rules.parameters.DynamicReferenceSecret import DynamicReferenceSecret

    out = set()
    for keyword in DynamicReferenceSecret().keywords:
        parts = keyword.split("/")
        if len(parts) == 4 and parts[0] == "Resources" and parts[2] == "Properties":
            out.add((parts[1], parts[3]))
    return frozenset(out)
