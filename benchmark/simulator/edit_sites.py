"""Where the simulator can make a collateral change on an edit problem, and the rule it raises.

An edit problem asks for a change to its initial template; everything the request does not
touch must survive. Collateral changes are the mistakes that break that: they are mutations of
the expected template (the simulator's reference) on a part it shares unchanged with the
initial template and that the request leaves alone, so the collateral-change validator
(benchmark/validators/collateral.py) reports each with its rule:

| kind | edit | rule |
| --- | --- | --- |
| `drop_resource` | a kept resource is deleted (nothing refers to it) | X1001 |
| `alter_property` | a kept boolean property flipped, or a kept tag's value changed | X1003 |
| `rename_parameter` | a parameter renamed with every `Ref` to it | X1005 |

Each is chosen so that cfn-lint sees nothing new (no broken link, no parameter left unused):
only the collateral validator can tell. A resource is kept when it is the same in both
templates and either a `must_keep` path covers it or no `may_change` glob reaches it and no
intent check names its type (`must_keep` wins).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from benchmark.problems.intent_language import AnyOf, Check, References
from benchmark.simulator.mutations import Edit, Mutation
from benchmark.simulator.template import KeyPath, is_intrinsic, resources

COLLATERAL_RULES = {
    "drop_resource": "X1001",
    "alter_property": "X1003",
    "rename_parameter": "X1005",
}
COLLATERAL_KINDS = tuple(COLLATERAL_RULES)
TAG_SUFFIX = "-changed"  # appended to a kept tag's value
RENAME_SUFFIX = "Value"  # appended to a renamed parameter's name


def intent_types(checks: Sequence[Check]) -> list[str]:
    """Every resource type pattern the intent checks name (nested `any_of` included)."""
    out: list[str] = []
    for check in checks:
        if isinstance(check, AnyOf):
            out.extend(intent_types(check.checks))
        elif isinstance(check, References):
            out.extend((check.from_type, check.to_type))
        else:
            for name in ("type", "resource_type"):
                value = getattr(check, name, None)
                if isinstance(value, str):
                    out.append(value)
    return out


def kept_resources(
    expected: dict[str, Any],
    initial: dict[str, Any],
    must_keep: Sequence[str] = (),
    may_change: Sequence[str] = (),
    checks: Sequence[Check] = (),
) -> list[str]:
    """Logical ids of the resources the request must leave alone (see the module docstring)."""
    before, after = resources(initial), resources(expected)
    patterns = intent_types(checks)
    kept = []
    for name, body in after.items():
        if before.get(name) != body:
            continue
        path = f"Resources/{name}"
        if any(k == path or k.startswith(path + "/") for k in must_keep):
            kept.append(name)
            continue
        changeable = any(
            fnmatch.fnmatchcase(path, glob) or glob.startswith(path + "/") for glob in may_change
        )
        named = any(fnmatch.fnmatchcase(str(body.get("Type", "")), p) for p in patterns)
        if not changeable and not named:
            kept.append(name)
    return kept


def collateral_sites(
    expected: dict[str, Any],
    initial: dict[str, Any],
    must_keep: Sequence[str] = (),
    may_change: Sequence[str] = (),
    checks: Sequence[Check] = (),
) -> dict[str, list[Mutation]]:
    """Every collateral change the simulator may make on `expected`, by kind (empty kinds left
    out); the order is stable, so a change has one identity on a problem."""
    kept = kept_resources(expected, initial, must_keep, may_change, checks)
    out = {
        "drop_resource": list(_drops(expected, kept)),
        "alter_property": list(_alterations(expected, kept)),
        "rename_parameter": list(_renames(expected, initial, may_change)),
    }
    return {kind: sites for kind, sites in out.items() if sites}


def _mutation(kind: str, edits: Sequence[Edit]) -> Mutation:
    return Mutation(kind, COLLATERAL_RULES[kind], tuple(edits))


def _mentions(tree: Any, name: str) -> bool:
    """Whether `name` appears anywhere in `tree` as a word (conservative: any text counts)."""
    return re.search(rf"(?<![\w:.-]){re.escape(name)}(?![\w-])", json.dumps(tree)) is not None


def _drops(expected: dict[str, Any], kept: Sequence[str]) -> Iterator[Mutation]:
    everything = resources(expected)
    if len(everything) < 2:
        return
    params = expected.get("Parameters")
    params = params if isinstance(params, dict) else {}
    for name in kept:
        rest = {k: v for k, v in expected.items() if k != "Resources"}
        rest["Resources"] = {k: v for k, v in everything.items() if k != name}
        if _mentions(rest, name):
            continue  # something refers to it: dropping it would break a link
        users = {k: v for k, v in rest.items() if k != "Parameters"}
        if any(_mentions(everything[name], p) and not _mentions(users, p) for p in params):
            continue  # its parameter would be left unused (W2001): lint would see it
        yield _mutation("drop_resource", [Edit("delete", ("Resources", name))])


def _alterations(expected: dict[str, Any], kept: Sequence[str]) -> Iterator[Mutation]:
    everything = resources(expected)
    for name in kept:
        properties = everything[name].get("Properties")
        if not isinstance(properties, dict):
            continue
        base: KeyPath = ("Resources", name, "Properties")
        for key, value in properties.items():
            if isinstance(value, bool):
                yield _mutation("alter_property", [Edit("set", (*base, key), not value)])
        tags = properties.get("Tags")
        for i, tag in enumerate(tags if isinstance(tags, list) else []):
            value = tag.get("Value") if isinstance(tag, dict) else None
            if isinstance(value, str) and not is_intrinsic(value):
                path = (*base, "Tags", i, "Value")
                yield _mutation("alter_property", [Edit("set", path, value + TAG_SUFFIX)])


def _ref_paths(tree: Any, name: str, path: KeyPath = ()) -> Iterator[KeyPath]:
    """Paths of every `{"Ref": name}` in `tree`."""
    if isinstance(tree, dict):
        if tree == {"Ref": name}:
            yield (*path, "Ref")
            return
        for key, value in tree.items():
            yield from _ref_paths(value, name, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _ref_paths(value, name, (*path, i))


def _renames(
    expected: dict[str, Any], initial: dict[str, Any], may_change: Sequence[str]
) -> Iterator[Mutation]:
    """Parameters kept from the initial template whose name is used by plain `Ref`s only."""
    params, before = expected.get("Parameters"), initial.get("Parameters")
    if not isinstance(params, dict) or not isinstance(before, dict):
        return
    for name, body in params.items():
        path = f"Parameters/{name}"
        if before.get(name) != body or any(fnmatch.fnmatchcase(path, g) for g in may_change):
            continue
        new = name + RENAME_SUFFIX
        refs = list(_ref_paths(expected, name))
        rest = {k: v for k, v in expected.items() if k != "Parameters"}
        rest["Parameters"] = {k: v for k, v in params.items() if k != name}
        stripped = json.dumps(rest).replace(json.dumps({"Ref": name}), "{}")
        if new in params or _mentions(json.loads(stripped), name):
            continue  # named in a Sub, a condition, metadata...: renaming would break a link
        edits = [Edit("rename", ("Parameters", name), new)]
        edits += [Edit("set", ref, new) for ref in refs]
        yield _mutation("rename_parameter", edits)
