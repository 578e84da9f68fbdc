"""SIGTERM handled like Ctrl-C while a job or a rescore runs, so every `finally` cleans up."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any


class SigtermHandler:
    """While installed, SIGTERM cancels the running task as Ctrl-C does, so every `finally`
    runs: records are flushed and validators close (deploy deletes its stacks). During that
    cleanup (`shield`) a further SIGTERM is ignored rather than cutting it short."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.installed = self._install(getattr(asyncio.current_task(), "cancel", _ignore))

    def _install(self, callback: Any) -> bool:
        try:
            self.loop.add_signal_handler(signal.SIGTERM, callback)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            return False
        return True

    def shield(self) -> None:
        if self.installed:
            self._install(_ignore)

    def close(self) -> None:
        if self.installed:
            self.loop.remove_signal_handler(signal.SIGTERM)
            self.installed = False


def _ignore() -> None:
    print("cleaning up before exit; please wait", file=sys.stderr, flush=True)
