"""A persistent, content-addressed cache of lint results, shared by every process (SQLite).

A template is linted once per linter, date and settings, whichever path asks (the loop,
rescore, import-paper, check-datasets, calibration's and the simulator's site checks, the test
suite). The key is the sha256 of:

- the template's exact text;
- the cfn-lint release, and the digest of its installed rule set (`rules_digest`: every file of
  its `cfnlint` package by path, size and modification time, and this project's engine script,
  which turns cfn-lint's matches into findings), so a patched install is not trusted blindly;
- the date cfn-lint's clock read (`lint.as_of`, or the day of the lint);
- the settings: regions, ignored, included and mandatory checks, and whether the clock was
  frozen.

The value is the findings exactly as the engine returned them (plain JSON data, which
round-trips losslessly) and the clock's date. A hit is therefore what a fresh lint would give.

Safe by construction: one SQLite file in WAL mode with a busy timeout, several writers at once
(joblib jobs, lint workers); a file that is not SQLite, or not this cache's schema, is set
aside (`<file>.aside-<time>`) with one line on stderr and rebuilt; an error while in use
(a disk that fills up, a file overwritten under a run) says one line and the process carries
on without the cache. The number of entries is bounded: the least recently used are evicted.
`lint.cache=off` turns it off; `iacbench clean-cache` (`make clean-cache`) empties it.
The cache is transport, not result: none of its settings enter the config hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from filelock import FileLock

from benchmark.validators.cfn_lint import engine as lint_engine

FORMAT = "iacbench lint cache"
SCHEMA = "1"
DEFAULT_PATH = "runs/.cache/lint.sqlite"
# Over the default path only: where the cache lives when the config does not say (the test
# suite points it at a folder of its session).
PATH_ENV = "IACBENCH_LINT_CACHE"
BUSY_TIMEOUT_S = 60.0
TOUCH_AFTER_S = 60  # a hit refreshes its entry's last use at most once a minute (fewer writes)
ENGINE_SCRIPT = Path(lint_engine.__file__).resolve()

Linted = tuple[list[dict[str, Any]], date]


def resolve_path(configured: str | Path) -> Path:
    """The cache file: `configured`, or `$IACBENCH_LINT_CACHE` where the default is left."""
    if str(configured) == DEFAULT_PATH and os.environ.get(PATH_ENV):
        return Path(os.environ[PATH_ENV])
    return Path(configured)


# ---- the key ---------------------------------------------------------------------------------


def installed_package_dir() -> Path:
    """The `cfnlint` package this interpreter imports (found without importing it)."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def env_package_dir(python: Path) -> Path:
    """The `cfnlint` package of the environment whose interpreter is `python`."""
    env = python.parent.parent
    found = sorted(env.glob("lib/python*/site-packages/cfnlint"))
    if not found:
        raise RuntimeError(f"no cfnlint package in {env}")
    return found[-1].resolve()


