"""Resources of retired AWS services: the mistake models make most often that today's cfn-lint
reports and 2024's did not (W3697 maintenance mode, W3696 sunsetting, E3710 shut down).

The sites come from cfn-lint's own resource schemas (their `lifecycle` status): per status, the
first types (by name) that need no property, each added as one extra resource with no
properties, so alone on a reference it raises its rule and nothing else. A release without
lifecycle data has no such site.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from benchmark.simulator.facts import Facts
from benchmark.simulator.mutations import Mutation
from benchmark.simulator.template import resources

RULE_OF_STATUS = {"maintenance": "W3697", "sunset": "W3696", "shutdown": "E3710"}
TYPES_PER_STATUS = 2  # so a template can carry two findings of one rule, as replies did


@cache
def retired_types() -> dict[str, tuple[str, ...]]:
    """Lifecycle status -> resource types of that status that require no property."""
    found: dict[str, list[str]] = {status: [] for status in RULE_OF_STATUS}
    folder = files("cfnlint.data.schemas") / "resources"
    if not folder.is_dir():
        return {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".json"):
            continue
        schema = json.loads(entry.read_text(encoding="utf-8"))
        status = (schema.get("lifecycle") or {}).get("status")
        if status in found and not schema.get("required"):
            found[status].append(str(schema["typeName"]))
    return {status: tuple(sorted(types)[:TYPES_PER_STATUS]) for status, types in found.items()}


def retired_service(facts: Facts) -> list[Mutation]:
    """W3697 / W3696 / E3710: add a resource of a service in maintenance, sunsetting or shut
    down (its type from cfn-lint's lifecycle data)."""
    taken = set(resources(facts.template))
    out = []
    for status, types in retired_types().items():
        for i, type_name in enumerate(types, start=1):
            name = f"Retired{status.title()}{i}"
            if name not in taken:
                path = ("Resources", name)
                out.append(
                    Mutation.one("retired_service", RULE_OF_STATUS[status], "set", path,
                                 {"Type": type_name})
                )  # fmt: skip
    return out
