"""Reading a reference template and cfn-lint's resource schemas: the ground mutations stand on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]

SCHEMA_REGION = "us-east-1"
INTRINSICS = {"Ref", "Condition"}  # plus every "Fn::*" key


def plain(value: Any) -> Any:
    """cfn-lint's str/dict node subclasses as plain Python values (so PyYAML can dump them)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def try_parse(text: str) -> dict[str, Any] | None:
    """A CloudFormation YAML/JSON text as a plain dict (short-form tags in long form), or None."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.decode.decode import decode_str

    tree, errors = decode_str(text)
    if errors or not isinstance(tree, dict):
        return None
    return plain(tree)


def parse_template(text: str) -> dict[str, Any]:
    """Like `try_parse`, but a text that does not parse is a ValueError naming the reason."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.decode.decode import decode_str

    tree, errors = decode_str(text)
    if errors or not isinstance(tree, dict):
        detail = errors[0].message if errors else "not a mapping"
        raise ValueError(f"reference template does not parse: {detail}")
    return plain(tree)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a repeated object out in full: no `&id001` anchors (cfn-lint warns on aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def serialise(tree: dict[str, Any], output_format: str) -> str:
    if output_format == "json":
        return json.dumps(tree, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(
        tree,
        Dumper=_NoAliasDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in INTRINSICS or key.startswith("Fn::")


@cache
def resource_schema(type_name: str) -> dict[str, Any] | None:
    """cfn-lint's provider schema of a resource type (None for custom, SAM or unknown types)."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, type_name).schema
    except Exception:
        return None


@cache
def ref_schema(type_name: str) -> dict[str, Any]:
    """What a `Ref` to a resource of this type returns, as cfn-lint models it (its format)."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        return PROVIDER_SCHEMA_MANAGER.get_type_ref(type_name, SCHEMA_REGION)
    except Exception:
        return {}


def resolve(root: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Follow local `$ref`s ("#/definitions/X") until a schema without one."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema, seen = target, seen + 1
    return schema if isinstance(schema, dict) else {}


@dataclass(frozen=True)
class Slot:
    """One property in a resource's Properties, with its own and its parent object's schema."""

    path: KeyPath
    value: Any
    schema: dict[str, Any]
    parent: dict[str, Any]


def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's resources that are mappings, by logical id."""
    found = template.get("Resources")
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, dict)}


def property_slots(template: dict[str, Any]) -> Iterator[Slot]:
    """Every schema-known property of every resource, depth first, in document order."""
    for logical_id, resource in resources(template).items():
        if not isinstance(resource.get("Properties"), dict):
            continue
        root = resource_schema(str(resource.get("Type")))
        if root is not None:
            path: KeyPath = ("Resources", logical_id, "Properties")
            yield from _walk(resource["Properties"], root, root, path)


def _walk(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: KeyPath
) -> Iterator[Slot]:
    if isinstance(value, list):
        items = resolve(root, schema.get("items"))
        for i, item in enumerate(value):
            yield from _walk(item, items, root, (*path, i))
    elif isinstance(value, dict) and not is_intrinsic(value):
        for key, child in value.items():
            if key not in schema.get("properties", {}):
                continue
            child_schema = resolve(root, schema["properties"][key])
            yield Slot((*path, key), child, child_schema, schema)
            yield from _walk(child, child_schema, root, (*path, key))


def intrinsic_calls(value: Any, name: str, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """(path of the call, argument) for every `{name: argument}` in `value`."""
    if isinstance(value, dict):
        if is_intrinsic(value) and name in value:
            yield path, value[name]
        for key, child in value.items():
            yield from intrinsic_calls(child, name, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from intrinsic_calls(child, name, (*path, i))


def get_path(tree: Any, path: KeyPath) -> tuple[bool, Any]:
    """(found, value) at `path` of a nested dict/list."""
    node = tree
    for part in path:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return False, None
        node = node[part]
    return True, node


def typos(word: str) -> list[str]:
    """Misspellings an author might make: a dropped, doubled or swapped letter."""
    out: list[str] = []
    for i in range(1, len(word)):
        out.append(word[:i] + word[i + 1 :])
        out.append(word[:i] + word[i] + word[i:])
        if i + 1 < len(word) and word[i] != word[i + 1]:
            out.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    return [t for t in dict.fromkeys(out) if t and t != word]
