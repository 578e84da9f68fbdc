"""Findings of the synth stage (STAND-IN: the findings helper's version, with the rule ids,
construct paths and CDK_OWN_FINDINGS, replaces this file at merge)."""

from __future__ import annotations

from typing import Literal

from benchmark.validators.base import Finding
from benchmark.validators.cdk.outcome import SynthOutcome

Stage = Literal["python", "cdk", "template"]
_RULES = {
    "syntax_error": ("S1001", "python"),
    "python_error": ("S1002", "python"),
    "contract_error": ("S1003", "python"),
    "limit": ("S1004", "python"),
    "cdk_error": ("C1001", "cdk"),
}


def synth_findings(outcome: SynthOutcome, code: str) -> list[Finding]:
    """The stage's own findings: one error for an app that made no template, else none."""
    if outcome.status == "ok":
        return []
    rule, source = _RULES[outcome.status]
    message = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
    return [Finding(rule, "E", message, line=outcome.line, column=outcome.column, source=source)]


def map_template_findings(findings: list[Finding], template: str, code: str) -> list[Finding]:
    """Findings on the synthesized template, as they are (stand-in)."""
    return list(findings)


def stage_of(finding: Finding) -> Stage:
    """The stage a finding comes from, by its source."""
    if finding.source == "python":
        return "python"
    return "cdk" if finding.source == "cdk" else "template"
