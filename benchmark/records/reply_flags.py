"""What the edge did to a model's reply, marked on its attempt row and counted per job: usage
figures dropped as unsound (benchmark/models/usage.py), a reply stopped at max_tokens (the
provider's finish reason) and a reply cut at MAX_REPLY_CHARS (benchmark/loop/extract.py). A job
warns once, with the counts, never once per attempt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchmark.loop.extract import reply_truncated
from benchmark.models.base import ModelOutput
from benchmark.models.usage import flags_text
from benchmark.records.tables import MAX_REPLY_CHARS


def truncation(output: ModelOutput) -> str | None:
    """Where a reply was cut: "max_tokens" (it hit the token limit; thinking may have eaten
    it), "reply_chars" (longer than MAX_REPLY_CHARS), or None."""
    if output.hit_token_limit:
        return "max_tokens"
    return "reply_chars" if reply_truncated(output.text) else None


def reply_columns(output: ModelOutput | None) -> dict[str, Any]:
    """The `attempts` columns `usage_flags`, `truncated` and `truncation` (null where no reply
    came); `truncated` is true whenever `truncation` is set."""
    if output is None:
        return {"usage_flags": None, "truncated": None, "truncation": None}
    cut = truncation(output)
    return {
        "usage_flags": flags_text(output.usage_flags),
        "truncated": cut is not None,
        "truncation": cut,
    }


@dataclass
class ReplyFlags:
    """A job's count (in job.json) of the replies the edge had to mend."""

    replies: int = 0
    usage_flagged: int = 0  # replies with a usage figure dropped as unsound
    usage_flags: dict[str, int] = field(default_factory=dict)  # "output_tokens=absurd" -> replies
    truncated: int = 0  # replies cut at MAX_REPLY_CHARS
    token_limit: int = 0  # replies stopped at max_tokens

    @classmethod
    def from_rows(cls, attempts: pd.DataFrame) -> ReplyFlags:
        """The same counts over a job's recorded `attempts` rows (older rows: no flags)."""
        flags = attempts["usage_flags"].dropna()
        flags = flags[flags != ""]
        counted: dict[str, int] = {}
        for text in flags:
            for flag in str(text).split("; "):
                counted[flag] = counted.get(flag, 0) + 1
        # rows from before `truncation` was recorded: `truncated` meant cut at MAX_REPLY_CHARS
        cut = attempts["truncation"].where(
            attempts["truncation"].notna() | ~attempts["truncated"].fillna(False).astype(bool),
            "reply_chars",
        )
        return cls(
            replies=int(attempts["reply"].notna().sum()),
            usage_flagged=len(flags),
            usage_flags=counted,
            truncated=int((cut == "reply_chars").sum()),
            token_limit=int((cut == "max_tokens").sum()),
        )

    def add(self, output: ModelOutput) -> None:
        self.replies += 1
        self.usage_flagged += bool(output.usage_flags)
        for name, why in output.usage_flags.items():
            flag = f"{name}={why}"
            self.usage_flags[flag] = self.usage_flags.get(flag, 0) + 1
        cut = truncation(output)
        self.truncated += cut == "reply_chars"
        self.token_limit += cut == "max_tokens"

    def warning(self) -> str | None:
        """One line on what was mended, or None when nothing was."""
        parts = []
        if self.usage_flagged:
            kinds = ", ".join(f"{flag} ({n})" for flag, n in self.usage_flags.items())
            parts.append(
                f"{self.usage_flagged} of {self.replies} replies gave usage figures that are "
                f"missing or unsound, recorded as null ({kinds}; column usage_flags)"
            )
        if self.token_limit:
            parts.append(
                f"{self.token_limit} of {self.replies} replies stopped at max_tokens and may "
                "be cut short (column truncation; raise model.max_tokens or use auto)"
            )
        if self.truncated:
            parts.append(
                f"{self.truncated} of {self.replies} replies were cut at {MAX_REPLY_CHARS:,} "
                "characters before the template was looked for (column truncated)"
            )
        return "; ".join(parts) or None
