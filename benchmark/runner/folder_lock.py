"""One writer per run folder: an exclusive lock that names the process holding it.

The lock is `filelock`'s native lock (`flock` on Unix) on `<folder>/.run_folder.lock`. The
kernel releases it when its process ends, however it ends, so a lock is never left held by a
process that is gone. What the file holds is who took it (pid, host, start time, command),
written once the lock is ours and emptied on a clean release: a process that finds the lock
free but the file still naming a holder knows that holder died without releasing it (a stale
lock) and takes it over with a note. A process that finds the lock held opens the file only
to read it, so a refused writer changes nothing in the folder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from benchmark.secrecy import redact_command

LOCK_FILE = ".run_folder.lock"
_HOLDER_BYTES = 4096  # a holder record is one short JSON line


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a folder's lock."""

    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def this_process(cls) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=datetime.now().astimezone().isoformat(timespec="seconds"),
            # a command line can carry a credential: the lock file never shows it
            command=redact_command(sys.orig_argv)[:300],
        )

    @classmethod
    def parse(cls, data: bytes) -> Holder | None:
        """The holder a lock file names; None for an empty or unreadable one."""
        try:
            return cls(**json.loads(data.decode()))
        except (ValueError, TypeError):
            return None

    def encode(self) -> bytes:
        return (json.dumps(asdict(self)) + "\n").encode()

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}: {self.command}"


class FolderLocked(Exception):
    """Another process holds the folder's lock."""

    def __init__(self, folder: Path, holder: Holder | None) -> None:
        who = str(holder) if holder else "another process (it has not said who yet)"
        super().__init__(
            f"{folder} is being written by {who}; wait for it to finish or choose another "
            f"folder (lock: {folder / LOCK_FILE})"
        )
        self.holder = holder


class FolderLock:
    """The exclusive lock on one run folder, held by this process until `release`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self.stale: Holder | None = None  # the dead holder this process took the lock over from
        self._lock = FileLock(
            self.path,
            blocking=False,
            thread_local=False,
            preserve_lock_file=True,  # the file stays: it is how a dead holder is recognised
            on_acquired=self._claim,
        )

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> Holder | None:
        """Take the lock (creating the folder if need be); return the holder it was taken over
        from if that one died holding it. Raises FolderLocked, writing nothing, when it is held."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise FolderLocked(self.folder, self._read_holder()) from None
        return self.stale

    def ensure_free(self) -> None:
        """Raise FolderLocked if another process holds the lock, without taking it and
        without writing (a folder without a lock file has no holder)."""
        if not self.path.is_file():
            return
        probe = FileLock(self.path, blocking=False, thread_local=False, preserve_lock_file=True)
        try:
            probe.acquire()  # opens the existing file without truncating it, writes nothing
        except Timeout:
            raise FolderLocked(self.folder, self._read_holder()) from None
        probe.release()

    def release(self) -> None:
        """Empty the holder record and let go (a no-op when not held)."""
        if not self._lock.is_locked:
            return
        try:
            os.truncate(self.path, 0)  # a clean release: nobody to take over from
        finally:
            self._lock.release(force=True)

    def _claim(self, fd: int) -> None:
        """Called by filelock once the lock is ours: note a dead holder, write ourselves in."""
        self.stale = Holder.parse(os.pread(fd, _HOLDER_BYTES, 0))
        os.ftruncate(fd, 0)
        os.pwrite(fd, Holder.this_process().encode(), 0)

    def _read_holder(self) -> Holder | None:
        try:
            with open(self.path, "rb") as handle:  # read only: a refused writer writes nothing
                return Holder.parse(handle.read(_HOLDER_BYTES))
        except OSError:
            return None
