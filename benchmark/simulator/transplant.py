"""Sites of kind `harvested`: fragments a calibrated profile carries (its `coverage.harvested`,
written by `calibrate --harvest`). A fragment is one or more top-level entries (a resource and
the parameters, conditions, mappings and resources it refers to, under names of their own); it
is added whole to a reference template, where calibration proved it raises its rule and nothing
else (studies/harvest.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmark.simulator.mutations import Edit, Mutation

SECTIONS = ("Resources", "Parameters", "Outputs", "Conditions", "Mappings")
KIND = "harvested"
Entry = tuple[str, str, Any]  # section, logical name, its definition


def transplant(rule: str, entries: Sequence[Entry]) -> Mutation:
    return Mutation(KIND, rule, tuple(Edit("set", (s, n), v) for s, n, v in entries))


def transplant_sites(
    template: Mapping[str, Any], fragments: Mapping[str, Sequence[Sequence[Entry]]]
) -> list[Mutation]:
    """One site per fragment (rule -> [entries]) whose names `template` does not use."""
    out = []
    for rule in sorted(fragments):
        for entries in fragments[rule]:
            if not any(name in (template.get(section) or {}) for section, name, _ in entries):
                out.append(transplant(rule, entries))
    return out
