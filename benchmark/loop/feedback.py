"""Feedback designs: how findings are written back to the model on a repair turn.

Each design is a named formatter; a prompt set chooses one (`prompts.feedback`):

- `raw`: cfn-lint's default text output, as the paper fed it back.
- `structured`: one numbered item per finding: rule, level, readable path, line, message.
- `explained`: `structured`, plus each distinct rule's description and documentation link from
  cfn-lint's own rule metadata, plus the original request restated.
- `excerpt`: `structured`, plus the offending template lines with a little context.
- `errors-only`: `structured` over error-level findings only (warnings withheld).
- `intent`: `structured`, plus the problem's failed intent checks in plain words.

A CDK app's findings (the caller names the file `app.py` and passes the model's code as the
text) are shown in the model's terms: the construct that made a finding, the line of app.py
where the model named it (no line where none is known), the project's own rule ids (S1001...,
C1001..., benchmark/validators/cdk/findings.py) described like cfn-lint's.

Failed checks of the sources a prompt set lists in `feed_back_checks` are appended to any design;
so are deployment errors (findings of source `deploy`) when it lists `deploy`, and an edit's
collateral changes (source `collateral`) when it lists `collateral`. Neither ever enters a
design's own list: they are not the linter's and carry no line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

from benchmark.validators.base import CheckResult, Finding
from benchmark.validators.cdk.findings import CDK_RULES

_LEVEL_WORD = {"E": "error", "W": "warning", "I": "info"}
DEPLOY_SOURCE = "deploy"
COLLATERAL_SOURCE = "collateral"
EXCERPT_CONTEXT_LINES = 2


@dataclass(frozen=True)
class FeedbackInput:
    """Everything a design may use to write one repair turn's feedback."""

    findings: Sequence[Finding]
    filename: str  # what cfn-lint would call the file: template.yaml / template.json; app.py
    template: str = ""  # the text the model wrote (a CDK app's code): findings' lines are in it
    request: str = ""  # the problem's natural-language prompt
    checks: Sequence[CheckResult] = field(default_factory=tuple)


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    """cfn-lint's own text output order: by line, then rule id, ties in the linter's order
    (its CLI sorts its matches stably on exactly this key)."""
    return sorted(findings, key=lambda f: (f.line or 0, f.rule_id))


