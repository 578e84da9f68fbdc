"""The dataset check behind `make check-datasets`: every problem is usable and no check is vacuous.

For each problem: the file loads (schema, unique ids, difficulty equal to the computed one); the
reference template is clean under the pinned cfn-lint (no errors, no warnings) and passes all its
intent checks; every intent check fails on a template with empty `Resources`; every near miss (a
plausible wrong template, written as edits of the reference) fails at least one check.

An edit problem's expected template (its reference) is held to the same, and more: it changes
nothing it must not (no collateral change against the initial template), and the change is
needed (not every intent check already passes on the initial template). Near misses are
optional for an edit problem. Each edit problem gets a line in the report.

A `cdk-python` problem's reference app is synthesized and its template held to the same
(lint-clean after the findings CDK itself makes, passing its intent checks, none vacuous):
benchmark/problems/check_cdk.py.

Prompt-only problems (no reference template, `no_reference` saying why) are skipped and named:
without a reference there is nothing to check them against. Intent checks and near misses are
required of the project's own problems (`source: project ...`); an imported problem without
them (a folder of templates, Multi-IaC-Eval) is named in a note (intent: not available) and its
reference is linted like any other. Each problem whose reference fails cfn-lint is listed with
its rule ids, so an imported folder says which references today's cfn-lint rejects.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.problems.check_cdk import Synth, app_failures
from benchmark.problems.dataset import DatasetError, NearMiss, Problem, load_dataset_files
from benchmark.problems.intent_language import evaluate_text, parse_template, vacuous_failures
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter, default_cache
from benchmark.validators.collateral import Scope, collateral_findings

Lint = Callable[[str], list[Any]]  # template text -> findings with .level, .rule_id, .line


@dataclass
class DatasetReport:
    directory: Path
    problems: int = 0
    failures: list[str] = field(default_factory=list)
    prompt_only: list[str] = field(default_factory=list)  # ids skipped: nothing to check them on
    edits: list[str] = field(default_factory=list)  # one line per edit problem: what was proved
    no_intent: list[str] = field(default_factory=list)  # imported ids without intent checks
    lint_failing: dict[str, list[str]] = field(default_factory=dict)  # id -> cfn-lint rule ids

    @property
    def ok(self) -> bool:
        return not self.failures


def _segments(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in path.strip("/").split("/")]


def _walk(node: Any, segments: list[str | int], path: str) -> Any:
    for segment in segments:
        try:
            node = node[segment]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"path '{path}' is not in the reference template") from None
    return node


def apply_near_miss(template: dict[str, Any], near_miss: NearMiss) -> dict[str, Any]:
    """The reference template (as written, plain values) with the near miss's edits applied."""
    edited = copy.deepcopy(template)
    for path in near_miss.delete:
        *parents, last = _segments(path)
        container = _walk(edited, parents, path)
        _walk(container, [last], path)  # must exist
        del container[last]
    for path, value in near_miss.replace.items():
        *parents, last = _segments(path)
        container = _walk(edited, parents, path)
        if isinstance(container, list) and last == len(container):
            container.append(value)  # one past the end: a new list item
            continue
        if isinstance(container, list):
            _walk(container, [last], path)
        container[last] = value
    return edited


def is_curated(problem: Problem) -> bool:
    """One of the project's own problems, which must carry intent checks and near misses."""
    return (problem.source or "").startswith("project")


