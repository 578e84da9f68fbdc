"""Difficulty 1-5 of a reference template, by the DPIaC-Eval (IaCGen) thresholds.

Source: Tianyi2/IaCGen, Data/process_dataset.py (`calculate_difficulty`, `count_lines`,
`count_parameters`) and Code/evaluation/cloud_evaluation.py (`get_required_resource_types`),
the code that produced the `difficulty_level` column of DPIaC-Eval (arXiv 2506.05623):
lines are the non-blank lines of the file (comments included), resources the keys of the
top-level `Resources`, parameters the keys of the top-level `Parameters`. A level is the first
whose three strict upper bounds all hold; otherwise 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (level, lines <, resources <, parameters <)
THRESHOLDS: tuple[tuple[int, int, int, int], ...] = (
    (1, 50, 2, 2),
    (2, 100, 4, 5),
    (3, 150, 8, 9),
    (4, 200, 12, 14),
)


@dataclass(frozen=True)
class TemplateMetrics:
    lines: int
    resources: int
    parameters: int

    @property
    def difficulty(self) -> int:
        return difficulty_level(self.lines, self.resources, self.parameters)


def difficulty_level(lines: int, resources: int, parameters: int) -> int:
    for level, max_lines, max_resources, max_parameters in THRESHOLDS:
        if lines < max_lines and resources < max_resources and parameters < max_parameters:
            return level
    return 5


def template_metrics(text: str) -> TemplateMetrics:
    """Metrics of a template's text; raises ValueError if it does not parse to a mapping."""
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.decode.decode import decode_str

    template, errors = decode_str(text)
    if errors or not isinstance(template, dict):
        raise ValueError(f"template does not parse: {_first_error(errors)}")
    return TemplateMetrics(
        lines=sum(1 for line in text.splitlines() if line.strip()),
        resources=_size(template.get("Resources")),
        parameters=_size(template.get("Parameters")),
    )


def _size(section: Any) -> int:
    return len(section) if isinstance(section, dict) else 0


def _first_error(errors: list[Any]) -> str:
    """cfn-lint's first decode error on one line, with its line number when it does not say it."""
    if not errors:
        return "not a mapping"
    message = " ".join(str(errors[0].message).split())
    line = getattr(errors[0], "linenumber", None)
    return message if "(line" in message or not line else f"{message} (line {line})"
