"""Findings from every stage of a CDK attempt, in the model's terms (docs/cdk.md).

Three stages can stop an app: Python (it does not parse, raises, breaks the contract or runs
out of a limit: rules S1001-S1004, source `python`), CDK (the construct library rejects it or
annotates an error or warning at synth: C1001, C1002, C2001, source `cdk`), and the template
(cfn-lint's findings on the synthesized template: their own rule ids, source `cfn-lint`). Every
finding points into app.py where it can: a line from the traceback, or the line where the
construct that made a template finding is named (`constructs_in_code`); `construct` carries
that construct's path. Findings CDK makes by itself on a clean app are dropped (`cdk_own`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from benchmark.validators.base import Finding, Level
from benchmark.validators.cdk.cdk_own import CDK_OWN_FINDINGS, cdk_own
from benchmark.validators.cdk.constructs_in_code import (
    construct_location,
    construct_of,
    override_location,
)
from benchmark.validators.cdk.outcome import SynthOutcome

__all__ = [
    "CDK_OWN_FINDINGS",
    "CDK_RULES",
    "map_template_findings",
    "stage_of",
    "synth_findings",
]

Stage = Literal["python", "cdk", "template"]
PYTHON_SOURCE = "python"
CDK_SOURCE = "cdk"

# The project's own rule ids, as the feedback's rule catalogue describes them (no link: they are
# not cfn-lint's).
CDK_RULES: dict[str, tuple[str, str]] = {
    "S1001": ("app.py is not valid Python: it could not be parsed", ""),
    "S1002": ("app.py raised an exception while the app ran (a wrong name, keyword or value)", ""),
    "S1003": ("app.py breaks the contract: one module defining class AppStack(cdk.Stack)", ""),
    "S1004": ("the app exceeded a limit of the sandbox it runs in (CPU, time, memory...)", ""),
    "C1001": ("the AWS CDK construct library rejected the app while synthesizing it", ""),
    "C1002": ("the AWS CDK attached an error to a construct while synthesizing the app", ""),
    "C2001": ("the AWS CDK attached a warning to a construct while synthesizing the app", ""),
}

LIMIT_WORDS = {
    "cpu": "CPU-time",
    "wall": "wall-clock time",
    "memory": "memory",
    "file_size": "file-size",
    "processes": "process-count",
}
ANNOTATION_RULES: dict[str, tuple[str, Level]] = {
    "error": ("C1002", "E"),
    "warning": ("C2001", "W"),
}
# CDK's validation errors name the construct in brackets: "[AppStack/Lb/Http] Listener needs..."
_QUOTED_ID = re.compile(r"'([A-Za-z0-9]+)'")
_BRACKETED_PATH = re.compile(r"\[(/?AppStack(?:/[^\]\s]+)*)\]")


def _located(code: str, construct: str | None) -> tuple[int | None, int | None]:
    location = construct_location(code, construct) if construct else None
    return location if location else (None, None)


def _error_type(outcome: SynthOutcome) -> str:
    """`TypeError`, `RuntimeError`: the exception's own name, without its module."""
    return (outcome.error_type or "Error").rsplit(".", 1)[-1]


def _stage_finding(outcome: SynthOutcome, code: str) -> Finding | None:
    """The finding that stopped the synth, or None when it ran through."""
    status, message = outcome.status, " ".join(outcome.message.split())  # one line
    if status == "ok":
        return None
    construct = None
    line, column = outcome.line, outcome.column
    if status == "syntax_error":
        rule, source, text = "S1001", PYTHON_SOURCE, f"{_error_type(outcome)}: {message}"
    elif status == "python_error":
        rule, source = "S1002", PYTHON_SOURCE
        text = f"{_error_type(outcome)} while the app ran: {message}"
    elif status == "contract_error":
        rule, source, text = "S1003", PYTHON_SOURCE, f"app.py breaks the contract: {message}"
    elif status == "limit":
        words = LIMIT_WORDS.get(outcome.limit or "", outcome.limit or "a")
        rule, source = "S1004", PYTHON_SOURCE
        text = f"the app exceeded the sandbox's {words} limit" + (f": {message}" if message else "")
    else:  # cdk_error
        rule, source = "C1001", CDK_SOURCE
        text = "CDK rejected the app during synth: " + message
        named = _BRACKETED_PATH.search(outcome.message)
        if named:
            construct = construct_of(named.group(1))
            if line is None:
                line, column = _located(code, construct)
    return Finding(
        rule_id=rule,
        level="E",
        message=text,
        line=line,
        column=column,
        source=source,
        construct=construct,
    )


