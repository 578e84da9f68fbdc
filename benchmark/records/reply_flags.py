"""What the edge did to a model's reply, marked on its attempt row and counted per job: usage
figures dropped as unsound (benchmark/models/usage.py) and a reply cut at MAX_REPLY_CHARS
(benchmark/loop/extract.py). A job warns once, with the counts, never once per attempt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchmark.loop.extract import reply_truncated
from benchmark.models.base import ModelOutput
from benchmark.models.usage import flags_text
from benchmark.records.tables import MAX_REPLY_CHARS


def reply_columns(output: ModelOutput | None) -> dict[str, Any]:
    """The `attempts` columns `usage_flags` and `truncated` (null where no reply came)."""
    if output is None:
        return {"usage_flags": None, "truncated": None}
    return {
        "usage_flags": flags_text(output.usage_flags),
        "truncated": reply_truncated(output.text),
    }


@dataclass
class ReplyFlags:
    """A job's count (in job.json) of the replies the edge had to mend."""

    replies: int = 0
    usage_flagged: int = 0  # replies with a usage figure dropped as unsound
    usage_flags: dict[str, int] = field(default_factory=dict)  # "output_tokens=absurd" -> replies
    truncated: int = 0  # replies cut at MAX_REPLY_CHARS

    @classmethod
    def from_rows(cls, attempts: pd.DataFrame) -> ReplyFlags:
        """The same counts over a job's recorded `attempts` rows (older rows: no flags)."""
        flags = attempts["usage_flags"].dropna()
        flags = flags[flags != ""]
        counted: dict[str, int] = {}
        for text in flags:
            for flag in str(text).split("; "):
                counted[flag] = counted.get(flag, 0) + 1
        return cls(
            replies=int(attempts["reply"].notna().sum()),
            usage_flagged=len(flags),
            usage_flags=counted,
            truncated=int(attempts["truncated"].fillna(False).astype(bool).sum()),
        )

    def add(self, output: ModelOutput) -> None:
        self.replies += 1
        self.usage_flagged += bool(output.usage_flags)
        for name, why in output.usage_flags.items():
            flag = f"{name}={why}"
            self.usage_flags[flag] = self.usage_flags.get(flag, 0) + 1
        self.truncated += reply_truncated(output.text)

    def warning(self) -> str | None:
        """One line on what was mended, or None when nothing was."""
        parts = []
        if self.usage_flagged:
            kinds = ", ".join(f"{flag} ({n})" for flag, n in self.usage_flags.items())
            parts.append(
                f"{self.usage_flagged} of {self.replies} replies gave usage figures that are "
                f"missing or unsound, recorded as null ({kinds}; column usage_flags)"
            )
        if self.truncated:
            parts.append(
                f"{self.truncated} of {self.replies} replies were cut at {MAX_REPLY_CHARS:,} "
                "characters before the template was looked for (column truncated)"
            )
        return "; ".join(parts) or None