@cache
def rules_digest(package_dir: Path) -> str:
    """A digest of an installed cfn-lint: every file of its package (path, size, modification
    time; compiled caches left out) and the engine script. Computed once per process (~35 ms)."""
    digest = hashlib.sha256(ENGINE_SCRIPT.read_bytes())
    files = sorted(
        p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for path in files:
        stat = path.stat()
        line = f"{path.relative_to(package_dir).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass(frozen=True)
class Linter:
    """What judged a template, except its date: release, rule set digest, settings (JSON)."""

    version: str
    rules: str
    settings: str

    def key(self, text: str, as_of: date) -> str:
        digest = hashlib.sha256()
        for part in (text, self.version, self.rules, as_of.isoformat(), self.settings):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()


# ---- the store -------------------------------------------------------------------------------

_CREATE = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, findings TEXT NOT NULL,"
    " as_of TEXT NOT NULL, used INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS results_used ON results (used)",
    # what a release and rule set describe (regions, rule ids): a job's start-up check
    "CREATE TABLE IF NOT EXISTS descriptions (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class ForeignFile(Exception):
    """The file is SQLite, but not this cache (another program's, or another schema)."""


def _note(message: str) -> None:
    print(f"lint cache: {message}", file=sys.stderr, flush=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class LintCache:
    """key -> (findings, clock date), in one SQLite file shared by every process.

    Never raises on a bad file or a failing disk: it says so in one line and becomes a cache
    that holds nothing. Thread-safe (one connection, one lock)."""

    def __init__(
        self,
        path: str | Path,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_entries = max_entries
        self.clock = clock
        self.hits = 0
        self.stores = 0
        self._lock = threading.RLock()  # _failed closes while holding it
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(f"{self.path}.lock", timeout=BUSY_TIMEOUT_S):
                self._db = self._open()
        except (OSError, sqlite3.Error, TimeoutError) as exc:
            _note(f"{self.path} cannot be used ({_first_line(exc)}); linting without it")
            self._db = None

    @property
    def usable(self) -> bool:
        return self._db is not None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return db

    def _open(self) -> sqlite3.Connection:
        """Open the file (under the file lock): create it, or set a foreign one aside."""
        db = self._connect()
        try:
            self._check(db)
        except (sqlite3.DatabaseError, ForeignFile) as exc:
            db.close()
            aside = self.path.with_name(f"{self.path.name}.aside-{int(time.time())}")
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{self.path}{suffix}").rename(f"{aside}{suffix}")
            _note(f"{self.path} is not a lint cache ({_first_line(exc)}): set aside as {aside}")
            db = self._connect()
            self._check(db)
        return db

    def _check(self, db: sqlite3.Connection) -> None:
        """This cache's schema in `db`, created if the file is new; ForeignFile if it is not."""
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise ForeignFile(f"tables {', '.join(sorted(tables))}")
        if not tables:
            with db:
                db.execute("BEGIN IMMEDIATE")
                for statement in _CREATE:
                    db.execute(statement)
                db.executemany(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)",
                    [("format", FORMAT), ("schema", SCHEMA)],
                )
        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("format") != FORMAT or meta.get("schema") != SCHEMA:
            raise ForeignFile(f"format {meta.get('format')!r}, schema {meta.get('schema')!r}")

    def _failed(self, exc: sqlite3.Error) -> None:
        """An error in use: one line, and no cache for the rest of this process."""
        _note(f"{self.path}: {_first_line(exc)}; linting without the cache from now on")
        self.close()

    def get(self, key: str) -> Linted | None:
        with self._lock:
            if self._db is None:
                return None
            try:
                row = self._db.execute(
                    "SELECT findings, as_of, used FROM results WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    return None
                now = int(self.clock())
                if row[2] < now - TOUCH_AFTER_S:
                    self._db.execute("UPDATE results SET used = ? WHERE key = ?", (now, key))
            except sqlite3.Error as exc:
                self._failed(exc)
                return None
        self.hits += 1
        return json.loads(row[0]), date.fromisoformat(row[1])

    def put(self, key: str, findings: list[dict[str, Any]], as_of: date) -> None:
        payload = json.dumps(findings, separators=(",", ":"))
        with self._lock:
            if self._db is None:
                return
            try:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute(
                        "INSERT OR REPLACE INTO results (key, findings, as_of, used)"
                        " VALUES (?, ?, ?, ?)",
                        (key, payload, as_of.isoformat(), int(self.clock())),
                    )
                    self._evict()
            except sqlite3.Error as exc:
                self._failed(exc)
                return
        self.stores += 1

    def get_description(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if self._db is None:
                return None
            try:
                row = self._db.execute(
                    "SELECT value FROM descriptions WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.Error as exc:
                self._failed(exc)
                return None
        return json.loads(row[0]) if row else None

    def put_description(self, key: str, description: dict[str, Any]) -> None:
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO descriptions (key, value) VALUES (?, ?)",
                    (key, json.dumps(description)),
                )
            except sqlite3.Error as exc:
                self._failed(exc)

    def _evict(self) -> None:
        """Keep at most `max_entries`: the least recently used go first (then the oldest)."""
        assert self._db is not None
        (count,) = self._db.execute("SELECT count(*) FROM results").fetchone()
        if count > self.max_entries:
            self._db.execute(
                "DELETE FROM results WHERE rowid IN"
                " (SELECT rowid FROM results ORDER BY used, rowid LIMIT ?)",
                (count - self.max_entries,),
            )

    def __len__(self) -> int:
        with self._lock:
            if self._db is None:
                return 0
            return int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None


def clean(path: str | Path) -> int:
    """Delete the cache file (and its journal, its lock, files set aside): entries removed."""
    target = resolve_path(path)
    removed = 0
    if target.exists():
        with contextlib.suppress(sqlite3.Error, OSError):
            probe = LintCache(target)
            removed = len(probe)
            probe.close()
    for leftover in target.parent.glob(f"{target.name}*"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    return removed