def readable_path(path: Sequence[str | int]) -> str:
    """`Resources.Bucket.Properties.Tags[0]` from cfn-lint's path list."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(template)"


def is_app(data: FeedbackInput) -> bool:
    """A CDK app's feedback (the file is Python), not a template's."""
    return data.filename.endswith(".py")


def _subject(data: FeedbackInput) -> str:
    return "app" if is_app(data) else "template"


def _raw_location(data: FeedbackInput, f: Finding) -> str:
    """`file:line:col`; a CDK finding with no known line in app.py names only the file."""
    if is_app(data) and f.line is None:
        return data.filename
    return f"{data.filename}:{f.line or 1}:{f.column or 1}"


def format_raw(data: FeedbackInput) -> str:
    """cfn-lint's default text output: `RULE message` then `file:line:col`, blank-separated
    (a CDK finding's construct follows its message)."""
    return "\n\n".join(
        f"{f.rule_id} {f.message}"
        + (f" (construct {f.construct})" if f.construct else "")
        + f"\n{_raw_location(data, f)}"
        for f in _ordered(data.findings)
    )


def _where(f: Finding, filename: str | None) -> str:
    """Where a finding is: `at PATH, line N`; in a CDK app (`filename` given) the construct and
    its template path, and the app's line, each only where known."""
    if filename is None:
        return f"at {readable_path(f.path)}, line {f.line or 1}"
    place = readable_path(f.path) if f.path else ""
    if f.construct:
        place = f"construct {f.construct}" + (f" ({place})" if place else "")
    line = f"{filename} line {f.line}" if f.line else ""
    if place and line:
        return f"at {place}, {line}"
    return f"at {place or line}" if place or line else f"in {filename}"


def _item(n: int, f: Finding, filename: str | None = None) -> str:
    """One numbered finding: rule, level, where (readable path and line), message."""
    return f"{n}. {f.rule_id} ({_LEVEL_WORD[f.level]}) {_where(f, filename)}: {f.message}"


def _numbered(findings: Sequence[Finding], filename: str | None = None) -> str:
    return "\n".join(_item(n, f, filename) for n, f in enumerate(_ordered(findings), start=1))


def _app_file(data: FeedbackInput) -> str | None:
    return data.filename if is_app(data) else None


def format_structured(data: FeedbackInput) -> str:
    return _numbered(data.findings, _app_file(data))


@cache
def rule_catalog() -> dict[str, tuple[str, str]]:
    """rule id -> (short description, documentation link), from cfn-lint's loaded rules."""

    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner.cli import Runner

    rules = Runner(ConfigMixIn(["--config-file", os.devnull])).rules
    return {rule_id: (rule.shortdesc, rule.source_url) for rule_id, rule in rules.items()}


def format_explained(data: FeedbackInput) -> str:
    rule_ids = {f.rule_id for f in data.findings}
    # the project's own rules (a CDK app's stages) need no cfn-lint loaded
    catalog = CDK_RULES if rule_ids <= CDK_RULES.keys() else {**rule_catalog(), **CDK_RULES}
    notes = []
    for rule_id in sorted(rule_ids):
        shortdesc, link = catalog.get(rule_id, ("", ""))
        if shortdesc:
            notes.append(f"- {rule_id}: {shortdesc}" + (f" (see {link})" if link else ""))
    parts = [_numbered(data.findings, _app_file(data))]
    if notes:
        parts.append("What these rules check:\n" + "\n".join(notes))
    if data.request:
        parts.append(
            f"The {_subject(data)} must still do what was originally asked:\n{data.request}"
        )
    return "\n\n".join(parts)


def format_excerpt(data: FeedbackInput) -> str:
    lines = data.template.splitlines()
    blocks = []
    for n, finding in enumerate(_ordered(data.findings), start=1):
        header = _item(n, finding, _app_file(data))
        if finding.line and lines:
            first = max(finding.line - EXCERPT_CONTEXT_LINES, 1)
            last = min((finding.end_line or finding.line) + EXCERPT_CONTEXT_LINES, len(lines))
            shown = "\n".join(
                f"{'>' if first + i == finding.line else ' '} {first + i:4d} | {text}"
                for i, text in enumerate(lines[first - 1 : last])
            )
            header += "\n" + shown
        blocks.append(header)
    return "\n\n".join(blocks)


def format_errors_only(data: FeedbackInput) -> str:
    return _numbered([f for f in data.findings if f.level == "E"], _app_file(data))


def format_failed_checks(checks: Sequence[CheckResult]) -> str:
    """Failed intent/security checks in plain words."""
    return "\n".join(
        f"- {c.description or c.check_id}" + (f" ({c.resource})" if c.resource else "")
        for c in checks
        if not c.passed
    )


def format_intent(data: FeedbackInput) -> str:
    failed = format_failed_checks([c for c in data.checks if c.source == "intent"])
    parts = [_numbered(data.findings, _app_file(data))] if data.findings else []
    if failed:
        parts.append(f"The {_subject(data)} does not yet do what was asked:\n{failed}")
    return "\n\n".join(parts)


Formatter = Callable[[FeedbackInput], str]
FORMATTERS: dict[str, Formatter] = {
    "raw": format_raw,
    "structured": format_structured,
    "explained": format_explained,
    "excerpt": format_excerpt,
    "errors-only": format_errors_only,
    "intent": format_intent,
}


def format_deploy_errors(findings: Sequence[Finding]) -> str:
    """Deployment errors, numbered, in the order CloudFormation reported them."""
    return "\n".join(
        f"{n}. {f.rule_id} at {readable_path(f.path)}: {f.message}"
        for n, f in enumerate(findings, start=1)
    )


def format_collateral(findings: Sequence[Finding]) -> str:
    """Collateral changes, numbered: rule, where, what."""
    return "\n".join(
        f"{n}. {f.rule_id} at {readable_path(f.path)}: {f.message}"
        for n, f in enumerate(findings, start=1)
    )


def render_feedback(design: str, data: FeedbackInput, check_sources: Sequence[str] = ()) -> str:
    """The feedback text of one repair turn: the design's text over the linter's findings, then
    any failed checks of the listed sources that the design has not already shown, then the
    deployment errors if `deploy` is listed, then the collateral changes if `collateral` is."""
    deploy = [f for f in data.findings if f.source == DEPLOY_SOURCE]
    collateral = [f for f in data.findings if f.source == COLLATERAL_SOURCE]
    lint = [f for f in data.findings if f.source not in (DEPLOY_SOURCE, COLLATERAL_SOURCE)]
    text = FORMATTERS[design](replace(data, findings=lint) if deploy or collateral else data)
    shown = {"intent"} if design == "intent" else set()
    extra = [c for c in data.checks if c.source in check_sources and c.source not in shown]
    sections = [
        (f"The {_subject(data)} also fails these checks:", format_failed_checks(extra)),
        (
            "Deploying the template with CloudFormation failed:",
            format_deploy_errors(deploy) if DEPLOY_SOURCE in check_sources else "",
        ),
        (
            "The change also altered what should have stayed as it was:",
            format_collateral(collateral) if COLLATERAL_SOURCE in check_sources else "",
        ),
    ]
    for heading, body in sections:
        if body:
            text = f"{text}\n\n{heading}\n{body}" if text else f"{heading}\n{body}"
    return text
