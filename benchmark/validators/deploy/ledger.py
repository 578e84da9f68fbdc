"""Every stack a sweep's deploy validator creates, shared by all its jobs through one SQLite file.

It enforces `deploy.max_stacks` across jobs (even in other processes) and is the sweep's record
of what it created and when each stack was confirmed deleted (`runs/<sweep>/deploy.sqlite`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

LEDGER_FILE = "deploy.sqlite"


class StackLedger:
    """Claims a stack before it is created; refuses once the sweep's cap is reached."""

    def __init__(self, sweep_dir: str | Path, max_stacks: int | None = None) -> None:
        self.max_stacks = max_stacks
        path = Path(sweep_dir) / LEDGER_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stacks (name TEXT PRIMARY KEY, job_id INTEGER NOT NULL, "
            "attempt_id TEXT NOT NULL, mode TEXT NOT NULL, created_at TEXT NOT NULL, "
            "deleted_at TEXT)"
        )

    def claim(self, name: str, job_id: int, attempt_id: str, mode: str) -> bool:
        """Record `name` as about to be created; False (nothing recorded) when the cap is hit."""
        with self._db:  # one transaction: no two jobs can both take the last place
            self._db.execute("BEGIN IMMEDIATE")
            if self.max_stacks is not None and self.created() >= self.max_stacks:
                return False
            self._db.execute(
                "INSERT INTO stacks (name, job_id, attempt_id, mode, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, job_id, attempt_id, mode, _now()),
            )
        return True

    def deleted(self, name: str) -> None:
        self._db.execute("UPDATE stacks SET deleted_at = ? WHERE name = ?", (_now(), name))

    def created(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM stacks").fetchone()[0])

    def undeleted(self, job_id: int | None = None) -> list[str]:
        """Stacks never confirmed deleted (of one job, if given)."""
        query = "SELECT name FROM stacks WHERE deleted_at IS NULL"
        rows = (
            self._db.execute(query + " AND job_id = ?", (job_id,))
            if job_id is not None
            else self._db.execute(query)
        )
        return [name for (name,) in rows]

    def close(self) -> None:
        self._db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
