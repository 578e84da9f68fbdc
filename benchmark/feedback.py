"""Feedback formatters: how findings are written back to the model on a repair turn.

Each formatter is a named function of the findings (and, where it asks, of the failed checks).
Prompt sets choose one by name (`prompts.feedback`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from benchmark.validators.base import CheckResult, Finding

_LEVEL_WORD = {"E": "error", "W": "warning", "I": "info"}


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    """cfn-lint's own output order: by line, then rule id."""
    return sorted(findings, key=lambda f: (f.line or 0, f.rule_id, f.column or 0))


def format_raw(findings: Sequence[Finding], filename: str) -> str:
    """cfn-lint's default text output, as the paper fed it back."""
    blocks = [
        f"{f.rule_id} {f.message}\n{filename}:{f.line or 1}:{f.column or 1}"
        for f in _ordered(findings)
    ]
    return "\n\n".join(blocks)


def readable_path(path: Sequence[str | int]) -> str:
    """`Resources.Bucket.Properties.Tags[0]` from cfn-lint's path list."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(template)"


def format_structured(findings: Sequence[Finding], filename: str) -> str:
    """One numbered item per finding: rule, level, readable path, line, message."""
    lines = [
        f"{n}. {f.rule_id} ({_LEVEL_WORD[f.level]}) at {readable_path(f.path)}, "
        f"line {f.line or 1}: {f.message}"
        for n, f in enumerate(_ordered(findings), start=1)
    ]
    return "\n".join(lines)


Formatter = Callable[[Sequence[Finding], str], str]
FORMATTERS: dict[str, Formatter] = {"raw": format_raw, "structured": format_structured}


def format_failed_checks(checks: Sequence[CheckResult]) -> str:
    """Failed intent/security checks in plain words, for prompt sets that feed them back."""
    failed = [c for c in checks if not c.passed]
    return "\n".join(f"- {c.description or c.check_id}" for c in failed)


def render_feedback(
    style: str,
    findings: Sequence[Finding],
    filename: str,
    checks: Sequence[CheckResult] = (),
) -> str:
    """The feedback text for one repair turn."""
    text = FORMATTERS[style](findings, filename)
    failed = format_failed_checks(checks)
    if failed:
        heading = "The template also does not yet do what was asked:"
        text = f"{text}\n\n{heading}\n{failed}" if text else f"{heading}\n{failed}"
    return text
