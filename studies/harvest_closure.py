"""A fragment of a source template that stands on its own: an entry, everything it refers to
(parameters, conditions, mappings, resources, transitively), all under new names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from benchmark.simulator.facts import names_used
from benchmark.simulator.template import intrinsic_calls, resource_schema
from benchmark.simulator.transplant import SECTIONS, Entry

LOOKUP = ("Parameters", "Resources", "Conditions", "Mappings")  # where a name may be defined
SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _named(value: Any) -> set[str]:
    """Names `value` refers to: Ref, GetAtt, Sub, DependsOn, Condition, FindInMap."""
    out = set(names_used(value))
    for _, args in intrinsic_calls(value, "Fn::FindInMap"):
        if isinstance(args, list) and args and isinstance(args[0], str):
            out.add(args[0])
    for _, name in intrinsic_calls(value, "Condition"):
        if isinstance(name, str):
            out.add(name)
    for _, args in intrinsic_calls(value, "Fn::If"):
        if isinstance(args, list) and args and isinstance(args[0], str):
            out.add(args[0])
    if isinstance(value, dict):
        depends = value.get("DependsOn")
        out |= {depends} if isinstance(depends, str) else set()
        out |= {d for d in depends if isinstance(d, str)} if isinstance(depends, list) else set()
        if isinstance(value.get("Condition"), str):
            out.add(value["Condition"])
    return out


def closure(template: Mapping[str, Any], section: str, name: str, entry: Any) -> list[Entry]:
    """`entry` (as `section`/`name`) and every entry of `template` it refers to, transitively."""
    found: dict[str, Entry] = {name: (section, name, entry)}
    todo = [entry]
    while todo:
        for ref in _named(todo.pop()):
            if ref in found or ref.startswith("AWS::"):
                continue
            for where in LOOKUP:
                defined = (template.get(where) or {}) if isinstance(template, Mapping) else {}
                if isinstance(defined, Mapping) and ref in defined:
                    found[ref] = (where, ref, defined[ref])
                    todo.append(defined[ref])
                    break
    return list(found.values())


def cut(entry: Any, section: str, path: list[str]) -> Any:
    """A resource cut to its type, the property the finding names and the required ones."""
    if section != "Resources" or not isinstance(entry, dict) or len(path) < 4:
        return entry
    props = entry.get("Properties")
    if path[2] != "Properties" or not isinstance(props, dict) or path[3] not in props:
        return entry
    schema = resource_schema(str(entry.get("Type"))) or {}
    keep = {path[3], *(r for r in schema.get("required", []) if isinstance(r, str))}
    return {
        **{k: v for k, v in entry.items() if k in ("Type", "Condition")},
        "Properties": {k: v for k, v in props.items() if k in keep},
    }


def renamed(entries: list[Entry], prefix: str) -> list[Entry]:
    """The entries under `prefix` + their names, every reference between them rewritten."""
    new = {name: f"{prefix}{re.sub(r'[^A-Za-z0-9]', '', name)}" for _, name, _ in entries}

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return value
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if key in ("Ref", "Condition", "DependsOn") and isinstance(item, str):
                out[key] = new.get(item, item)
            elif key == "DependsOn" and isinstance(item, list):
                out[key] = [new.get(v, v) if isinstance(v, str) else v for v in item]
            elif key == "Fn::GetAtt" and isinstance(item, list) and item:
                out[key] = [new.get(item[0], item[0]), *walk(item[1:])]
            elif key == "Fn::GetAtt" and isinstance(item, str):
                head, dot, rest = item.partition(".")
                out[key] = f"{new.get(head, head)}{dot}{rest}"
            elif key in ("Fn::FindInMap", "Fn::If") and isinstance(item, list) and item:
                out[key] = [new.get(item[0], item[0]), *walk(item[1:])]
            elif key == "Fn::Sub":
                out[key] = _sub(item, new, walk)
            else:
                out[key] = walk(item)
        return out

    return [(section, new[name], walk(value)) for section, name, value in entries]


def _sub(item: Any, new: Mapping[str, str], walk: Any) -> Any:
    local = (
        set(item[1])
        if isinstance(item, list) and len(item) > 1 and isinstance(item[1], dict)
        else set()
    )

    def rename(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            head, dot, rest = m.group(1).partition(".")
            return "${" + (head if head in local else new.get(head, head)) + dot + rest + "}"

        return SUB_VARIABLE.sub(one, text)

    if isinstance(item, str):
        return rename(item)
    if isinstance(item, list) and item and isinstance(item[0], str):
        return [rename(item[0]), *walk(item[1:])]
    return walk(item)


__all__ = ["SECTIONS", "closure", "cut", "renamed"]
