"""The dataset check of a `cdk-python` problem: its reference app synthesizes with no error
or warning annotation from CDK, the template is lint-clean after the findings CDK itself makes
(`CDK_OWN_FINDINGS`), and it passes the problem's intent checks, none of which passes on an
empty template.

Synth runs in this process (benchmark/validators/cdk/synth_app.py), one app after another: the
construct library is loaded once for them all. The apps are the project's own, so no sandbox.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.problems.dataset import Problem
from benchmark.problems.intent_language import evaluate_text, vacuous_failures
from benchmark.validators.cdk import synth_app
from benchmark.validators.cdk.findings import map_template_findings, synth_findings
from benchmark.validators.cdk.outcome import SynthOutcome

Lint = Callable[[str], list[Any]]  # template text -> findings with .level, .rule_id, .path
Synth = Callable[[str], dict[str, Any]]  # app source -> synth_app's outcome dict
ROOT = Path(__file__).resolve().parents[2]
JSII_CACHE = ROOT / "runs" / ".cache" / "jsii"


def local_synth() -> Synth:
    """Synthesize in this process, each app in a scratch folder of its own; Node and the jsii
    cache are the project's (the cdk extra's runtime, runs/.cache/jsii) unless set already."""
    os.environ.setdefault("JSII_NODE", synth_app.node_path())
    os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(JSII_CACHE))

    def synth(code: str) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="check-cdk-") as scratch:
            return synth_app.synth(code, Path(scratch))

    return synth


def app_failures(problem: Problem, lint: Lint, synth: Synth) -> list[str]:
    """Everything wrong with one cdk-python problem's reference app, each as one line."""
    if problem.reference_app is None:
        return ["field 'reference_app': missing (every cdk-python problem needs one)"]
    failures: list[str] = []
    if not problem.intent_checks:
        failures.append("field 'intent_checks': no intent checks")
    outcome = synth(problem.reference_app)
    if outcome.get("status") != "ok":
        where = f" line {outcome['line']}" if outcome.get("line") else ""
        return [
            *failures,
            f"field 'reference_app': synth {outcome.get('status')}{where}: "
            f"{outcome.get('error_type')}: {outcome.get('message')}",
        ]
    template = outcome["template"]
    # CDK's error and warning annotations (C1002, C2001) count as the loop counts them
    annotated = synth_findings(SynthOutcome.from_dict(outcome), problem.reference_app)
    for finding in annotated:
        failures.append(
            f"field 'reference_app': CDK {finding.rule_id} at {finding.construct}: "
            f"{finding.message}"
        )
    findings = map_template_findings(lint(template), template, problem.reference_app)
    for finding in findings:
        if finding.level in ("E", "W"):
            at = "/".join(str(p) for p in finding.path)
            failures.append(
                f"field 'reference_app': cfn-lint {finding.rule_id} at {at}: {finding.message}"
            )
    _, outcomes = evaluate_text(problem.intent_checks, template)
    for check, result in zip(problem.intent_checks, outcomes, strict=True):
        if not result.passed:
            failures.append(f"intent check '{check.id}': fails on the synthesized reference app")
    failures.extend(vacuous_failures(problem.intent_checks))
    return failures