def problem_failures(problem: Problem, lint: Lint, rules: list[str] | None = None) -> list[str]:
    """Everything wrong with one loaded problem, each as one line; `rules` collects the rule
    ids of the reference's cfn-lint errors and warnings."""
    if problem.reference_template is None:
        return [
            "field 'reference_template': missing (every checked problem needs one; "
            "a prompt-only problem says why in 'no_reference')"
        ]
    failures: list[str] = []
    if problem.difficulty is None:
        failures.append("field 'difficulty': missing (compute it from the reference template)")
    if not problem.intent_checks and (is_curated(problem) or problem.near_misses):
        failures.append("field 'intent_checks': no intent checks")
    curated_or_checked = is_curated(problem) or bool(problem.intent_checks)
    if not problem.near_misses and not problem.is_edit and curated_or_checked:
        failures.append("field 'near_misses': no near misses")
    for finding in lint(problem.reference_template):
        if finding.level in ("E", "W"):
            if rules is not None and finding.rule_id not in rules:
                rules.append(finding.rule_id)
            failures.append(
                f"field 'reference_template': cfn-lint {finding.rule_id} line {finding.line}: "
                f"{finding.message}"
            )
    parsed, outcomes = evaluate_text(problem.intent_checks, problem.reference_template)
    if not parsed.ok:
        return [*failures, f"field 'reference_template': does not parse: {parsed.error}"]
    for check, outcome in zip(problem.intent_checks, outcomes, strict=True):
        if not outcome.passed:
            failures.append(f"intent check '{check.id}': fails on the reference template")
    failures.extend(vacuous_failures(problem.intent_checks))
    assert parsed.written is not None
    for index, near_miss in enumerate(problem.near_misses):
        where = f"near_misses[{index}]"
        try:
            edited = apply_near_miss(parsed.written, near_miss)
        except KeyError as exc:
            failures.append(f"field '{where}': {exc.args[0]}")
            continue
        _, outcomes = evaluate_text(problem.intent_checks, json.dumps(edited))
        if all(outcome.passed for outcome in outcomes):
            failures.append(f"field '{where}': every intent check passes ({near_miss.why})")
    return failures + edit_failures(problem, parsed.written)


def edit_failures(problem: Problem, expected: dict[str, Any]) -> list[str]:
    """An edit problem's own failures: its expected template (`expected`, parsed) makes
    collateral changes, or its intent checks all pass on the initial template already."""
    if problem.initial_template is None:
        return []
    initial = parse_template(problem.initial_template)
    if initial.written is None:
        return [f"field 'initial_template': does not parse: {initial.error}"]
    failures = [
        f"field 'expected_template': collateral change {f.rule_id} at "
        f"{'/'.join(map(str, f.path))}: {f.message}"
        for f in collateral_findings(initial.written, expected, Scope.of(problem))
    ]
    _, outcomes = evaluate_text(problem.intent_checks, problem.initial_template)
    if outcomes and all(outcome.passed for outcome in outcomes):
        failures.append(
            "field 'intent_checks': every check already passes on the initial template "
            "(none checks the change)"
        )
    return failures


def check_dataset(directory: str | Path, lint: Lint, synth: Synth | None = None) -> DatasetReport:
    """Check every problem under `directory`; `synth` synthesizes reference apps (cdk-python
    problems; without one, each is a failure saying so)."""
    report = DatasetReport(Path(directory))
    try:
        loaded = load_dataset_files(directory)
    except DatasetError as exc:
        report.failures.append(str(exc))
        return report
    report.problems = len(loaded)
    for problem, path in loaded:
        if problem.no_reference is not None:
            report.prompt_only.append(problem.id)
            continue
        if not problem.intent_checks and not is_curated(problem):
            report.no_intent.append(problem.id)
        if problem.language == "cdk-python":
            failures = (
                app_failures(problem, lint, synth)
                if synth is not None
                else ["field 'reference_app': not synthesized (the check was given no synth)"]
            )
            report.failures.extend(f"{path}: {line}" for line in failures)
            continue
        rules: list[str] = []
        failures = problem_failures(problem, lint, rules)
        report.failures.extend(f"{path}: {line}" for line in failures)
        if rules:
            report.lint_failing[problem.id] = rules
        if problem.is_edit:
            report.edits.append(_edit_line(problem, failures))
    return report


def _edit_line(problem: Problem, failures: list[str]) -> str:
    """What the check proved of one edit problem, or how many ways it failed."""
    if failures:
        return f"{problem.id} ({problem.edit_kind or 'edit'}): {len(failures)} failure(s)"
    intent = (
        f"passes its {len(problem.intent_checks)} intent check(s)"
        if problem.intent_checks
        else "no intent checks (intent: not available)"
    )
    return (
        f"{problem.id} ({problem.edit_kind or 'edit'}): expected template lint-clean, {intent}, "
        "no collateral change"
    )


def warm_lint() -> Lint:
    """The pinned cfn-lint, in process, with the benchmark's default settings, through the
    persistent lint cache."""

    return WarmLinter(LintSettings(), default_cache()).lint


def near_miss_lint_clean(problem: Problem, lint: Lint) -> list[bool]:
    """Per near miss: is it lint-clean too (wrong, yet cfn-lint has nothing to say)?"""
    assert problem.reference_template is not None
    written = parse_template(problem.reference_template).written or {}
    return [
        not any(f.level in ("E", "W") for f in lint(json.dumps(apply_near_miss(written, nm))))
        for nm in problem.near_misses
    ]
