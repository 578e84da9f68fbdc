"""Stand-in for issue 22's collateral-change validator (the core helper's module replaces this
file at merge): only `requested_changes`, which the Multi-IaC-Eval importer writes as
`may_change`, with the same name, signature and path form."""

from __future__ import annotations

from typing import Any

from benchmark.problems.intent_language import parse_template

SECTIONS = ("Resources", "Outputs", "Parameters")


def requested_changes(initial: str, expected: str) -> list[str]:
    """The paths `expected` changes in `initial` (both template texts), in `may_change` form:
    a removed or changed entry (`Outputs/Url`, `Parameters/Old`), a kept resource's changed
    attribute (`Resources/Queue/Type`) or top-level property
    (`Resources/Queue/Properties/VisibilityTimeout`). Anything new is never collateral."""
    before = parse_template(initial).written or {}
    after = parse_template(expected).written or {}
    paths: list[str] = []
    for section in SECTIONS:
        old, new = _entries(before, section), _entries(after, section)
        for name, body in old.items():
            if name not in new:
                paths.append(f"{section}/{name}")
            elif body != new[name]:
                paths.extend(_inside(f"{section}/{name}", body, new[name], section))
    return paths


def _entries(template: dict[str, Any], section: str) -> dict[str, Any]:
    entries = template.get(section)
    return entries if isinstance(entries, dict) else {}


def _inside(path: str, old: Any, new: Any, section: str) -> list[str]:
    if section != "Resources" or not isinstance(old, dict) or not isinstance(new, dict):
        return [path]
    out: list[str] = []
    for key in sorted(set(old) | set(new), key=str):
        if old.get(key) == new.get(key):
            continue
        props_old, props_new = old.get(key), new.get(key)
        if key == "Properties" and isinstance(props_old, dict) and isinstance(props_new, dict):
            out.extend(
                f"{path}/Properties/{name}"
                for name in sorted(set(props_old) | set(props_new), key=str)
                if props_old.get(name) != props_new.get(name)
            )
        else:
            out.append(f"{path}/{key}")
    return out
