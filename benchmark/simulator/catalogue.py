"""The mutation catalogue: every place on a reference template where a known mistake can go.

Each finder lists every site of one kind (the candidates); a seeded rng picks among them later.
Sites come from cfn-lint's own data: its resource schemas (required, enum, type, pattern,
format, minItems/maxItems), its format rules, its Lambda runtime lifecycle table and its list
of secret properties. Each kind says which rules it raises; a site is chosen so that, alone on
the reference, it raises one finding of its rule and nothing else (tests/test_simulator_catalogue.py
checks this on paper33). A kind with no site on a template is never drawn there.

The finders live in finders.py, what they read of a template in facts.py, and what they read
of cfn-lint's data in lint_data.py; this module names the kinds and finds a template's sites.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from benchmark.simulator.facts import Facts
from benchmark.simulator.finders import (
    bad_enum,
    bad_format,
    bad_getatt,
    bad_join,
    bad_pattern,
    bad_ref,
    bad_resource_type,
    bad_select,
    bad_template_structure,
    bad_update_policy,
    broken_syntax,
    eol_runtime,
    hardcoded_az,
    missing_required,
    missing_sub,
    misspelt_property,
    needless_sub,
    obsolete_depends_on,
    plaintext_password,
    ref_wrong_format,
    secret_parameter,
    too_many_items,
    unused_parameter,
    wrong_type,
)
from benchmark.simulator.mutations import Mutation
from benchmark.simulator.retired import RULE_OF_STATUS, retired_service
from benchmark.simulator.template import (
    get_path,
)

# ---- finders ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    finder: Callable[[Facts], list[Mutation]]
    rules: tuple[str, ...]  # every rule a site of this kind may raise


CATALOGUE: dict[str, Kind] = {
    "misspelt_property": Kind(misspelt_property, ("E3002",)),
    "wrong_type": Kind(wrong_type, ("E3012",)),
    "bad_enum": Kind(bad_enum, ("E3030",)),
    "missing_required": Kind(missing_required, ("E3003",)),
    "bad_ref": Kind(bad_ref, ("E1020", "E6101")),
    "bad_getatt": Kind(bad_getatt, ("E1010", "E6101")),
    "unused_parameter": Kind(unused_parameter, ("W2001",)),
    "hardcoded_az": Kind(hardcoded_az, ("W3010",)),
    "broken_syntax": Kind(broken_syntax, ("E0000",)),
    "bad_pattern": Kind(bad_pattern, ("E3031",)),
    "bad_format": Kind(bad_format, ("E1150", "E1151", "E1152", "E1154", "E1156", "E1161")),
    "ref_wrong_format": Kind(ref_wrong_format, ("E1041",)),
    "needless_sub": Kind(needless_sub, ("W1020",)),
    "missing_sub": Kind(missing_sub, ("E1029",)),
    "obsolete_depends_on": Kind(obsolete_depends_on, ("W3005",)),
    "bad_resource_type": Kind(bad_resource_type, ("E3006",)),
    "bad_update_policy": Kind(bad_update_policy, ("E3016",)),
    "bad_select": Kind(bad_select, ("E1017",)),
    "bad_join": Kind(bad_join, ("E1022",)),
    "eol_runtime": Kind(eol_runtime, ("W2531", "E2531", "E2533")),
    "bad_template_structure": Kind(bad_template_structure, ("E1001",)),
    "too_many_items": Kind(too_many_items, ("E3032",)),
    "secret_parameter": Kind(secret_parameter, ("W1011",)),
    "plaintext_password": Kind(plaintext_password, ("W2501",)),
    "retired_service": Kind(retired_service, tuple(RULE_OF_STATUS.values())),
}
# The kinds of the hand-set default profile (the catalogue before calibration existed): it
# draws among these only, so `simulated/default` behaves as it always has.
CLASSIC_KINDS = (
    "misspelt_property",
    "wrong_type",
    "bad_enum",
    "missing_required",
    "bad_ref",
    "bad_getatt",
    "unused_parameter",
    "hardcoded_az",
    "broken_syntax",
)


def covered_rules() -> set[str]:
    """Every rule some kind of the catalogue can raise."""
    return {rule for kind in CATALOGUE.values() for rule in kind.rules}


def find_sites(template: dict[str, Any], as_of: date | None = None) -> dict[str, list[Mutation]]:
    """Every applicable mutation on `template`, by kind; kinds without a site are left out.

    Sites are de-duplicated on their key, so a mutation has one identity on a template.
    """
    facts = Facts.of(template, as_of)
    seen: set[str] = set()
    out: dict[str, list[Mutation]] = {}
    for name, kind in CATALOGUE.items():
        found = []
        for m in kind.finder(facts):
            if m.key not in seen and _applicable(template, m):
                seen.add(m.key)
                found.append(m)
        if found:
            out[name] = found
    return out


def _applicable(template: dict[str, Any], m: Mutation) -> bool:
    """Every edit lands on something that exists (a set may add a key to an existing parent,
    or a key to a top-level section the template lacks)."""
    for edit in m.edits:
        if edit.op == "text":
            continue
        parent = edit.path[:-1]
        if edit.op == "set" and len(edit.path) == 2 and not get_path(template, parent)[0]:
            continue  # a new top-level section
        if not get_path(template, parent)[0]:
            return False
        if edit.op in ("rename", "delete") and not get_path(template, edit.path)[0]:
            return False
    return True
