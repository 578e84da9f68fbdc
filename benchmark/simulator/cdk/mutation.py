"""A CDK mistake: which kind, the stage it fails at, and the lines it replaces."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "syntax_slip",
    "misspelt_keyword",
    "wrong_enum",
    "invalid_name",
    "escape_hatch",
    "missing_grant",
)
RULE_OF_KIND = {
    "syntax_slip": "S1001",
    "misspelt_keyword": "S1002",
    "wrong_enum": "S1002",
    "invalid_name": "C1001",
    "escape_hatch": "E3002",
    "missing_grant": "intent",
}


@dataclass(frozen=True)
class CdkMutation:
    """One mistake: reference lines [start, end) become `lines`. `signature` is the text a
    finding of it carries (the misspelt word, the bad value); `checks` the descriptions of
    the intent checks a missing grant fails."""

    kind: str
    start: int
    end: int
    lines: tuple[str, ...]
    signature: str = ""
    checks: tuple[str, ...] = ()

    @property
    def rule_id(self) -> str:
        return RULE_OF_KIND[self.kind]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.start}:{self.signature}"

    def overlaps(self, other: CdkMutation) -> bool:
        """Whether the two touch a line in common (every site spans at least one)."""
        return self.start < other.end and other.start < self.end
