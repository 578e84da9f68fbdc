"""Fragments of the source that raise the rules the catalogue cannot (`calibrate --harvest`).

For each rule no catalogue kind raises, the source's own templates are searched for the
smallest fragment that raises it: the top-level entry (a resource, parameter, output, condition
or mapping) one of its findings points into, cut first to the one property the finding's path
names, then to its properties, then whole. A fragment is kept only when, added alone under a
fresh name to a reference template, cfn-lint reports exactly one finding more than on the
reference, of its rule: that is the proof it raises the rule and nothing else. The simulator
adds kept fragments as sites of kind `harvested` (simulator/transplant.py).

Fragments are the source's text. A profile that carries them says so in its header (it may
come from a source without a licence, as the authors' run does): keep it out of commits.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from benchmark.problems.dataset import Problem
from benchmark.progress import progress_bar
from benchmark.simulator.template import parse_template, serialise
from benchmark.simulator.transplant import SECTIONS, Entry
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter, default_cache
from studies.calibration_fits import rounded
from studies.harvest_closure import closure, cut, renamed

MAX_TRIES = 30  # distinct fragments of one rule linted
KEPT_PER_RULE = 2  # fragments kept per rule


def _variants(
    template: dict[str, Any], path: list[str], prefix: str
) -> list[tuple[str, list[Entry]]]:
    """Fragments for a finding at `path` of `template`, smallest first: its entry cut to the
    property it names (and the required ones), then whole; each with what it refers to."""
    section, name = path[0], path[1]
    entry = (template.get(section) or {}).get(name) if isinstance(template, dict) else None
    if entry is None:
        return []
    out, seen = [], set()
    for variant in (cut(entry, section, path), entry):
        found = closure(template, section, name, variant)
        if section == "Parameters":  # used by an output, so that it is not also unused (W2001)
            found.append(("Outputs", f"{name}Out", {"Value": {"Ref": name}}))
        key = json.dumps(found, sort_keys=True, default=str)  # as written in the source
        if key not in seen:
            seen.add(key)
            out.append((key, renamed(found, prefix)))
    return out


def _reference(problems: Iterable[Problem]) -> dict[str, Any] | None:
    for problem in sorted(problems, key=lambda p: p.id):
        if problem.reference_template:
            try:
                return parse_template(problem.reference_template)
            except ValueError:
                continue
    return None


class Prover:
    """Lints a fragment alone on the reference: does it raise its rule and nothing else?"""

    def __init__(self, reference: dict[str, Any]) -> None:
        self.reference = reference
        self.linter = WarmLinter(LintSettings(), default_cache())
        self.base = Counter(f.rule_id for f in self.linter.lint(serialise(reference, "json")))

    def raises_only(self, entries: list[Entry], rule: str) -> bool:
        tree = json.loads(json.dumps(self.reference))
        for section, name, value in entries:
            if name in (tree.get(section) or {}):
                return False
            tree.setdefault(section, {})[name] = value
        found = Counter(f.rule_id for f in self.linter.lint(serialise(tree, "json")))
        return found - self.base == Counter({rule: 1}) and not (self.base - found)


def harvest(
    view: pd.DataFrame,
    findings: pd.DataFrame,
    problems: Sequence[Problem],
    rules: Sequence[str],
    progress: bool = True,
) -> dict[str, Any]:
    """rule -> up to KEPT_PER_RULE proven fragments ({section, fragment}), for `rules`."""
    reference = _reference(problems)
    if reference is None or not rules:
        return {}
    templates = dict(zip(view["attempt_id"], view["template"], strict=True))
    prover = Prover(reference)
    kept: dict[str, Any] = {}
    for rule in progress_bar(list(rules), desc="harvest", unit="rule", disable=not progress):
        rows = findings[(findings["rule_id"] == rule) & findings["attempt_id"].isin(templates)]
        fragments: list[list[dict[str, Any]]] = []
        tried: set[str] = set()
        done: set[str] = set()
        for row in rows.itertuples(index=False):
            if len(fragments) >= KEPT_PER_RULE or len(tried) >= MAX_TRIES:
                break
            path = [p for p in str(row.path or "").split("/") if p]
            text = templates.get(row.attempt_id)
            if len(path) < 2 or path[0] not in SECTIONS or not isinstance(text, str):
                continue
            try:
                template = parse_template(text)
            except ValueError:
                continue
            entry = (template.get(path[0]) or {}).get(path[1])
            source_key = json.dumps([path[0], entry], sort_keys=True, default=str)
            if source_key in done:  # one fragment per entry of the source, the smallest
                continue
            prefix = f"H{rule}n{len(fragments) + 1}"
            for key, entries in _variants(template, path, prefix):
                if key in tried:
                    continue
                tried.add(key)
                if prover.raises_only(entries, rule):
                    fragments.append(
                        [{"section": s, "name": n, "fragment": v} for s, n, v in entries]
                    )
                    done.add(source_key)
                    break
        if fragments:
            kept[rule] = fragments
    return kept


def with_harvest(coverage: Mapping[str, Any], harvested: Mapping[str, Any]) -> dict[str, Any]:
    """The coverage section once harvested fragments raise some uncovered rules."""
    rows = [{**r, "harvested": r["rule"] in harvested} for r in coverage["rules"]]
    for row in rows:
        row["covered"] = bool(row["covered"] or row["harvested"])
    uncovered = [r for r in rows if not r["covered"]]
    return {
        **coverage,
        "covered_share": rounded(sum(r["share"] for r in rows if r["covered"])),
        "harvested_share": rounded(sum(r["share"] for r in rows if r["harvested"])),
        "uncovered": uncovered,
        "uncovered_at_least_1pct": [r["rule"] for r in uncovered if r["share"] >= 0.01],
        "rules": rows,
        "harvested": dict(harvested),
    }
