"""Resource schemas as the agent protocol's `get_resource_schema` tool shows them.

The schemas are cfn-lint's own: the provider schemas it bundles (or the newer cached copy it
prefers), per region, resolved by its `PROVIDER_SCHEMA_MANAGER` exactly as the linter resolves
them. A lookup shows a resource's (or one property's) properties: which are required, their
types and allowed values, with short descriptions, cut to a size the caller chooses.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

DESCRIPTION_CHARS = 160  # a property's description is cut to this many characters
CLOSE_NAMES = 5  # how many close names an unknown type or property is answered with
_MAX_DEPTH = 8  # $ref hops followed while resolving one node


def _manager() -> Any:
    # deferred: importing cfn-lint takes ~0.3 s (measured); only an agent's lookup needs it
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    return PROVIDER_SCHEMA_MANAGER


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node` with its local `$ref` (`#/definitions/X`) followed, its own keys kept on top."""
    for _ in range(_MAX_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _type_of(schema: dict[str, Any], node: dict[str, Any]) -> str:
    """A short type: `string`, `array of Tag`, `object (VersioningConfiguration)`..."""
    ref = node.get("$ref")
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
    node = _resolve(schema, node)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = " | ".join(str(k) for k in kind)
    if kind == "array" and isinstance(node.get("items"), dict):
        return f"array of {_type_of(schema, node['items'])}"
    if name and (kind in (None, "object")):
        return f"object ({name})"
    if kind is None and ("properties" in node or "patternProperties" in node):
        return "object"
    return str(kind) if kind else "any"


def _line(
    schema: dict[str, Any], name: str, node: dict[str, Any], required: bool, described: bool
) -> str:
    resolved = _resolve(schema, node)
    parts = [f"- {name}: {_type_of(schema, node)}", "required" if required else "optional"]
    if isinstance(resolved.get("enum"), list):
        parts.append("allowed: " + ", ".join(json.dumps(v) for v in resolved["enum"]))
    items = resolved.get("items")
    if isinstance(items, dict) and isinstance(_resolve(schema, items).get("enum"), list):
        parts.append("allowed items: " + ", ".join(json.dumps(v) for v in items["enum"]))
    for bound in ("minimum", "maximum", "minLength", "maxLength", "pattern"):
        if bound in resolved:
            parts.append(f"{bound} {resolved[bound]}")
    text = "; ".join(parts)
    description = " ".join(str(resolved.get("description", "")).split())
    if description and described:
        cut = description[:DESCRIPTION_CHARS]
        text += f"\n    {cut}{'...' if len(description) > DESCRIPTION_CHARS else ''}"
    return text


def _describe(
    schema: dict[str, Any], node: dict[str, Any], title: str, described: bool = True
) -> str:
    """One node as text: its own type and values, then its properties one per line (with
    their descriptions if `described`)."""
    node = _resolve(schema, node)
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        node = _resolve(schema, node["items"])
        title += " (each item)"
    required = set(node.get("required", []) or [])
    properties = node.get("properties")
    lines = [title]
    if not isinstance(properties, dict) or not properties:
        lines.append(_line(schema, "(value)", node, False, described).removeprefix("- "))
        return "\n".join(lines)
    if required:
        lines.append("Required: " + ", ".join(sorted(required)))
    if node.get("additionalProperties") is False:
        lines.append("No other properties are allowed.")
    lines.append("Properties:")
    lines += [
        _line(schema, name, sub, name in required, described) for name, sub in properties.items()
    ]
    return "\n".join(lines)


def _walk(
    schema: dict[str, Any], path: str, resource_type: str
) -> tuple[dict[str, Any] | None, str]:
    """The node at a dotted property path (`Properties.` optional), or None and why not."""
    node: dict[str, Any] = {k: schema[k] for k in ("properties", "required") if k in schema}
    steps = [p for p in path.split(".") if p]
    if steps and steps[0] == "Properties":
        steps = steps[1:]
    walked: list[str] = []
    for step in steps:
        node = _resolve(schema, node)
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            node = _resolve(schema, node["items"])
        properties = node.get("properties") or {}
        if step not in properties:
            where = ".".join([resource_type, *walked])
            close = difflib.get_close_matches(step, list(properties), n=CLOSE_NAMES)
            hint = f"; close names: {', '.join(close)}" if close else ""
            known = f"; its properties: {', '.join(properties)}" if properties and not close else ""
            return None, f"error: {where} has no property {step!r}{hint}{known}"
        node = properties[step]
        walked.append(step)
    return node, ""


def _cap(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters, the cut said at its end."""
    if len(text) <= max_chars:
        return text
    note = "\n[cut: {} of {} characters not shown; ask for a property path]"
    kept = max(0, max_chars - len(note.format(len(text), len(text))))
    return text[:kept] + note.format(len(text) - kept, len(text))


def resource_schema(
    resource_type: str, property_path: str | None, regions: Sequence[str], max_chars: int
) -> str:
    """What cfn-lint's schema says of `resource_type` (or of one property of it, a dotted
    path such as `Properties.VersioningConfiguration.Status`) in the first of `regions` that
    has it, as text of at most `max_chars` characters; an error text naming close types for an
    unknown type."""
    manager = _manager()
    wanted = resource_type.strip()
    for region in regions:
        if wanted in manager.get_resource_types(region):
            schema = manager.get_resource_schema(region, wanted).schema
            break
    else:
        known = sorted({t for region in regions for t in manager.get_resource_types(region)})
        close = difflib.get_close_matches(wanted, known, n=CLOSE_NAMES, cutoff=0.6)
        hint = f"; close names: {', '.join(close)}" if close else ""
        where = ", ".join(regions)
        return _cap(f"error: unknown resource type {wanted!r} in {where}{hint}", max_chars)
    if property_path:
        node, why = _walk(schema, property_path, wanted)
        if node is None:
            return _cap(why, max_chars)
        title = f"{wanted} {property_path}"
    else:
        keys = ("properties", "required", "additionalProperties")
        node, title = {k: schema[k] for k in keys if k in schema}, f"{wanted} (Properties)"
    text = _describe(schema, node, title)
    if len(text) > max_chars:  # too long: the descriptions go first
        text = _describe(schema, node, title, described=False)
    return _cap(text, max_chars)
