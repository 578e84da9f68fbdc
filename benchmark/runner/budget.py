"""A sweep's spend, shared by all its jobs (even in other processes) through one SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

LEDGER_FILE = "budget.sqlite"


class BudgetLedger:
    """Adds up cost and tokens per job; says when the sweep's limits are reached."""

    def __init__(
        self,
        sweep_dir: str | Path,
        job_id: int,
        max_usd: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.job_id = job_id
        self.max_usd = max_usd
        self.max_tokens = max_tokens
        self._db: sqlite3.Connection | None = None
        if self.limited:
            path = Path(sweep_dir) / LEDGER_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS spend (job_id INTEGER PRIMARY KEY, "
                "usd REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0)"
            )

    @property
    def limited(self) -> bool:
        return self.max_usd is not None or self.max_tokens is not None

    def charge(self, usd: float | None, tokens: int | None) -> None:
        """Add one call's spend (unknown cost counts as 0 USD but its tokens count). Spend
        is never negative: a negative (or unknown, or not a number) amount counts as 0, so
        no reply can lower the sweep's totals below what it spent."""
        if self._db is None:
            return
        usd = usd if isinstance(usd, int | float) and usd > 0 else 0.0  # NaN > 0 is False
        tokens = tokens if isinstance(tokens, int) and tokens > 0 else 0
        self._db.execute(
            "INSERT INTO spend (job_id, usd, tokens) VALUES (?, ?, ?) ON CONFLICT(job_id) "
            "DO UPDATE SET usd = usd + excluded.usd, tokens = tokens + excluded.tokens",
            (self.job_id, float(usd), tokens),
        )

    def totals(self) -> tuple[float, int]:
        if self._db is None:
            return 0.0, 0
        usd, tokens = self._db.execute("SELECT SUM(usd), SUM(tokens) FROM spend").fetchone()
        return float(usd or 0.0), int(tokens or 0)

    def exhausted(self) -> str | None:
        """Why no new attempt may start, or None while the sweep is within its limits."""
        if self._db is None:
            return None
        usd, tokens = self.totals()
        if self.max_usd is not None and usd >= self.max_usd:
            return f"budget.max_usd reached: ${usd:.4f} of ${self.max_usd:g}"
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return f"budget.max_tokens reached: {tokens:,} of {self.max_tokens:,}"
        return None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
