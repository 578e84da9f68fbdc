"""Whether a job's model calls are getting through: a job in which no call succeeded has
failed, and a run of attempts that could not reach the server stops it early.

Fed every finished attempt (`record`); asked before every new one (`stop_reason`) and once the
job is over (`failure`). Knows nothing of Hydra or of how the job is recorded.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from benchmark.loop.feedback_loop import Attempt

CONNECTION_KINDS = frozenset({"connection"})  # ModelError kinds: the server was never reached
_TRIES = re.compile(r" \(after \d+ tries\)$")  # RetryingModel's suffix: the same cause either way


@dataclass
class CallHealth:
    """Counts one job's calls: those answered, those failed (by cause), and the current run of
    connection failures. `stop_after` is that run's limit (0 or None: no limit)."""

    model_id: str
    stop_after: int | None = None
    answered: int = 0
    failed: int = 0
    in_a_row: int = 0  # connection failures since the last attempt that was not one
    causes: Counter[str] = field(default_factory=Counter)

    def record(self, attempt: Attempt) -> None:
        if attempt.model_error is None:
            self.answered += 1  # a reply came back (whatever cfn-lint then made of it)
            self.in_a_row = 0
            return
        self.failed += 1
        self.causes[self.cause_of(attempt)] += 1
        connection = attempt.error_kind in CONNECTION_KINDS
        self.in_a_row = self.in_a_row + 1 if connection else 0

    def cause_of(self, attempt: Attempt) -> str:
        """The recorded model error without its kind, model and try count: the same cause
        reads the same on every attempt."""
        text = attempt.model_error or ""
        for prefix in (f"{attempt.error_kind}: ", f"{self.model_id}: "):
            text = text.removeprefix(prefix)
        return _TRIES.sub("", text)

    @property
    def stop_reason(self) -> str | None:
        """Why no further attempt should start, or None."""
        if not self.stop_after or self.in_a_row < self.stop_after:
            return None
        return (
            f"stopped after {self.in_a_row} attempts in a row could not reach the server: "
            f"{self.main_cause()}"
        )

    def failure(self, unfinished_chains: int) -> str | None:
        """One line saying why the job failed (None: it did not, on this count): it stopped
        early, or calls were made and none was answered."""
        if self.stop_reason is not None:
            return f"{self.stop_reason}; {unfinished_chains} chains left for a resume"
        if self.failed and not self.answered:
            return f"every call failed: {self.main_cause()}"
        return None

    def main_cause(self) -> str:
        (cause, count), *others = self.causes.most_common()
        share = f" ({count} of {self.failed} attempts" if others else f" ({count} attempts"
        return cause + share + (f"; {len(others)} other causes)" if others else ")")