def _annotation_findings(outcome: SynthOutcome, code: str) -> list[Finding]:
    """C1002/C2001 from CDK's error and warning annotations (info ones are not findings)."""
    findings = []
    for note in outcome.annotations:
        rule = ANNOTATION_RULES.get(str(note.get("level", "")).lower())
        if rule is None:
            continue
        construct = construct_of(note.get("path", "")) or None
        line, column = _located(code, construct)
        findings.append(
            Finding(
                rule_id=rule[0],
                level=rule[1],
                message=str(note.get("message", "")).strip(),
                line=line,
                column=column,
                source=CDK_SOURCE,
                construct=construct,
            )
        )
    return findings


def synth_findings(outcome: SynthOutcome, code: str) -> list[Finding]:
    """The Python and CDK stage findings of one synth: the error that stopped it (if any),
    then CDK's error and warning annotations. [] for a synth that ran through clean."""
    stopped = _stage_finding(outcome, code)
    return ([stopped] if stopped else []) + _annotation_findings(outcome, code)


def _resources(template: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(template)
    except (TypeError, ValueError):
        return {}
    resources = data.get("Resources") if isinstance(data, dict) else None
    return resources if isinstance(resources, dict) else {}


def _template_location(
    path: tuple[str | int, ...], code: str, construct: str | None
) -> tuple[int | None, int | None]:
    """Where app.py made what a template finding flags: the escape hatch that wrote its path
    (`add_property_override("VersioningConfig", ...)`) if one alone did, else where the model
    named the construct."""
    if construct and len(path) > 2:
        keys = tuple(str(p) for p in path[2:4]) if path[2] == "Properties" else (str(path[2]),)
        if len(keys) == 2 or path[2] != "Properties":
            override = override_location(code, keys)
            if override:
                return override
    return _located(code, construct)


def _with_constructs(message: str, resources: dict[str, dict[str, Any]]) -> str:
    """cfn-lint's message with each quoted logical id followed by its construct, which is what
    the model wrote: `'Data666C94C7'` -> `'Data666C94C7' (AppStack/Data)`."""

    def named(match: re.Match[str]) -> str:
        resource = resources.get(match.group(1))
        cdk_path = ((resource or {}).get("Metadata") or {}).get("aws:cdk:path")
        if not isinstance(cdk_path, str) or not cdk_path:
            return match.group(0)
        return f"{match.group(0)} ({construct_of(cdk_path)})"

    return _QUOTED_ID.sub(named, message)


def map_template_findings(findings: list[Finding], template: str, code: str) -> list[Finding]:
    """cfn-lint's findings on the synthesized `template`, pointed at the model's app.py: each
    on a resource gets that resource's construct (its `aws:cdk:path`, default child dropped)
    and the line/column where app.py names it (None where it cannot be found: the template's
    lines mean nothing to the model). cfn-lint's findings in CDK_OWN_FINDINGS are dropped.
    Any template validator's findings are mapped alike; the python and cdk stages' pass as
    they are."""
    resources = _resources(template)
    mapped = []
    for finding in findings:
        if finding.source in (PYTHON_SOURCE, CDK_SOURCE):
            mapped.append(finding)
            continue
        if finding.source == "cfn-lint" and cdk_own(finding, resources, code):
            continue
        path = finding.path
        resource = resources.get(str(path[1])) if len(path) > 1 and path[0] == "Resources" else None
        cdk_path = ((resource or {}).get("Metadata") or {}).get("aws:cdk:path")
        construct = construct_of(cdk_path) if isinstance(cdk_path, str) and cdk_path else None
        line, column = _template_location(finding.path, code, construct)
        mapped.append(
            Finding(
                rule_id=finding.rule_id,
                level=finding.level,
                message=_with_constructs(finding.message, resources),
                path=finding.path,
                line=line,
                column=column,
                source=finding.source,
                construct=construct,
            )
        )
    return mapped


def stage_of(finding: Finding) -> Stage:
    """The stage a finding comes from: `python`, `cdk`, or `template` (any validator's finding
    on the synthesized template)."""
    if finding.source == PYTHON_SOURCE:
        return "python"
    if finding.source == CDK_SOURCE:
        return "cdk"
    return "template"
